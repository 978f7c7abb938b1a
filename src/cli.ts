#!/usr/bin/env node
// The xiexus-kling command line: parse, call the library, print, set the exit code. Nothing here
// talks HTTP itself. The key is read from XIEXUS_API_KEY only, never from a flag, so it stays out of
// shell history and `ps`; as a last guard every line printed is scrubbed of it.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  APIConnectionError,
  APIError,
  AuthenticationError,
  createKlingClient,
  InvalidArgumentError,
  PermissionDeniedError,
  ResponseValidationError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
  type Image2VideoTask,
} from "./index.js";
import { MAX_TIMER_MS } from "./options.js";

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
  internal: 70,
  interrupted: 130,
} as const);

/** The text printed by `xiexus-kling --help`. */
export const USAGE = `Usage: xiexus-kling <command> <task_id> [options]

Query Kling image-to-video tasks on the xiexus relay.

Commands:
  status <task_id>      Fetch the task once and print it
  wait <task_id>        Poll the task until it completes (prints the video URL) or fails
  help                  Show this help

Options:
  --json                Print exactly one JSON document on stdout: the task, or
                        {"error": {"name", "message", "exitCode", "status"?, ...}}
  --base-url <url>      Relay base URL (default: $XIEXUS_BASE_URL, else https://api.xiexus.cn)
  --timeout <seconds>   wait: total time budget (default 900)
                        status: time limit of each attempt (default 60)
  --interval <seconds>  wait: fixed pause between polls (default: 2 s, growing to 15 s)
  --debug               Print stack traces of errors
  -h, --help            Show this help
  -v, --version         Print the version

Environment:
  XIEXUS_API_KEY        API key (required). There is deliberately no --api-key flag: a key on
                        the command line ends up in shell history and in \`ps\` output.
  XIEXUS_BASE_URL       Relay base URL, when --base-url is not given
  NO_COLOR              Set to disable colours

Progress goes to stderr (a live line on a terminal, plain lines otherwise); stdout gets only
the result: the video URL (wait) or the task (status).

Exit codes:
  0    done (status: the task was fetched and has not failed)
  1    the task failed
  2    usage error: bad flags, missing task id, missing XIEXUS_API_KEY, invalid option
  3    task not found
  4    authentication or permission error (check XIEXUS_API_KEY)
  5    wait timed out (--timeout)
  6    network or server error (connection, time-out, 429, 5xx, other HTTP errors)
  7    the relay's answer did not match the API spec
  70   internal error (a bug: please report it with the --debug output)
  130  interrupted (Ctrl-C)
`;

type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A command-line mistake: exit 2, with the message and a pointer to --help. */
class UsageError extends Error {
  override name = "UsageError";
}

/** The abort reason used for Ctrl-C. */
class Interrupted extends Error {
  override name = "Interrupted";
  constructor() {
    super("interrupted");
  }
}

const ESC = "\u001b[";
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const STATUS_COLORS: Record<string, number> = { queued: 33, in_progress: 36, completed: 32, failed: 31 };
/** The longest --timeout / --interval: the library's timer limit in whole seconds, less one (2147482). */
const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000) - 1;

/** The two output streams plus what the CLI reads from the environment. */
interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** Writes lines to the streams, with the key scrubbed out and colour only where it belongs. */
class Printer {
  readonly color: { stdout: boolean; stderr: boolean };
  readonly live: boolean;
  constructor(
    private readonly io: Io,
    private readonly secret: string | undefined,
  ) {
    const noColor = (io.env.NO_COLOR ?? "") !== "";
    const dumb = io.env.TERM === "dumb";
    this.live = io.stderr.isTTY === true && !dumb;
    this.color = {
      stdout: io.stdout.isTTY === true && !dumb && !noColor,
      stderr: this.live && !noColor,
    };
  }
  private scrub(text: string): string {
    // Short "keys" are left alone: scrubbing them would mangle ordinary words.
    return this.secret && this.secret.length >= 8 ? text.split(this.secret).join("[redacted]") : text;
  }
  out(text: string): void {
    this.io.stdout.write(this.scrub(text));
  }
  err(text: string): void {
    this.io.stderr.write(this.scrub(text));
  }
  paint(stream: "stdout" | "stderr", code: number | undefined, text: string): string {
    return this.color[stream] && code !== undefined ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
}

/** Makes relay-supplied text safe to print on a terminal (no escape sequences smuggled in). */
function clean(text: string): string {
  return text.replace(CONTROL_CHARS, "?");
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
    const word = this.printer.paint("stderr", STATUS_COLORS[this.status], this.status);
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
  if (!(seconds > 0) || seconds > MAX_SECONDS) {
    throw new UsageError(`${flag} must be a number of seconds greater than 0 and at most ${MAX_SECONDS}`);
  }
  return Math.round(seconds * 1000);
}

function summarize(task: Image2VideoTask, printer: Printer): string {
  const rows: Array<[string, string]> = [];
  if (task.task_id !== undefined) rows.push(["task_id", clean(task.task_id)]);
  const status = clean(String(task.status));
  rows.push(["status", printer.paint("stdout", STATUS_COLORS[status], status)]);
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

/** Exit code, human message and JSON form of anything a command threw. */
function describe(error: unknown, baseUrlSource: string, taskId: string | undefined): { code: ExitCode; message: string; json: Record<string, unknown> } {
  const name = error instanceof Error ? error.name : "Error";
  const raw = error instanceof Error ? error.message : String(error);
  let code: ExitCode = EXIT_CODES.internal;
  let message = raw;
  const json: Record<string, unknown> = { name };
  if (error instanceof UsageError) {
    code = EXIT_CODES.usage;
    message = `${raw}\nRun xiexus-kling --help for usage.`;
  } else if (error instanceof Interrupted) {
    code = EXIT_CODES.interrupted;
  } else if (error instanceof InvalidArgumentError) {
    code = EXIT_CODES.usage;
    json.argument = error.argument;
    if (error.argument === "baseUrl") message = `${raw} (from ${baseUrlSource})`;
    if (error.argument === "taskId") message = `invalid task id: ${raw}`;
  } else if (error instanceof TaskFailedError) {
    code = EXIT_CODES.taskFailed;
    json.task = error.task;
  } else if (error instanceof TaskNotFoundError) {
    code = EXIT_CODES.notFound;
    message = `no task ${JSON.stringify(taskId ?? "")} on this relay (${raw})`;
  } else if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
    code = EXIT_CODES.auth;
    message = `${raw}\nThe relay refused the key: check XIEXUS_API_KEY (and --base-url / XIEXUS_BASE_URL).`;
  } else if (error instanceof WaitTimeoutError) {
    code = EXIT_CODES.timeout;
    if (error.lastTask) json.task = error.lastTask;
  } else if (error instanceof ResponseValidationError) {
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
  if (code === EXIT_CODES.internal) message = `internal error: ${raw}\nThis is a bug; please report it with the --debug output.`;
  return { code, message, json };
}

const OPTIONS = {
  json: { type: "boolean" },
  "base-url": { type: "string" },
  timeout: { type: "string" },
  interval: { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** Runs the command line with `argv` (without node and the script) and returns the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  const secret = io.env.XIEXUS_API_KEY;
  const printer = new Printer(io, secret);
  const beforeDashes = argv.indexOf("--") === -1 ? argv : argv.slice(0, argv.indexOf("--"));
  const json = beforeDashes.includes("--json");
  const debug = beforeDashes.includes("--debug");
  let baseUrlSource = "the default base URL";
  let currentTaskId: string | undefined;

  const fail = (error: unknown): number => {
    const { code, message, json: body } = describe(error, baseUrlSource, currentTaskId);
    if (json) printer.out(`${JSON.stringify({ error: body }, null, 2)}\n`);
    else printer.err(`${printer.paint("stderr", 31, "xiexus-kling:")} ${clean(message)}\n`);
    if (debug && error instanceof Error && error.stack) printer.err(`${error.stack}\n`);
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
    return fail(new UsageError(text.split(". To specify")[0]!.replace(/\.$/, "")));
  }

  const { values, positionals } = parsed;
  if (values.help || positionals[0] === "help") {
    printer.out(USAGE);
    return EXIT_CODES.ok;
  }
  if (values.version) {
    printer.out(`${packageVersion()}\n`);
    return EXIT_CODES.ok;
  }
  if (positionals.length === 0) {
    printer.out(USAGE);
    return EXIT_CODES.usage;
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) {
      // A second Ctrl-C means now: restore the terminal and go.
      if (printer.live) io.stderr.write(`\r${ESC}2K${ESC}?25h`);
      process.exit(EXIT_CODES.interrupted);
    }
    controller.abort(new Interrupted());
  };
  process.on("SIGINT", onSigint);
  try {
    const [command, taskId, ...extra] = positionals;
    if (command !== "status" && command !== "wait") {
      throw new UsageError(`unknown command ${JSON.stringify(clean(command ?? ""))}: expected status, wait or help`);
    }
    if (taskId === undefined) throw new UsageError(`${command} needs a task id: xiexus-kling ${command} <task_id>`);
    currentTaskId = taskId;
    if (extra.length) throw new UsageError(`${command} takes one task id, got ${extra.length + 1} arguments`);
    const timeoutMs = parseSeconds("--timeout", values.timeout);
    const intervalMs = parseSeconds("--interval", values.interval);
    if (command === "status" && intervalMs !== undefined) throw new UsageError("--interval only applies to wait");

    if (secret === undefined || secret === "") {
      throw new InvalidArgumentError("apiKey", "no API key: set the XIEXUS_API_KEY environment variable");
    }
    let baseUrl = values["base-url"];
    baseUrlSource = "--base-url";
    if (baseUrl === undefined && io.env.XIEXUS_BASE_URL) {
      baseUrl = io.env.XIEXUS_BASE_URL;
      baseUrlSource = "XIEXUS_BASE_URL";
    }
    const client = createKlingClient({
      apiKey: secret,
      ...(baseUrl !== undefined && { baseUrl }),
      ...(command === "status" && timeoutMs !== undefined && { timeoutMs }),
    });

    if (command === "status") {
      const task = await client.getImage2VideoTask(taskId, { signal: controller.signal });
      printer.out(json ? `${JSON.stringify(task, null, 2)}\n` : summarize(task, printer));
      return task.status === "failed" ? EXIT_CODES.taskFailed : EXIT_CODES.ok;
    }

    const progress = new Progress(printer);
    progress.start();
    try {
      const task = await client.waitForImage2VideoTask(taskId, {
        signal: controller.signal,
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
        onUpdate: (t) => progress.update(t.status),
      });
      progress.stop(`${printer.paint("stderr", 32, "✔")} completed in ${progress.elapsed()}s`);
      printer.out(json ? `${JSON.stringify(task, null, 2)}\n` : `${clean(task.url)}\n`);
      return EXIT_CODES.ok;
    } finally {
      progress.stop();
    }
  } catch (error) {
    if (error instanceof Interrupted) {
      printer.err("interrupted\n");
      if (json) printer.out(`${JSON.stringify({ error: describe(error, baseUrlSource, currentTaskId).json }, null, 2)}\n`);
      return EXIT_CODES.interrupted;
    }
    return fail(error);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
      if (code === EXIT_CODES.interrupted) {
        // An aborted request may leave a socket behind for a moment; Ctrl-C must not wait for it.
        setTimeout(() => process.exit(code), 200).unref();
      }
    },
    (error: unknown) => {
      // main() reports every error itself; reaching this is a bug, still shown without the key.
      const key = process.env.XIEXUS_API_KEY;
      const text = String(error instanceof Error ? error.message : error);
      process.stderr.write(`xiexus-kling: internal error: ${key ? text.split(key).join("[redacted]") : text}\n`);
      process.exitCode = EXIT_CODES.internal;
    },
  );
}
