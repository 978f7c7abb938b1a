// Named types derived from the generated ones; none is written out by hand.
import type { paths } from "./_spec.js";
import type { ImageInput } from "./image.js";
import type { KlingMetadata, KlingMode } from "./kling-controls.js";
import type { TEXT2VIDEO } from "./routes.js";
import { IMAGE2VIDEO } from "./routes.js";

/** The image-to-video task route's GET path (kept for callers of 0.1). */
export const IMAGE2VIDEO_TASK_PATH = IMAGE2VIDEO.task;

type TaskOperation<P extends keyof paths> = paths[P] extends { get: infer G } ? G : never;
type TaskBody<P extends keyof paths> = TaskOperation<P> extends { responses: { 200: { content: { "application/json": infer B } } } } ? B : never;
type CreateOperation<P extends keyof paths> = paths[P] extends { post: infer O } ? O : never;

/** A Kling image-to-video task as the spec's 200 response describes it. */
export type Image2VideoTask = TaskBody<typeof IMAGE2VIDEO.task>;

/** A Kling text-to-video task as the spec's 200 response describes it (the same schema as image-to-video). */
export type Text2VideoTask = TaskBody<typeof TEXT2VIDEO.task>;

/** A task of either route: what the wait machinery, the errors and the CLI handle. */
export type VideoTask = Image2VideoTask | Text2VideoTask;

/** The spec's task statuses: `queued` | `in_progress` | `completed` | `failed` | `cancelled`. */
export type Image2VideoTaskStatus = NonNullable<Image2VideoTask["status"]>;

/** The statuses of a text-to-video task (the same union as image-to-video). */
export type Text2VideoTaskStatus = NonNullable<Text2VideoTask["status"]>;

/** A task status of either route. */
export type VideoTaskStatus = Image2VideoTaskStatus | Text2VideoTaskStatus;

/** The spec's 404 body. */
export type TaskNotFoundResponse = TaskOperation<typeof IMAGE2VIDEO.task> extends {
  responses: { 404: { content: { "application/json": infer B } } };
}
  ? B
  : never;

/** A task that finished with a video: `status` is `completed` and `url` is present. */
export type CompletedImage2VideoTask = Image2VideoTask & { status: "completed"; url: string };

/** A text-to-video task that finished with a video. */
export type CompletedText2VideoTask = Text2VideoTask & { status: "completed"; url: string };

/** A task of either route that finished with a video. */
export type CompletedVideoTask = CompletedImage2VideoTask | CompletedText2VideoTask;

/** A task that finished without a video. */
export type FailedImage2VideoTask = Image2VideoTask & { status: "failed" };

/**
 * What `getImage2VideoTask` resolves with: the task, plus `raw`, the body exactly as the relay sent
 * it, present (and not enumerable, so it stays out of JSON and spreads) only when compat mode
 * rewrote a relay variant into the spec's shape.
 */
export type Image2VideoTaskResult = Image2VideoTask & { readonly raw?: unknown };

/** What `getText2VideoTask` resolves with (see Image2VideoTaskResult). */
export type Text2VideoTaskResult = Text2VideoTask & { readonly raw?: unknown };

/** A task of either route as a get resolves with it (see Image2VideoTaskResult). */
export type VideoTaskResult = Image2VideoTaskResult | Text2VideoTaskResult;

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
