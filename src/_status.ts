// What each task status means: the one room for "is it done, and how did it end". The table below
// is keyed by the generated status union, so a status the spec adds fails the type-check here until
// someone decides what it means; `taskVerdict` turns an answer into what a waiter does with it. The
// single wait, the batch, generateVideos and the CLI read it; a task the relay does not have at all
// never gets here: its answer is a TaskNotFoundError (src/_validate.ts reads the relay's forms of it).
import { ResponseValidationError, TaskCancelledError, TaskFailedError, type KlingError } from "./errors.js";
import { show } from "./_messages.js";
import type { CompletedVideoTask, Image2VideoTaskStatus, Text2VideoTaskStatus, VideoTask } from "./routes.js";

/** How a status ends (or does not end) a wait. */
export type StatusKind = "running" | "completed" | "failed" | "cancelled";

/** The meaning of every status the spec names. */
export const STATUS_KIND = {
  queued: "running",
  in_progress: "running",
  completed: "completed",
  failed: "failed",
  // The relay cancelled the task and refunded it (the spec's own words): an end without a video.
  cancelled: "cancelled",
} as const satisfies Record<Image2VideoTaskStatus & Text2VideoTaskStatus, StatusKind>;

// Both routes share one status union; if the spec ever gives them different ones, this stops compiling.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameStatuses: Same<Image2VideoTaskStatus, Text2VideoTaskStatus> = true;
void sameStatuses;

/** The meaning of a status word, or undefined for one the spec does not name. */
export function statusKind(status: unknown): StatusKind | undefined {
  return typeof status === "string" && Object.hasOwn(STATUS_KIND, status)
    ? STATUS_KIND[status as Image2VideoTaskStatus]
    : undefined;
}

/**
 * What one answer about a task means to whoever waits for it: poll again (`running`), the video
 * (`completed`, with a url), or the end without one (`error`). `final` says whether the relay itself
 * ended the task (failed, cancelled: no later poll changes that) or the answer could not be read as
 * an end (completed without a url, a status the spec does not name: a later poll may tell more).
 */
export type TaskVerdict =
  | { readonly kind: "running"; readonly task?: undefined; readonly error?: undefined }
  | { readonly kind: "completed"; readonly task: CompletedVideoTask; readonly error?: undefined }
  | { readonly kind: "ended"; readonly error: KlingError; readonly final: boolean; readonly task?: undefined };

/** Reads one answer about a task: poll again, resolve with the video, or end with the error it stands for. */
export function taskVerdict(task: VideoTask): TaskVerdict {
  const kind = statusKind(task.status);
  if (kind === "running") return { kind };
  if (kind === "completed" && typeof task.url == "string" && task.url) return { kind, task: task as CompletedVideoTask };
  // A status kind added above and given no meaning here fails this check: it does not compile.
  kind satisfies "completed" | "failed" | "cancelled" | undefined;
  // Failed or cancelled: the relay ended the task without a video, and no later poll changes that.
  // Else the answer cannot be read as an end (a later poll may tell more; polling a status nobody can
  // interpret until the budget ends would only hide the problem).
  const ending = kind === "failed" ? TaskFailedError : kind === "cancelled" ? TaskCancelledError : undefined;
  const error = ending
    ? new ending(task)
    : new ResponseValidationError(kind ? "the task is completed but has no url" : `the task has a status the spec does not name: ${show(task.status)}`, { body: task, status: 200 });
  return { kind: "ended", error, final: !!ending };
}
