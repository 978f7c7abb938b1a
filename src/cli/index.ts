#!/usr/bin/env node
// The xiexus-kling command line: parse, call the library, print, set the exit code. Nothing here
// talks HTTP itself. The key is read from XIEXUS_API_KEY only, never from a flag, so it stays out of
// shell history and `ps`; as a last guard every line printed is scrubbed of it.
// This file is the bin: the process around a run (streams, signals, a closed stdout, the exit
// code). What each command does is in its own file, registered in _commands.ts.
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { scrubText, secretForms } from "../_redact.js";
import { beforeDashes, commandLine, FLAGS, parseCommandLine, refuseUntakenFlags, type ParsedArgs } from "./_args.js";
import { allFlags, commandFlags, COMMANDS, takersOf } from "./_commands.js";
import { describeError, Interrupted, isPermissionError, UsageError } from "./_errors.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { packageVersion, USAGE } from "./_help.js";
import { Printer, type Io } from "./_printer.js";
import type { Session } from "./_session.js";
import { clean, cleanLines, ESC, toJson } from "./_terminal.js";

/** Exit codes after which a created task is not worth waiting for again: it failed, was cancelled or is gone. */
const RESUMELESS: ReadonlySet<number> = new Set([EXIT_CODES.taskFailed, EXIT_CODES.taskCancelled, EXIT_CODES.notFound]);

/** Runs the command line with `argv` (without node and the script) and returns the exit code. */
async function main(argv: string[], io: Io): Promise<number> {
  let apiKey: string | undefined;
  try {
    apiKey = io.env.XIEXUS_API_KEY;
  } catch (error) {
    // Deno without --allow-env: its message names the flag to add.
    io.stderr.write(`xiexus-kling: ${error instanceof Error ? error.message : String(error)}\n`);
    return isPermissionError(error) ? EXIT_CODES.usage : EXIT_CODES.internal;
  }
  const printer = new Printer(io, apiKey);
  const controller = new AbortController();
  // Set before anything is printed (--help too), and kept: the error can come after main() returned.
  watchOutputs(io, printer, controller);
  const early = beforeDashes(argv);
  const session: Session = {
    io,
    printer,
    signal: controller.signal,
    json: early.includes("--json"),
    apiKey,
    baseUrlSource: "the default base URL",
    taskId: undefined,
    created: undefined,
    // With several task ids, --json output is JSON Lines: an error document must stay on one line too.
    indent: 2,
  };
  const fail = (error: unknown): number => report(error, session, early.includes("--debug"));

  let parsed: ParsedArgs;
  try {
    parsed = parseCommandLine(argv, allFlags());
  } catch (error) {
    return fail(error);
  }
  const answered = answerWithoutCommand(parsed, printer, fail);
  if (answered !== undefined) return answered;

  const unlisten = listenForSignals(io, printer, controller);
  try {
    return await runCommand(parsed, session);
  } catch (error) {
    if (!(error instanceof Interrupted)) return fail(error);
    if (error.exitCode === EXIT_CODES.brokenPipe) return error.exitCode;
    printer.err(error.context ? `interrupted: ${cleanLines(error.context.note)}\n` : "interrupted\n");
    if (session.json) printer.out(`${toJson({ error: describeError(error, session.baseUrlSource, session.taskId).json }, session.indent)}\n`);
    return error.exitCode;
  } finally {
    unlisten();
  }
}

/**
 * stdout closed under us (`| head`): stop as for a signal, quietly; stderr's own failures are
 * nothing to act on.
 */
function watchOutputs(io: Io, printer: Printer, controller: AbortController): void {
  io.stdout.on("error", (error: NodeJS.ErrnoException) => {
    printer.stdoutClosed = true;
    if (error.code !== "EPIPE") return;
    if (!controller.signal.aborted) controller.abort(new Interrupted(EXIT_CODES.brokenPipe));
    process.exitCode = EXIT_CODES.brokenPipe;
  });
  io.stderr.on("error", () => undefined);
}

/** Reports what ended the run (as JSON with --json) and returns its exit code; a created task is named with how to resume it. */
function report(error: unknown, session: Session, debug: boolean): number {
  const { printer, created } = session;
  const { code, json: body, ...described } = describeError(error, session.baseUrlSource, session.taskId);
  let { message } = described;
  if (created) {
    body.taskId = created.taskId;
    // The task is still there to wait for, unless what ended the run was the task's own end.
    if (!RESUMELESS.has(code)) {
      body.resume = created.resume;
      message += `\nTask ${created.taskId} was created; resume with: ${created.resume}`;
    }
  }
  if (session.json) printer.out(`${toJson({ error: body }, session.indent)}\n`);
  else printer.err(`${printer.paint("stderr", 31, "xiexus-kling:")} ${cleanLines(message)}\n`);
  // A stack's first line is the message, which may quote the relay.
  if (debug && error instanceof Error && error.stack) printer.err(`${cleanLines(error.stack)}\n`);
  return code;
}

/** --help, --version, or no command at all: the exit code once answered (`fail` reports an error), else undefined. */
function answerWithoutCommand({ values, positionals }: ParsedArgs, printer: Printer, fail: (error: unknown) => number): number | undefined {
  if (values[FLAGS.help.name] === true || positionals[0] === "help") {
    printer.out(USAGE);
    return EXIT_CODES.ok;
  }
  if (values[FLAGS.version.name] === true) {
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
  return undefined;
}

/**
 * Ctrl-C, SIGTERM and SIGHUP abort the run with their exit codes: every wait and download stops,
 * temp files are removed and the cursor comes back. A second signal exits at once. Returns the
 * function that stops listening.
 */
function listenForSignals(io: Io, printer: Printer, controller: AbortController): () => void {
  let interrupts = 0;
  const stop = (exitCode: number): void => {
    interrupts++;
    if (interrupts > 1) {
      // A second signal means now: restore the terminal and go.
      if (printer.live) io.stderr.write(`\r${ESC}2K${ESC}?25h`);
      process.exit(exitCode);
    }
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
  return () => listen(false);
}

/** Finds the command, checks that it takes every flag given, and runs it. */
async function runCommand(parsed: ParsedArgs, session: Session): Promise<number> {
  const name = parsed.positionals[0]!;
  const command = COMMANDS.get(name);
  if (command === undefined) {
    const expected = [...COMMANDS.keys()].join(", ");
    throw new UsageError(`unknown command ${JSON.stringify(clean(name))}: expected ${expected} or help`);
  }
  const line = commandLine(name, parsed, takersOf);
  refuseUntakenFlags(line, commandFlags());
  return command.run(line, session);
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
