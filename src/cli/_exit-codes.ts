// The exit codes of the command line, in one place: their numbers, what --help says of each, the
// word a batch result line shows, and the rule that picks one code for several outcomes. A new code
// fails the type-check below until it has all three.

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
  taskCancelled: 10,
  mayHaveCreatedTask: 11,
  insufficientQuota: 12,
  internal: 70,
  interrupted: 130,
  hangup: 129,
  terminated: 143,
  brokenPipe: 141,
} as const);

/** One of the command line's exit codes. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * Per exit code: the word a batch result line shows for a task that ended so, and the lines
 * `--help` gives it (listed in numeric order, as integer keys iterate).
 */
export const EXIT_MEANINGS = {
  0: { label: "completed", help: ["done (status: the task was fetched and has not failed)"] },
  1: {
    label: "failed",
    help: ["the task failed (error code TaskExpired: it ran past the relay's deadline; refunded)"],
  },
  2: {
    label: "refused",
    help: [
      "usage error: bad flags, missing task id, missing XIEXUS_API_KEY, invalid option,",
      "output file exists (use --force) or its directory is missing",
    ],
  },
  3: { label: "not_found", help: ["task not found"] },
  4: { label: "auth_error", help: ["authentication or permission error (check XIEXUS_API_KEY)"] },
  5: { label: "timed_out", help: ["wait timed out (--timeout)"] },
  6: { label: "network_error", help: ["network or server error (connection, time-out, 429, 5xx, other HTTP errors)"] },
  7: {
    label: "invalid_response",
    help: ["the relay's answer did not match the API spec (or was too large, or its video URL unusable)"],
  },
  8: { label: "not_ready", help: ["download: the task has not completed yet (use wait --output)"] },
  9: {
    label: "write_error",
    help: [
      "a file could not be written (permission, disk full): a video; or generate --jobs' journal,",
      "which stops the batch whatever else happened (each job's line says what it left)",
    ],
  },
  10: { label: "cancelled", help: ["the task was cancelled by the relay (refunded)"] },
  11: {
    label: "may_have_been_created",
    help: [
      "a create's fate is unknown: a task MAY have been created (and paid for); it was not",
      "resent: check the relay's tasks before creating again (generate --jobs: --recreate-unknown)",
    ],
  },
  12: { label: "insufficient_quota", help: ["the balance (or the key's quota) is too low to pay for a task: top up"] },
  70: { label: "internal_error", help: ["internal error (a bug: please report it with the --debug output)"] },
  129: { label: "interrupted", help: ["hung up (SIGHUP)"] },
  130: { label: "interrupted", help: ["interrupted (Ctrl-C)"] },
  141: { label: "interrupted", help: ["stdout was closed early (e.g. piped into head): the rest is not printed"] },
  143: { label: "interrupted", help: ["terminated (SIGTERM)"] },
} as const satisfies Record<ExitCode, { label: string; help: readonly [string, ...string[]] }>;

/**
 * The exit code of a batch (several task ids, a jobs file): the first of these that any task or job
 * ended with (worst first), 0 when every one completed. A task that may have been paid for without
 * its id coming back comes first, as the one a user must look into; then problems that hit every
 * task (the balance, the key, the network) outrank one task's verdict; a cancelled task (refunded,
 * nothing to fix) comes last.
 */
export const EXIT_PRECEDENCE: readonly ExitCode[] = [
  EXIT_CODES.interrupted,
  EXIT_CODES.internal,
  EXIT_CODES.mayHaveCreatedTask,
  EXIT_CODES.insufficientQuota,
  EXIT_CODES.auth,
  EXIT_CODES.network,
  EXIT_CODES.invalidResponse,
  EXIT_CODES.fileError,
  EXIT_CODES.usage,
  EXIT_CODES.timeout,
  EXIT_CODES.notFound,
  EXIT_CODES.taskFailed,
  EXIT_CODES.taskCancelled,
];

/** The exit code for several outcomes (see EXIT_PRECEDENCE): the worst one `seen` has, else 0. */
export function worstExitCode(seen: { has(code: number): boolean }): ExitCode {
  return EXIT_PRECEDENCE.find((code) => seen.has(code)) ?? EXIT_CODES.ok;
}
