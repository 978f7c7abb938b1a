// Polling until a task ends: one function with explicit terminal statuses; the pause comes from
// the option, else a server hint (Retry-After on a 429), else the default schedule.
import { RateLimitError, ResponseValidationError, TaskFailedError, WaitTimeoutError } from "./errors.js";
import { checkDuration } from "./options.js";
import type { CompletedImage2VideoTask, Image2VideoTask, Image2VideoTaskResult } from "./types.js";
import { statusKind } from "./status.js";
import { sleep } from "./_sleep.js";

/** Options of `waitForImage2VideoTask`. */
export interface WaitOptions {
  /** Aborts the wait; it then rejects with `signal.reason` at once. */
  signal?: AbortSignal;
  /** Total time budget, ms (`Infinity`: none); past it the wait rejects with WaitTimeoutError. Default: 900000 (15 min). */
  timeoutMs?: number;
  /** Fixed pause between polls, ms. Default: about 2 s, growing by 1.5x per poll to about 15 s, with ±20% jitter. */
  pollIntervalMs?: number;
  /** Called with the task each time its status changes (including the first answer). */
  onUpdate?: (task: Image2VideoTaskResult) => void;
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

const WAIT_TIMED_OUT = Symbol("wait timed out");

/** Fetches the task once, honouring `signal`. */
export type GetTask = (signal: AbortSignal) => Promise<Image2VideoTaskResult>;

/** Polls `get` until task `taskId` completes (resolves) or fails, times out or is aborted (rejects). */
export async function waitForTask(taskId: string, get: GetTask, options: WaitOptions = {}): Promise<CompletedImage2VideoTask> {
  const timeoutMs = checkDuration("timeoutMs", options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, true);
  const fixedInterval =
    options.pollIntervalMs === undefined ? undefined : checkDuration("pollIntervalMs", options.pollIntervalMs);
  const userSignal = options.signal;
  if (userSignal?.aborted) throw userSignal.reason;

  const controller = new AbortController();
  const onAbort = (): void => controller.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onAbort, { once: true });
  const deadline = Number.isFinite(timeoutMs) ? setTimeout(() => controller.abort(WAIT_TIMED_OUT), timeoutMs) : undefined;
  let last: Image2VideoTask | undefined;
  try {
    for (let poll = 0; ; poll++) {
      let hint: number | undefined;
      try {
        const task = await get(controller.signal);
        const changed = task.status !== last?.status || last === undefined;
        last = task;
        if (changed) options.onUpdate?.(task);
        const kind = statusKind(task.status);
        if (kind === "completed") {
          if (typeof task.url !== "string" || task.url === "") {
            throw new ResponseValidationError("the task is completed but has no url", { body: task, status: 200 });
          }
          return task as CompletedImage2VideoTask;
        }
        if (kind === "failed") throw new TaskFailedError(task);
        // A status the spec does not name (validation "off") is not polled until the budget ends.
        if (kind === undefined) {
          throw new ResponseValidationError(`the task has a status this client does not know: ${String(task.status)}`, { body: task, status: 200 });
        }
      } catch (error) {
        // A 429 that outlived the request's retries: the server told us how long to pause.
        if (!(error instanceof RateLimitError) || controller.signal.aborted) throw error;
        hint = error.retryAfterMs;
      }
      await sleep(hint ?? fixedInterval ?? pollDelayMs(poll), controller.signal);
    }
  } catch (error) {
    if (controller.signal.aborted) {
      if (controller.signal.reason === WAIT_TIMED_OUT) throw new WaitTimeoutError(taskId, timeoutMs, last);
      throw userSignal?.reason;
    }
    throw error;
  } finally {
    clearTimeout(deadline);
    userSignal?.removeEventListener("abort", onAbort);
  }
}
