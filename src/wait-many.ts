// Waiting for tasks: one scheduler for a whole batch instead of one loop per task (a single wait
// is a batch of one: src/wait.ts), with the options and the poll schedule every wait shares.
// Each task is a small record in a queue sorted by its next poll time; ONE timer wakes the batch;
// at most `concurrency` requests are in flight; a 429 pauses every poll of the batch; each answer
// is read by the one verdict of src/_status.ts; the outcomes come out as an async iterable, in the
// order the tasks settle. Memory and sockets stay flat whatever the number of tasks: only
// `concurrency` requests (and their AbortControllers) exist at a time, and nothing is ever
// attached to a long-lived signal per request.
import { KlingError, RateLimitError, WaitTimeoutError } from "./errors.js";
import { invalid } from "./_messages.js";
import { checkCount, checkDuration, checkFunction, checkOptionsObject, checkSignal, checkTaskId, MAX_TIMER_MS } from "./options.js";
import { backoffMs } from "./_retry.js";
import type { CompletedVideoTask, VideoTaskResult } from "./routes.js";
import { taskVerdict } from "./_status.js";

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

/** The default pause before poll number `poll + 1`: 2 s x 1.5^poll, capped at 15 s, ±20% jitter. */
export function pollDelayMs(poll: number, random: () => number = Math.random): number {
  return Math.round(Math.min(2_000 * 1.5 ** poll, 15_000) * (0.8 + 0.4 * random()));
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

/** Default number of requests in flight at once in a batch wait. */
export const DEFAULT_CONCURRENCY = 8;
/** The largest `concurrency` accepted. */
export const MAX_CONCURRENCY = 256;

/** Options of a batch wait (`waitForImage2VideoTasks` / `waitForMany`). */
export interface WaitManyOptions {
  /** Requests in flight at once, 1-256. Default: 8. */
  concurrency?: number;
  /** Aborts every wait at once (in-flight requests too); the iterable then throws `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Budget of each task, ms, counted from the first `next()` (`Infinity`: none); a task not settled
   * by then ends with its own WaitTimeoutError outcome. Default: 900000 (15 min).
   */
  timeoutMs?: number;
  /** Fixed pause between two polls of one task, ms. Default: per task, 2 s growing by 1.5x to 15 s, ±20% jitter. */
  pollIntervalMs?: number;
  /** Called with the task and its id each time that task's status changes (the first answer included). */
  onUpdate?: (task: VideoTaskResult, taskId: string) => void;
}

/** A task that completed: `task.url` is the video. */
export interface WaitSuccess {
  /** The task id, as given. */
  readonly taskId: string;
  /** The completed task. */
  readonly task: CompletedVideoTask;
  /** Always undefined here, so `outcome.error` narrows the union. */
  readonly error?: undefined;
}

/** A task that ended without a video: failed, not found, timed out, invalid answer, ... */
export interface WaitFailure {
  /** The task id, as given. */
  readonly taskId: string;
  /** Why: TaskFailedError, TaskNotFoundError, WaitTimeoutError, ResponseValidationError, APIError, ... */
  readonly error: KlingError;
  /** Always undefined here. */
  readonly task?: undefined;
}

/** How one task of a batch settled. */
export type WaitOutcome = WaitSuccess | WaitFailure;

/** Fetches one task once, honouring `signal`; a 429 should reject with RateLimitError at once (the batch pauses itself). */
export type GetTaskById = (taskId: string, signal: AbortSignal) => Promise<VideoTaskResult>;

/** Checks a concurrency option: a whole number from 1 to MAX_CONCURRENCY. */
export function checkConcurrency(value: unknown): number {
  return checkCount("concurrency", value, 1, MAX_CONCURRENCY);
}

/** One task of the batch. */
interface Entry {
  readonly id: string;
  /** Earliest time of the next poll (ms since the epoch). */
  due: number;
  /** Polls answered with a running status, for the default schedule. */
  polls: number;
  /** The last answer, for onUpdate and a WaitTimeoutError. */
  last?: VideoTaskResult;
}

/** A settled outcome as `next()` takes it: returns it, or throws the error that ended the batch. */
type Item = () => WaitOutcome;

/** The abort reason of requests cut short by the batch itself (timeout, the last task settled, `return()`). */
const BATCH_ENDED = Symbol("batch ended");

/** The distinct task ids of a batch, checked, in first-seen order; InvalidArgumentError names the bad one's index. */
function checkTaskIds(taskIds: Iterable<string>): Map<string, Entry> {
  if (typeof (taskIds as Partial<Iterable<string>> | null)?.[Symbol.iterator] !== "function") {
    invalid("taskIds", "must be an array or another iterable of task ids");
  }
  // A string is an iterable of its characters: "abc" would wait for tasks "a", "b" and "c".
  if (typeof taskIds === "string") invalid("taskIds", "is one string: pass an array of ids");
  // Duplicates are waited for once: the Map keeps the first occurrence's order.
  const entries = new Map<string, Entry>();
  let index = 0;
  for (const taskId of taskIds) {
    let id: string;
    try {
      id = checkTaskId(taskId);
    } catch (error) {
      // An InvalidArgumentError for "taskId"; in a list of thousands, which one.
      (error as Error).message += ` (taskIds[${index}])`;
      throw error;
    }
    index++;
    if (!entries.has(id)) entries.set(id, { id, due: 0, polls: 0 });
  }
  return entries;
}

/** Puts `entry` in `queue` (sorted by due time) at `due`: after the entries due at or before then, so first queued, first polled. */
function insertByDue(queue: Entry[], entry: Entry, due: number): void {
  entry.due = due;
  // Binary search for the first entry due later.
  let low = 0;
  let high = queue.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (queue[mid]!.due <= due) low = mid + 1;
    else high = mid;
  }
  queue.splice(low, 0, entry);
}

/**
 * Waits for many tasks with one scheduler; yields one outcome per distinct task id, in the order
 * they settle. Ids and options are checked synchronously: a bad one throws InvalidArgumentError
 * from this call, before any request. Polling starts at the first `next()`. Breaking out of the
 * loop (`return()`) stops the polling and aborts in-flight requests. An error that is not a
 * KlingError (a bug, or an `onUpdate` that throws) ends the batch: the iterable throws it.
 * Settled outcomes are kept until a `next()` takes them; a `next()` with none waits until one
 * comes or the batch ends (`wake`).
 */
export function waitForMany(taskIds: Iterable<string>, get: GetTaskById, given?: WaitManyOptions): AsyncIterableIterator<WaitOutcome> {
  const options = checkWaitOptions(given as WaitOptions) as WaitManyOptions;
  const concurrency = checkConcurrency(options.concurrency ?? DEFAULT_CONCURRENCY);
  checkFunction("get", get);
  const entries = checkTaskIds(taskIds);
  const { signal } = options;
  const [start, stop] = createPoller(entries, get, options, concurrency, settle, fail);
  let items: Item[] = [];
  const waiters: Array<() => void> = [];
  let started = false;
  let closed = false;
  const onAbort = (): void => fail(signal?.reason);
  const wake = (): void => waiters.splice(0).forEach((waiter) => waiter());

  /** Ends the batch: the polling stopped (requests in flight aborted with `reason`); `next()` ends once the outcomes kept are taken. */
  function finish(reason: unknown = BATCH_ENDED): void {
    if (closed) return;
    closed = true;
    stop(reason);
    signal?.removeEventListener("abort", onAbort);
    wake();
  }

  /** Ends the batch with `error`: the pending or next `next()` throws it (outcomes not taken are dropped). */
  function fail(error: unknown): void {
    if (closed) return;
    items = [
      () => {
        throw error;
      },
    ];
    finish(error);
  }

  /** Ends `entry`'s wait: with `error`, else with the completed `task`. */
  function settle(entry: Entry, error?: KlingError, task?: CompletedVideoTask): void {
    entries.delete(entry.id);
    const outcome: WaitOutcome = error ? { taskId: entry.id, error } : { taskId: entry.id, task: task! };
    items.push(() => outcome);
    wake();
    if (!entries.size) finish();
  }

  const iterator: AsyncIterableIterator<WaitOutcome> = {
    async next() {
      if (!started) {
        started = true;
        // (`finish` takes the listener off again.)
        signal?.addEventListener("abort", onAbort);
        if (!entries.size) finish();
        else if (signal?.aborted) onAbort();
        else start();
      }
      while (!items.length && !closed) await new Promise<void>((resolve) => waiters.push(resolve));
      // The next outcome, or the end (no item left once the batch is closed).
      const item = items.shift();
      return { value: item?.(), done: !item } as IteratorResult<WaitOutcome>;
    },
    async return() {
      started = true;
      // Outcomes settled but not taken (or the error that ended the batch) are dropped.
      items = [];
      finish();
      return iterator.next();
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * The polling of a batch, its options and `concurrency` checked: a queue of entries sorted by due
 * time, each poll started once it is due, the batch is not paused and fewer than `concurrency` are
 * in flight; ONE timer wakes it for the next poll, the end of a pause or the deadline. Hands each
 * task's end to `settle`, and an error that ends the batch to `fail`; returns `start` and `stop`
 * (which aborts the requests in flight with its reason).
 */
function createPoller(
  entries: Map<string, Entry>,
  get: GetTaskById,
  options: WaitManyOptions,
  concurrency: number,
  settle: (entry: Entry, error?: KlingError, task?: CompletedVideoTask) => void,
  fail: (error: unknown) => void,
): [start: () => void, stop: (reason: unknown) => void] {
  const { timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, pollIntervalMs, onUpdate } = options;
  // Every task is due at once (due 0) to begin with.
  const queue = [...entries.values()];
  const inFlight = new Set<AbortController>();
  let stopped = false;
  // 429s in a row (the batch's backoff); no poll before `pausedUntil`; `deadline`: 0 until `start`.
  let rateLimited = 0;
  let pausedUntil = 0;
  let deadline = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer is set to fire (NaN: none set). */
  let timerAt = NaN;

  /** Starts every poll that is due and allowed, then arms the one timer for the next thing to do. */
  function pump(): void {
    const now = Date.now();
    // The budget ran out: every unsettled task ends with its own WaitTimeoutError.
    if (now >= deadline) {
      for (const entry of entries.values()) settle(entry, new WaitTimeoutError(entry.id, timeoutMs, entry.last));
      return;
    }
    while (now >= pausedUntil && inFlight.size < concurrency && queue.length && queue[0]!.due <= now) request(queue.shift()!);
    // A full pool needs no timer: the next answer pumps again.
    const wake = queue.length && inFlight.size < concurrency ? Math.min(deadline, Math.max(queue[0]!.due, pausedUntil)) : deadline;
    // Most answers leave the next wake where it was: the timer stays (not one timer per answer).
    if (wake === timerAt) return;
    clearTimeout(timer);
    timerAt = wake;
    // Forget the fired timer first: a timer may fire a millisecond early, and pump must re-arm it then.
    if (wake < Infinity) timer = setTimeout(() => ((timerAt = NaN), pump()), Math.min(wake - now, MAX_TIMER_MS));
  }

  /**
   * Polls `entry` once; its answer is read if the batch still wants it (`stop` empties `inFlight`).
   * Reading it may throw (a bug, an onUpdate that throws): that ends the batch.
   */
  function request(entry: Entry): void {
    const controller = new AbortController();
    inFlight.add(controller);
    new Promise<VideoTaskResult>((resolve) => resolve(get(entry.id, controller.signal)))
      .then(
        (task) => inFlight.delete(controller) && onAnswer(entry, task),
        (error: unknown) => inFlight.delete(controller) && onError(entry, error),
      )
      .then(() => stopped || pump(), fail);
  }

  function onAnswer(entry: Entry, task: VideoTaskResult): void {
    rateLimited = 0;
    const changed = !entry.last || entry.last.status !== task.status;
    entry.last = task;
    if (changed) onUpdate?.(task, entry.id);
    // onUpdate may have ended the batch (a `return()` from inside it).
    if (stopped) return;
    const verdict = taskVerdict(task);
    if (verdict.kind === "running") insertByDue(queue, entry, Date.now() + (pollIntervalMs ?? pollDelayMs(entry.polls++)));
    else settle(entry, verdict.error, verdict.task);
  }

  function onError(entry: Entry, error: unknown): void {
    // Not a KlingError: a bug, which ends the batch.
    if (!(error instanceof KlingError)) throw error;
    if (!(error instanceof RateLimitError)) return settle(entry, error);
    // A 429 is about the whole batch, not this task: pause every poll, then ask again.
    pausedUntil = Math.max(pausedUntil, Date.now() + (error.retryAfterMs ?? backoffMs(rateLimited++)));
    insertByDue(queue, entry, pausedUntil);
  }

  const start = (): void => {
    deadline = Date.now() + timeoutMs;
    pump();
  };
  const stop = (reason: unknown): void => {
    stopped = true;
    clearTimeout(timer);
    queue.length = 0;
    for (const controller of inFlight) controller.abort(reason);
    inFlight.clear();
  };
  return [start, stop];
}
