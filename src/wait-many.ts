// Waiting for many tasks at once: one scheduler for the whole batch instead of one loop per task.
// Each task is a small record in a min-heap ordered by its next poll time; ONE timer wakes the
// batch; at most `concurrency` requests are in flight; a 429 pauses every poll of the batch; the
// outcomes come out as an async iterable, in the order the tasks settle. Memory and sockets stay
// flat whatever the number of tasks: only `concurrency` requests (and their AbortControllers) exist
// at a time, and nothing is ever attached to a long-lived signal per request.
import { InvalidArgumentError, KlingError, RateLimitError, WaitTimeoutError } from "./errors.js";
import { checkCount, checkDuration, checkFunction, checkOptionsObject, checkSignal, checkTaskId, MAX_TIMER_MS } from "./options.js";
import { backoffMs } from "./retry.js";
import type { CompletedVideoTask, VideoTaskResult } from "./routes.js";
import { taskVerdict } from "./status.js";
import { DEFAULT_WAIT_TIMEOUT_MS, pollDelayMs } from "./wait.js";

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

/** A binary min-heap of entries by (due, seq). */
class DueHeap {
  private readonly items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Entry | undefined {
    return this.items[0];
  }
  private less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }
  push(entry: Entry): void {
    const items = this.items;
    items.push(entry);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): Entry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < items.length && this.less(items[l]!, items[min]!)) min = l;
      if (r < items.length && this.less(items[r]!, items[min]!)) min = r;
      if (min === i) break;
      [items[i], items[min]] = [items[min]!, items[i]!];
      i = min;
    }
    return top;
  }
  clear(): void {
    this.items.length = 0;
  }
}

/** The abort reason of requests cut short by the batch itself (timeout or `return()`). */
const BATCH_ENDED = Symbol("batch ended");

/**
 * The outcomes of a batch as an async iterator: settled ones queue until `next()` takes them, a
 * `next()` with none waits; `fail` makes the next `next()` reject (once), `close` ends the rest.
 */
class Outcomes {
  /** Settled outcomes not yet taken; read from `head` so taking one is O(1). */
  private queue: WaitOutcome[] = [];
  private head = 0;
  private readonly waiters: Array<{ resolve: (r: IteratorResult<WaitOutcome>) => void; reject: (e: unknown) => void }> = [];
  private failure: { error: unknown } | undefined;
  closed = false;

  push(outcome: WaitOutcome): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value: outcome, done: false });
    else this.queue.push(outcome);
  }

  /** Ends the iteration with an error: the pending `next()` (or the next one) rejects with it. */
  fail(error: unknown): void {
    this.queue = [];
    this.head = 0;
    const waiter = this.waiters.shift();
    if (waiter) waiter.reject(error);
    else this.failure = { error };
    this.close();
  }

  /** No outcome will come: pending and later `next()` calls end once the queue is taken. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** Drops everything not yet taken (the caller broke out of its loop). */
  drop(): void {
    this.failure = undefined;
    this.queue = [];
    this.head = 0;
    this.close();
  }

  next(): Promise<IteratorResult<WaitOutcome>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    const failure = this.failure;
    this.failure = undefined;
    if (failure) return Promise.reject(failure.error);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
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
    if (!entries.has(id)) entries.set(id, { id, due: 0, seq: entries.size, polls: 0, last: undefined, controller: undefined, settled: false });
  }
  return entries;
}

/**
 * Waits for many tasks with one scheduler; yields one outcome per distinct task id, in the order
 * they settle. Ids and options are checked synchronously: a bad one throws InvalidArgumentError
 * from this call, before any request. Polling starts at the first `next()`. Breaking out of the
 * loop (`return()`) stops the polling and aborts in-flight requests. An error that is not a
 * KlingError (a bug, or an `onUpdate` that throws) ends the batch: the iterable throws it.
 */
export function waitForMany(
  taskIds: Iterable<string>,
  get: GetTaskById,
  given?: WaitManyOptions,
): AsyncIterableIterator<WaitOutcome> {
  const options = checkOptionsObject(given);
  const concurrency = checkConcurrency(options.concurrency ?? DEFAULT_CONCURRENCY);
  const timeoutMs = checkDuration("timeoutMs", options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, true);
  const fixedInterval = options.pollIntervalMs === undefined ? undefined : checkDuration("pollIntervalMs", options.pollIntervalMs);
  const signal = checkSignal(options.signal);
  const onUpdate = checkFunction("onUpdate", options.onUpdate);
  checkFunction("get", get);
  const entries = checkTaskIds(taskIds);

  const heap = new DueHeap();
  const inFlight = new Set<Entry>();
  const outcomes = new Outcomes();
  let remaining = entries.size;
  let seq = entries.size;
  let started = false;
  let deadline = Number.POSITIVE_INFINITY;
  let pausedUntil = 0;
  let rateLimited = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Number.NaN;

  const onAbort = (): void => fail(signal?.reason);

  /** Stops everything: the timer, the queue of polls, the requests in flight (aborted with `reason`). */
  function stop(reason: unknown): void {
    clearTimeout(timer);
    timerAt = Number.NaN;
    heap.clear();
    signal?.removeEventListener("abort", onAbort);
    for (const entry of inFlight) entry.controller?.abort(reason);
    inFlight.clear();
  }

  /** Ends the batch with an error: the pending or next `next()` rejects with it (once). */
  function fail(error: unknown): void {
    if (outcomes.closed) return;
    stop(error);
    outcomes.fail(error);
  }

  function settle(entry: Entry, outcome: WaitOutcome): void {
    entry.settled = true;
    remaining--;
    outcomes.push(outcome);
    if (remaining === 0) {
      stop(BATCH_ENDED);
      outcomes.close();
    }
  }

  function schedule(entry: Entry, due: number): void {
    entry.due = due;
    entry.seq = seq++;
    heap.push(entry);
  }

  /** Starts every poll that is due and allowed, then arms the one timer for the next thing to do. */
  function pump(): void {
    if (outcomes.closed) return;
    const now = Date.now();
    if (now >= deadline) {
      // The budget ran out: every unsettled task ends with its own WaitTimeoutError.
      stop(BATCH_ENDED);
      for (const entry of entries.values()) {
        if (!entry.settled) settle(entry, { taskId: entry.id, error: new WaitTimeoutError(entry.id, timeoutMs, entry.last) });
      }
      return;
    }
    if (now >= pausedUntil) {
      while (inFlight.size < concurrency && heap.size > 0 && heap.peek()!.due <= now) request(heap.pop()!);
      if (outcomes.closed) return;
    }
    let wake = deadline;
    const next = heap.peek();
    // A full pool needs no timer: the next answer pumps again.
    if (next !== undefined && inFlight.size < concurrency) wake = Math.min(wake, Math.max(next.due, pausedUntil));
    if (wake === timerAt) return;
    clearTimeout(timer);
    timerAt = wake;
    if (Number.isFinite(wake)) {
      // Forget the fired timer first: a timer may fire a millisecond early, and pump must re-arm it then.
      timer = setTimeout(() => ((timerAt = Number.NaN), pump()), Math.min(Math.max(0, wake - now), MAX_TIMER_MS));
    }
  }

  function request(entry: Entry): void {
    const controller = new AbortController();
    entry.controller = controller;
    inFlight.add(entry);
    // Marks the request over; false when the batch (or this task) no longer cares about its result.
    const done = (): boolean => {
      if (entry.controller === controller) entry.controller = undefined;
      inFlight.delete(entry);
      return !outcomes.closed && !entry.settled && !controller.signal.aborted;
    };
    new Promise<VideoTaskResult>((resolve) => resolve(get(entry.id, controller.signal))).then(
      (task) => {
        if (!done()) return;
        try {
          onAnswer(entry, task);
        } catch (error) {
          fail(error);
          return;
        }
        pump();
      },
      (error: unknown) => {
        if (!done()) return;
        onError(entry, error);
        pump();
      },
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
    if (verdict.kind === "running") schedule(entry, Date.now() + (fixedInterval ?? pollDelayMs(entry.polls++)));
    else settle(entry, verdict.error ? { taskId: entry.id, error: verdict.error } : { taskId: entry.id, task: verdict.task });
  }

  function onError(entry: Entry, error: unknown): void {
    // A 429 is about the whole batch, not this task: pause every poll, then ask again.
    if (error instanceof RateLimitError) {
      pausedUntil = Math.max(pausedUntil, Date.now() + (error.retryAfterMs ?? backoffMs(rateLimited++)));
      schedule(entry, pausedUntil);
    } else if (error instanceof KlingError) settle(entry, { taskId: entry.id, error });
    else fail(error);
  }

  function start(): void {
    started = true;
    if (remaining === 0) return outcomes.close();
    if (signal?.aborted) return outcomes.fail(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const now = Date.now();
    if (Number.isFinite(timeoutMs)) deadline = now + timeoutMs;
    for (const entry of entries.values()) schedule(entry, now);
    pump();
  }

  const iterator: AsyncIterableIterator<WaitOutcome> = {
    next() {
      if (!started) start();
      return outcomes.next();
    },
    return() {
      started = true;
      if (!outcomes.closed) stop(BATCH_ENDED);
      outcomes.drop();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
