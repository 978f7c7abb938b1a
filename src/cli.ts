#!/usr/bin/env node
// The xiexus-kling command line: parse, call the library, print, set the exit code. Nothing here
// talks HTTP itself. The key is read from XIEXUS_API_KEY only, never from a flag, so it stays out of
// shell history and `ps`; as a last guard every line printed is scrubbed of it.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  APIConnectionError,
  APIError,
  AuthenticationError,
  createKlingClient,
  InvalidArgumentError,
  type KlingClient,
  PermissionDeniedError,
  ResponseTooLargeError,
  ResponseValidationError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
  type CompletedImage2VideoTask,
  type Image2VideoTask,
  type Image2VideoTaskStatus,
} from "./index.js";
import { downloadVideo, FileExistsError, nodeHttpGet, type DownloadProgress, type DownloadResult } from "./node/index.js";
import { checkTaskId, MAX_TIMER_MS } from "./options.js";
import { scrubText, secretForms } from "./_redact.js";
import { statusKind } from "./status.js";
import { checkConcurrency, DEFAULT_CONCURRENCY, MAX_CONCURRENCY } from "./wait-many.js";

/** The exit codes of the command line, by meaning (also listed by `--help`). */
export const EXIT_CODES = Object.freeze({
  ok: 0,
  taskFailed: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  timeout: 5,
  network: 6,
  invalidResponse: 7,
  notReady: 8,
  fileError: 9,
  internal: 70,
  interrupted: 130,
  hangup: 129,
  terminated: 143,
  brokenPipe: 141,
} as const);

/** The text printed by `xiexus-kling --help`. */
export const USAGE = `Usage: xiexus-kling <command> <task_id>... [options]

Query Kling image-to-video tasks on the xiexus relay.

Commands:
  status <task_id>            Fetch the task once and print it
  wait <task_id>              Poll the task until it completes (prints the video URL) or fails
  wait <task_id> <task_id>... Wait for many tasks at once: one result line per task, as each settles
  download <task_id>          Download the video of an already completed task (needs --output)
  help                        Show this help

Options:
  --json                Print JSON on stdout: one document (the task; with --output
                        {"taskId", "task", "file"}; or {"error": {"name", "message", "exitCode",
                        "status"?, ...}}); with several task ids, one line per task:
                        {"taskId", "task"?, "file"?, "error"?}
  --base-url <url>      Relay base URL (default: $XIEXUS_BASE_URL, else https://api.xiexus.cn)
  --timeout <seconds>   wait: total time budget, per task (default 900)
                        status, download: time limit of each attempt (default 60)
  --interval <seconds>  wait: fixed pause between polls (default: 2 s, growing to 15 s)
  -o, --output <file>   wait, download: write the video to <file> (printed on stdout instead of the URL)
  --output-dir <dir>    wait: write each completed task's video to <dir>/<task_id>.mp4 (created
                        if missing; ids are made safe file names)
  --force               Replace files that already exist (default: refuse, exit 2, before any request)
  --concurrency <n>     wait with several ids: requests (and downloads) in flight at once, 1-${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY})
  --debug               Print stack traces of errors
  -h, --help            Show this help
  -v, --version         Print the version

Environment:
  XIEXUS_API_KEY        API key (required). There is deliberately no --api-key flag: a key on
                        the command line ends up in shell history and in \`ps\` output.
  XIEXUS_BASE_URL       Relay base URL, when --base-url is not given
  NO_COLOR              Set to disable colours

Progress goes to stderr (live lines on a terminal, plain lines otherwise); stdout gets only
the results: the video URL or file (wait, download), the task (status), or one line per task
("<task_id> TAB <result> TAB <url, file or error>") when waiting for several.

Exit codes:
  0    done (status: the task was fetched and has not failed)
  1    the task failed
  2    usage error: bad flags, missing task id, missing XIEXUS_API_KEY, invalid option,
       output file exists (use --force) or its directory is missing
  3    task not found
  4    authentication or permission error (check XIEXUS_API_KEY)
  5    wait timed out (--timeout)
  6    network or server error (connection, time-out, 429, 5xx, other HTTP errors)
  7    the relay's answer did not match the API spec (or was too large, or its video URL unusable)
  8    download: the task has not completed yet (use wait --output)
  9    the output file could not be written (permission, disk full)
  70   internal error (a bug: please report it with the --debug output)
  129  hung up (SIGHUP)
  130  interrupted (Ctrl-C)
  141  stdout was closed early (e.g. piped into head): the rest is not printed
  143  terminated (SIGTERM)
With several task ids: 0 only when every task completed (and was saved); otherwise the code of the
worst outcome, in this order: 130, 70, 4, 6, 7, 9, 2, 5, 3, 1. On a signal or a closed stdout,
every wait and download stops and no temporary file is left.
`;

type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * The exit code of a batch wait: the first of these that any task ended with (worst first), 0 when
 * every task completed. Problems that hit every task (the key, the network) outrank one task's verdict.
 */
export const EXIT_PRECEDENCE: readonly ExitCode[] = [
  EXIT_CODES.interrupted,
  EXIT_CODES.internal,
  EXIT_CODES.auth,
  EXIT_CODES.network,
  EXIT_CODES.invalidResponse,
  EXIT_CODES.fileError,
  EXIT_CODES.usage,
  EXIT_CODES.timeout,
  EXIT_CODES.notFound,
  EXIT_CODES.taskFailed,
];

/** The word a batch result line shows for each exit code. */
const RESULT_LABELS = {
  0: "completed",
  1: "failed",
  2: "refused",
  3: "not_found",
  4: "auth_error",
  5: "timed_out",
  6: "network_error",
  7: "invalid_response",
  8: "not_ready",
  9: "write_error",
  70: "internal_error",
  129: "interrupted",
  130: "interrupted",
  141: "interrupted",
  143: "interrupted",
} as const satisfies Record<ExitCode, string>;

/** How the CLI shows each status, and the exit code each command gives for it. */
interface StatusStyle {
  /** ANSI colour of the status word. */
  color: number;
  /** Exit code of `status` when the task has this status. */
  status: ExitCode;
  /** Exit code of `download` when the task has this status (0: go ahead and download). */
  download: ExitCode;
}

/**
 * Keyed by the generated status union: a status the spec adds fails the type-check here until
 * someone decides its colour and exit codes.
 */
const STATUS_STYLES = {
  queued: { color: 33, status: EXIT_CODES.ok, download: EXIT_CODES.notReady },
  in_progress: { color: 36, status: EXIT_CODES.ok, download: EXIT_CODES.notReady },
  completed: { color: 32, status: EXIT_CODES.ok, download: EXIT_CODES.ok },
  failed: { color: 31, status: EXIT_CODES.taskFailed, download: EXIT_CODES.taskFailed },
} as const satisfies Record<Image2VideoTaskStatus, StatusStyle>;

/** The style of a status word, or undefined for one the spec does not name. */
function styleOf(status: unknown): StatusStyle | undefined {
  return statusKind(status) === undefined ? undefined : STATUS_STYLES[status as Image2VideoTaskStatus];
}

/** A command-line mistake: exit 2, with the message and a pointer to --help. */
class UsageError extends Error {
  override name = "UsageError";
}

/** The abort reason used for Ctrl-C, SIGTERM and SIGHUP (and a closed stdout): how the run ends. */
class Interrupted extends Error {
  override name = "Interrupted";
  constructor(readonly exitCode: number = EXIT_CODES.interrupted) {
    super(exitCode === EXIT_CODES.brokenPipe ? "stdout closed" : "interrupted");
  }
}

/** `download` on a task that has not completed yet: exit 8. */
class NotReady extends Error {
  override name = "NotReady";
}

const ESC = "\u001b[";
/**
 * What relay-supplied text must not bring to a terminal that JSON.stringify leaves raw: DEL and C1
 * controls, line and paragraph separators, and the bidirectional overrides that make text read
 * other than it is.
 */
const UNSAFE_BEYOND_C0 = "\\u007f-\\u009f\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
/** Those plus the C0 controls (line breaks and tabs included: they would forge rows and columns). */
const CONTROL_CHARS = new RegExp(`[\\u0000-\\u001f${UNSAFE_BEYOND_C0}]`, "g");
const JSON_UNSAFE = new RegExp(`[${UNSAFE_BEYOND_C0}]`, "g");
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** The longest --timeout / --interval: the library's timer limit in whole seconds, less one (2147482). */
const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000) - 1;

/** The two output streams plus what the CLI reads from the environment. */
interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** A variable the CLI can do without: a runtime that refuses the read (Deno's scoped --allow-env) leaves it unset. */
function optionalEnv(env: Io["env"], name: string): string | undefined {
  try {
    return env[name];
  } catch {
    return undefined;
  }
}

/** Deno's refusals (no --allow-env, --allow-read, ...): the user's setup, reported as a usage error. */
function isPermissionError(error: unknown): boolean {
  return error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied");
}

/** Writes lines to the streams, with the key scrubbed out and colour only where it belongs. */
class Printer {
  readonly color: { stdout: boolean; stderr: boolean };
  readonly live: boolean;
  constructor(
    private readonly io: Io,
    private readonly secret: string | undefined,
  ) {
    // Short "keys" are left alone: scrubbing them would mangle ordinary words.
    this.forms = secret && secret.length >= 8 ? secretForms(secret) : [];
    const noColor = (optionalEnv(io.env, "NO_COLOR") ?? "") !== "";
    const dumb = optionalEnv(io.env, "TERM") === "dumb";
    this.live = io.stderr.isTTY === true && !dumb;
    this.color = {
      stdout: io.stdout.isTTY === true && !dumb && !noColor,
      stderr: this.live && !noColor,
    };
  }
  private readonly forms: readonly string[];
  /** Set once stdout is closed under us (EPIPE): nothing more is written to it. */
  stdoutClosed = false;
  private scrub(text: string): string {
    return scrubText(text, this.forms);
  }
  out(text: string): void {
    if (!this.stdoutClosed) this.io.stdout.write(this.scrub(text));
  }
  err(text: string): void {
    this.io.stderr.write(this.scrub(text));
  }
  paint(stream: "stdout" | "stderr", code: number | undefined, text: string): string {
    return this.color[stream] && code !== undefined ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
}

/** Makes relay-supplied text safe to print on a terminal or in a line: one line, no escape sequences smuggled in. */
function clean(text: string): string {
  return text.replace(CONTROL_CHARS, "?");
}

/** Our own multi-line text (a message with a hint line, a stack): each line cleaned, the breaks kept. */
function cleanLines(text: string): string {
  return text.split("\n").map(clean).join("\n");
}

/**
 * JSON for stdout: JSON.stringify leaves C1 controls, separators and bidi overrides raw inside
 * strings, where a terminal would act on them; written as \u escapes they are the same JSON.
 */
function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(JSON_UNSAFE, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Columns a character takes on a terminal: 2 for East Asian wide and fullwidth ones and emoji, else 1. */
function columnsOf(codePoint: number): number {
  return (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1faff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
    ? 2
    : 1;
}

/** The longest start of `text` that fits in `columns` terminal columns. */
export function fitColumns(text: string, columns: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    used += columnsOf(char.codePointAt(0)!);
    if (used > columns) break;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Live progress on stderr: a redrawn spinner line on a terminal, one plain line per status otherwise. */
class Progress {
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private status = "connecting";
  private cursorHidden = false;
  private stopped = false;
  private readonly started = Date.now();
  private readonly showCursor = (): void => {
    if (this.cursorHidden) this.printer.err(`${ESC}?25h`);
    this.cursorHidden = false;
  };
  constructor(private readonly printer: Printer) {}

  private seconds(): number {
    return Math.floor((Date.now() - this.started) / 1000);
  }
  private render(): void {
    const spinner = this.printer.paint("stderr", 36, SPINNER[this.frame++ % SPINNER.length]!);
    const word = this.printer.paint("stderr", styleOf(this.status)?.color, this.status);
    this.printer.err(`\r${ESC}2K${spinner} ${word} ${this.seconds()}s`);
  }
  start(): void {
    if (!this.printer.live) return;
    this.printer.err(`${ESC}?25l`);
    this.cursorHidden = true;
    // Restores the cursor even if something exits the process behind our back.
    process.once("exit", this.showCursor);
    this.render();
    this.timer = setInterval(() => this.render(), 100);
  }
  update(status: string | undefined): void {
    this.status = clean(status ?? "unknown");
    if (this.printer.live) {
      this.render();
      return;
    }
    const seconds = this.seconds();
    this.printer.err(seconds >= 1 ? `${this.status} (${seconds}s)\n` : `${this.status}\n`);
  }
  /** Stops the spinner, clears its line and restores the cursor; prints `summary` on a terminal. */
  stop(summary?: string): void {
    clearInterval(this.timer);
    if (this.stopped || !this.printer.live) return;
    this.stopped = true;
    this.printer.err(`\r${ESC}2K${summary ? `${summary}\n` : ""}`);
    this.showCursor();
    process.off("exit", this.showCursor);
  }
  elapsed(): number {
    return this.seconds();
  }
}

/** Bytes as a short human figure: 512 B, 1.5 kB, 12.3 MB (decimal units). */
function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;
}

/** A download's progress on stderr: a redrawn line with bytes, percent and rate on a terminal; one line at the end otherwise. */
class DownloadLine {
  private readonly started = Date.now();
  private last: DownloadProgress = { received: 0 };
  private drawnAt = 0;
  private frame = 0;
  private active = false;
  constructor(
    private readonly printer: Printer,
    private readonly label: string,
  ) {}
  private text(): string {
    const { received, total } = this.last;
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const size = total === undefined ? formatBytes(received) : `${formatBytes(received)} / ${formatBytes(total)}`;
    const percent = total ? ` ${Math.floor((received / total) * 100)}%` : "";
    return `${this.label} ${size}${percent} ${formatBytes(Math.round(received / seconds))}/s`;
  }
  update(progress: DownloadProgress): void {
    this.last = progress;
    if (!this.printer.live) return;
    const now = Date.now();
    // At most ~10 redraws a second, however small the chunks.
    if (this.active && now - this.drawnAt < 100 && progress.received !== progress.total) return;
    this.drawnAt = now;
    this.active = true;
    const spinner = this.printer.paint("stderr", 36, SPINNER[this.frame++ % SPINNER.length]!);
    this.printer.err(`\r${ESC}2K${spinner} ${this.text()}`);
  }
  /** Clears the live line; prints `summary` (always, on a terminal or not). */
  stop(summary?: string): void {
    if (this.active) this.printer.err(`\r${ESC}2K`);
    this.active = false;
    if (summary) this.printer.err(`${summary}\n`);
  }
}

/** Several tasks on a terminal: one live line per unsettled task on stderr, result lines printed above them. */
class Board {
  private readonly statuses = new Map<string, string>();
  private readonly started = Date.now();
  private drawn = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private cursorHidden = false;
  private readonly showCursor = (): void => {
    if (this.cursorHidden) this.printer.err(`${ESC}?25h`);
    this.cursorHidden = false;
  };
  constructor(
    private readonly printer: Printer,
    private readonly stderr: NodeJS.WriteStream,
    ids: readonly string[],
  ) {
    for (const id of ids) this.statuses.set(id, "connecting");
  }
  private clear(): void {
    // Back to the first live line, then clear to the end of the screen.
    if (this.drawn > 0) this.printer.err(`\r${ESC}${this.drawn}F${ESC}0J`);
    this.drawn = 0;
  }
  private render(): void {
    this.clear();
    const width = Math.max(20, (this.stderr.columns || 80) - 1);
    const room = Math.max(1, (this.stderr.rows || 24) - 3);
    const open = [...this.statuses];
    const shown = open.length > room ? open.slice(0, room - 1) : open;
    const spinner = this.printer.paint("stderr", 36, SPINNER[this.frame++ % SPINNER.length]!);
    const seconds = Math.floor((Date.now() - this.started) / 1000);
    const lines = shown.map(([id, status]) => {
      // By columns, not characters: a wide id cut by length would wrap and break the redraw.
      const head = fitColumns(`${clean(id)} `, Math.max(0, width - status.length - 8));
      return `${spinner} ${head}${this.printer.paint("stderr", styleOf(status)?.color, status)} ${seconds}s`;
    });
    if (open.length > shown.length) lines.push(`  ... and ${open.length - shown.length} more`);
    if (lines.length) this.printer.err(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
  start(): void {
    this.printer.err(`${ESC}?25l`);
    this.cursorHidden = true;
    process.once("exit", this.showCursor);
    this.render();
    this.timer = setInterval(() => this.render(), 100);
  }
  update(id: string, status: string | undefined): void {
    if (this.statuses.has(id)) this.statuses.set(id, clean(status ?? "unknown"));
  }
  /** Removes a settled task's live line and prints its result line above the live ones. */
  settle(id: string, write: () => void): void {
    this.statuses.delete(id);
    this.clear();
    write();
    this.render();
  }
  stop(summary?: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    if (summary) this.printer.err(`${summary}\n`);
    this.showCursor();
    process.off("exit", this.showCursor);
  }
}

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
function checkOutput(file: string, force: boolean): void {
  const dir = statSync(path.dirname(file), { throwIfNoEntry: false });
  if (!dir?.isDirectory()) throw new InvalidArgumentError("output", `the directory of ${file} does not exist`);
  const existing = lstatSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw new InvalidArgumentError("output", `${file} is a directory`);
  if (existing && !force) throw new FileExistsError(file);
}

/** The nearest package.json named xiexus-kling above this file (works from src/ and from dist/esm/src/). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "xiexus-kling" && typeof pkg.version === "string") return pkg.version;
      } catch {
        // Not our package.json (or not JSON): keep looking upward.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$|^\.\d+$/.test(value.trim()) ? Number(value) : NaN;
  // Milliseconds are the unit below: 0.0001 would round to 0, a poll loop with no pause at all.
  if (!(seconds >= 0.001) || seconds > MAX_SECONDS) {
    throw new UsageError(`${flag} must be a number of seconds from 0.001 to ${MAX_SECONDS}`);
  }
  return Math.round(seconds * 1000);
}

function summarize(task: Image2VideoTask, printer: Printer): string {
  const rows: Array<[string, string]> = [];
  if (task.task_id !== undefined) rows.push(["task_id", clean(task.task_id)]);
  const status = clean(String(task.status));
  rows.push(["status", printer.paint("stdout", styleOf(status)?.color, status)]);
  if (task.url !== undefined) rows.push(["url", clean(task.url)]);
  if (task.format !== undefined) rows.push(["format", clean(task.format)]);
  if (task.metadata !== undefined) {
    const pairs = Object.entries(task.metadata).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
    rows.push(["metadata", clean(pairs.join(" "))]);
  }
  if (task.error !== undefined) {
    const { code, message } = task.error;
    rows.push(["error", clean([code, message].filter((p) => p !== undefined && p !== "").join(": ") || "(no details)")]);
  }
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}\n`).join("");
}

/** A Node file-system error (ENOENT, EACCES, ENOSPC, EISDIR, ...) from writing the output. */
function isFileSystemError(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown } | null;
  return error instanceof Error && typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === "string";
}

/** Exit code, human message and JSON form of anything a command threw. */
function describe(error: unknown, baseUrlSource: string, taskId: string | undefined): { code: ExitCode; message: string; json: Record<string, unknown> } {
  const name = error instanceof Error ? error.name : "Error";
  const raw = error instanceof Error ? error.message : String(error);
  let code: ExitCode = EXIT_CODES.internal;
  // The library's messages quote the relay: one line, cleaned, before our own hint lines go after it.
  let message = clean(raw);
  const json: Record<string, unknown> = { name };
  if (error instanceof UsageError) {
    code = EXIT_CODES.usage;
    message = `${clean(raw)}\nRun xiexus-kling --help for usage.`;
  } else if (isPermissionError(error)) {
    code = EXIT_CODES.usage;
  } else if (error instanceof FileExistsError) {
    code = EXIT_CODES.usage;
    message = `${error.path} already exists; add --force to replace it`;
    json.path = error.path;
  } else if (error instanceof NotReady) {
    code = EXIT_CODES.notReady;
  } else if (isFileSystemError(error)) {
    code = EXIT_CODES.fileError;
    message = `cannot write the video: ${clean(raw)}`;
  } else if (error instanceof Interrupted) {
    code = error.exitCode as ExitCode;
  } else if (error instanceof InvalidArgumentError && error.argument === "task.url") {
    // The relay's answer named a video URL we may not fetch (file:, credentials, plain http).
    code = EXIT_CODES.invalidResponse;
    json.argument = error.argument;
  } else if (error instanceof InvalidArgumentError) {
    code = EXIT_CODES.usage;
    json.argument = error.argument;
    if (error.argument === "baseUrl") message = `${clean(raw)} (from ${baseUrlSource})`;
    if (error.argument === "taskId") message = `invalid task id: ${clean(raw)}`;
  } else if (error instanceof TaskFailedError) {
    code = EXIT_CODES.taskFailed;
    json.task = error.task;
  } else if (error instanceof TaskNotFoundError) {
    code = EXIT_CODES.notFound;
    message = `no task ${clean(JSON.stringify(taskId ?? ""))} on this relay (${clean(raw)})`;
  } else if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
    code = EXIT_CODES.auth;
    message = `${clean(raw)}\nThe relay refused the key: check XIEXUS_API_KEY (and --base-url / XIEXUS_BASE_URL).`;
  } else if (error instanceof WaitTimeoutError) {
    code = EXIT_CODES.timeout;
    if (error.lastTask) json.task = error.lastTask;
  } else if (error instanceof ResponseValidationError || error instanceof ResponseTooLargeError) {
    code = EXIT_CODES.invalidResponse;
    json.status = error.status;
  } else if (error instanceof APIConnectionError || error instanceof APIError) {
    code = EXIT_CODES.network;
  }
  if (error instanceof APIError) {
    json.status = error.status;
    if (error.requestId) json.requestId = error.requestId;
  }
  json.message = raw;
  json.exitCode = code;
  if (code === EXIT_CODES.internal) message = `internal error: ${clean(raw)}\nThis is a bug; please report it with the --debug output.`;
  return { code, message, json };
}

/** Downloads a completed task's video to `file`, with a progress line on stderr. */
async function saveVideo(
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

/** What `wait` with several task ids needs besides the client. */
interface BatchOptions {
  printer: Printer;
  io: Io;
  json: boolean;
  signal: AbortSignal;
  concurrency: number;
  outputDir: string | undefined;
  force: boolean;
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/**
 * `wait <id> <id> ...`: one batch wait; each task's result line is printed as it settles (after
 * its download, with --output-dir). Returns the batch's exit code (see EXIT_PRECEDENCE).
 */
async function waitForTasks(client: KlingClient, taskIds: readonly string[], options: BatchOptions): Promise<number> {
  const { printer, json, signal, outputDir, force } = options;
  const ids = [...new Set(taskIds)];
  // File names: ids that differ only in letter case would share a file on macOS or Windows.
  const files = new Map<string, string>();
  if (outputDir !== undefined) {
    const lower = new Map<string, number>();
    for (const id of ids) lower.set(id.toLowerCase(), (lower.get(id.toLowerCase()) ?? 0) + 1);
    for (const id of ids) files.set(id, path.join(outputDir, videoFileName(id, lower.get(id.toLowerCase())! > 1)));
  }
  const outcomes = client.waitForImage2VideoTasks(ids, {
    signal,
    concurrency: options.concurrency,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
    onUpdate: (task, id) => {
      if (board) board.update(id, task.status);
      else printer.err(`${clean(id)} ${clean(String(task.status))}\n`);
    },
  });
  for (const file of files.values()) checkOutput(file, force);
  const board = printer.live ? new Board(printer, options.io.stderr, ids) : undefined;
  const started = Date.now();
  const codes = new Map<number, number>();

  const report = (taskId: string, task: Image2VideoTask | undefined, error: unknown, file?: DownloadResult): void => {
    const described = error === undefined ? undefined : describe(error, "", taskId);
    const code = described?.code ?? EXIT_CODES.ok;
    codes.set(code, (codes.get(code) ?? 0) + 1);
    const label = RESULT_LABELS[code];
    const write = (): void => {
      if (json) {
        printer.out(`${toJson({ taskId, ...(task && { task }), ...(file && { file }), ...(described && { error: described.json }) })}\n`);
        return;
      }
      const detail = file ? file.path : task?.url ?? described?.message.split("\n")[0] ?? "";
      const word = printer.paint("stdout", code === EXIT_CODES.ok ? 32 : 31, label);
      printer.out(`${clean(taskId)}\t${word}\t${clean(detail)}\n`);
    };
    if (board) board.settle(taskId, write);
    else write();
  };

  // Downloads run beside the polling, at most `concurrency` at once.
  const downloads = new Set<Promise<void>>();
  const slots: Array<() => void> = [];
  let running = 0;
  const download = async (outcome: { taskId: string; task: CompletedImage2VideoTask }, file: string): Promise<void> => {
    if (running >= options.concurrency) await new Promise<void>((resolve) => slots.push(resolve));
    running++;
    try {
      if (signal.aborted) throw signal.reason;
      const result = await downloadVideo(outcome.task, file, { signal, overwrite: force });
      report(outcome.taskId, outcome.task, undefined, result);
    } catch (error) {
      if (!signal.aborted) report(outcome.taskId, outcome.task, error);
    } finally {
      running--;
      slots.shift()?.();
    }
  };

  board?.start();
  try {
    for await (const outcome of outcomes) {
      const file = files.get(outcome.taskId);
      if (outcome.task === undefined || file === undefined) {
        report(outcome.taskId, outcome.task ?? (outcome.error as { lastTask?: Image2VideoTask }).lastTask, outcome.error);
        continue;
      }
      const pending = download(outcome, file);
      downloads.add(pending);
      void pending.finally(() => downloads.delete(pending));
    }
    await Promise.all(downloads);
  } finally {
    // Interrupted: wait for every download to remove its temp file before going.
    await Promise.allSettled(downloads);
    const ok = codes.get(EXIT_CODES.ok) ?? 0;
    const parts = [`${ok} of ${ids.length} completed`];
    for (const code of EXIT_PRECEDENCE) {
      if (codes.has(code)) parts.push(`${codes.get(code)} ${RESULT_LABELS[code]}`);
    }
    const seconds = Math.floor((Date.now() - started) / 1000);
    const mark = ok === ids.length ? printer.paint("stderr", 32, "✔") : printer.paint("stderr", 31, "✖");
    const summary = signal.aborted ? undefined : `${mark} ${parts.join(", ")} in ${seconds}s`;
    if (board) board.stop(summary);
    else if (summary && !json) printer.err(`${summary}\n`);
  }
  if (signal.aborted) throw signal.reason;
  return EXIT_PRECEDENCE.find((code) => codes.has(code)) ?? EXIT_CODES.ok;
}

const OPTIONS = {
  json: { type: "boolean" },
  "base-url": { type: "string" },
  timeout: { type: "string" },
  interval: { type: "string" },
  output: { type: "string", short: "o" },
  "output-dir": { type: "string" },
  force: { type: "boolean" },
  concurrency: { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** Runs the command line with `argv` (without node and the script) and returns the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  let secret: string | undefined;
  try {
    secret = io.env.XIEXUS_API_KEY;
  } catch (error) {
    // Deno without --allow-env: its message names the flag to add.
    io.stderr.write(`xiexus-kling: ${error instanceof Error ? error.message : String(error)}\n`);
    return isPermissionError(error) ? EXIT_CODES.usage : EXIT_CODES.internal;
  }
  const printer = new Printer(io, secret);
  const controller = new AbortController();
  // stdout closed under us (`| head`): stop as for a signal, quietly; stderr's own failures are
  // nothing to act on. Set before anything is printed (--help too), and kept: the error can come
  // after main() returned.
  io.stdout.on("error", (error: NodeJS.ErrnoException) => {
    printer.stdoutClosed = true;
    if (error.code !== "EPIPE") return;
    if (!controller.signal.aborted) controller.abort(new Interrupted(EXIT_CODES.brokenPipe));
    process.exitCode = EXIT_CODES.brokenPipe;
  });
  io.stderr.on("error", () => undefined);
  const beforeDashes = argv.indexOf("--") === -1 ? argv : argv.slice(0, argv.indexOf("--"));
  const json = beforeDashes.includes("--json");
  const debug = beforeDashes.includes("--debug");
  let baseUrlSource = "the default base URL";
  let currentTaskId: string | undefined;
  // With several task ids, --json output is JSON Lines: an error document must stay on one line too.
  let indent: number | undefined = 2;

  const fail = (error: unknown): number => {
    const { code, message, json: body } = describe(error, baseUrlSource, currentTaskId);
    if (json) printer.out(`${toJson({ error: body }, indent)}\n`);
    else printer.err(`${printer.paint("stderr", 31, "xiexus-kling:")} ${cleanLines(message)}\n`);
    // A stack's first line is the message, which may quote the relay.
    if (debug && error instanceof Error && error.stack) printer.err(`${cleanLines(error.stack)}\n`);
    return code;
  };

  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    if (beforeDashes.some((a) => /^--api[-_]?key(=|$)/i.test(a))) {
      throw new UsageError(
        "there is no --api-key flag: set the XIEXUS_API_KEY environment variable instead " +
          "(a key on the command line ends up in shell history and in `ps` output)",
      );
    }
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return fail(error);
    const text = error instanceof Error ? error.message : String(error);
    // Node's messages go on about `--` tricks; the first sentence is the useful part.
    return fail(new UsageError(text.split(/\.\s+To specify/)[0]!.replace(/\.$/, "")));
  }

  const { values, positionals } = parsed;
  if (values.help || positionals[0] === "help") {
    printer.out(USAGE);
    return EXIT_CODES.ok;
  }
  if (values.version) {
    try {
      printer.out(`${packageVersion()}\n`);
    } catch (error) {
      return fail(error);
    }
    return EXIT_CODES.ok;
  }
  if (positionals.length === 0) {
    // A usage error: the help goes where errors go, and stdout stays empty.
    printer.err(USAGE);
    return EXIT_CODES.usage;
  }

  let interrupts = 0;
  const stop = (exitCode: number): void => {
    interrupts++;
    if (interrupts > 1) {
      // A second signal means now: restore the terminal and go.
      if (printer.live) io.stderr.write(`\r${ESC}2K${ESC}?25h`);
      process.exit(exitCode);
    }
    // Every wait and download stops, temp files are removed and the cursor comes back.
    controller.abort(new Interrupted(exitCode));
  };
  const signals = [
    ["SIGINT", () => stop(EXIT_CODES.interrupted)],
    ["SIGTERM", () => stop(EXIT_CODES.terminated)],
    ["SIGHUP", () => stop(EXIT_CODES.hangup)],
  ] as const;
  // Windows has no SIGHUP and Deno there refuses a listener for it: a signal we cannot hear is skipped.
  const listen = (on: boolean): void => {
    for (const [name, handler] of signals) {
      try {
        if (on) process.on(name, handler);
        else process.off(name, handler);
      } catch {
        // Not a signal of this platform.
      }
    }
  };
  listen(true);
  try {
    const [command, ...taskIds] = positionals;
    if (command !== "status" && command !== "wait" && command !== "download") {
      throw new UsageError(`unknown command ${JSON.stringify(clean(command ?? ""))}: expected status, wait, download or help`);
    }
    const taskId = taskIds[0];
    if (taskId === undefined) throw new UsageError(`${command} needs a task id: xiexus-kling ${command} <task_id>`);
    if (taskIds.length > 1) {
      // Which of many: its place on the command line.
      taskIds.forEach((id, i) => {
        try {
          checkTaskId(id);
        } catch (error) {
          throw new InvalidArgumentError("taskId", `task id #${i + 1}: ${(error as Error).message}`);
        }
      });
    }
    currentTaskId = taskId;
    if (taskIds.length > 1) indent = undefined;
    if (command !== "wait" && taskIds.length > 1) {
      throw new UsageError(`${command} takes one task id, got ${taskIds.length} arguments`);
    }
    const timeoutMs = parseSeconds("--timeout", values.timeout);
    const intervalMs = parseSeconds("--interval", values.interval);
    const output = values.output;
    const outputDir = values["output-dir"];
    const force = values.force === true;
    if (command !== "wait" && intervalMs !== undefined) throw new UsageError("--interval only applies to wait");
    if (command === "status" && (output !== undefined || outputDir !== undefined || force)) {
      throw new UsageError("status writes no file: --output, --output-dir and --force apply to wait and download");
    }
    if (command === "download" && output === undefined) {
      throw new UsageError("download needs --output <file>: xiexus-kling download <task_id> --output video.mp4");
    }
    if (command === "download" && outputDir !== undefined) throw new UsageError("--output-dir only applies to wait");
    if (output !== undefined && outputDir !== undefined) throw new UsageError("give --output or --output-dir, not both");
    if (output !== undefined && taskIds.length > 1) {
      throw new UsageError("--output names one file: with several task ids, use --output-dir <dir>");
    }
    for (const [flag, value] of [["--output", output], ["--output-dir", outputDir]] as const) {
      if (value !== undefined && value.trim() === "") throw new UsageError(`${flag} needs a path`);
    }
    if (force && output === undefined && outputDir === undefined) throw new UsageError("--force only applies with --output or --output-dir");
    let concurrency = DEFAULT_CONCURRENCY;
    if (values.concurrency !== undefined) {
      if (command !== "wait") throw new UsageError("--concurrency only applies to wait");
      const n = /^\d+$/.test(values.concurrency.trim()) ? Number(values.concurrency) : NaN;
      try {
        concurrency = checkConcurrency(n);
      } catch {
        throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
      }
    }
    const target =
      output !== undefined
        ? path.resolve(output)
        : outputDir !== undefined && taskIds.length === 1
          ? path.resolve(outputDir, videoFileName(taskId))
          : undefined;

    if (secret === undefined || secret === "") {
      throw new InvalidArgumentError("apiKey", "no API key: set the XIEXUS_API_KEY environment variable");
    }
    let baseUrl = values["base-url"];
    baseUrlSource = "--base-url";
    if (baseUrl === undefined && optionalEnv(io.env, "XIEXUS_BASE_URL")) {
      baseUrl = optionalEnv(io.env, "XIEXUS_BASE_URL");
      baseUrlSource = "XIEXUS_BASE_URL";
    }
    const client = createKlingClient({
      apiKey: secret,
      // The command line runs where node:http exists (Node, Bun, Deno): its polls go that way.
      httpGet: nodeHttpGet,
      ...(baseUrl !== undefined && { baseUrl }),
      ...(command !== "wait" && timeoutMs !== undefined && { timeoutMs }),
    });
    // Output files are checked before any request; --output-dir is created if missing.
    if (outputDir !== undefined) mkdirSync(path.resolve(outputDir), { recursive: true });
    if (target !== undefined) checkOutput(target, force);
    const save = (task: CompletedImage2VideoTask, file: string): Promise<DownloadResult> =>
      saveVideo(task, file, { force, signal: controller.signal, printer, ...(command === "download" && timeoutMs !== undefined && { timeoutMs }) });

    if (command === "status") {
      const task = await client.getImage2VideoTask(taskId, { signal: controller.signal });
      printer.out(json ? `${toJson(task, 2)}\n` : summarize(task, printer));
      return styleOf(task.status)?.status ?? EXIT_CODES.invalidResponse;
    }

    if (command === "download") {
      const task = await client.getImage2VideoTask(taskId, { signal: controller.signal });
      const verdict = styleOf(task.status)?.download;
      if (verdict === EXIT_CODES.taskFailed) throw new TaskFailedError(task);
      if (verdict === EXIT_CODES.notReady) {
        throw new NotReady(
          `task ${clean(taskId)} is ${clean(String(task.status))}, not completed yet: ` +
            `xiexus-kling wait ${clean(taskId)} --output <file> waits for it and downloads`,
        );
      }
      if (verdict === undefined || typeof task.url !== "string" || task.url === "") {
        throw new ResponseValidationError("the task is completed but has no url", { body: task, status: 200 });
      }
      const file = await save(task as CompletedImage2VideoTask, target!);
      printResult(task, file);
      return EXIT_CODES.ok;
    }

    if (taskIds.length > 1) {
      return await waitForTasks(client, taskIds, {
        printer,
        io,
        json,
        signal: controller.signal,
        concurrency,
        outputDir: outputDir === undefined ? undefined : path.resolve(outputDir),
        force,
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
      });
    }

    const progress = new Progress(printer);
    progress.start();
    let task: CompletedImage2VideoTask;
    try {
      task = await client.waitForImage2VideoTask(taskId, {
        signal: controller.signal,
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
        onUpdate: (t) => progress.update(t.status),
      });
      progress.stop(`${printer.paint("stderr", 32, "✔")} completed in ${progress.elapsed()}s`);
    } finally {
      progress.stop();
    }
    if (target === undefined) {
      printer.out(json ? `${toJson(task, 2)}\n` : `${clean(task.url)}\n`);
      return EXIT_CODES.ok;
    }
    printResult(task, await save(task, target));
    return EXIT_CODES.ok;

    function printResult(task: Image2VideoTask, file: DownloadResult): void {
      printer.out(json ? `${toJson({ taskId, task, file }, 2)}\n` : `${clean(file.path)}\n`);
    }
  } catch (error) {
    if (error instanceof Interrupted) {
      if (error.exitCode === EXIT_CODES.brokenPipe) return error.exitCode;
      printer.err("interrupted\n");
      if (json) printer.out(`${toJson({ error: describe(error, baseUrlSource, currentTaskId).json }, indent)}\n`);
      return error.exitCode;
    }
    return fail(error);
  } finally {
    listen(false);
  }
}

/**
 * Whether this module is the program being run (not imported, e.g. by the tests): `import.meta.main`
 * where the runtime has it (Deno, Bun, Node >= 24.2), else argv[1] compared with this file, through
 * symlinks (npm's bin links). If the file system cannot be asked (Deno without --allow-read) and the
 * plain paths differ, it cannot tell: that is reported and the process exits 70, never silently 0.
 */
export function isEntryPoint(
  argv1: string | undefined,
  self: string,
  main: unknown,
  realpath: (file: string) => string = realpathSync,
): boolean {
  if (typeof main === "boolean") return main;
  if (!argv1) return false;
  try {
    return realpath(argv1) === realpath(self);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // argv[1] is no file at all (an eval, a REPL): certainly not us.
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    const resolved = path.resolve(argv1);
    if (resolved === self || resolved === path.resolve(self)) return true;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot tell whether ${argv1} is this program: resolving its real path failed (${reason}). ` +
        "Under Deno, allow reading it (--allow-read), or run the file itself rather than a link to it.",
    );
  }
}

let entryPoint = false;
try {
  entryPoint = isEntryPoint(process.argv[1], fileURLToPath(import.meta.url), (import.meta as { main?: unknown }).main);
} catch (error) {
  process.stderr.write(`xiexus-kling: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = EXIT_CODES.internal;
}

if (entryPoint) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      // A broken pipe noticed after main() returned has set its own code already.
      if (process.exitCode !== EXIT_CODES.brokenPipe) process.exitCode = code;
      if (code >= 128) {
        // An aborted request may leave a socket behind for a moment; Ctrl-C must not wait for it.
        setTimeout(() => process.exit(code), 200).unref();
      }
    },
    (error: unknown) => {
      // main() reports every error itself; reaching this is a bug, still shown without the key.
      const key = process.env.XIEXUS_API_KEY;
      const text = String(error instanceof Error ? error.message : error);
      process.stderr.write(`xiexus-kling: internal error: ${key ? scrubText(text, secretForms(key)) : text}\n`);
      process.exitCode = EXIT_CODES.internal;
    },
  );
}
