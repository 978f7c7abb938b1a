// What each task status means to the command line: the colour of its word and the exit code each
// command gives for it. A status the spec adds fails the type-check here until someone decides.
import type { Image2VideoTaskStatus } from "../index.js";
import { statusKind } from "../_status.js";
import { EXIT_CODES, type ExitCode } from "./_exit-codes.js";

/** How the CLI shows each status, and the exit code each command gives for it. */
export interface StatusStyle {
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
  // Magenta, not failure's red: the relay ended it and refunded it; nothing of the user's went wrong.
  cancelled: { color: 35, status: EXIT_CODES.taskCancelled, download: EXIT_CODES.taskCancelled },
} as const satisfies Record<Image2VideoTaskStatus, StatusStyle>;

/** The style of a status word, or undefined for one the spec does not name. */
export function styleOf(status: unknown): StatusStyle | undefined {
  return statusKind(status) === undefined ? undefined : STATUS_STYLES[status as Image2VideoTaskStatus];
}
