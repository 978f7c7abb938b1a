// What a caller of generateVideos sees: a job, the options, the events of each job, its outcome, and
// the two errors only a batch throws. generate-videos.ts hands them out; the batch's rooms
// (_video-jobs.ts, _video-steps.ts, _video-batch.ts) read them from here, so none imports the entry.
import { KlingError } from "../errors.js";
import type { CreateVideoRequest } from "../types.js";

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
   * The job's stable key: what the journal remembers it by across runs (at most 256 characters,
   * no control characters, as a task id). Default: `job-` and 20 hex digits of a hash of
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
