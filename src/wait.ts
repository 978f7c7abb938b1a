// Waiting for one task: its options, the default poll schedule, and the wait itself, which is a
// batch of one (src/wait-many.ts decides what each status means and when to poll again).
import type { CompletedVideoTask, VideoTaskResult } from "./types.js";
import { checkDuration, checkFunction, checkOptionsObject, checkSignal } from "./options.js";
import { waitForMany } from "./wait-many.js";

/** Options of `waitForImage2VideoTask`. */
export interface WaitOptions {
  /** Aborts the wait; it then rejects with `signal.reason` at once. */
  signal?: AbortSignal;
  /** Total time budget, ms (`Infinity`: none); past it the wait rejects with WaitTimeoutError. Default: 900000 (15 min). */
  timeoutMs?: number;
  /** Fixed pause between polls, ms. Default: about 2 s, growing by 1.5x per poll to about 15 s, with ±20% jitter. */
  pollIntervalMs?: number;
  /** Called with the task each time its status changes (including the first answer). */
  onUpdate?: (task: VideoTaskResult) => void;
}

/** Default wait budget. */
export const DEFAULT_WAIT_TIMEOUT_MS = 15 * 60_000;
const FIRST_POLL_MS = 2_000;
const MAX_POLL_MS = 15_000;

/** The default pause before poll number `poll + 1`: 2 s x 1.5^poll, capped at 15 s, ±20% jitter. */
export function pollDelayMs(poll: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_POLL_MS * 1.5 ** poll, MAX_POLL_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Checks a wait's options, so a bad one is refused before anything is sent (a generate checks them before its create). */
export function checkWaitOptions(given: WaitOptions | undefined): WaitOptions {
  const options = checkOptionsObject(given);
  checkSignal(options.signal);
  if (options.timeoutMs !== undefined) checkDuration("timeoutMs", options.timeoutMs, true);
  if (options.pollIntervalMs !== undefined) checkDuration("pollIntervalMs", options.pollIntervalMs);
  checkFunction("onUpdate", options.onUpdate);
  return options;
}

/** Fetches the task once, honouring `signal`. */
export type GetTask = (signal: AbortSignal) => Promise<VideoTaskResult>;

/**
 * Polls `get` until task `taskId` completes (resolves) or fails, times out or is aborted (rejects):
 * a batch of one, so one scheduler decides for single and batch waits alike.
 */
export async function waitForTask(taskId: string, get: GetTask, given?: WaitOptions): Promise<CompletedVideoTask> {
  const options = checkWaitOptions(given);
  const onUpdate = options.onUpdate;
  const batch = waitForMany([taskId], (_id, signal) => get(signal), {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    pollIntervalMs: options.pollIntervalMs,
    onUpdate: onUpdate && ((task) => onUpdate(task)),
  });
  const { value } = await batch.next();
  if (!value) throw new Error("a batch of one ended without an outcome");
  if (value.error) throw value.error;
  return value.task;
}
