// What a command is, and what it is given to run: the printer, the abort signal every wait and
// download listens to, and the client made from the environment.
import { createKlingClient, InvalidArgumentError, type KlingClient } from "../index.js";
import { nodeHttpGet } from "../node/index.js";
import { FLAGS, type CommandLine, type Flag } from "./_args.js";
import { optionalEnv, type Io, type Printer } from "./_printer.js";

/** One run of the command line, as its command sees it. */
export interface Session {
  readonly io: Io;
  readonly printer: Printer;
  /** Aborted by Ctrl-C, SIGTERM, SIGHUP or a closed stdout (its reason: an Interrupted). */
  readonly signal: AbortSignal;
  /** --json was given. */
  readonly json: boolean;
  /** XIEXUS_API_KEY as read at the start (checked only when a client is made). */
  readonly apiKey: string | undefined;
  /** Where the base URL came from, for the message when the client refuses it. */
  baseUrlSource: string;
  /** The task an error message names (the first given). */
  taskId: string | undefined;
  /** The indent of a JSON error document; none once the output is JSON Lines (several tasks). */
  indent: number | undefined;
  /**
   * The task this run created (generate), once known: an error after it names the task, and the
   * command that resumes it unless the task itself ended it.
   */
  created: { taskId: string; resume: string } | undefined;
}

/** A command: its lines in --help, the flags it takes, and its work. Registered in _commands.ts. */
export interface Command {
  /** Its rows in the Commands section of --help: the synopsis, then what it does. */
  readonly help: ReadonlyArray<readonly [string, string]>;
  /** The flags it takes besides the global ones (--json, --base-url, --debug, --help, --version). */
  readonly flags: readonly Flag[];
  /**
   * Checks its command line (a UsageError before any request), then does the work and resolves to
   * the exit code. It throws for anything that goes wrong: describeError (_errors.ts) picks the code.
   */
  run(line: CommandLine, session: Session): Promise<number>;
}

/**
 * The client for a command: the key from XIEXUS_API_KEY (refused here when missing), the base URL
 * from --base-url, else XIEXUS_BASE_URL, else the default. `timeoutMs`: each request's limit.
 */
export function openClient(session: Session, line: CommandLine, timeoutMs?: number): KlingClient {
  const { apiKey } = session;
  if (apiKey === undefined || apiKey === "") {
    throw new InvalidArgumentError("apiKey", "no API key: set the XIEXUS_API_KEY environment variable");
  }
  let baseUrl = line.string(FLAGS.baseUrl);
  session.baseUrlSource = "--base-url";
  if (baseUrl === undefined && optionalEnv(session.io.env, "XIEXUS_BASE_URL")) {
    baseUrl = optionalEnv(session.io.env, "XIEXUS_BASE_URL");
    session.baseUrlSource = "XIEXUS_BASE_URL";
  }
  return createKlingClient({
    apiKey,
    // The command line runs where node:http exists (Node, Bun, Deno): its polls go that way.
    httpGet: nodeHttpGet,
    ...(baseUrl !== undefined && { baseUrl }),
    ...(timeoutMs !== undefined && { timeoutMs }),
  });
}
