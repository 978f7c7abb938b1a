// The jobs file of `generate --jobs`: JSON Lines, one create request per line, read and checked
// whole before any request, so a bad line is a usage error naming its line number and costs nothing.
// A line holds the create request's fields (`prompt`, `model`, `duration`, `mode`, `metadata`, ...),
// `image` as a local path (relative to the jobs file) or a URL, and optionally `key` and `output`.
import { readFileSync } from "node:fs";
import path from "node:path";
import { checkCreateRequest } from "../create.js";
import type { CreateVideoRequest } from "../index.js";
import type { VideoJob } from "../node/index.js";
import { TEXT2VIDEO } from "../routes.js";
import { UsageError } from "./errors.js";
import { clean } from "./terminal.js";

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
  const jobs: VideoJob[] = [];
  const lines: number[] = [];
  const rows = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const [index, row] of rows.entries()) {
    if (row.trim() === "") continue;
    const where = `${file} line ${index + 1}`;
    jobs.push(await checkLine(row, where, defaultModel));
    lines.push(index + 1);
  }
  if (jobs.length === 0) throw new UsageError(`${file} holds no jobs: one JSON object per line, e.g. ${EXAMPLE}`);
  return { name: file, baseDir: path.dirname(path.resolve(file)), jobs, lines };
}

/** One line as a job; a UsageError naming `where` if it cannot be one. */
async function checkLine(row: string, where: string, defaultModel: string): Promise<VideoJob> {
  let value: unknown;
  try {
    value = JSON.parse(row);
  } catch (error) {
    throw new UsageError(`${where}: not JSON (${clean((error as Error).message)})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${where}: each line must be a JSON object, e.g. ${EXAMPLE}`);
  }
  const { image, key, output, ...given } = value as Record<string, unknown>;
  if (image !== undefined && (typeof image !== "string" || image.trim() === "")) {
    throw new UsageError(`${where}: "image" must be a file path (relative to the jobs file) or an http(s) URL`);
  }
  for (const [name, field] of [["key", key], ["output", output]] as const) {
    if (field !== undefined && (typeof field !== "string" || field.trim() === "")) {
      throw new UsageError(`${where}: "${name}" must be a non-empty string`);
    }
  }
  const fields = { model: defaultModel, ...given };
  try {
    // The request as a create checks it, without its image (a job with one is image2video: same body schema).
    await checkCreateRequest(TEXT2VIDEO, fields as CreateVideoRequest);
  } catch (error) {
    throw new UsageError(`${where}: ${clean((error as Error).message)}`);
  }
  return {
    ...(fields as Omit<VideoJob, "image" | "key" | "output">),
    ...(image !== undefined && { image: image as string }),
    ...(key !== undefined && { key: key as string }),
    ...(output !== undefined && { output: output as string }),
  };
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
