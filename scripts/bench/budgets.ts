// The targets the bench reports against and the budgets test/budgets.test.ts asserts, in one place,
// with the pure helpers that decide "met" or "missed".
import { pollDelayMs } from "../../src/wait.js";

/** Targets and budgets; each figure is explained where it is checked. */
export const BUDGETS = {
  /** Per-request time of xiexus-kling over bare openapi-fetch (with a Bearer middleware), in raw-fetch round trips: at most +0.10x (bench only: timing is noisy). */
  requestOverOpenapiFetch: 0.1,
  /** A create's time over a bare openapi-fetch POST (with a Bearer middleware), in raw-fetch round trips: at most +0.10x, as for a GET (bench only). */
  createOverOpenapiFetch: 0.1,
  /** Peak RSS a create from a 10 MiB image (bytes already in memory) adds over the process's baseline, MB (the naive path: ~50). */
  createPeakRssMb: 15,
  /** Peak RSS a create from a 10 MiB file opened with openImageFile (streamed from disk) adds over the baseline, MB (bench only: RSS is not deterministic). */
  createFromFilePeakRssMb: 4,
  /** Cold import of the built main entry at most this many times openapi-fetch's, ESM and CommonJS alike (bench only: timing is noisy). */
  importRatio: 1.2,
  /** The target for the browser bundle of the main entry, openapi-fetch included, min+gzip (6 kB = 6,000 B): missed, see README. */
  bundleGzipBytes: 6_000,
  /**
   * What test/runtimes.test.ts asserts of the package's own code (the main entry with openapi-fetch,
   * the generated spec data left out: it grows with the specs in openapi/ by design), so growth is
   * caught: measured 11,726 B on 2026-11-24 (esbuild 0.28.2, openapi-fetch 0.17.0); 12,344 B the
   * same day after the checks that turn bad options, signals, headers and keys into
   * InvalidArgumentError before any request (+481 B): 12,850 B with ~4% headroom, measured 12,597 B
   * on 2026-12-04 before the create half of the job. Raised once, on purpose, for that half (the
   * package could not create a task): 17,027 B measured on 2026-12-04 (+4,430 B: the image rules
   * read from the bytes, base64 made in pieces and data URLs, src/image.ts 5.1 kB minified; the
   * create checks and streamed body, src/create.ts 2.2 kB; the resend rule, the quota and cancelled
   * classes, and the text2video route), plus ~3%. Not to be raised for anything less.
   * Issue 23's controls (typed and checked before a byte is sent) took it to 20,589 B on 2026-12-06;
   * the budget was NOT raised for them: the package was made smaller instead (issue 24), to
   * 17,406 B the same day, with no behaviour lost: one shape for every input refusal
   * (src/_messages.ts), shared predicates instead of near-copies, one check per field from a table,
   * the single wait as a batch of one, and shorter words in the messages no test pins.
   */
  bundleCodeGzipBudgetBytes: 17_500,
  /** Type-check instantiations of the xiexus-kling consumer at most this many times the bare openapi-fetch one. */
  typecheckInstantiationRatio: 1.1,
  /**
   * Absolute ceiling on the xiexus-kling consumer's instantiations: measured 171,662 with TypeScript
   * 5.9.3 on 2026-11-23 (bare openapi-fetch: 171,066), plus ~10% headroom.
   */
  typecheckInstantiationsMax: 189_000,
  /** A waited task is seen completed within this many poll intervals of finishing. */
  detectionIntervals: 1,
  /** Peak RSS of 1,000 concurrent waits, MB. */
  waitsRssMb: 150,
  /** Finish time of the task in the default-schedule request budget, ms. */
  defaultScheduleFinishMs: 60_000,
} as const;

/** True when `value` is at most `maxRatio` times `base`. */
export function withinRatio(value: number, base: number, maxRatio: number): boolean {
  return Number.isFinite(value) && Number.isFinite(base) && base > 0 && value <= base * maxRatio;
}

/** True when `value` is a finite number at most `limit`. */
export function atMost(value: number, limit: number): boolean {
  return Number.isFinite(value) && value <= limit;
}

/** Throws a message naming the budget when `ok` is false. */
export function assertBudget(ok: boolean, name: string, detail: string): void {
  if (!ok) throw new Error(`budget exceeded: ${name} (${detail})`);
}

/** "met" or "missed", for the table. */
export function verdict(ok: boolean): "met" | "missed" {
  return ok ? "met" : "missed";
}

/**
 * Requests a wait makes for a task that completes `finishMs` after the first poll, when each pause
 * is `delay(poll)` and requests take no time: poll at t = 0, then after each pause, until t >= finishMs.
 */
export function requestsUntilFinished(finishMs: number, delay: (poll: number) => number): number {
  let t = 0;
  for (let poll = 0; ; poll++) {
    if (t >= finishMs) return poll + 1;
    t += delay(poll);
  }
}

/**
 * The fewest and most requests the default schedule can make for a task finishing at `finishMs`:
 * the slowest schedule (every jitter at +20%) makes the fewest, the fastest (-20%) the most.
 */
export function defaultScheduleRequestBounds(finishMs: number): { min: number; max: number } {
  return {
    min: requestsUntilFinished(finishMs, (poll) => pollDelayMs(poll, () => 1)),
    max: requestsUntilFinished(finishMs, (poll) => pollDelayMs(poll, () => 0)),
  };
}
