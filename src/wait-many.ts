// Waiting for many tasks at once: one scheduler for the whole batch instead of one loop per task.
// Each task is a small record in a queue sorted by its next poll time (the pool); ONE timer
// wakes the batch; at most `concurrency` requests are in flight; a 429 pauses every poll of the
// batch; each answer is read by the one verdict of src/_status.ts; the outcomes come out as an
// async iterable, in the order the tasks settle. Memory and sockets stay flat whatever the number
// of tasks: only `concurrency` requests (and their AbortControllers) exist at a time, and nothing
// is ever attached to a long-lived signal per request.
import { InvalidArgumentError, KlingError, RateLimitError, WaitTimeoutError } from "./errors.js";
import { checkCount, checkFunction, checkTaskId, MAX_TIMER_MS } from "./options.js";
import { backoffMs } from "./_retry.js";
import type { CompletedVideoTask, VideoTaskResult } from "./routes.js";
import { taskVerdict } from "./_status.js";
import { checkWaitOptions, DEFAULT_WAIT_TIMEOUT_MS, pollDelayMs, type WaitOptions } from "./wait.js";

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
  /** Tie-breaker for equal `due`: first queued, first polled. */
  seq: number;
  /** Polls answered with a running status, for the default schedule. */
  polls: number;
  last: VideoTaskResult | undefined;
  /** Set while a request for this task is in flight. */
  controller: AbortController | undefined;
  settled: boolean;
}

/** The abort reason of requests cut short by the batch itself (timeout or `return()`). */
const BATCH_ENDED = Symbol("batch ended");

/** Whether `a` is polled before `b`: earlier due time, then first queued. */
const before = (a: Entry, b: Entry): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

/**
 * The batch's pool: a queue of entries sorted by (due, seq), `start`ing each poll once it is due,
 * the batch is not paused and fewer than `concurrency` are in flight; ONE timer wakes it for the
 * next poll, the end of a pause or `deadline` (then `expire`). `pump` after every change.
 */
function createPool(concurrency: number, start: (entry: Entry) => void, expire: () => void) {
  const queue: Entry[] = [];
  const inFlight = new Set<Entry>();
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Number.NaN;
  const pool = {
    inFlight,
    deadline: Number.POSITIVE_INFINITY,
    pausedUntil: 0,
    schedule(entry: Entry, due: number): void {
      entry.due = due;
      entry.seq = seq++;
      // Binary search for the first entry polled after this one, and in before it.
      let [low, high] = [0, queue.length];
      while (low < high) {
        const mid = (low + high) >> 1;
        if (before(queue[mid]!, entry)) low = mid + 1;
        else high = mid;
      }
      queue.splice(low, 0, entry);
    },
    /** Starts every poll that is due and allowed, then arms the one timer for the next thing to do. */
    pump(): void {
      const now = Date.now();
      if (now >= pool.deadline) return expire();
      while (now >= pool.pausedUntil && inFlight.size < concurrency && queue.length > 0 && queue[0]!.due <= now) {
        const entry = queue.shift()!;
        inFlight.add(entry);
        start(entry);
      }
      // A full pool needs no timer: the next answer pumps again.
      const wake = queue.length > 0 && inFlight.size < concurrency ? Math.min(pool.deadline, Math.max(queue[0]!.due, pool.pausedUntil)) : pool.deadline;
      if (wake === timerAt) return;
      clearTimeout(timer);
      timerAt = wake;
      // Forget the fired timer first: a timer may fire a millisecond early, and pump must re-arm it then.
      if (wake < Infinity) timer = setTimeout(() => ((timerAt = Number.NaN), pool.pump()), Math.min(Math.max(0, wake - now), MAX_TIMER_MS));
    },
    /** Stops everything: the timer, the polls queued, the requests in flight (aborted with `reason`). */
    stop(reason: unknown): void {
      clearTimeout(timer);
      timerAt = Number.NaN;
      queue.length = 0;
      for (const entry of inFlight) entry.controller?.abort(reason);
      inFlight.clear();
    },
  };
  return pool;
}

/**
 * The outcomes of a batch as an async iterator's `next`: settled ones queue until taken, a `next()`
 * with none waits; `fail` makes the pending or next `next()` reject (once), `close` ends the rest.
 */
function createOutcomes() {
  let queue: WaitOutcome[] = [];
  let failure: { error: unknown } | undefined;
  const waiters: Array<{ resolve: (r: IteratorResult<WaitOutcome>) => void; reject: (e: unknown) => void }> = [];
  const outcomes = {
    closed: false,
    push(outcome: WaitOutcome): void {
      const waiter = waiters.shift();
      if (waiter) waiter.resolve({ value: outcome, done: false });
      else queue.push(outcome);
    },
    fail(error: unknown): void {
      queue = [];
      const waiter = waiters.shift();
      if (waiter) waiter.reject(error);
      else failure = { error };
      outcomes.close();
    },
    /** No outcome will come (`drop`: and those not yet taken are dropped): `next()` ends once the queue is taken. */
    close(drop?: boolean): void {
      if (drop) [queue, failure] = [[], undefined];
      outcomes.closed = true;
      for (const w of waiters.splice(0)) w.resolve({ value: undefined, done: true });
    },
    next(): Promise<IteratorResult<WaitOutcome>> {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      const error = failure;
      failure = undefined;
      if (error) return Promise.reject(error.error);
      if (outcomes.closed) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
  };
  return outcomes;
}

/** The distinct task ids of a batch, checked, in first-seen order; InvalidArgumentError names the bad one's index. */
function checkTaskIds(taskIds: Iterable<string>): Map<string, Entry> {
  if (taskIds === null || typeof (taskIds as Partial<Iterable<string>>)[Symbol.iterator] !== "function") {
    throw new InvalidArgumentError("taskIds", "taskIds must be an iterable of task ids (an array, a Set, ...)");
  }
  // A string is an iterable of its characters: "abc" would wait for tasks "a", "b" and "c".
  if (typeof taskIds === "string") {
    throw new InvalidArgumentError("taskIds", "taskIds is one string: pass an array of ids (for one task, waitForImage2VideoTask)");
  }
  // Duplicates are waited for once: the Map keeps the first occurrence's order.
  const entries = new Map<string, Entry>();
  let index = 0;
  for (const taskId of taskIds) {
    let id: string;
    try {
      id = checkTaskId(taskId);
    } catch (error) {
      // In a list of thousands, which one.
      throw new InvalidArgumentError("taskId", `${(error as Error).message} (taskIds[${index}])`);
    }
    index++;
    if (!entries.has(id)) entries.set(id, { id, due: 0, seq: 0, polls: 0, last: undefined, controller: undefined, settled: false });
  }
  return entries;
}

/** A batch's options, checked as a single wait's are, plus `concurrency`, with their defaults. */
function checkBatchOptions(given: WaitManyOptions | undefined) {
  const options = checkWaitOptions(given as WaitOptions) as WaitManyOptions;
  return { ...options, concurrency: checkConcurrency(options.concurrency ?? DEFAULT_CONCURRENCY), timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS };
}

/**
 * Waits for many tasks with one scheduler; yields one outcome per distinct task id, in the order
 * they settle. Ids and options are checked synchronously: a bad one throws InvalidArgumentError
 * from this call, before any request. Polling starts at the first `next()`. Breaking out of the
 * loop (`return()`) stops the polling and aborts in-flight requests. An error that is not a
 * KlingError (a bug, or an `onUpdate` that throws) ends the batch: the iterable throws it.
 */
export function waitForMany(taskIds: Iterable<string>, get: GetTaskById, given?: WaitManyOptions): AsyncIterableIterator<WaitOutcome> {
  const { concurrency, timeoutMs, pollIntervalMs: fixedInterval, signal, onUpdate } = checkBatchOptions(given);
  checkFunction("get", get);
  const entries = checkTaskIds(taskIds);
  const outcomes = createOutcomes();
  const pool = createPool(concurrency, request, () => {
    // The budget ran out: every unsettled task ends with its own WaitTimeoutError.
    pool.stop(BATCH_ENDED);
    for (const entry of entries.values()) if (!entry.settled) settle(entry, { taskId: entry.id, error: new WaitTimeoutError(entry.id, timeoutMs, entry.last) });
  });
  // Tasks not settled yet; whether polling has started; 429s in a row (the batch's backoff).
  let [remaining, started, rateLimited] = [entries.size, false, 0];
  const onAbort = (): void => end(signal?.reason, true);

  /** Ends the batch: with `error` (the pending or next `next()` rejects with it), or done. */
  function end(error: unknown, failed: boolean): void {
    if (outcomes.closed) return;
    signal?.removeEventListener("abort", onAbort);
    pool.stop(failed ? error : BATCH_ENDED);
    if (failed) outcomes.fail(error);
    else outcomes.close();
  }

  function settle(entry: Entry, outcome: WaitOutcome): void {
    entry.settled = true;
    outcomes.push(outcome);
    if (--remaining === 0) end(undefined, false);
  }

  function request(entry: Entry): void {
    const controller = new AbortController();
    entry.controller = controller;
    const answered = (read: () => void): void => {
      if (entry.controller === controller) entry.controller = undefined;
      pool.inFlight.delete(entry);
      // The batch (or this task) may no longer care about the result.
      if (outcomes.closed || entry.settled || controller.signal.aborted) return;
      try {
        read();
      } catch (error) {
        return end(error, true);
      }
      if (!outcomes.closed) pool.pump();
    };
    new Promise<VideoTaskResult>((resolve) => resolve(get(entry.id, controller.signal))).then(
      (task) => answered(() => onAnswer(entry, task)),
      (error: unknown) => answered(() => onError(entry, error)),
    );
  }

  function onAnswer(entry: Entry, task: VideoTaskResult): void {
    rateLimited = 0;
    const changed = entry.last === undefined || entry.last.status !== task.status;
    entry.last = task;
    if (changed) onUpdate?.(task, entry.id);
    // onUpdate may have ended the batch (a `return()` from inside it).
    if (outcomes.closed) return;
    const verdict = taskVerdict(task);
    if (verdict.kind === "running") pool.schedule(entry, Date.now() + (fixedInterval ?? pollDelayMs(entry.polls++)));
    else settle(entry, verdict.error ? { taskId: entry.id, error: verdict.error } : { taskId: entry.id, task: verdict.task });
  }

  function onError(entry: Entry, error: unknown): void {
    // Not a KlingError: a bug, which ends the batch.
    if (!(error instanceof KlingError)) throw error;
    if (!(error instanceof RateLimitError)) return settle(entry, { taskId: entry.id, error });
    // A 429 is about the whole batch, not this task: pause every poll, then ask again.
    pool.pausedUntil = Math.max(pool.pausedUntil, Date.now() + (error.retryAfterMs ?? backoffMs(rateLimited++)));
    pool.schedule(entry, pool.pausedUntil);
  }

  const iterator: AsyncIterableIterator<WaitOutcome> = {
    next() {
      if (!started) {
        started = true;
        if (remaining === 0) outcomes.close();
        else if (signal?.aborted) outcomes.fail(signal.reason);
        else {
          signal?.addEventListener("abort", onAbort, { once: true });
          const now = Date.now();
          pool.deadline = now + timeoutMs;
          for (const entry of entries.values()) pool.schedule(entry, now);
          pool.pump();
        }
      }
      return outcomes.next();
    },
    return() {
      started = true;
      if (!outcomes.closed) pool.stop(BATCH_ENDED);
      signal?.removeEventListener("abort", onAbort);
      outcomes.close(true);
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
