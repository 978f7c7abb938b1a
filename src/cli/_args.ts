// The command line's words: the flags (each with its --help entry), the parse, and the checks the
// task commands share, made before any request with the messages a user sees. Which command takes
// which flag is the command table's to say (_commands.ts); the messages refusing a flag follow it.
import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../index.js";
import { DEFAULT_JOB_TIMEOUT_MS } from "../node/index.js";
import { checkTaskId, MAX_TIMER_MS } from "../options.js";
import { checkConcurrency, DEFAULT_CONCURRENCY, MAX_CONCURRENCY } from "../wait-many.js";
import { UsageError } from "./_errors.js";

/** One flag: how parseArgs reads it and what --help says of it. */
export interface Flag {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** The flag as --help shows it (`-o, --output <file>`). */
  readonly usage: string;
  /** What it does, one line of --help each. */
  readonly help: readonly [string, ...string[]];
}

/** The longest --timeout / --interval: the library's timer limit in whole seconds, less one (2147482). */
const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000) - 1;

/** Every flag some command shares; a command's own flags may live beside it. */
export const FLAGS = {
  json: {
    name: "json",
    type: "boolean",
    usage: "--json",
    help: [
      "Print JSON on stdout: one document (the task; create: the created task; with",
      `--output {"taskId", "task", "file"}; or {"error": {"name", "message", "exitCode",`,
      `"mayHaveCreatedTask"?, "status"?, ...}}); with several task ids, one line per task:`,
      `{"taskId", "task"?, "file"?, "error"?}; generate --jobs, one line per job:`,
      `{"key", "result", "taskId"?, "path"?, "bytes"?, "resumed"?, "error"?, "hint"?}`,
    ],
  },
  baseUrl: {
    name: "base-url",
    type: "string",
    usage: "--base-url <url>",
    help: ["Relay base URL (default: $XIEXUS_BASE_URL, else https://api.xiexus.cn)"],
  },
  timeout: {
    name: "timeout",
    type: "string",
    usage: "--timeout <seconds>",
    help: [
      `wait, generate: total time budget, per task (default 900; generate --jobs: ${DEFAULT_JOB_TIMEOUT_MS / 1000})`,
      "status, download: time limit of each attempt (default 60)",
    ],
  },
  interval: {
    name: "interval",
    type: "string",
    usage: "--interval <seconds>",
    help: ["wait, generate: fixed pause between polls (default: 2 s, growing to 15 s)"],
  },
  output: {
    name: "output",
    type: "string",
    short: "o",
    usage: "-o, --output <file>",
    help: ["wait, download, generate: write the video to <file> (printed on stdout instead", "of the URL)"],
  },
  outputDir: {
    name: "output-dir",
    type: "string",
    usage: "--output-dir <dir>",
    help: [
      "wait: write each completed task's video to <dir>/<task_id>.mp4 (created",
      "if missing; ids are made safe file names); generate --jobs: the videos and the journal",
    ],
  },
  force: {
    name: "force",
    type: "boolean",
    usage: "--force",
    help: ["Replace files that already exist (default: refuse, exit 2, before any request)"],
  },
  concurrency: {
    name: "concurrency",
    type: "string",
    usage: "--concurrency <n>",
    help: [
      `wait with several ids, generate --jobs: requests (and downloads) in flight at once,`,
      `1-${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY})`,
    ],
  },
  debug: { name: "debug", type: "boolean", usage: "--debug", help: ["Print stack traces of errors"] },
  help: { name: "help", type: "boolean", short: "h", usage: "-h, --help", help: ["Show this help"] },
  version: { name: "version", type: "boolean", short: "v", usage: "-v, --version", help: ["Print the version"] },
} as const satisfies Record<string, Flag>;

/** The flags every command takes, in --help order: these before the commands' own, those after. */
export const GLOBAL_FLAGS: { readonly first: readonly Flag[]; readonly last: readonly Flag[] } = {
  first: [FLAGS.json, FLAGS.baseUrl],
  last: [FLAGS.debug, FLAGS.help, FLAGS.version],
};

/** The words before a lone `--` (after it, everything is an operand). */
export function beforeDashes(argv: readonly string[]): readonly string[] {
  return argv.indexOf("--") === -1 ? argv : argv.slice(0, argv.indexOf("--"));
}

/** The command line as parseArgs read it. */
export interface ParsedArgs {
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
}

/** Parses `argv` against `flags`; any mistake (an unknown flag, a missing value, --api-key) is a UsageError. */
export function parseCommandLine(argv: string[], flags: readonly Flag[]): ParsedArgs {
  if (beforeDashes(argv).some((a) => /^--api[-_]?key(=|$)/i.test(a))) {
    throw new UsageError(
      "there is no --api-key flag: set the XIEXUS_API_KEY environment variable instead " +
        "(a key on the command line ends up in shell history and in `ps` output)",
    );
  }
  const options = Object.fromEntries(flags.map((f) => [f.name, { type: f.type, ...(f.short !== undefined && { short: f.short }) }]));
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    // Node's messages go on about `--` tricks; the first sentence is the useful part.
    throw new UsageError(text.split(/\.\s+To specify/)[0]!.replace(/\.$/, ""));
  }
}

/** What a command is given of its command line. */
export interface CommandLine {
  /** The command's name. */
  readonly command: string;
  /** The words after the command. */
  readonly operands: readonly string[];
  /** A string flag's value (undefined when not given). */
  string(flag: Flag): string | undefined;
  /** Whether a boolean flag was given. */
  boolean(flag: Flag): boolean;
  /** Whether `flag` was given at all. */
  given(flag: Flag): boolean;
  /** Whether this command takes `flag` (the command table says). */
  takes(flag: Flag): boolean;
  /** The commands that take `flag`, for the message refusing it elsewhere. */
  takers(flag: Flag): readonly string[];
}

/** The CommandLine of `command`, given the parse and which commands take each flag. */
export function commandLine(command: string, parsed: ParsedArgs, takers: (flag: Flag) => readonly string[]): CommandLine {
  return {
    command,
    operands: parsed.positionals.slice(1),
    string: (flag) => {
      const value = parsed.values[flag.name];
      return typeof value === "string" ? value : undefined;
    },
    boolean: (flag) => parsed.values[flag.name] === true,
    given: (flag) => parsed.values[flag.name] !== undefined,
    takes: (flag) => takers(flag).includes(command),
    takers,
  };
}

/** "a", "a and b", "a, b and c". */
function list(names: readonly string[]): string {
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names.at(-1)!}`;
}

/** Refuses `flag` if given to a command that does not take it, naming those that do. */
function refuseUntaken(line: CommandLine, flag: Flag, given: boolean): void {
  if (given && !line.takes(flag)) throw new UsageError(`--${flag.name} only applies to ${list(line.takers(flag))}`);
}

/**
 * Refuses any of `flags` given to a command that does not take it, naming the commands that do
 * (the file flags to a command that writes no file, together).
 */
export function refuseUntakenFlags(line: CommandLine, flags: readonly Flag[]): void {
  const fileFlags: readonly Flag[] = [FLAGS.output, FLAGS.outputDir, FLAGS.force];
  for (const flag of flags) {
    if (!line.given(flag) || line.takes(flag)) continue;
    if (fileFlags.includes(flag) && !fileFlags.some((f) => line.takes(f))) {
      throw new UsageError(`${line.command} writes no file: --output, --output-dir and --force apply to ${list(line.takers(FLAGS.output))}`);
    }
    refuseUntaken(line, flag, true);
  }
}

/** Milliseconds from a number of seconds given as `flag` (0.001 to MAX_SECONDS), or undefined when not given. */
export function parseSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = /^\d+(\.\d+)?$|^\.\d+$/.test(value.trim()) ? Number(value) : NaN;
  // Milliseconds are the unit below: 0.0001 would round to 0, a poll loop with no pause at all.
  if (!(seconds >= 0.001) || seconds > MAX_SECONDS) {
    throw new UsageError(`${flag} must be a number of seconds from 0.001 to ${MAX_SECONDS}`);
  }
  return Math.round(seconds * 1000);
}

/**
 * What readTaskIds notes on the run's session. Named here, not imported from _session.ts, so that
 * _args.ts and _session.ts do not import each other.
 */
export interface TaskIdNotes {
  /** The task an error message names (the first given). */
  taskId: string | undefined;
  /** The indent of a JSON error document; none once the output is JSON Lines (several tasks). */
  indent: number | undefined;
}

/**
 * The task ids a command was given (at least one; more only when `many`), each checked. Notes the
 * first on the session (error messages name it) and, with several, that JSON output is JSON Lines.
 */
export function readTaskIds(line: CommandLine, session: TaskIdNotes, many: boolean): [string, ...string[]] {
  const [taskId, ...rest] = line.operands;
  const { command } = line;
  if (taskId === undefined) throw new UsageError(`${command} needs a task id: xiexus-kling ${command} <task_id>`);
  const taskIds: [string, ...string[]] = [taskId, ...rest];
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
  session.taskId = taskId;
  if (taskIds.length > 1) session.indent = undefined;
  if (!many && taskIds.length > 1) throw new UsageError(`${command} takes one task id, got ${taskIds.length} arguments`);
  return taskIds;
}

/** The time, file and batch flags, checked (see readTaskFlags). */
export interface TaskFlags {
  timeoutMs: number | undefined;
  intervalMs: number | undefined;
  output: string | undefined;
  outputDir: string | undefined;
  force: boolean;
  concurrency: number;
}

/**
 * Reads and checks --timeout, --interval, --output, --output-dir, --force and --concurrency for a
 * command about `taskCount` tasks: a flag the command does not take is refused, as are flags that
 * contradict each other. `outputRequired`: the command needs --output; the example shown if absent.
 */
export function readTaskFlags(line: CommandLine, taskCount: number, outputRequired?: string): TaskFlags {
  const timeoutMs = parseSeconds("--timeout", line.string(FLAGS.timeout));
  const intervalMs = parseSeconds("--interval", line.string(FLAGS.interval));
  refuseUntaken(line, FLAGS.timeout, timeoutMs !== undefined);
  refuseUntaken(line, FLAGS.interval, intervalMs !== undefined);
  const output = line.string(FLAGS.output);
  const outputDir = line.string(FLAGS.outputDir);
  const force = line.boolean(FLAGS.force);
  const fileFlags = [FLAGS.output, FLAGS.outputDir, FLAGS.force];
  if (!fileFlags.some((flag) => line.takes(flag)) && (output !== undefined || outputDir !== undefined || force)) {
    throw new UsageError(
      `${line.command} writes no file: --output, --output-dir and --force apply to ${list(line.takers(FLAGS.output))}`,
    );
  }
  if (outputRequired !== undefined && output === undefined) {
    throw new UsageError(`${line.command} needs --output <file>: ${outputRequired}`);
  }
  refuseUntaken(line, FLAGS.outputDir, outputDir !== undefined);
  refuseUntaken(line, FLAGS.output, output !== undefined);
  refuseUntaken(line, FLAGS.force, force);
  if (output !== undefined && outputDir !== undefined) throw new UsageError("give --output or --output-dir, not both");
  if (output !== undefined && taskCount > 1) {
    throw new UsageError("--output names one file: with several task ids, use --output-dir <dir>");
  }
  for (const [flag, value] of [["--output", output], ["--output-dir", outputDir]] as const) {
    if (value !== undefined && value.trim() === "") throw new UsageError(`${flag} needs a path`);
  }
  if (force && output === undefined && outputDir === undefined) throw new UsageError("--force only applies with --output or --output-dir");
  let concurrency = DEFAULT_CONCURRENCY;
  const rawConcurrency = line.string(FLAGS.concurrency);
  if (rawConcurrency !== undefined) {
    refuseUntaken(line, FLAGS.concurrency, true);
    const n = /^\d+$/.test(rawConcurrency.trim()) ? Number(rawConcurrency) : NaN;
    try {
      concurrency = checkConcurrency(n);
    } catch {
      throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
    }
  }
  return { timeoutMs, intervalMs, output, outputDir, force, concurrency };
}
