// What a batch (several task ids, or a jobs file) reports besides its result lines: the word each
// line shows, painted, and the tally behind the summary and the exit code (the batch rule,
// EXIT_PRECEDENCE). `wait <id> <id>...` and `generate --jobs` share it, so both count alike.
import { EXIT_CODES, EXIT_MEANINGS, EXIT_PRECEDENCE, worstExitCode, type ExitCode } from "./_exit-codes.js";
import type { Printer } from "./_printer.js";
import { styleOf } from "./_statuses.js";

/** The outcomes of a batch so far, by exit code. */
export class Tally {
  private readonly codes = new Map<number, number>();
  private readonly started = Date.now();
  /**
   * `total`: how many tasks or jobs the batch has; `done`: the word of a good outcome
   * ("completed" for a wait, "saved" for a jobs file).
   */
  constructor(
    private readonly total: number,
    private readonly done: string,
  ) {}

  /** Counts one outcome. */
  add(code: ExitCode): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  /** How many outcomes ended with `code`. */
  count(code: ExitCode): number {
    return this.codes.get(code) ?? 0;
  }

  /** The word of a result line for `code`. */
  label(code: ExitCode): string {
    return code === EXIT_CODES.ok ? this.done : EXIT_MEANINGS[code].label;
  }

  /** The word of a result line, painted for `stream`: green when done, cancelled's own colour, red otherwise. */
  word(printer: Printer, stream: "stdout" | "stderr", code: ExitCode): string {
    const color = code === EXIT_CODES.ok ? 32 : code === EXIT_CODES.taskCancelled ? styleOf("cancelled")?.color : 31;
    return printer.paint(stream, color, this.label(code));
  }

  /** How many ended each way so far, worst first: `1 timed_out, 2 failed`. */
  counts(): string[] {
    return EXIT_PRECEDENCE.filter((code) => this.codes.has(code)).map((code) => `${this.count(code)} ${this.label(code)}`);
  }

  /** The summary line: a check mark and `3 of 3 completed in 4s`, or a cross and `1 of 4 completed, 1 timed_out, 2 failed in 9s` (worst first). */
  summary(printer: Printer): string {
    const ok = this.count(EXIT_CODES.ok);
    const parts = [`${ok} of ${this.total} ${this.done}`, ...this.counts()];
    const seconds = Math.floor((Date.now() - this.started) / 1000);
    const mark = ok === this.total ? printer.paint("stderr", 32, "✔") : printer.paint("stderr", 31, "✖");
    return `${mark} ${parts.join(", ")} in ${seconds}s`;
  }

  /** The batch's exit code: the worst outcome's by EXIT_PRECEDENCE, 0 when all were good. */
  exitCode(): ExitCode {
    return worstExitCode(this.codes);
  }
}
