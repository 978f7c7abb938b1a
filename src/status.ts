// What each task status means: the one table every decision reads (wait's terminal check, the
// CLI's exit codes and colours, compat's aliases). It is keyed by the generated status union, so a
// status the spec adds fails the type-check here until someone decides what it means.
import type { Image2VideoTaskStatus, Text2VideoTaskStatus } from "./types.js";

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
