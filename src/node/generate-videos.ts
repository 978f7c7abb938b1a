// generateVideos: a batch of create requests to video files that survives the process. Each job is
// an entry of the batch scheduler (waitForMany) whose `get` is a small state machine: its first
// call creates the task (the intent journaled and flushed before the request, the task id as soon as
// it is known), later calls poll it, and the call that sees it completed downloads the video
// (downloadVideo) before it returns, so creates, polls and downloads all share the scheduler's
// `concurrency` slots. The journal (journal.ts) in the output directory makes a re-run resume: saved
// videos are checked and skipped, created tasks are waited for, and a create whose fate is unknown
// is reported, never silently sent again: every created task costs money and the relay has no
// idempotency key. A journal that cannot be written stops the batch: no more creates, creates
// already sent finish, and the iterable throws a JournalWriteError listing every job left without an
// outcome, with the task ids the journal could not record.
import { lstat, mkdir, readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { sleep } from "../_sleep.js";
import type { KlingClient } from "../client.js";
import { checkCreateRequest } from "../create.js";
import {
  APIConnectionError,
  APIError,
  AuthenticationError,
  InsufficientQuotaError,
  InvalidArgumentError,
  KlingError,
  RateLimitError,
  ResponseValidationError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
} from "../errors.js";
import { backoffMs, isRetryableStatus } from "../retry.js";
import { IMAGE2VIDEO, type RouteName } from "../routes.js";
import { statusKind } from "../status.js";
import { neverConnected } from "../transport.js";
import type { CreatedTask, CreateImage2VideoRequest, CreateText2VideoRequest, CreateVideoRequest, VideoTaskResult } from "../types.js";
import { waitForMany } from "../wait-many.js";
import { downloadVideo, FileExistsError } from "./download.js";
import { openImageFile } from "./image-file.js";
import { JournalWriteError, openJournal, replayJournalFile, type Journal, type JobState, type UnfinishedJob } from "./journal.js";
import { checkSettings, loadJobs, mapJobImages, type Job, type Settings } from "./_video-jobs.js";

export { DEFAULT_JOB_TIMEOUT_MS } from "./_video-jobs.js";

/** An image of a job: a local file path (relative to `baseDir`), an http(s) or `data:` URL, or the image's bytes. */
export type VideoJobImage = string | Uint8Array | ArrayBuffer;

/**
 * One job of a batch: a create request (`model`, `prompt`, `duration`, ...), with `image` as a
 * local file path, a URL or bytes (a job with `image` is image2video, one without is text2video),
 * plus an optional stable `key` and `output` file name.
 */
export interface VideoJob extends Omit<CreateVideoRequest, "image"> {
  /** A file path (read at create time, relative to `baseDir`), an `http(s)://` or `data:` URL, or bytes. */
  image?: VideoJobImage;
  /**
   * The job's stable key: what the journal remembers it by across runs, and the scheduler's id
   * (at most 256 characters, no control characters). Default: `job-` and 20 hex digits of a hash of
   * the request (its canonical JSON, with `image` as given: the path, not the file's content).
   */
  key?: string;
  /** The video's file name inside `outputDir` (sub-folders allowed, never outside it). Default: `<key>.mp4`. */
  output?: string;
}

/** A job whose video is on disk. */
export interface VideoSaved {
  /** The job's key. */
  readonly key: string;
  /** The task that made the video. */
  readonly taskId: string;
  /** The video's absolute path. */
  readonly path: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** True when an earlier run had already saved it (checked on disk, no request sent). */
  readonly resumed: boolean;
  /** Always undefined here, so `outcome.error` narrows the union. */
  readonly error?: undefined;
}

/** A job that ended without a video. */
export interface VideoFailed {
  /** The job's key. */
  readonly key: string;
  /** Its task, when one was created. */
  readonly taskId?: string;
  /** Why; `error.mayHaveCreatedTask` is true when the job may have been created without its task id coming back. */
  readonly error: KlingError;
  /** Always undefined here (as `bytes` and `resumed`), so the union reads without narrowing. */
  readonly path?: undefined;
  /** Always undefined here. */
  readonly bytes?: undefined;
  /** Always undefined here. */
  readonly resumed?: undefined;
}

/** How one job of a batch ended. */
export type VideoOutcome = VideoSaved | VideoFailed;

/** What `onUpdate` hears about a job, in order. */
export type VideoJobEvent =
  /** The intent is journaled; the create request goes out now. */
  | { readonly type: "creating"; readonly key: string }
  /** The job has a task: created now, or (`resumed`) by an earlier run and waited for. */
  | { readonly type: "created"; readonly key: string; readonly taskId: string; readonly resumed: boolean }
  /** The task's status changed (its first answer included). */
  | { readonly type: "status"; readonly key: string; readonly taskId: string; readonly status: string }
  /** Bytes of the video written so far (0 when the download starts), and its size once known. */
  | { readonly type: "downloading"; readonly key: string; readonly taskId: string; readonly received: number; readonly total?: number }
  /** The video is saved (`resumed`: by an earlier run). */
  | {
      readonly type: "saved";
      readonly key: string;
      readonly taskId: string;
      readonly path: string;
      readonly bytes: number;
      readonly resumed: boolean;
    }
  /** The job ended without a video. */
  | { readonly type: "failed"; readonly key: string; readonly taskId?: string; readonly error: KlingError };

/** Options of `generateVideos`; only `outputDir` is required. */
export interface GenerateVideosOptions {
  /** Where the videos and the journal go; created if missing. One batch at a time per directory. */
  outputDir: string;
  /** What relative image paths are resolved against. Default: the current directory. */
  baseDir?: string;
  /** Requests in flight at once, creates, polls and downloads together, 1-256. Default: 8. */
  concurrency?: number;
  /**
   * Stops the batch: polls and downloads end at once, creates already sent are let finish and
   * their task ids journaled (cutting one would leave its fate unknown); then the iterable throws
   * `signal.reason`. Created tasks are waited for by the next run.
   */
  signal?: AbortSignal;
  /** Called for each step of each job (see VideoJobEvent). A throw ends the batch with that error. */
  onUpdate?: (event: VideoJobEvent) => void;
  /**
   * Create again the jobs whose create may have reached the relay without an answer (journaled as
   * such by an earlier run): each may then be paid for twice. Default: false (they are reported).
   */
  recreateUnknown?: boolean;
  /**
   * How long one job may wait for its task, ms (`Infinity`: no limit), counted from its create, or
   * from this run's first poll of a task an earlier run created; checked at each poll. A job past
   * it ends with WaitTimeoutError; its task is kept, and the next run waits for it again. Default: 1 h.
   */
  timeoutMs?: number;
  /** Fixed pause between two polls of one task, ms. Default: 2 s growing by 1.5x to 15 s, ±20% jitter. */
  pollIntervalMs?: number;
  /**
   * Replace a file already at a job's output that this batch did not write. Default: false: such a
   * job ends with FileExistsError before any request (no money spent).
   */
  overwrite?: boolean;
}

/**
 * A job whose create may have reached the relay without its answer coming back (a timeout, a
 * reset after sending, a proxy's 5xx page), in this run or an earlier one: it may have been created
 * and paid for. It is not created again unless the user asks (`recreateUnknown`).
 */
export class JobMayHaveBeenCreatedError extends KlingError {
  override name = "JobMayHaveBeenCreatedError";
  /** The job's key. */
  readonly key: string;
  constructor(key: string, detail: string, options?: { cause?: unknown }) {
    super(
      `job ${JSON.stringify(key)} may have been created (and paid for) without its task id coming back: ${detail}. ` +
        `It was not created again. Check the relay's tasks and billing first; to create it again anyway, run the batch ` +
        `with recreateUnknown: true (CLI: --recreate-unknown)`,
      options,
    );
    this.key = key;
    Object.defineProperty(this, "mayHaveCreatedTask", { value: true, enumerable: true });
  }
}

/** A video could not be written (no space, no permission): the task is kept, and a re-run downloads it again. */
export class VideoFileError extends KlingError {
  override name = "VideoFileError";
  /** The file that could not be written. */
  readonly path: string;
  /** Node's error code, e.g. `ENOSPC`, `EACCES`. */
  readonly code: string;
  constructor(path: string, code: string, options: { cause: unknown }) {
    super(`could not write ${path} (${code}): ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
    this.path = path;
    this.code = code;
  }
}

/** Everything a batch run needs besides the client and the jobs (the journal is swappable for the bench). */
export interface GenerateVideosDeps {
  openJournal: (dir: string, options: { signal?: AbortSignal }) => Promise<Journal>;
}

/** Wraps what must end the whole batch (a journal that cannot be written) so the scheduler does not settle it as one job's error. */
class Fatal {
  constructor(readonly error: unknown) {}
}

/** What the client's own rule would send again after a poll: a lost connection, a 408 or a 5xx (a GET is safe to repeat). */
function pollRetryable(error: unknown): boolean {
  if (error instanceof RateLimitError) return false;
  return error instanceof APIConnectionError || (error instanceof APIError && isRetryableStatus(error.status));
}

/**
 * One request as the batch sends it: first without the client's retries, so a 429 reaches the
 * scheduler at once (it pauses every job of the batch, creates and polls alike); then, when the
 * failure is one the client would retry (`retryable`), once more under the client's own rules.
 */
async function batchCall<T>(
  call: (maxRetries: number | undefined) => Promise<T>,
  retryable: (error: unknown) => boolean,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await call(0);
  } catch (error) {
    if (signal?.aborted || !retryable(error)) throw error;
    // Stopped during the pause: nothing more is sent, and the first failure is the answer.
    await sleep(backoffMs(0), signal).catch(() => {
      throw error;
    });
  }
  return call(undefined);
}

/** Whether a task that ended in this error may still give its video: then the next run waits on it again instead of paying for a new one. */
function stillResumable(error: KlingError): boolean {
  if (error instanceof TaskNotFoundError) return false;
  if (error instanceof APIError) return error.status !== 404 && error.status !== 410 && isRetryableStatus(error.status);
  return error instanceof APIConnectionError || error instanceof VideoFileError || error instanceof WaitTimeoutError;
}

/** Removes what a killed run's download of `output` left beside it (downloadVideo's `.name.<12 hex>.part`). */
async function removePartials(output: string): Promise<void> {
  const name = Buffer.byteLength(basename(output)) > 200 ? "xiexus-kling" : basename(output);
  const dir = dirname(output);
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (entry.startsWith(`.${name}.`) && /^\.[^/]*\.[0-9a-f]{12}\.part$/.test(entry) && entry.length === name.length + 19) {
      await unlink(join(dir, entry)).catch(() => undefined);
    }
  }
}

const systemCode = (error: unknown): string | undefined => {
  const code = error !== null && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
};

/**
 * Every job without an outcome (not in `yielded`) when the journal stopped the batch, in the order
 * of the jobs, and whether the journal holds where it stands: read back from the file, which is
 * what a re-run will read (a failed write that could not be cut back may have left records that
 * no append acknowledged). `createErrors`: the creates answered with an error, by key.
 */
async function unfinishedJobs(
  journal: Journal,
  jobs: Iterable<Job>,
  yielded: ReadonlySet<string>,
  createErrors: ReadonlyMap<string, KlingError>,
): Promise<UnfinishedJob[]> {
  const onDisk = await replayJournalFile(journal.path).catch(() => undefined);
  const list: UnfinishedJob[] = [];
  for (const job of jobs) {
    if (yielded.has(job.key)) continue;
    const state: Pick<JobState, "phase" | "taskId"> = onDisk ? (onDisk.get(job.key) ?? { phase: "none" }) : journal.state(job.key);
    const base = { key: job.key, route: job.route.name as RouteName, output: job.output };
    const error = createErrors.get(job.key);
    if (job.taskId !== undefined) list.push({ ...base, status: "created", taskId: job.taskId, journaled: state.taskId === job.taskId });
    // Without a task, the journal knows where the job stands unless the intent is its last word.
    else if (error) list.push({ ...base, status: "create_failed", error, journaled: state.phase !== "unknown" });
    else list.push({ ...base, status: "not_started", journaled: state.phase !== "unknown" });
  }
  return list;
}

/**
 * Runs a batch: creates each job's task, waits for it and saves its video into
 * `options.outputDir`, at most `concurrency` requests at once; yields one outcome per job, in the
 * order jobs finish. The jobs are all read and checked first (an async iterable is read to its end):
 * a bad job, a duplicate key or output, or an output outside `outputDir` is an InvalidArgumentError
 * before anything is sent. Options are checked by this call (InvalidArgumentError).
 *
 * The journal (`<outputDir>/.xiexus-kling-journal.jsonl`, locked: a second batch on the same
 * directory is refused with JournalLockedError) records each job's intent before its create is
 * sent, its task id as soon as it is known, and how it ended. Run the same batch again to resume:
 * saved videos are checked on disk and yielded `resumed` without a request; created tasks are
 * waited for, never created again; a job whose create may have reached the relay without an answer
 * is reported (JobMayHaveBeenCreatedError) and only created again with `recreateUnknown`; a job
 * that failed is tried again: a new paid attempt, because the batch was run again.
 *
 * A journal write that fails (a full disk, an I/O error) stops the batch: no create is sent after
 * it, polls and downloads stop, creates already sent finish; the outcomes already settled are
 * yielded, then the iterable throws a JournalWriteError whose `jobs` lists every other job, each
 * with its task id when it has one and whether the journal holds it.
 */
export function generateVideos(
  kling: KlingClient,
  jobs: Iterable<VideoJob> | AsyncIterable<VideoJob>,
  options: GenerateVideosOptions,
): AsyncIterableIterator<VideoOutcome> {
  return runGenerateVideos(kling, jobs, options, { openJournal });
}

/** generateVideos with its journal given (the bench runs it with one that writes nothing). Not public. */
export function runGenerateVideos(
  kling: KlingClient,
  jobs: Iterable<VideoJob> | AsyncIterable<VideoJob>,
  options: GenerateVideosOptions,
  deps: GenerateVideosDeps,
): AsyncIterableIterator<VideoOutcome> {
  const settings = checkSettings(options);
  if (kling === null || typeof kling !== "object" || typeof kling.createImage2VideoTask !== "function") {
    throw new InvalidArgumentError("kling", "kling must be a client made by createKlingClient");
  }
  const isIterable =
    jobs !== null &&
    typeof jobs === "object" &&
    (typeof (jobs as Partial<Iterable<VideoJob>>)[Symbol.iterator] === "function" ||
      typeof (jobs as Partial<AsyncIterable<VideoJob>>)[Symbol.asyncIterator] === "function");
  if (!isIterable) throw new InvalidArgumentError("jobs", "jobs must be an array (or an iterable, sync or async) of job objects");
  return run(kling, jobs, settings, deps);
}

async function* run(
  kling: KlingClient,
  given: Iterable<VideoJob> | AsyncIterable<VideoJob>,
  settings: Settings,
  deps: GenerateVideosDeps,
): AsyncGenerator<VideoOutcome, void, undefined> {
  const { signal: userSignal, onUpdate, timeoutMs } = settings;
  if (userSignal?.aborted) throw userSignal.reason;
  const jobs = await loadJobs(given, settings);
  await mkdir(settings.outputDir, { recursive: true });
  const journal = await deps.openJournal(settings.outputDir, { signal: userSignal });

  // The batch's own stop: the user's signal, or an onUpdate that threw.
  const stop = new AbortController();
  const onUserAbort = (): void => stop.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });
  let ended = false;
  let fatal: { error: unknown } | undefined;
  /** The journal could not be written: the batch stops, and ends with a JournalWriteError listing what it left. */
  let journalError: JournalWriteError | undefined;
  const emit = (event: VideoJobEvent): void => {
    if (!onUpdate || ended) return;
    try {
      onUpdate(event);
    } catch (error) {
      stop.abort(error);
    }
  };
  /** An append the step must not go on without: if it fails the batch stops (nothing more could be remembered). */
  const write = async (append: Promise<void>, detail?: string): Promise<void> => {
    try {
      await append;
    } catch (error) {
      if (error instanceof JournalWriteError) {
        // Nothing more can be remembered: the batch stops, and its end lists what the journal lacks.
        journalError ??= error;
        stop.abort(error);
        throw new Fatal(error);
      }
      const reported =
        detail && error instanceof KlingError ? new KlingError(`${detail}: ${error.message}`, { cause: error }) : error;
      fatal ??= { error: reported };
      throw new Fatal(reported);
    }
  };
  /** Creates are refused by the relay for the whole batch after one of these: the rest are not sent. */
  let refusedForAll: KlingError | undefined;

  const byKey = new Map<string, Job>();
  const active: Job[] = [];
  const settled: VideoOutcome[] = [];
  const settledEvents: VideoJobEvent[] = [];
  /** What a stop by the journal has to report besides the tasks: the creates answered with an error, the outcomes yielded. */
  const createErrors = new Map<string, KlingError>();
  const yielded = new Set<string>();
  const fail = (job: Job, error: KlingError): void => {
    settled.push(job.taskId === undefined ? { key: job.key, error } : { key: job.key, taskId: job.taskId, error });
    settledEvents.push({ type: "failed", key: job.key, ...(job.taskId !== undefined && { taskId: job.taskId }), error });
  };

  /** Sorts each job by what the journal says of it. */
  async function triage(job: Job, state: JobState): Promise<void> {
    byKey.set(job.key, job);
    switch (state.phase) {
      case "saved": {
        const path = resolve(settings.outputDir, state.path!);
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile() && info.size === state.bytes) {
          settled.push({ key: job.key, taskId: state.taskId!, path, bytes: state.bytes, resumed: true });
          settledEvents.push({ type: "saved", key: job.key, taskId: state.taskId!, path, bytes: state.bytes!, resumed: true });
          return;
        }
        // Gone or cut: fetched again from its task, if the relay still has it.
        job.taskId = state.taskId;
        job.earlier = true;
        active.push(job);
        return;
      }
      case "created":
        job.taskId = state.taskId;
        job.earlier = true;
        active.push(job);
        return;
      case "unknown":
        if (!settings.recreateUnknown) {
          const last = state.error ? `${state.error.name}: ${state.error.message}` : "the run was stopped before its answer came";
          fail(job, new JobMayHaveBeenCreatedError(job.key, `an earlier run sent its create at ${state.at} (${last})`));
          return;
        }
        job.recreate = true;
        break;
      case "none":
      case "failed":
        break;
    }
    // A file this batch did not write: refused before any money is spent.
    if (!settings.overwrite && (await lstat(job.output).then(() => true, () => false))) {
      fail(job, new FileExistsError(job.output));
      return;
    }
    active.push(job);
  }

  // ---- The state machine: one call per scheduler slot, at most one request at a time. ----

  async function createStep(job: Job, signal: AbortSignal): Promise<VideoTaskResult> {
    if (refusedForAll) throw refusedForAll;
    if (signal.aborted) throw signal.reason;
    // Read and checked before the intent: a refused image or request costs nothing and leaves no record.
    // Each image file is opened (checked from its header and size, streamed at send time) in its place in the request.
    const opened = new Map<string, Blob>();
    for (const [where, file] of job.imagePaths) opened.set(where, await openImageFile(file));
    const given = job.image === undefined ? { ...job.fields } : { ...job.fields, image: job.image };
    const request = mapJobImages(given, (image, where) => opened.get(where) ?? image) as CreateVideoRequest;
    await checkCreateRequest(job.route, request);
    if (signal.aborted) throw signal.reason;
    if (job.recreate) {
      await write(journal.recreate(job.key));
      job.recreate = false;
    }
    await write(journal.intent(job.key, job.fingerprint));
    if (signal.aborted) {
      // Stopped while the intent was written: the create is not sent, and the record says so.
      await write(journal.failed(job.key, { error: signal.reason, mayHaveCreatedTask: false }));
      throw signal.reason;
    }
    emit({ type: "creating", key: job.key });
    const create = (maxRetries: number | undefined): Promise<CreatedTask> =>
      job.route === IMAGE2VIDEO
        ? kling.createImage2VideoTask(request as CreateImage2VideoRequest, { maxRetries })
        : kling.createText2VideoTask(request as CreateText2VideoRequest, { maxRetries });
    let created: CreatedTask;
    try {
      // Not cut by the batch's stop: a create cut half-way would leave its fate unknown; it ends by
      // the client's timeoutMs. The stop only keeps one that never connected from being sent again.
      created = await batchCall(create, neverConnected, stop.signal);
    } catch (error) {
      if (error instanceof KlingError) createErrors.set(job.key, error);
      const unknown = !(error instanceof KlingError) || error.mayHaveCreatedTask;
      await write(journal.failed(job.key, { error, mayHaveCreatedTask: unknown }));
      if (!(error instanceof KlingError)) throw error;
      if (error instanceof InsufficientQuotaError || error instanceof AuthenticationError) refusedForAll ??= error;
      if (error.mayHaveCreatedTask) throw new JobMayHaveBeenCreatedError(job.key, error.message, { cause: error });
      throw error;
    }
    const taskId = created.task_id;
    const status = typeof created.status === "string" && statusKind(created.status) === "running" ? created.status : "queued";
    const task = { task_id: taskId, status } as VideoTaskResult;
    job.taskId = taskId;
    job.waitStart = Date.now();
    job.lastTask = task;
    // Appended now (a failure is refused by the journal's own rules before anything else of this job
    // can be), synced off the slot; the first poll of the task waits for it.
    const detail =
      `task ${taskId} was created for job ${JSON.stringify(job.key)} but could not be journaled, ` +
      `so a re-run will report the job as "may have been created"`;
    job.recording = background(
      write(journal.created(job.key, taskId), detail).then(() => {
        emit({ type: "created", key: job.key, taskId, resumed: false });
        emit({ type: "status", key: job.key, taskId, status });
      }),
    );
    return task;
  }

  /** Ends a job that has a task with `error`, journaled first; `resumable`: a re-run waits on the same task. */
  async function taskFailed(job: Job, error: KlingError, resumable: boolean): Promise<never> {
    await write(journal.failed(job.key, { error, taskId: job.taskId!, resumable }));
    throw error;
  }

  async function pollStep(job: Job, signal: AbortSignal): Promise<VideoTaskResult> {
    const taskId = job.taskId!;
    // Never a poll before its task id is on disk.
    await job.recording;
    if (job.waitStart === 0) job.waitStart = Date.now();
    if (Date.now() - job.waitStart >= timeoutMs) return taskFailed(job, new WaitTimeoutError(taskId, timeoutMs, job.lastTask), true);
    const get = (maxRetries: number | undefined): Promise<VideoTaskResult> =>
      job.route === IMAGE2VIDEO
        ? kling.getImage2VideoTask(taskId, { signal, maxRetries })
        : kling.getText2VideoTask(taskId, { signal, maxRetries });
    let task: VideoTaskResult;
    try {
      task = await batchCall(get, pollRetryable, signal);
    } catch (error) {
      if (signal.aborted || error instanceof RateLimitError || !(error instanceof KlingError)) throw error;
      return taskFailed(job, error, stillResumable(error));
    }
    if (job.lastTask?.status !== task.status) emit({ type: "status", key: job.key, taskId, status: String(task.status) });
    job.lastTask = task;
    switch (statusKind(task.status)) {
      case "running":
        return task;
      case "completed":
        if (typeof task.url !== "string" || task.url === "") {
          return taskFailed(job, new ResponseValidationError("the task is completed but has no url", { body: task, status: 200 }), true);
        }
        await downloadStep(job, task, signal);
        return task;
      case "failed":
        return taskFailed(job, new TaskFailedError(task), false);
      case "cancelled":
        return taskFailed(job, new TaskCancelledError(task), false);
      case undefined: {
        const message = `the task has a status the spec does not name: ${JSON.stringify(task.status)}`;
        return taskFailed(job, new ResponseValidationError(message, { body: task, status: 200 }), true);
      }
    }
  }

  async function downloadStep(job: Job, task: VideoTaskResult, signal: AbortSignal): Promise<void> {
    const taskId = job.taskId!;
    emit({ type: "downloading", key: job.key, taskId, received: 0 });
    let result: { path: string; bytes: number };
    try {
      await mkdir(dirname(job.output), { recursive: true });
      if (job.earlier) await removePartials(job.output);
      // Overwrite: the output was free when the job was created (checked then), so a file there now
      // is this job's own, renamed into place by a run killed before it journaled `saved`.
      result = await downloadVideo(task as Parameters<typeof downloadVideo>[0], job.output, {
        signal,
        overwrite: true,
        onProgress: (p) =>
          emit({ type: "downloading", key: job.key, taskId, received: p.received, ...(p.total !== undefined && { total: p.total }) }),
      });
    } catch (error) {
      // Stopped: the job stays `created` and the next run downloads it again.
      if (signal.aborted) throw error;
      const code = systemCode(error);
      const failure = error instanceof KlingError ? error : code ? new VideoFileError(job.output, code, { cause: error }) : undefined;
      if (!failure) throw error;
      return taskFailed(job, failure, stillResumable(failure));
    }
    job.saved = result;
    job.recording = background(write(journal.saved(job.key, taskId, result.path, result.bytes)));
  }

  // Every step and background append, kept until it settles: the journal is closed only after
  // everything that may still write to it.
  const pending = new Set<Promise<unknown>>();
  function track<T>(promise: Promise<T>): Promise<T> {
    pending.add(promise);
    const forget = (): void => void pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
  /** An append no step awaits right away: tracked, its failure kept in `fatal` (write) and thrown where it is awaited. */
  function background(append: Promise<void>): Promise<void> {
    append.catch(() => undefined);
    return track(append);
  }
  const step = (key: string, signal: AbortSignal): Promise<VideoTaskResult> => {
    const job = byKey.get(key)!;
    return track(job.taskId === undefined ? createStep(job, signal) : pollStep(job, signal));
  };

  const drain = async function* (): AsyncGenerator<VideoOutcome, void, undefined> {
    while (settled.length > 0) {
      const outcome = settled.shift()!;
      emit(settledEvents.shift()!);
      // Stopped by the journal, the outcomes already settled are still yielded: the stop reports the rest.
      if (stop.signal.aborted && journalError === undefined) throw stop.signal.reason;
      yielded.add(outcome.key);
      yield outcome;
    }
  };

  let finished = false;
  let failure: { error: unknown } | undefined;
  try {
    for (const job of jobs) await triage(job, journal.state(job.key));
    for (const job of active) if (job.earlier) emit({ type: "created", key: job.key, taskId: job.taskId!, resumed: true });
    yield* drain();
    if (active.length === 0) {
      finished = true;
      return;
    }
    const scheduler = waitForMany(
      active.map((job) => job.key),
      step,
      { concurrency: settings.concurrency, signal: stop.signal, timeoutMs: Number.POSITIVE_INFINITY, pollIntervalMs: settings.pollIntervalMs },
    );
    try {
      for await (const outcome of scheduler) {
        const job = byKey.get(outcome.taskId)!;
        if (outcome.error) {
          fail(job, outcome.error);
        } else {
          // Yielded only once its `saved` record is on disk.
          await job.recording;
          const { path, bytes } = job.saved!;
          settled.push({ key: job.key, taskId: job.taskId!, path, bytes, resumed: false });
          settledEvents.push({ type: "saved", key: job.key, taskId: job.taskId!, path, bytes, resumed: false });
        }
        yield* drain();
      }
    } catch (error) {
      throw error instanceof Fatal ? error.error : error;
    } finally {
      await scheduler.return?.();
    }
    finished = true;
  } catch (error) {
    failure = { error };
  } finally {
    ended = true;
    userSignal?.removeEventListener("abort", onUserAbort);
    // Creates already sent finish and are journaled (or, the journal broken, listed); polls and
    // downloads were aborted with the batch.
    while (pending.size > 0) await Promise.allSettled([...pending]);
    // A broken journal may fail to close too (a read-only disk keeps the lock file, which the next
    // run takes over from a dead process): its own error is the one to report.
    await journal.close().catch((error: unknown) => {
      if (journalError === undefined) throw error;
    });
  }
  // The journal's failure outranks whatever else ended the batch (the user's stop, a job's error):
  // it is the one that holds the task ids nobody else has.
  if (journalError !== undefined) {
    // The outcomes settled before the stop are the user's still: yielded, with their events, first.
    ended = false;
    yield* drain();
    ended = true;
    throw new JournalWriteError(journal.path, journalError, await unfinishedJobs(journal, byKey.values(), yielded, createErrors));
  }
  if (failure) throw failure.error;
  // A journal write that failed after the last outcome (a create let finish) still ends the batch in error.
  if (finished && fatal) throw fatal.error;
}
