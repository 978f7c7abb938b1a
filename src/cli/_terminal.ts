// Text for a terminal: what relay-supplied text may not bring along (line breaks, escape sequences,
// bidi overrides), how many columns a string takes, and the small formats the live lines share.

/** The start of an ANSI control sequence (CSI). */
export const ESC = "\u001b[";

/**
 * What relay-supplied text must not bring to a terminal that JSON.stringify leaves raw: DEL and C1
 * controls, line and paragraph separators, and the bidirectional overrides that make text read
 * other than it is.
 */
const UNSAFE_BEYOND_C0 = "\\u007f-\\u009f\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
/** Those plus the C0 controls (line breaks and tabs included: they would forge rows and columns). */
const CONTROL_CHARS = new RegExp(`[\\u0000-\\u001f${UNSAFE_BEYOND_C0}]`, "g");
const JSON_UNSAFE = new RegExp(`[${UNSAFE_BEYOND_C0}]`, "g");

/** The frames of the spinner the live lines draw. */
export const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Makes relay-supplied text safe to print on a terminal or in a line: one line, no escape sequences smuggled in. */
export function clean(text: string): string {
  return text.replace(CONTROL_CHARS, "?");
}

/** Our own multi-line text (a message with a hint line, a stack): each line cleaned, the breaks kept. */
export function cleanLines(text: string): string {
  return text.split("\n").map(clean).join("\n");
}

/**
 * JSON for stdout: JSON.stringify leaves C1 controls, separators and bidi overrides raw inside
 * strings, where a terminal would act on them; written as \u escapes they are the same JSON.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(JSON_UNSAFE, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Columns a character takes on a terminal: 2 for East Asian wide and fullwidth ones and emoji, else 1. */
function columnsOf(codePoint: number): number {
  return (codePoint >= 0x1100 && codePoint <= 0x115f) ||
    (codePoint >= 0x2e80 && codePoint <= 0xa4cf) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) ||
    (codePoint >= 0xff00 && codePoint <= 0xff60) ||
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1faff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd)
    ? 2
    : 1;
}

/** The longest start of `text` that fits in `columns` terminal columns. */
export function fitColumns(text: string, columns: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    used += columnsOf(char.codePointAt(0)!);
    if (used > columns) break;
    end += char.length;
  }
  return text.slice(0, end);
}

/** Bytes as a short human figure: 512 B, 1.5 kB, 12.3 MB (decimal units). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;
}
