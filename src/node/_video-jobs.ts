// The jobs of a generateVideos batch and its options, checked before anything is sent: every job's
// key, route, request fields, image and output file (unique, inside the output directory, never the
// journal's own files), so a bad batch costs nothing.
import { isAbsolute, relative, resolve, sep } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { checkDuration, checkFunction, checkOptionsObject, checkSignal, checkTaskId } from "../options.js";
import { routeOfCreate, type RouteDescription } from "../routes.js";
import type { VideoTaskResult } from "../types.js";
import { checkConcurrency, DEFAULT_CONCURRENCY } from "../wait-many.js";
import { fingerprintRequest, JOURNAL_FILE, JOURNAL_LOCK_FILE } from "./journal.js";
import type { GenerateVideosOptions, VideoJob, VideoJobEvent, VideoJobImage } from "./video-api.js";

/** Default of `timeoutMs`: one hour per job, counted from its create (or from this run's first poll of a task created earlier). */
export const DEFAULT_JOB_TIMEOUT_MS = 60 * 60_000;

/** The options of a batch, checked, with their defaults. */
export interface Settings {
  outputDir: string;
  baseDir: string;
  concurrency: number;
  signal: AbortSignal | undefined;
  onUpdate: ((event: VideoJobEvent) => void) | undefined;
  recreateUnknown: boolean;
  timeoutMs: number;
  pollIntervalMs: number | undefined;
  overwrite: boolean;
}

/** One job, checked, with where it stands in this run. */
export interface Job {
  readonly key: string;
  readonly route: RouteDescription;
  /** The request's fields, without image, key and output. */
  readonly fields: Record<string, unknown>;
  readonly image: VideoJobImage | undefined;
  /** The absolute paths of the job's image files (`image`, `metadata.image_tail`, ...), by where they stand: opened at create time. */
  readonly imagePaths: ReadonlyMap<string, string>;
  readonly fingerprint: string;
  /** The video's absolute path. */
  readonly output: string;
  taskId: string | undefined;
  /** An earlier run left the create's fate unknown and the user asked to create it again. */
  recreate: boolean;
  /** Its task was created by an earlier run (a leftover partial download may lie beside the output). */
  earlier: boolean;
  /** When its wait began (its create, or this run's first poll of a task created earlier); 0: not yet. */
  waitStart: number;
  /** Running answers so far (its create's included): the default poll schedule grows with them. */
  polls: number;
  /** The last answer about its task: its status, for the events and a WaitTimeoutError. */
  lastTask: VideoTaskResult | undefined;
  /** The video, once downloaded. */
  saved: { path: string; bytes: number } | undefined;
  /**
   * The append of `created` or `saved`, on its way to disk. Neither holds a request slot while it
   * syncs: the next poll waits for `created`, and the outcome is yielded only once `saved` is on disk.
   */
  recording: Promise<void> | undefined;
}

function booleanOption(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new InvalidArgumentError(name, `${name} must be a boolean, got ${typeof value}`);
  return value;
}

function directoryOption(name: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") throw new InvalidArgumentError(name, `${name} must be a non-empty string`);
  if (value.includes("\0")) throw new InvalidArgumentError(name, `${name} contains a NUL character`);
  return resolve(value);
}

/** Checks generateVideos' options (InvalidArgumentError naming the bad one). */
export function checkSettings(given: GenerateVideosOptions): Settings {
  if (given === null || typeof given !== "object") {
    throw new InvalidArgumentError("options", "options must be an object with at least { outputDir }");
  }
  const options = checkOptionsObject(given);
  return {
    outputDir: directoryOption("outputDir", options.outputDir),
    baseDir: options.baseDir === undefined ? process.cwd() : directoryOption("baseDir", options.baseDir),
    concurrency: checkConcurrency(options.concurrency ?? DEFAULT_CONCURRENCY),
    signal: checkSignal(options.signal),
    onUpdate: checkFunction("onUpdate", options.onUpdate),
    recreateUnknown: booleanOption("recreateUnknown", options.recreateUnknown),
    timeoutMs: checkDuration("timeoutMs", options.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS, true),
    pollIntervalMs: options.pollIntervalMs === undefined ? undefined : checkDuration("pollIntervalMs", options.pollIntervalMs),
    overwrite: booleanOption("overwrite", options.overwrite),
  };
}

/** A string image is a URL when it says so; anything else is a file path. */
const IMAGE_URL = /^(https?:\/\/|data:)/i;

/**
 * A copy of a job's request with each image it holds replaced by `map` of it: `image`, and Kling's
 * image controls in `metadata` (`image_tail`, `static_mask`, each `dynamic_masks[i].mask`).
 * `where` names the image as a message would (`image`, `metadata.dynamic_masks[0].mask`).
 */
export function mapJobImages(request: Record<string, unknown>, map: (image: unknown, where: string) => unknown): Record<string, unknown> {
  const out = { ...request };
  if (out.image !== undefined) out.image = map(out.image, "image");
  const meta = out.metadata;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return out;
  const copy: Record<string, unknown> = { ...meta };
  for (const key of ["image_tail", "static_mask"]) if (copy[key] !== undefined) copy[key] = map(copy[key], `metadata.${key}`);
  if (Array.isArray(copy.dynamic_masks)) {
    copy.dynamic_masks = copy.dynamic_masks.map((m: unknown, i) =>
      m !== null && typeof m === "object" && "mask" in m ? { ...m, mask: map((m as { mask: unknown }).mask, `metadata.dynamic_masks[${i}].mask`) } : m,
    );
  }
  out.metadata = copy;
  return out;
}

/** The files a job's images name, by where they stand in the request: absolute paths, opened at create time. */
function imagePaths(request: Record<string, unknown>, where: string, baseDir: string): Map<string, string> {
  const paths = new Map<string, string>();
  mapJobImages(request, (image, at) => {
    if (image !== undefined && typeof image !== "string" && !(image instanceof Uint8Array) && !(image instanceof ArrayBuffer)) {
      throw new InvalidArgumentError(`${where}.${at}`, `${where}.${at} must be a file path, an http(s) URL or bytes (Uint8Array, ArrayBuffer)`);
    }
    if (typeof image === "string" && (image === "" || image.includes("\0"))) {
      throw new InvalidArgumentError(`${where}.${at}`, `${where}.${at} must be a non-empty path or URL without NUL characters`);
    }
    if (typeof image === "string" && !IMAGE_URL.test(image)) paths.set(at, resolve(baseDir, image));
    return image;
  });
  return paths;
}

/** Checks one job; `where` names it in messages (`jobs[3]`). */
function checkJob(value: unknown, where: string, settings: Settings): Job {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidArgumentError("jobs", `${where} must be an object such as { model, prompt, image?, key?, output? }`);
  }
  const { key: givenKey, output: givenOutput, image, ...fields } = value as VideoJob & Record<string, unknown>;
  const paths = imagePaths({ ...fields, image }, where, settings.baseDir);
  let fingerprint: string;
  try {
    fingerprint = fingerprintRequest(image === undefined ? fields : { ...fields, image });
  } catch (error) {
    throw new InvalidArgumentError(where, `${where}: ${(error as Error).message}`);
  }
  let key: string;
  if (givenKey === undefined) {
    key = `job-${fingerprint.replace(/^sha256:/, "").slice(0, 20)}`;
  } else {
    try {
      // A key follows the task id rules: it is written to the journal and printed as an id is.
      key = checkTaskId(givenKey);
    } catch (error) {
      throw new InvalidArgumentError(`${where}.key`, `${where}.key: ${(error as Error).message.replace(/^taskId/, "the key")}`);
    }
  }
  if (givenOutput !== undefined && (typeof givenOutput !== "string" || givenOutput.trim() === "" || givenOutput.includes("\0"))) {
    throw new InvalidArgumentError(`${where}.output`, `${where}.output must be a non-empty file name without NUL characters`);
  }
  const name = givenOutput ?? `${key}.mp4`;
  const output = resolve(settings.outputDir, name);
  const inside = relative(settings.outputDir, output);
  if (inside === "" || isAbsolute(inside) || inside === ".." || inside.startsWith(`..${sep}`)) {
    throw new InvalidArgumentError(`${where}.output`, `${where}: the output ${JSON.stringify(name)} is not inside outputDir ${settings.outputDir}`);
  }
  const top = inside.split(sep)[0]!;
  if (top === JOURNAL_FILE || top === JOURNAL_LOCK_FILE || top.startsWith(`${JOURNAL_LOCK_FILE}.`)) {
    throw new InvalidArgumentError(`${where}.output`, `${where}: the output ${JSON.stringify(name)} is the batch journal's own file`);
  }
  return {
    key,
    route: routeOfCreate(image !== undefined),
    fields,
    image,
    imagePaths: paths,
    fingerprint,
    output,
    taskId: undefined,
    recreate: false,
    earlier: false,
    waitStart: 0,
    polls: 0,
    lastTask: undefined,
    saved: undefined,
    recording: undefined,
  };
}

/** Reads and checks every job before anything is sent: keys and outputs must be unique. */
export async function loadJobs(jobs: Iterable<VideoJob> | AsyncIterable<VideoJob>, settings: Settings): Promise<Job[]> {
  const checked: Job[] = [];
  const keys = new Map<string, number>();
  const outputs = new Map<string, number>();
  let index = 0;
  for await (const value of jobs) {
    const where = `jobs[${index}]`;
    const job = checkJob(value, where, settings);
    const sameKey = keys.get(job.key);
    if (sameKey !== undefined) {
      throw new InvalidArgumentError(
        `${where}.key`,
        `${where} has the key ${JSON.stringify(job.key)} of jobs[${sameKey}]` +
          ((value as VideoJob).key === undefined ? " (the same request): give each its own key to make two videos of it" : ""),
      );
    }
    // Case-blind, so a batch writes the same files on every file system.
    const file = job.output.toLowerCase();
    const sameOutput = outputs.get(file);
    if (sameOutput !== undefined) {
      throw new InvalidArgumentError(`${where}.output`, `${where} writes the same file as jobs[${sameOutput}]: ${job.output}`);
    }
    keys.set(job.key, index);
    outputs.set(file, index);
    checked.push(job);
    index++;
  }
  return checked;
}

