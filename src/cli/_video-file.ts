// The video on disk: safe file names for task ids, the output checks made before any request, and
// the download with its progress line.
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { InvalidArgumentError, type CompletedImage2VideoTask, type Image2VideoTask } from "../index.js";
import { downloadVideo, FileExistsError, type DownloadResult } from "../node/index.js";
import { DownloadLine } from "./_live.js";
import type { Printer } from "./_printer.js";
import type { Session } from "./_session.js";
import { clean, formatBytes, toJson } from "./_terminal.js";

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/**
 * A file name for a task's video: the id itself when it is made of letters, digits, `.`, `_` and
 * `-` only; otherwise (or for names that could collide on a case-insensitive file system) a
 * cleaned-up id plus a short hash of the real one, so two ids never share a file.
 */
export function videoFileName(taskId: string, clash = false): string {
  let safe = taskId.normalize("NFC").replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[.-]+/, "_").slice(0, 120);
  if (WINDOWS_RESERVED.test(safe)) safe = `_${safe}`;
  if (safe !== taskId || clash) safe = `${safe}-${createHash("sha256").update(taskId).digest("hex").slice(0, 10)}`;
  return `${safe}.mp4`;
}

/**
 * Checks an output file before any request (not after a 15-minute wait): its directory exists, it
 * is not a directory, and it does not exist unless --force.
 */
export function checkOutput(file: string, force: boolean): void {
  const dir = statSync(path.dirname(file), { throwIfNoEntry: false });
  if (!dir?.isDirectory()) throw new InvalidArgumentError("output", `the directory of ${file} does not exist`);
  const existing = lstatSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new InvalidArgumentError("output", `${file} is a directory`);
  if (existing && !force) throw new FileExistsError(file);
}

/** Before any request: creates --output-dir if missing and checks the one output file, if any. */
export function prepareOutputs(outputDir: string | undefined, file: string | undefined, force: boolean): void {
  if (outputDir !== undefined) mkdirSync(path.resolve(outputDir), { recursive: true });
  if (file !== undefined) checkOutput(file, force);
}

/** Downloads a completed task's video to `file`, with a progress line on stderr. */
export async function saveVideo(
  task: CompletedImage2VideoTask,
  file: string,
  options: { force: boolean; signal: AbortSignal; printer: Printer; timeoutMs?: number },
): Promise<DownloadResult> {
  const { printer } = options;
  const line = new DownloadLine(printer, "downloading");
  if (!printer.live) printer.err(`downloading to ${clean(path.resolve(file))}\n`);
  let result: DownloadResult | undefined;
  try {
    result = await downloadVideo(task, file, {
      signal: options.signal,
      overwrite: options.force,
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      onProgress: (progress) => line.update(progress),
    });
    return result;
  } finally {
    line.stop(result && `${printer.paint("stderr", 32, "✔")} saved ${clean(result.path)} (${formatBytes(result.bytes)})`);
  }
}

/** Prints a saved video's result on stdout: its path, or with --json `{taskId, task, file}`. */
export function printSaved(session: Session, taskId: string, task: Image2VideoTask, file: DownloadResult): void {
  session.printer.out(session.json ? `${toJson({ taskId, task, file }, 2)}\n` : `${clean(file.path)}\n`);
}
