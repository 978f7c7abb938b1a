// Where the bench reads and writes.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Scratch output of the bench (bundles, synthetic specs, entry files); git-ignored. */
export const CACHE = join(ROOT, ".cache/bench");
