// The temp file a download writes into before it is renamed into place: its name, in one place,
// for the download that writes it and for the batch that removes what a killed run left behind.
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** The target's name as the temp file repeats it: a name near the 255-byte limit would not fit the affixes. */
function stem(target: string): string {
  return Buffer.byteLength(basename(target)) > 200 ? "xiexus-kling" : basename(target);
}

/** A fresh temp path beside `target`: `.<name>.<12 hex>.part` (hidden, and never the name of a finished video). */
export function partFilePath(target: string): string {
  return join(dirname(target), `.${stem(target)}.${randomBytes(6).toString("hex")}.part`);
}

/** Whether `entry`, a name in the directory of `target`, is one of `target`'s temp files (see partFilePath). */
export function isPartFileOf(target: string, entry: string): boolean {
  const name = stem(target);
  return entry.startsWith(`.${name}.`) && /^\.[^/]*\.[0-9a-f]{12}\.part$/.test(entry) && entry.length === name.length + 19;
}
