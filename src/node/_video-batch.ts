// A generateVideos batch as it runs: each job sorted by what the journal says of it, then a small
// state machine per job (create, poll until its task ends, download) whose steps share the pool's
// slots and its 429 pause (_job-pool.ts); the outcomes come out as an async iterable, in the order
// the jobs end. A journal that cannot be written stops the batch: no more creates, creates already
// sent finish, and the iterable throws a JournalWriteError listing every job left without an
// outcome, with the task ids the journal could not record.
import { mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { KlingClient } from "../client.js";
import { KlingError, RateLimitError } from "../errors.js";
import { backoffMs } from "../_retry.js";
import type { RouteName } from "../routes.js";
import { pollDelayMs } from "../wait.js";
import { JournalWriteError, openJournal, replayJournalFile, type JobState, type Journal, type UnfinishedJob } from "./journal.js";
import { JobMayHaveBeenCreatedError, type VideoJob, type VideoJobEvent, type VideoOutcome } from "./video-api.js";
import { Fatal } from "./_fatal.js";
import { createJobPool, type JobPool } from "./_job-pool.js";
import { JobSteps, type NextStep, type StepContext } from "./_video-steps.js";
import { loadJobs, type Job, type Settings } from "./_video-jobs.js";

/** The reason the pool's steps are aborted with when the batch ends for good. */
const BATCH_ENDED = Symbol("batch ended");

/** One run of a batch over an open journal. */
class VideoBatch implements StepContext {
  readonly #stop = new AbortController();
  readonly steps = new JobSteps(this);
  readonly #pool: JobPool<Job>;
  /** Every job, by key, in the order given. */
  readonly byKey = new Map<string, Job>();
  /** The jobs with work to do in this run: a task to create, or one to wait for. */
  readonly #active: Job[] = [];
  /** Outcomes settled, with their events, until they are yielded. */
  readonly #settled: Array<[VideoOutcome, VideoJobEvent]> = [];
  /** The keys yielded: what a stop by the journal does not list. */
  readonly yielded = new Set<string>();
  /** Steps and background appends not settled yet: the journal is closed only after them. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Active jobs without an outcome yet. */
  #open = 0;
  /** 429s in a row: the pause grows with them. */
  #rateLimited = 0;
  /** What ended the batch before its jobs did. */
  #failure: { error: unknown } | undefined;
  /** Ends the outcome loop's wait: an outcome settled, or the batch ended. */
  #wake: (() => void) | undefined;
  /** Set once the batch has ended: events are no longer told. */
  ended = false;
  /** A journal append that failed for another reason than the disk (a bug): the batch ends with it. */
  fatal: { error: unknown } | undefined;
  /** The journal could not be written: the batch stops, and ends with a JournalWriteError listing what it left. */
  journalError: JournalWriteError | undefined;

  constructor(
    readonly kling: KlingClient,
    readonly settings: Settings,
    readonly journal: Journal,
  ) {
    this.#pool = createJobPool(settings.concurrency, (job, signal) => this.#step(job, signal));
    this.#stop.signal.addEventListener("abort", () => this.#end(this.#stop.signal.reason), { once: true });
  }

  get stop(): AbortSignal {
    return this.#stop.signal;
  }

  /** Stops the batch (the user's signal, an onUpdate that threw, the journal). */
  abort(reason: unknown): void {
    this.#stop.abort(reason);
  }

  emit = (event: VideoJobEvent): void => {
    if (!this.settings.onUpdate || this.ended) return;
    try {
      this.settings.onUpdate(event);
    } catch (error) {
      this.abort(error);
    }
  };

  // A failure is thrown as a Fatal: it ends the whole batch, never settles as one job's error.
  write = async (append: Promise<void>, detail?: string): Promise<void> => {
    try {
      await append;
    } catch (error) {
      if (error instanceof JournalWriteError) {
        // Nothing more can be remembered: the batch stops, and its end lists what the journal lacks.
        this.journalError ??= error;
        this.abort(error);
        throw new Fatal(error);
      }
      const reported = detail && error instanceof KlingError ? new KlingError(`${detail}: ${error.message}`, { cause: error }) : error;
      this.fatal ??= { error: reported };
      throw new Fatal(reported);
    }
  };

  background = (append: Promise<void>): Promise<void> => {
    append.catch(() => undefined);
    return this.#track(append);
  };

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const forget = (): void => void this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #settle(outcome: VideoOutcome, event: VideoJobEvent): void {
    this.#settled.push([outcome, event]);
    this.#changed();
  }

  /** Settles a job without a video. */
  #fail(job: Job, error: KlingError): void {
    const taskId = job.taskId === undefined ? {} : { taskId: job.taskId };
    this.#settle({ key: job.key, ...taskId, error }, { type: "failed", key: job.key, ...taskId, error });
  }

  #changed(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Ends the batch before its jobs: no step starts again, those running are aborted. */
  #end(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#pool.stop(error);
    this.#changed();
  }

  /** Sorts a job by what the journal says of it: settled now, waited for, or created. */
  async triage(job: Job, state: JobState): Promise<void> {
    this.byKey.set(job.key, job);
    if (state.phase === "saved") {
      const path = resolve(this.settings.outputDir, state.path!);
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile() && info.size === state.bytes) {
        const saved = { key: job.key, taskId: state.taskId!, path, bytes: state.bytes, resumed: true };
        return this.#settle(saved, { type: "saved", ...saved });
      }
      // Gone or cut: fetched again from its task, if the relay still has it.
    }
    if (state.phase === "saved" || state.phase === "created") {
      job.taskId = state.taskId;
      job.earlier = true;
      return void this.#active.push(job);
    }
    if (state.phase === "unknown" && !this.settings.recreateUnknown) {
      const last = state.error ? `${state.error.name}: ${state.error.message}` : "the run was stopped before its answer came";
      return this.#fail(job, new JobMayHaveBeenCreatedError(job.key, `an earlier run sent its create at ${state.at} (${last})`));
    }
    job.recreate = state.phase === "unknown";
    // A file this batch did not write: refused before any money is spent.
    const refused = await this.steps.outputFree(job);
    if (refused) return this.#fail(job, refused);
    this.#active.push(job);
  }

  /** One step of a job, in a slot of the pool; then what comes next for it. */
  async #step(job: Job, signal: AbortSignal): Promise<void> {
    let next: NextStep;
    try {
      next = await this.#track(job.taskId === undefined ? this.steps.create(job, signal) : this.steps.poll(job, signal));
    } catch (error) {
      return this.#stepFailed(job, error, signal);
    }
    // The batch (or this job) may no longer care.
    if (signal.aborted || this.#failure) return;
    this.#rateLimited = 0;
    if (next === "poll") return this.#pool.queue(job, this.settings.pollIntervalMs ?? pollDelayMs(job.polls++));
    // Yielded only once its `saved` record is on disk.
    job.recording!.then(
      () => {
        const { path, bytes } = job.saved!;
        const saved = { key: job.key, taskId: job.taskId!, path, bytes, resumed: false };
        this.#open--;
        this.#settle(saved, { type: "saved", ...saved });
      },
      (error: unknown) => this.#end(error instanceof Fatal ? error.error : error),
    );
  }

  #stepFailed(job: Job, error: unknown, signal: AbortSignal): void {
    if (signal.aborted || this.#failure) return;
    if (error instanceof RateLimitError) {
      // About the whole batch, not this job: every job waits, then this one goes first.
      return this.#pool.pause(job, error.retryAfterMs ?? backoffMs(this.#rateLimited++));
    }
    if (!(error instanceof KlingError)) return this.#end(error instanceof Fatal ? error.error : error);
    this.#open--;
    this.#fail(job, error);
  }

  /** Yields the outcomes settled so far, each with its event; a batch stopped by the user yields no more. */
  *drain(): Generator<VideoOutcome, void, undefined> {
    while (this.#settled.length > 0) {
      const [outcome, event] = this.#settled.shift()!;
      this.emit(event);
      // Stopped by the journal, the outcomes already settled are still yielded: the stop reports the rest.
      if (this.stop.aborted && this.journalError === undefined) throw this.stop.reason;
      this.yielded.add(outcome.key);
      yield outcome;
    }
  }

  /** Runs the jobs the triage left, yielding each outcome as it settles; throws what ends the batch. */
  async *outcomes(): AsyncGenerator<VideoOutcome, void, undefined> {
    for (const job of this.#active) if (job.earlier) this.emit({ type: "created", key: job.key, taskId: job.taskId!, resumed: true });
    // What the journal settled goes out before any request.
    yield* this.drain();
    this.#open = this.#active.length;
    for (const job of this.#active) this.#pool.queue(job);
    for (;;) {
      yield* this.drain();
      if (this.#failure) throw this.#failure.error;
      if (this.#open === 0) return;
      await new Promise<void>((wake) => (this.#wake = wake));
    }
  }

  /** Ends the run: the pool stopped, creates already sent let finish (and journaled), the journal closed. */
  async close(): Promise<void> {
    this.ended = true;
    this.#pool.stop(BATCH_ENDED);
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    // A broken journal may fail to close too (a read-only disk keeps the lock file, which the next
    // run takes over from a dead process): its own error is the one to report.
    await this.journal.close().catch((error: unknown) => {
      if (this.journalError === undefined) throw error;
    });
  }
}

/**
 * Every job without an outcome when the journal stopped the batch, in the order of the jobs, and
 * whether the journal holds where it stands: read back from the file, which is what a re-run will
 * read (a failed write that could not be cut back may have left records no append acknowledged).
 */
async function unfinishedJobs(batch: VideoBatch): Promise<UnfinishedJob[]> {
  const { journal, yielded, steps } = batch;
  const onDisk = await replayJournalFile(journal.path).catch(() => undefined);
  const list: UnfinishedJob[] = [];
  for (const job of batch.byKey.values()) {
    if (yielded.has(job.key)) continue;
    const state: Pick<JobState, "phase" | "taskId"> = onDisk ? (onDisk.get(job.key) ?? { phase: "none" }) : journal.state(job.key);
    const base = { key: job.key, route: job.route.name as RouteName, output: job.output };
    const error = steps.createErrors.get(job.key);
    if (job.taskId !== undefined) list.push({ ...base, status: "created", taskId: job.taskId, journaled: state.taskId === job.taskId });
    // Without a task, the journal knows where the job stands unless the intent is its last word.
    else if (error) list.push({ ...base, status: "create_failed", error, journaled: state.phase !== "unknown" });
    else list.push({ ...base, status: "not_started", journaled: state.phase !== "unknown" });
  }
  return list;
}

/** Runs a checked batch: see generateVideos. */
export async function* runBatch(
  kling: KlingClient,
  given: Iterable<VideoJob> | AsyncIterable<VideoJob>,
  settings: Settings,
): AsyncGenerator<VideoOutcome, void, undefined> {
  const userSignal = settings.signal;
  if (userSignal?.aborted) throw userSignal.reason;
  const jobs = await loadJobs(given, settings);
  await mkdir(settings.outputDir, { recursive: true });
  const journal = await openJournal(settings.outputDir, { signal: userSignal });
  const batch = new VideoBatch(kling, settings, journal);
  const onUserAbort = (): void => batch.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  let failure: { error: unknown } | undefined;
  try {
    for (const job of jobs) await batch.triage(job, journal.state(job.key));
    yield* batch.outcomes();
  } catch (error) {
    failure = { error };
  } finally {
    userSignal?.removeEventListener("abort", onUserAbort);
    await batch.close();
  }
  // The journal's failure outranks whatever else ended the batch (the user's stop, a job's error):
  // it is the one that holds the task ids nobody else has.
  if (batch.journalError !== undefined) {
    // The outcomes settled before the stop are the user's still: yielded, with their events, first.
    batch.ended = false;
    yield* batch.drain();
    batch.ended = true;
    throw new JournalWriteError(journal.path, batch.journalError, await unfinishedJobs(batch));
  }
  if (failure) throw failure.error;
  // A journal write that failed after the last outcome (a create let finish) still ends the batch in error.
  if (batch.fatal) throw batch.fatal.error;
}
