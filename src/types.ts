// Named types derived from the generated ones; none is written out by hand.
import type { paths } from "./_spec.js";

/** The one route this package is about. */
export const IMAGE2VIDEO_TASK_PATH = "/kling/v1/videos/image2video/{task_id}" satisfies keyof paths;

type GetTaskOperation = paths[typeof IMAGE2VIDEO_TASK_PATH]["get"];

/** A Kling image-to-video task as the spec's 200 response describes it. */
export type Image2VideoTask = GetTaskOperation["responses"][200]["content"]["application/json"];

/** The spec's task statuses: `queued` | `in_progress` | `completed` | `failed`. */
export type Image2VideoTaskStatus = NonNullable<Image2VideoTask["status"]>;

/** The spec's 404 body. */
export type TaskNotFoundResponse = GetTaskOperation["responses"][404]["content"]["application/json"];

/** A task that finished with a video: `status` is `completed` and `url` is present. */
export type CompletedImage2VideoTask = Image2VideoTask & { status: "completed"; url: string };

/** A task that finished without a video. */
export type FailedImage2VideoTask = Image2VideoTask & { status: "failed" };

/**
 * What `getImage2VideoTask` resolves with: the task, plus `raw`, the body exactly as the relay sent
 * it, present (and not enumerable, so it stays out of JSON and spreads) only when compat mode
 * rewrote a relay variant into the spec's shape.
 */
export type Image2VideoTaskResult = Image2VideoTask & { readonly raw?: unknown };
