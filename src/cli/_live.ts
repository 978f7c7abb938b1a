// The live lines on stderr: one wait's status line, a download's progress line, and the board of
// a batch wait. On a terminal they are redrawn in place (spinner, \r + clear-line, hidden cursor,
// restored on any exit); otherwise they print plain lines, or nothing, as each says.
import type { DownloadProgress } from "../node/index.js";
import type { Printer } from "./_printer.js";
import { styleOf } from "./_statuses.js";
import { clean, ESC, fitColumns, formatBytes, SPINNER } from "./_terminal.js";

/** Live progress on stderr: a redrawn spinner line on a terminal, one plain line per status otherwise. */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private status = "connecting";
  private cursorHidden = false;
  private running = false;
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
  /** Hides the cursor and starts the spinner (on a terminal only); once. */
  start(): void {
    if (!this.printer.live || this.running || this.stopped) return;
    this.running = true;
    this.printer.err(`${ESC}?25l`);
    this.cursorHidden = true;
    // Restores the cursor even if something exits the process behind our back.
    process.once("exit", this.showCursor);
    this.render();
    this.timer = setInterval(() => this.render(), 100);
  }
  /** Shows a new status: redrawn on a terminal (from start() on), a line of its own otherwise. */
  update(status: string | undefined): void {
    this.status = clean(status ?? "unknown");
    if (this.printer.live) {
      if (this.running && !this.stopped) this.render();
      return;
    }
    const seconds = this.seconds();
    this.printer.err(seconds >= 1 ? `${this.status} (${seconds}s)\n` : `${this.status}\n`);
  }
  /** Prints a line of its own (on a terminal above the spinner, which is redrawn below it). */
  note(text: string): void {
    if (!this.running || this.stopped) {
      this.printer.err(`${text}\n`);
      return;
    }
    this.printer.err(`\r${ESC}2K${text}\n`);
    this.render();
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
  /** Whole seconds since the line was made. */
  elapsed(): number {
    return this.seconds();
  }
}

/** A download's progress on stderr: a redrawn line with bytes, percent and rate on a terminal; one line at the end otherwise. */
export class DownloadLine {
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
  /** Takes the latest figures; redraws on a terminal. */
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

/**
 * Several tasks on a terminal: one live line per unsettled task on stderr, result lines printed
 * above them; under them, `footer`'s line when it gives one (the counts of a jobs file's others).
 */
export class Board {
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
    private readonly footer?: () => string | undefined,
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
    const footer = this.footer?.();
    const room = Math.max(1, (this.stderr.rows || 24) - 3 - (footer === undefined ? 0 : 1));
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
    if (footer !== undefined) lines.push(fitColumns(footer, width));
    if (lines.length) this.printer.err(`${lines.join("\n")}\n`);
    this.drawn = lines.length;
  }
  /** Hides the cursor and starts redrawing the live lines. */
  start(): void {
    this.printer.err(`${ESC}?25l`);
    this.cursorHidden = true;
    process.once("exit", this.showCursor);
    this.render();
    this.timer = setInterval(() => this.render(), 100);
  }
  /** A task's new status, shown at the next redraw. */
  update(id: string, status: string | undefined): void {
    if (this.statuses.has(id)) this.statuses.set(id, clean(status ?? "unknown"));
  }
  /** Like update, but a task not on the board yet gets a line (a job that just started). */
  set(id: string, status: string): void {
    this.statuses.set(id, clean(status));
  }
  /** How many tasks have a live line. */
  get size(): number {
    return this.statuses.size;
  }
  /** Removes a settled task's live line and prints its result line above the live ones. */
  settle(id: string, write: () => void): void {
    this.statuses.delete(id);
    this.clear();
    write();
    this.render();
  }
  /** Clears the live lines, prints `summary` and restores the cursor. */
  stop(summary?: string): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    if (summary) this.printer.err(`${summary}\n`);
    this.showCursor();
    process.off("exit", this.showCursor);
  }
}
