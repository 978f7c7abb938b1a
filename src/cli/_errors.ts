// How a run ends when something was thrown: the CLI's own error classes, and the one mapping from
// any error to its exit code, its human message and its JSON form. A command throws; it never
// picks an exit code for an error itself.
import {
  APIConnectionError,
  APIError,
  AuthenticationError,
  InsufficientQuotaError,
  InvalidArgumentError,
  KlingError,
  PermissionDeniedError,
  ResponseTooLargeError,
  ResponseValidationError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
} from "../index.js";
import { FileExistsError, JobMayHaveBeenCreatedError, JournalCorruptError, JournalLockedError, JournalWriteError, VideoFileError } from "../node/index.js";
import type { RouteName } from "../routes.js";
import { EXIT_CODES, type ExitCode } from "./_exit-codes.js";
import { clean } from "./_terminal.js";

/** A command-line mistake: exit 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What a run stopped by a signal leaves behind, said when it stops (see `Interrupted.during`). */
export interface InterruptedContext {
  /** One or more lines after "interrupted: " (a task that exists or may exist, how to resume). */
  readonly note: string;
  /** The task a create made, when one is known. */
  readonly taskId?: string;
  /** True when a create was on its way: a task may exist whose id never came back. */
  readonly mayHaveCreatedTask?: boolean;
}

/** The abort reason used for Ctrl-C, SIGTERM and SIGHUP (and a closed stdout): how the run ends. */
export class Interrupted extends Error {
  override name = "Interrupted";
  constructor(
    readonly exitCode: number = EXIT_CODES.interrupted,
    readonly context?: InterruptedContext,
  ) {
    super(exitCode === EXIT_CODES.brokenPipe ? "stdout closed" : "interrupted");
  }

  /**
   * Runs `work`; if `signal` stops it, rethrows its Interrupted with `context` attached, so the
   * message names what the interrupted step leaves behind (a created task, a create in flight).
   */
  static async during<T>(signal: AbortSignal, context: InterruptedContext, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const reason: unknown = signal.aborted ? signal.reason : undefined;
      if (reason instanceof Interrupted && reason.exitCode !== EXIT_CODES.brokenPipe && reason.context === undefined) {
        throw new Interrupted(reason.exitCode, context);
      }
      throw error;
    }
  }
}

/** `download` on a task that has not completed yet: exit 8. */
export class NotReady extends Error {
  override name = "NotReady";
}

/**
 * A task the relay does not have on the route asked, but does on another (`found`): described as its
 * TaskNotFoundError (exit "not found"), with the --route that reaches it.
 */
export class TaskOnOtherRoute extends Error {
  override name = "TaskOnOtherRoute";
  constructor(
    override readonly cause: TaskNotFoundError,
    readonly asked: RouteName,
    readonly found: RouteName,
  ) {
    super(`the task is not on the ${asked} route but on ${found}: add --route ${found}`);
  }
}

/** Deno's refusals (no --allow-env, --allow-read, ...): the user's setup, reported as a usage error. */
export function isPermissionError(error: unknown): boolean {
  return error instanceof Error && (error.name === "NotCapable" || error.name === "PermissionDenied");
}


/** A Node file-system error (ENOENT, EACCES, ENOSPC, EISDIR, ...) from writing the output. */
function isFileSystemError(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown } | null;
  return error instanceof Error && typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === "string";
}

/** What an error comes to: its exit code, the human message (may span lines) and its JSON form. */
export interface DescribedError {
  code: ExitCode;
  message: string;
  json: Record<string, unknown>;
}

/**
 * Exit code, human message and JSON form of anything a command threw. `baseUrlSource` names where
 * a refused base URL came from; `taskId` is the task a "not found" message names.
 */
export function describeError(error: unknown, baseUrlSource: string, taskId: string | undefined): DescribedError {
  if (!(error instanceof TaskOnOtherRoute)) return describeThrown(error, baseUrlSource, taskId);
  // As the not-found error it stands for (its name, code and status), with the route that has the task.
  const described = describeThrown(error.cause, baseUrlSource, taskId);
  const id = clean(JSON.stringify(taskId ?? ""));
  described.message = `no task ${id} on the ${error.asked} route, but there is one on ${error.found}: run it again with --route ${error.found}`;
  described.json.route = error.found;
  described.json.hint = `--route ${error.found}`;
  return described;
}

/** describeError for anything but a TaskOnOtherRoute. */
function describeThrown(error: unknown, baseUrlSource: string, taskId: string | undefined): DescribedError {
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
  } else if (error instanceof JournalWriteError) {
    // The batch's journal (or its lock) could not be written: its own message names the file and the cause.
    code = EXIT_CODES.fileError;
    json.path = error.path;
    json.code = error.code;
  } else if (isFileSystemError(error)) {
    code = EXIT_CODES.fileError;
    message = `cannot write the video: ${clean(raw)}`;
  } else if (error instanceof VideoFileError) {
    code = EXIT_CODES.fileError;
    json.path = error.path;
  } else if (error instanceof Interrupted) {
    code = error.exitCode as ExitCode;
    if (error.context?.taskId !== undefined) json.taskId = error.context.taskId;
    if (error.context?.mayHaveCreatedTask) json.mayHaveCreatedTask = true;
  } else if (error instanceof JournalLockedError || error instanceof JournalCorruptError) {
    // Another run holds the journal's lock, or a line in it is corrupt: for the user to settle.
    code = EXIT_CODES.usage;
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
    if (error.code !== undefined) json.code = error.code;
    if (error.code === "TaskExpired") {
      message = `${clean(raw)}\nThe task ran past the relay's deadline (TaskExpired); the relay refunded it.`;
    }
  } else if (error instanceof TaskCancelledError) {
    code = EXIT_CODES.taskCancelled;
    json.task = error.task;
  } else if (error instanceof TaskNotFoundError) {
    code = EXIT_CODES.notFound;
    message = `no task ${clean(JSON.stringify(taskId ?? ""))} on this relay (${clean(raw)})`;
  } else if (error instanceof InsufficientQuotaError) {
    code = EXIT_CODES.insufficientQuota;
    if (error.code !== undefined) json.code = error.code;
    message = `${clean(raw)}\nThe balance (or this key's quota) is too low to pay for a task: top up, then create again.`;
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
  // Whatever else went wrong, a task that may exist (and cost money) is what the user must act on.
  if (error instanceof KlingError && error.mayHaveCreatedTask) {
    code = EXIT_CODES.mayHaveCreatedTask;
    json.mayHaveCreatedTask = true;
    // The batch's own error says all of it, with the flag to use; a single create's says it in passing.
    if (!(error instanceof JobMayHaveBeenCreatedError)) {
      message += "\nA task MAY have been created (and paid for): check the relay's tasks before creating it again.";
    }
  }
  json.message = raw;
  json.exitCode = code;
  if (code === EXIT_CODES.internal) message = `internal error: ${clean(raw)}\nThis is a bug; please report it with the --debug output.`;
  return { code, message, json };
}
