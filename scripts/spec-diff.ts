/**
 * Compares two OpenAPI 3.0/3.1 specs (JSON or YAML) and reports what changed for consumers of a
 * generated client, classed like oasdiff: `breaking` (ERR), `maybe-breaking` (WARN), `non-breaking`
 * (INFO). This file is the entry and CLI; the rules live in `spec-diff/` by family, their levels
 * in one registry (`spec-diff/rules.ts`).
 *
 * Usage: `tsx scripts/spec-diff.ts <old> <new> [--json] [--fail-on breaking|maybe-breaking]`
 * Exit codes: 0 done; 1 `--fail-on` threshold reached; 2 usage error or invalid input.
 *
 * Operations are matched by method and exact path template: renaming a path parameter changes the
 * path string consumers pass to openapi-fetch, so it shows up as one operation removed and one added.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { compareRequestBody, compareResponses } from "./spec-diff/bodies.js";
import { asRecord, emitterFor, show, type ChangeLevel, type SpecChange } from "./spec-diff/core.js";
import { compareOperationLifecycle, operationRemovedRule } from "./spec-diff/deprecation.js";
import { loadSpec } from "./spec-diff/load.js";
import { compareOperationId, compareServers, label, operationsOf } from "./spec-diff/operations.js";
import { compareParameters } from "./spec-diff/parameters.js";
import { compareDocumentSecurity, compareOperationSecurity } from "./spec-diff/security.js";

export type { ChangeLevel, SpecChange } from "./spec-diff/core.js";
export { RULES, type Rule } from "./spec-diff/rules.js";
export { loadSpec, parseSpecText } from "./spec-diff/load.js";

/** Counts per level. */
export interface ChangeSummary {
  breaking: number;
  "maybe-breaking": number;
  "non-breaking": number;
  total: number;
}

const DOCUMENT = "(document)";

/** Lists every change from `oldDoc` to `newDoc` (parsed OpenAPI 3.x documents), in document order. */
export function diffSpecs(oldDoc: object, newDoc: object): SpecChange[] {
  const oldRec = asRecord(oldDoc);
  const newRec = asRecord(newDoc);
  const changes: SpecChange[] = [];

  const document = emitterFor(changes, DOCUMENT, "", "");
  compareServers(oldRec, newRec, document);
  compareDocumentSecurity(oldRec, newRec, document);

  const oldOps = operationsOf(oldRec);
  const newOps = operationsOf(newRec);
  for (const key of new Set([...oldOps.keys(), ...newOps.keys()])) {
    const before = oldOps.get(key);
    const after = newOps.get(key);
    if (before && !after) {
      const webhook = before.path.startsWith("webhook:");
      emitterFor(changes, label(before), before.path, before.method)(webhook ? "webhook-removed" : operationRemovedRule(before), "operation", "operation removed");
      continue;
    }
    if (!before && after) {
      emitterFor(changes, label(after), after.path, after.method)(after.path.startsWith("webhook:") ? "webhook-added" : "operation-added", "operation", "operation added");
      continue;
    }
    if (!before || !after) continue;
    const emit = emitterFor(changes, label(after), after.path, after.method);
    compareOperationId(before, after, emit);
    compareOperationLifecycle(before, after, emit);
    compareOperationSecurity(before, after, emit);
    compareParameters(oldRec, newRec, before, after, emit);
    compareRequestBody(oldRec, newRec, before, after, emit);
    compareResponses(oldRec, newRec, before, after, emit);
  }
  return changes;
}

/** Counts changes per level. */
export function summarize(changes: readonly SpecChange[]): ChangeSummary {
  const summary: ChangeSummary = { breaking: 0, "maybe-breaking": 0, "non-breaking": 0, total: changes.length };
  for (const change of changes) summary[change.level]++;
  return summary;
}

/** The one-line summary: `N breaking, N maybe-breaking, N non-breaking`. */
export function summaryLine(changes: readonly SpecChange[]): string {
  const s = summarize(changes);
  return `${s.breaking} breaking, ${s["maybe-breaking"]} maybe-breaking, ${s["non-breaking"]} non-breaking`;
}

const TAGS: Record<ChangeLevel, string> = { breaking: "ERR", "maybe-breaking": "WARN", "non-breaking": "INFO" };

const LEVELS: readonly ChangeLevel[] = ["breaking", "maybe-breaking", "non-breaking"];

/** Non-breaking changes of one rule in one operation listed before the rest are folded into a count. */
export const FOLD_NON_BREAKING_AFTER = 3;

/**
 * Renders changes for people: grouped by level (`== breaking (2) ==`, breaking first), then by
 * operation, one aligned line per change (`  ERR   rule-id  location  detail`), then the summary line.
 * Breaking and maybe-breaking changes are always listed one by one; past FOLD_NON_BREAKING_AFTER
 * non-breaking changes of one rule in one operation, the rest become one "and N more" line (a new
 * combined spec adds hundreds of security schemes at once; `--json` still lists every change).
 */
export function formatChanges(changes: readonly SpecChange[]): string {
  const lines: string[] = [];
  if (changes.length === 0) lines.push("no changes");
  // Folded, not spread: a spread of 100,000 arguments overflows the call.
  const changeWidth = changes.reduce((width, c) => Math.max(width, c.change.length), 0);
  const locationWidth = changes.reduce((width, c) => Math.max(width, c.location.length), 0);
  for (const level of LEVELS) {
    const atLevel = changes.filter((c) => c.level === level);
    if (atLevel.length === 0) continue;
    lines.push(`== ${level} (${atLevel.length}) ==`);
    const groups = new Map<string, SpecChange[]>();
    for (const change of atLevel) {
      // Appended in place: copying the group per change made 32,000 changes take 40 s.
      const group = groups.get(change.operation);
      if (group) group.push(change);
      else groups.set(change.operation, [change]);
    }
    for (const [operation, group] of groups) {
      lines.push(operation);
      const seen = new Map<string, number>();
      for (const c of group) {
        const n = (seen.get(c.change) ?? 0) + 1;
        seen.set(c.change, n);
        const folded = level === "non-breaking" && n > FOLD_NON_BREAKING_AFTER;
        if (!folded) lines.push(`  ${TAGS[c.level].padEnd(4)}  ${c.change.padEnd(changeWidth)}  ${c.location.padEnd(locationWidth)}  ${c.detail}`);
      }
      for (const [change, n] of seen) {
        if (level !== "non-breaking" || n <= FOLD_NON_BREAKING_AFTER) continue;
        const more = `and ${n - FOLD_NON_BREAKING_AFTER} more like this (spec:diff --json lists every one)`;
        lines.push(`  ${TAGS[level].padEnd(4)}  ${change.padEnd(changeWidth)}  ${"…".padEnd(locationWidth)}  ${more}`);
      }
    }
  }
  lines.push(summaryLine(changes));
  return lines.join("\n") + "\n";
}

/** Where `main` writes; tests pass their own. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const USAGE = "usage: spec-diff <old.json|yaml> <new.json|yaml> [--json] [--fail-on breaking|maybe-breaking]";

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { json?: boolean; "fail-on"?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        "fail-on": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`spec-diff: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const failOn = values["fail-on"];
  if (failOn !== undefined && failOn !== "breaking" && failOn !== "maybe-breaking") {
    io.err(`spec-diff: --fail-on must be "breaking" or "maybe-breaking", not ${show(failOn)}\n${USAGE}\n`);
    return 2;
  }
  const [oldFile, newFile] = positionals;
  if (oldFile === undefined || newFile === undefined || positionals.length !== 2) {
    io.err(`spec-diff: expected two spec files, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }
  const before = await loadSpec(oldFile);
  const after = await loadSpec(newFile);
  for (const loaded of [before, after]) {
    if ("error" in loaded) {
      io.err(`spec-diff: ${loaded.error}\n`);
      return 2;
    }
  }
  if (!("doc" in before) || !("doc" in after)) return 2;

  const changes = diffSpecs(before.doc, after.doc);
  if (values.json) {
    io.out(JSON.stringify({ changes, summary: summarize(changes) }, null, 2) + "\n");
  } else {
    io.out(formatChanges(changes));
  }
  const summary = summarize(changes);
  if (failOn === "breaking" && summary.breaking > 0) return 1;
  if (failOn === "maybe-breaking" && summary.breaking + summary["maybe-breaking"] > 0) return 1;
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`spec-diff: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
