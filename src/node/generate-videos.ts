// generateVideos: a batch of create requests to video files that survives the process. Each job
// runs its own small state machine (_video-batch.ts, _video-steps.ts): its create (the intent
// journaled and flushed before the request, the task id as soon as it is known), its polls, and the
// download of its video; creates, polls and downloads share the batch's `concurrency` slots and a
// 429 pauses them all (_job-pool.ts). The journal (journal.ts) in the output directory makes a re-run
// resume: saved videos are checked and skipped, created tasks are waited for, and a create whose fate
// is unknown is reported, never silently sent again: every created task costs money and the relay has
// no idempotency key. This file is the entry: the public shapes (video-api.ts) and the call.
import type { KlingClient } from "../client.js";
import { InvalidArgumentError } from "../errors.js";
import { helperNames, ROUTES } from "../routes.js";
import type { GenerateVideosOptions, VideoJob, VideoOutcome } from "./video-api.js";
import { runBatch } from "./_video-batch.js";
import { checkSettings } from "./_video-jobs.js";

export { DEFAULT_JOB_TIMEOUT_MS } from "./_video-jobs.js";
export { JobMayHaveBeenCreatedError, VideoFileError } from "./video-api.js";
export type { GenerateVideosOptions, VideoFailed, VideoJob, VideoJobEvent, VideoJobImage, VideoOutcome, VideoSaved } from "./video-api.js";

/** Whether `kling` has every route's helpers, as a client made by createKlingClient has. */
function isClient(kling: unknown): kling is KlingClient {
  if (kling === null || typeof kling !== "object") return false;
  const methods = kling as Record<string, unknown>;
  return Object.values(ROUTES).every((route) => Object.values(helperNames(route)).every((name) => typeof methods[name] === "function"));
}

/** Whether `jobs` can be iterated, sync or async. */
function isJobs(jobs: unknown): jobs is Iterable<VideoJob> | AsyncIterable<VideoJob> {
  if (jobs === null || typeof jobs !== "object") return false;
  const given = jobs as Partial<Iterable<VideoJob> & AsyncIterable<VideoJob>>;
  return typeof given[Symbol.iterator] === "function" || typeof given[Symbol.asyncIterator] === "function";
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
  const settings = checkSettings(options);
  if (!isClient(kling)) throw new InvalidArgumentError("kling", "kling must be a client made by createKlingClient");
  if (!isJobs(jobs)) throw new InvalidArgumentError("jobs", "jobs must be an array (or an iterable, sync or async) of job objects");
  return runBatch(kling, jobs, settings);
}
