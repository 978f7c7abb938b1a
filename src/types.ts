// Named types derived from the generated ones; none is written out by hand. The task types are
// declared beside the routes (src/routes.ts) and named here too; the request types are here.
import type { paths } from "./_spec.js";
import type { ImageInput } from "./image.js";
import type { KlingMetadata, KlingMode } from "./kling-controls.js";
import type { IMAGE2VIDEO } from "./routes.js";

export type {
  Image2VideoTask,
  Text2VideoTask,
  VideoTask,
  Image2VideoTaskStatus,
  Text2VideoTaskStatus,
  VideoTaskStatus,
  TaskNotFoundResponse,
  CompletedImage2VideoTask,
  CompletedText2VideoTask,
  CompletedVideoTask,
  FailedImage2VideoTask,
  Image2VideoTaskResult,
  Text2VideoTaskResult,
  VideoTaskResult,
} from "./routes.js";

type CreateOperation<P extends keyof paths> = paths[P] extends { post: infer O } ? O : never;

/** The spec's create request body (`VideoRequest`), as the relay documents it. */
export type VideoRequest = CreateOperation<typeof IMAGE2VIDEO.create> extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

export type { ImageInput } from "./image.js";

/**
 * A create request: the spec's `VideoRequest`, with `image` taking bytes as well as a string, `mode`
 * where the gateway reads it, Kling's controls typed in `metadata`, and the fields the gateway drops
 * typed so that they cannot be given (see docs/kling-controls.md).
 */
export type CreateVideoRequest = Omit<VideoRequest, "image" | "metadata" | "seed" | "fps" | "n"> & {
  /** The first frame: an http(s) URL, base64, a `data:image/...` URL, bytes or a Blob (on Node: `openImageFile`). */
  image?: ImageInput;
  /** `std` or `pro` (default `std`); also taken in `metadata`, which must then agree. */
  mode?: KlingMode;
  /** Kling's own controls (typed, checked), plus any other key, sent untouched. */
  metadata?: KlingMetadata;
  /** Refused: the gateway drops it, so the video could not be reproduced. */
  seed?: never;
  /** Refused: the gateway drops it; Kling picks the frame rate. */
  fps?: never;
  /** Only 1: the gateway drops `n` and makes one video. */
  n?: 1;
};

/** A create request for image-to-video: `model`, `prompt` and `image` are required (the gateway refuses a create without them). */
export type CreateImage2VideoRequest = CreateVideoRequest & { model: string; prompt: string; image: ImageInput };

/** A create request for text-to-video: `model` and `prompt` are required; no `image` (the gateway would switch to image-to-video). */
export type CreateText2VideoRequest = Omit<CreateVideoRequest, "image"> & { model: string; prompt: string; image?: undefined };

/** The spec's create answer (`VideoResponse`). */
export type VideoResponse = CreateOperation<typeof IMAGE2VIDEO.create> extends {
  responses: { 200: { content: { "application/json": infer B } } };
}
  ? B
  : never;

/**
 * What a create resolves with: the spec's answer with a non-empty `task_id`, plus `raw` (not
 * enumerable) when compat mode read the id from another of the gateway's answer shapes.
 */
export type CreatedTask = VideoResponse & { task_id: string; readonly raw?: unknown };
