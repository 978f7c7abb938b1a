// The steps of one job of a batch, each one request held in one of the batch's slots: the create
// (its intent journaled and flushed before it is sent, its task id journaled as soon as it is known),
// a poll (what the answer means is the status verdict's, src/_status.ts), and the download that a
// completed task leads to. A step that ends the job journals how first, then throws the error.
import { lstat, mkdir, readdir, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KlingClient } from "../client.js";
import { checkCreateRequest } from "../create.js";
import { APIConnectionError, APIError, AuthenticationError, InsufficientQuotaError, KlingError, RateLimitError, TaskNotFoundError, WaitTimeoutError } from "../errors.js";
import { isRetryableStatus } from "../_retry.js";
import type { CompletedVideoTask, RouteName } from "../routes.js";
import { statusKind, taskVerdict } from "../_status.js";
import type { CreatedTask, CreateVideoRequest, VideoTaskResult } from "../types.js";
import { downloadVideo, FileExistsError } from "./download.js";
import { openImageFile } from "./image-file.js";
import type { Journal } from "./journal.js";
import { isPartFileOf } from "./_part-file.js";
import { JobMayHaveBeenCreatedError, VideoFileError, type VideoJobEvent } from "./video-api.js";
import { mapJobImages, type Job, type Settings } from "./_video-jobs.js";
import { jobRequests, type JobRequests } from "./_video-requests.js";

/** What the steps share with the batch that runs them. */
export interface StepContext {
  readonly kling: KlingClient;
  readonly journal: Journal;
  readonly settings: Settings;
  /** Tells onUpdate. */
  emit(event: VideoJobEvent): void;
  /** An append the step must not go on without: a failure stops the batch (rejects with what ends it). */
  write(append: Promise<void>, detail?: string): Promise<void>;
  /** An append no step awaits right away: kept until it settles; its failure is thrown where it is awaited. */
  background(append: Promise<void>): Promise<void>;
}

/** What a step leaves the job to do next. */
export type NextStep = "poll" | "saved";

/** Whether a task that ended in this error may still give its video: then the next run waits on it again instead of paying for a new one. */
function stillResumable(error: KlingError): boolean {
  if (error instanceof TaskNotFoundError) return false;
  if (error instanceof APIError) return error.status !== 404 && error.status !== 410 && isRetryableStatus(error.status);
  return error instanceof APIConnectionError || error instanceof VideoFileError || error instanceof WaitTimeoutError;
}

/** Removes what a killed run's download of `output` left beside it (downloadVideo's temp files). */
async function removePartials(output: string): Promise<void> {
  const dir = dirname(output);
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (isPartFileOf(output, entry)) await unlink(join(dir, entry)).catch(() => undefined);
  }
}

/** Node's error code of a file-system failure (`ENOSPC`, `EACCES`, ...), if it is one. */
function systemCode(error: unknown): string | undefined {
  const code = error !== null && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** Whether a file is at `path` already. */
const taken = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

/** The steps of a batch's jobs, over the batch's context. */
export class JobSteps {
  /** The creates answered with an error, by key: what a stop by the journal reports of a job without a task. */
  readonly createErrors = new Map<string, KlingError>();
  /** Creates are refused by the relay for the whole batch after one of these: the rest are not sent. */
  #refusedForAll: KlingError | undefined;
  readonly #requests = new Map<RouteName, JobRequests>();
  readonly #ctx: StepContext;

  constructor(ctx: StepContext) {
    this.#ctx = ctx;
  }

  /** Whether a job not created yet may be: its output free, unless the batch may overwrite. Checked before any money is spent. */
  async outputFree(job: Job): Promise<KlingError | undefined> {
    return !this.#ctx.settings.overwrite && (await taken(job.output)) ? new FileExistsError(job.output) : undefined;
  }

  #requestsOf(job: Job): JobRequests {
    const name = job.route.name as RouteName;
    let requests = this.#requests.get(name);
    if (!requests) this.#requests.set(name, (requests = jobRequests(this.#ctx.kling, job.route)));
    return requests;
  }

  /** The job's request with its image files opened (checked from header and size, streamed at send time), checked whole. */
  async #request(job: Job): Promise<CreateVideoRequest> {
    const opened = new Map<string, Blob>();
    for (const [where, file] of job.imagePaths) opened.set(where, await openImageFile(file));
    const given = job.image === undefined ? { ...job.fields } : { ...job.fields, image: job.image };
    const request = mapJobImages(given, (image, where) => opened.get(where) ?? image) as CreateVideoRequest;
    await checkCreateRequest(job.route, request);
    return request;
  }

  /** Creates the job's task: the intent on disk first, the create sent once, its task id journaled. */
  async create(job: Job, signal: AbortSignal): Promise<NextStep> {
    const { journal, write, emit } = this.#ctx;
    if (this.#refusedForAll) throw this.#refusedForAll;
    if (signal.aborted) throw signal.reason;
    // Read and checked before the intent: a refused image or request costs nothing and leaves no record.
    const request = await this.#request(job);
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
    let created: CreatedTask;
    try {
      // Not cut by the batch's stop: a create cut half-way would leave its fate unknown; it ends by
      // the client's timeoutMs.
      created = await this.#requestsOf(job).create(request);
    } catch (error) {
      return this.#createFailed(job, error);
    }
    this.#created(job, created);
    return "poll";
  }

  /** Journals a create that failed and throws what the job ends in (a 429: the batch pauses and sends it again). */
  async #createFailed(job: Job, error: unknown): Promise<never> {
    if (error instanceof KlingError) this.createErrors.set(job.key, error);
    const unknown = !(error instanceof KlingError) || error.mayHaveCreatedTask;
    await this.#ctx.write(this.#ctx.journal.failed(job.key, { error, mayHaveCreatedTask: unknown }));
    if (!(error instanceof KlingError)) throw error;
    if (error instanceof InsufficientQuotaError || error instanceof AuthenticationError) this.#refusedForAll ??= error;
    if (error.mayHaveCreatedTask) throw new JobMayHaveBeenCreatedError(job.key, error.message, { cause: error });
    throw error;
  }

  /** The job has its task: its id appended now, synced off the slot (the first poll waits for it). */
  #created(job: Job, created: CreatedTask): void {
    const { journal, write, emit, background } = this.#ctx;
    const taskId = created.task_id;
    const status = typeof created.status === "string" && statusKind(created.status) === "running" ? created.status : "queued";
    job.taskId = taskId;
    job.waitStart = Date.now();
    job.lastTask = { task_id: taskId, status } as VideoTaskResult;
    // The journal refuses a failure of this job by its own rules before this append can.
    const detail =
      `task ${taskId} was created for job ${JSON.stringify(job.key)} but could not be journaled, ` +
      `so a re-run will report the job as "may have been created"`;
    job.recording = background(
      write(journal.created(job.key, taskId), detail).then(() => {
        emit({ type: "created", key: job.key, taskId, resumed: false });
        emit({ type: "status", key: job.key, taskId, status });
      }),
    );
  }

  /** Ends a job that has a task with `error`, journaled first; `resumable`: a re-run waits on the same task. */
  async #taskFailed(job: Job, error: KlingError, resumable: boolean): Promise<never> {
    await this.#ctx.write(this.#ctx.journal.failed(job.key, { error, taskId: job.taskId!, resumable }));
    throw error;
  }

  /** Polls the job's task once; a completed one is downloaded in the same slot. */
  async poll(job: Job, signal: AbortSignal): Promise<NextStep> {
    const { settings, emit } = this.#ctx;
    const taskId = job.taskId!;
    // Never a poll before its task id is on disk.
    await job.recording;
    if (job.waitStart === 0) job.waitStart = Date.now();
    if (Date.now() - job.waitStart >= settings.timeoutMs) {
      return this.#taskFailed(job, new WaitTimeoutError(taskId, settings.timeoutMs, job.lastTask), true);
    }
    let task: VideoTaskResult;
    try {
      task = await this.#requestsOf(job).get(taskId, signal);
    } catch (error) {
      if (signal.aborted || error instanceof RateLimitError || !(error instanceof KlingError)) throw error;
      return this.#taskFailed(job, error, stillResumable(error));
    }
    if (job.lastTask?.status !== task.status) emit({ type: "status", key: job.key, taskId, status: String(task.status) });
    job.lastTask = task;
    const verdict = taskVerdict(task);
    if (verdict.kind === "running") return "poll";
    // An end the relay decided (failed, cancelled) is final; one that could not be read may change.
    if (verdict.kind === "ended") return this.#taskFailed(job, verdict.error, !verdict.final);
    await this.#download(job, verdict.task, signal);
    return "saved";
  }

  async #download(job: Job, task: CompletedVideoTask, signal: AbortSignal): Promise<void> {
    const { journal, write, emit, background } = this.#ctx;
    const taskId = job.taskId!;
    emit({ type: "downloading", key: job.key, taskId, received: 0 });
    let result: { path: string; bytes: number };
    try {
      await mkdir(dirname(job.output), { recursive: true });
      if (job.earlier) await removePartials(job.output);
      // Overwrite: the output was free when the job was created (checked then), so a file there now
      // is this job's own, renamed into place by a run killed before it journaled `saved`.
      result = await downloadVideo(task, job.output, {
        signal,
        overwrite: true,
        onProgress: (p) => emit({ type: "downloading", key: job.key, taskId, received: p.received, ...(p.total !== undefined && { total: p.total }) }),
      });
    } catch (error) {
      // Stopped: the job stays `created` and the next run downloads it again.
      if (signal.aborted) throw error;
      const code = systemCode(error);
      const failure = error instanceof KlingError ? error : code ? new VideoFileError(job.output, code, { cause: error }) : undefined;
      if (!failure) throw error;
      return this.#taskFailed(job, failure, stillResumable(failure));
    }
    job.saved = result;
    job.recording = background(write(journal.saved(job.key, taskId, result.path, result.bytes)));
  }
}
