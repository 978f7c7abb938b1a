// Waiting for one task: its options, the poll schedule every wait shares (the batch's too), and
// the wait itself: a plain loop of poll, read the verdict (src/_status.ts), pause.
import { RateLimitError, WaitTimeoutError } from "./errors.js";
import { checkDuration, checkFunction, checkOptionsObject, checkSignal } from "./options.js";
import { backoffMs } from "./_retry.js";
import type { CompletedVideoTask, VideoTaskResult } from "./routes.js";
import { taskVerdict } from "./_status.js";
import { sleep, TIMED_OUT } from "./_sleep.js";

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
 * Polls `get` until task `taskId` completes (resolves) or fails, times out or is aborted (rejects).
 * One controller is aborted by the caller's signal or the budget; every poll and pause listens to it.
 */
export async function waitForTask(taskId: string, get: GetTask, given?: WaitOptions): Promise<CompletedVideoTask> {
  const { signal, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, pollIntervalMs, onUpdate } = checkWaitOptions(given);
  if (signal?.aborted) throw signal.reason;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = timeoutMs < Infinity ? setTimeout(() => controller.abort(TIMED_OUT), timeoutMs) : undefined;
  const deadline = Date.now() + timeoutMs;
  let last: VideoTaskResult | undefined;
  try {
    for (let polls = 0, limits = 0; ; ) {
      // A budget spent (zero to begin with, or to the millisecond as a pause ends) polls no more.
      if (Date.now() >= deadline) controller.abort(TIMED_OUT);
      if (controller.signal.aborted) throw controller.signal.reason;
      let task: VideoTaskResult;
      try {
        task = await get(controller.signal);
      } catch (error) {
        // A 429 that outlived the request's own retries: wait out its hint (or back off), then ask again.
        if (!(error instanceof RateLimitError) || controller.signal.aborted) throw error;
        await sleep(error.retryAfterMs ?? backoffMs(limits++), controller.signal);
        continue;
      }
      limits = 0;
      if (last === undefined || last.status !== task.status) onUpdate?.(task);
      last = task;
      const verdict = taskVerdict(task);
      if (verdict.kind === "completed") return verdict.task;
      if (verdict.error) throw verdict.error;
      await sleep(pollIntervalMs ?? pollDelayMs(polls++), controller.signal);
    }
  } catch (error) {
    if (controller.signal.reason === TIMED_OUT) throw new WaitTimeoutError(taskId, timeoutMs, last);
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
