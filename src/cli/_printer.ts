// Every byte the command line writes goes through the Printer: it scrubs the key out of each line
// (a last guard, whatever the text) and decides where colour and live lines belong.
import { scrubText, secretForms } from "../_redact.js";
import { ESC } from "./_terminal.js";

/** The two output streams plus what the CLI reads from the environment. */
export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

/** A variable the CLI can do without: a runtime that refuses the read (Deno's scoped --allow-env) leaves it unset. */
export function optionalEnv(env: Io["env"], name: string): string | undefined {
  try {
    return env[name];
  } catch {
    return undefined;
  }
}

/** Writes lines to the streams, with the key scrubbed out and colour only where it belongs. */
export class Printer {
  /** Whether each stream gets colours (a terminal, not TERM=dumb, no NO_COLOR). */
  readonly color: { stdout: boolean; stderr: boolean };
  /** Whether stderr is a terminal that can take redrawn lines. */
  readonly live: boolean;
  constructor(
    private readonly io: Io,
    secret: string | undefined,
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
  /** Writes to stdout (the results), unless it was closed. */
  out(text: string): void {
    if (!this.stdoutClosed) this.io.stdout.write(this.scrub(text));
  }
  /** Writes to stderr (progress and errors). */
  err(text: string): void {
    this.io.stderr.write(this.scrub(text));
  }
  /** `text` in ANSI colour `code` when `stream` gets colours, else as it is. */
  paint(stream: "stdout" | "stderr", code: number | undefined, text: string): string {
    return this.color[stream] && code !== undefined ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
}
