// The jobs file of `generate --jobs`: JSON Lines, one create request per line, read and checked
// whole before any request, so a bad line is a usage error naming its line number and costs nothing.
// A line holds the create request's fields (`prompt`, `model`, `duration`, `mode`, `metadata`, ...),
// `image` as a local path (relative to the jobs file) or a URL, and optionally `key` and `output`.
// Kling's controls may be written at the top of a line, as the flags write them (`cfg_scale`,
// `camera_control`, `image_tail`, ...): they are moved into `metadata`, where the relay reads them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkCreateRequest } from "../create.js";
import { InvalidArgumentError, type CreateVideoRequest } from "../index.js";
import { openImageFile, type VideoJob } from "../node/index.js";
import { mapJobImages } from "../node/_video-jobs.js";
import { routeOfCreate } from "../routes.js";
import { addControls, IMAGE_URL } from "./_create-request.js";
import { UsageError } from "./_errors.js";
import { clean } from "./_terminal.js";

/**
 * Kling's controls a line may hold at its top level, moved into `metadata`: the gateway reads them
 * only there, and drops them silently anywhere else. (`mode` stays: the gateway reads it at the top.)
 */
const LINE_CONTROLS = [
  "negative_prompt",
  "cfg_scale",
  "aspect_ratio",
  "image_tail",
  "camera_control",
  "static_mask",
  "dynamic_masks",
  "callback_url",
  "external_task_id",
] as const;

/**
 * An image the check of a line's request stands in for the job's own `image`, which is read only
 * when the job runs: a URL, which the library passes on unread.
 */
const IMAGE_STAND_IN = "https://image.invalid/stand-in.png";

/** The jobs of a jobs file, with where each came from. */
export interface JobsFile {
  /** The file as given on the command line (for messages). */
  readonly name: string;
  /** Where relative image paths are read from: the file's own directory. */
  readonly baseDir: string;
  readonly jobs: readonly VideoJob[];
  /** The 1-based line number of each job, by its index in `jobs`. */
  readonly lines: readonly number[];
}

const EXAMPLE = `{"prompt": "a cat turns its head", "image": "cat.png", "key": "cat"}`;

/**
 * Reads and checks `file`. Blank lines are skipped; every other line must be a JSON object whose
 * request is one a create would send (checked as the library checks it, the image apart: it is
 * read when its job runs). A line without `model` gets `defaultModel`.
 */
export async function readJobsFile(file: string, defaultModel: string): Promise<JobsFile> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`--jobs: cannot read ${file}${code === "ENOENT" ? ": no such file" : ` (${String(code ?? error)})`}`);
  }
  const baseDir = path.dirname(path.resolve(file));
  const jobs: VideoJob[] = [];
  const lines: number[] = [];
  const rows = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const [index, row] of rows.entries()) {
    if (row.trim() === "") continue;
    const where = `${file} line ${index + 1}`;
    jobs.push(await checkLine(row, where, defaultModel, baseDir));
    lines.push(index + 1);
  }
  if (jobs.length === 0) throw new UsageError(`${file} holds no jobs: one JSON object per line, e.g. ${EXAMPLE}`);
  return { name: file, baseDir, jobs, lines };
}

/** One line as a job; a UsageError naming `where` if it cannot be one. `baseDir`: where relative paths start. */
async function checkLine(row: string, where: string, defaultModel: string, baseDir: string): Promise<VideoJob> {
  let value: unknown;
  try {
    value = JSON.parse(row);
  } catch (error) {
    throw new UsageError(`${where}: not JSON (${clean((error as Error).message)})`);
  }
  if (!isObject(value)) throw new UsageError(`${where}: each line must be a JSON object, e.g. ${EXAMPLE}`);
  const { image, key, output, ...given } = value;
  if (image !== undefined && (typeof image !== "string" || image.trim() === "")) {
    throw new UsageError(`${where}: "image" must be a file path (relative to the jobs file) or an http(s) URL`);
  }
  for (const [name, field] of [["key", key], ["output", output]] as const) {
    if (field !== undefined && (typeof field !== "string" || field.trim() === "")) {
      throw new UsageError(`${where}: "${name}" must be a non-empty string`);
    }
  }
  const fields = { model: defaultModel, ...lineFields(given, where) };
  try {
    // The request as a create on its route checks it, its own image apart (read when the job runs).
    const request = await withOpenedImages(image === undefined ? fields : { ...fields, image: IMAGE_STAND_IN }, where, baseDir);
    await checkCreateRequest(routeOfCreate(image !== undefined), request as CreateVideoRequest);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${where}: ${clean((error as Error).message)}`);
  }
  return {
    ...(fields as Omit<VideoJob, "image" | "key" | "output">),
    ...(image !== undefined && { image: image as string }),
    ...(key !== undefined && { key: key as string }),
    ...(output !== undefined && { output: output as string }),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A line's request fields with its top-level controls moved into `metadata` (a control given both
 * there and in `metadata` is refused).
 */
function lineFields(given: Record<string, unknown>, where: string): Record<string, unknown> {
  const { metadata, ...rest } = given;
  if (metadata !== undefined && !isObject(metadata)) {
    throw new UsageError(`${where}: "metadata" must be a JSON object, e.g. {"cfg_scale": 0.5}`);
  }
  const controls: Record<string, unknown> = {};
  for (const name of LINE_CONTROLS) {
    if (!Object.hasOwn(rest, name)) continue;
    controls[name] = rest[name];
    delete rest[name];
  }
  const merged = addControls(metadata, controls, (name, existing) => `${where}: "${name}" is given twice: at the top of the line and as metadata's "${existing}"`);
  if (merged === undefined) return rest;
  return { ...rest, metadata: merged };
}

/**
 * A line's request as its check sees it: each image file `metadata` names (`image_tail`,
 * `static_mask`, a dynamic `mask`: a path relative to the jobs file, or a URL) opened and checked
 * now, naming the line; the job keeps the path as written, and generateVideos opens it again at
 * create time, streaming it from disk.
 */
async function withOpenedImages(fields: Record<string, unknown>, where: string, baseDir: string): Promise<Record<string, unknown>> {
  const files: Array<[at: string, file: string]> = [];
  mapJobImages(fields, (image, at) => {
    const name = at.replace(/^metadata\./, "");
    if (typeof image !== "string" || image.trim() === "") {
      throw new UsageError(`${where}: "${name}" must be a file path (relative to the jobs file) or an http(s) URL`);
    }
    if (!IMAGE_URL.test(image)) files.push([name, image]);
    return image;
  });
  const opened = new Map<string, Blob>();
  for (const [at, file] of files) {
    try {
      opened.set(at, await openImageFile(path.resolve(baseDir, file)));
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new UsageError(`${where}: "${at}": ${clean(error.message)}`);
      throw error;
    }
  }
  return mapJobImages(fields, (image, at) => opened.get(at.replace(/^metadata\./, "")) ?? image);
}

/**
 * generateVideos names a job by its index (`jobs[3]`) in the checks it makes before any request
 * (a duplicate key or output, an output outside the directory): the same error, naming the line.
 */
export function atLine(error: unknown, jobsFile: JobsFile): unknown {
  const argument = (error as { argument?: unknown } | null)?.argument;
  if (!(error instanceof Error) || typeof argument !== "string" || !/^jobs\[\d+\]/.test(argument)) return error;
  const message = error.message.replace(/jobs\[(\d+)\]/g, (_, i: string) => `${jobsFile.name} line ${jobsFile.lines[Number(i)] ?? "?"}`);
  return new UsageError(message);
}
