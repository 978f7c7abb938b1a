/**
 * Compares two OpenAPI 3.0/3.1 specs (JSON or YAML) and reports what changed for consumers of a
 * generated client, classed like oasdiff: `breaking` (ERR), `maybe-breaking` (WARN), `non-breaking`
 * (INFO). This file is the entry and CLI; the rules live in `spec-diff/` by family, their levels
 * in one registry (`spec-diff/rules.ts`).
 *
 * Usage: `tsx scripts/spec-diff.ts <old> <new> [--json] [--fail-on breaking|maybe-breaking] [--as <name> [--spec-dir DIR]]`
 * `<old>` and `<new>` are files or http(s) URLs (downloaded by spec-fetch.ts: a time limit, a byte
 * cap, a few redirects, no credentials).
 * Exit codes: 0 done; 1 `--fail-on` threshold reached; 2 usage error or invalid input (a URL that
 * cannot be read included).
 *
 * `--as relay.json` reads both files as the spec set's `relay.json` (scripts/spec-set.ts): its
 * remembered selection applies to both sides, and the project's overlays for it are shown apart, in
 * a "project overlays" section (what each overlay changes on top of the new file), so the relay's
 * own changes are never mixed with the project's fixes. Servers other than the pinned base URL are
 * listed as maintainer decisions: the client's default base URL is pinned in src/options.ts.
 *
 * Operations are matched by method and path template without parameter names (as oasdiff matches
 * them): a renamed path parameter is one breaking change (`path-parameter-renamed`), and everything
 * else in the operation is still compared.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { compareRequestBody, compareResponses } from "./spec-diff/bodies.js";
import { asRecord, emitterFor, show, type ChangeLevel, type SpecChange } from "./spec-diff/core.js";
import { compareOperationLifecycle, operationRemovedRule } from "./spec-diff/deprecation.js";
import { loadSpec } from "./spec-diff/load.js";
import { compareOperationId, compareServers, label, operationsOf } from "./spec-diff/operations.js";
import { compareParameters } from "./spec-diff/parameters.js";
import { compareDocumentSecurity, compareOperationSecurity } from "./spec-diff/security.js";
import {
  applyOverlay,
  OVERLAY_DIR,
  parseOverlay,
  parseSpecSetConfig,
  selectOperations,
  SPEC_SET_FILE,
  type ActionEffect,
  type Overlay,
  type Selection,
} from "./spec-set.js";
import { DEFAULT_BASE_URL } from "../src/options.js";

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

/** Rules about `servers`: the generated client no longer takes its base URL from a spec, so these are maintainer decisions, not API changes. */
export const SERVER_RULES: ReadonlySet<string> = new Set(["default-server-changed", "server-added", "server-removed"]);

/** `changes` without the server rules (see `serverDecisions` for what replaces them). */
export function withoutServerChanges(changes: readonly SpecChange[]): SpecChange[] {
  return changes.filter((c) => !SERVER_RULES.has(c.change));
}

/**
 * Each server of `doc` that is not the pinned base URL (DEFAULT_BASE_URL, src/options.ts), as one
 * line naming `file`: reported for the maintainer to decide on, never applied.
 */
export function serverDecisions(doc: object, file: string): string[] {
  const servers = (doc as { servers?: unknown }).servers;
  const lines: string[] = [];
  (Array.isArray(servers) ? servers : []).forEach((server: unknown, i) => {
    const url = server !== null && typeof server === "object" ? (server as { url?: unknown }).url : undefined;
    if (typeof url !== "string" || url.replace(/\/+$/, "") === DEFAULT_BASE_URL) return;
    lines.push(
      `${file}#/servers/${i}/url: ${show(url)} is not the pinned base URL ${show(DEFAULT_BASE_URL)}: not applied ` +
        "(a client sends its key there only when given baseUrl or XIEXUS_BASE_URL; to move the default, change DEFAULT_BASE_URL in src/options.ts)",
    );
  });
  return lines;
}

/** What one overlay changes on top of the spec it extends: its actions' matches and the API changes they make. */
export interface OverlayEffect {
  overlay: string;
  actions: ActionEffect[];
  changes: SpecChange[];
}

/**
 * The effect of each overlay on `published`, one after the other in the order given, each diffed
 * against the document before it (both after `selection`, when given): the project's changes,
 * apart from the relay's. Throws, naming the overlay and action, when a target matches nothing.
 */
export function overlayEffects(published: object, overlays: readonly Overlay[], selection?: Selection, where = "selection"): OverlayEffect[] {
  const view = (doc: Record<string, unknown>): object => (selection ? selectOperations(doc, selection, where) : doc);
  let before = structuredClone(published) as Record<string, unknown>;
  const effects: OverlayEffect[] = [];
  for (const overlay of overlays) {
    const after = structuredClone(before);
    const actions = applyOverlay(after, overlay);
    effects.push({ overlay: overlay.file, actions, changes: withoutServerChanges(diffSpecs(view(before), view(after))) });
    before = after;
  }
  return effects;
}

/** The "project overlays" section: per overlay, each action and what it matched, then its changes as `formatChanges` lists them. */
export function formatOverlayEffects(effects: readonly OverlayEffect[]): string {
  if (effects.length === 0) return "project overlays: none\n";
  const lines = [`project overlays (${effects.length}), applied on top of the relay's file; their changes, apart from the relay's:`];
  for (const effect of effects) {
    lines.push(`-- ${effect.overlay} --`);
    for (const action of effect.actions) {
      const what = action.description ? ` (${action.description})` : "";
      lines.push(`  action ${action.action}${what}: ${action.target} matched ${action.matched}`);
    }
    lines.push(...formatChanges(effect.changes).trimEnd().split("\n").map((line) => `  ${line}`));
  }
  return lines.join("\n") + "\n";
}

/** An overlay action that no longer applies to a spec (its target matches nothing, or it fails): the overlay, or the action, must go. */
export interface StaleOverlayAction {
  overlay: string;
  /** 1-based, as in the overlay file. */
  action: number;
  description?: string;
  target: string;
  /** Why, in one line. */
  reason: string;
}

/**
 * `published` with `overlays` applied to a copy, action by action, each action that fails skipped
 * and listed instead of stopping the rest: what a check needs to show every stale action at once
 * (generation stops at the first).
 */
export function applyOverlaysTolerant(published: object, overlays: readonly Overlay[]): { doc: Record<string, unknown>; stale: StaleOverlayAction[] } {
  let doc = structuredClone(published) as Record<string, unknown>;
  const stale: StaleOverlayAction[] = [];
  for (const overlay of overlays) {
    overlay.actions.forEach((action, i) => {
      // One action at a time on a scratch copy, so a failure halfway leaves `doc` as it was.
      const scratch = structuredClone(doc);
      try {
        applyOverlay(scratch, { ...overlay, actions: [action] });
      } catch (error) {
        const raw = error instanceof Error ? error.message : String(error);
        // applyOverlay names the action as the first of a one-action overlay: that prefix is ours to write.
        const prefix = `${overlay.file} action 1${action.description ? ` (${action.description})` : ""}: `;
        const message = (raw.startsWith(prefix) ? raw.slice(prefix.length) : raw).replace(/\s+/g, " ");
        const reason = / matches nothing in /.test(message)
          ? `target ${JSON.stringify(action.target)} matches nothing: the spec no longer has what this action fixes (the relay fixed it?); delete the action, or the overlay`
          : message;
        stale.push({ overlay: overlay.file, action: i + 1, ...(action.description === undefined ? {} : { description: action.description }), target: action.target, reason });
        return;
      }
      doc = scratch;
    });
  }
  return { doc, stale };
}

/** One line per stale action: `openapi/overlays/x.json action 1 (what it does): why`. */
export function formatStaleActions(stale: readonly StaleOverlayAction[]): string[] {
  return stale.map((s) => `${s.overlay} action ${s.action}${s.description ? ` (${s.description})` : ""}: ${s.reason}`);
}

/** The selection and overlays the spec set in `specDir` remembers for spec file `name`. */
export async function specSetView(specDir: string, name: string): Promise<{ selection?: Selection; overlays: Overlay[]; where: string }> {
  const shown = path.basename(specDir);
  const where = `${shown}/${SPEC_SET_FILE}`;
  const configText = await readFile(path.join(specDir, SPEC_SET_FILE), "utf8").catch(() => undefined);
  const selection = configText === undefined ? undefined : parseSpecSetConfig(where, configText).select[name];
  const { readdir } = await import("node:fs/promises");
  const names = (await readdir(path.join(specDir, OVERLAY_DIR)).catch(() => [] as string[])).filter((f) => /\.(json|ya?ml)$/i.test(f) && !f.startsWith(".")).sort();
  const overlays: Overlay[] = [];
  for (const file of names) {
    const overlay = parseOverlay(`${shown}/${OVERLAY_DIR}/${file}`, await readFile(path.join(specDir, OVERLAY_DIR, file), "utf8"), shown);
    if (overlay.spec === name) overlays.push(overlay);
  }
  return { selection, overlays, where: `${where}#/select/${name}` };
}

/** Where `main` writes; tests pass their own. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** The process's own stdout and stderr. */
export const defaultOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const USAGE = "usage: spec-diff <old.json|yaml|url> <new.json|yaml|url> [--json] [--fail-on breaking|maybe-breaking] [--as <spec file name> [--spec-dir DIR]]";

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { json?: boolean; "fail-on"?: string; help?: boolean; as?: string; "spec-dir": string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        "fail-on": { type: "string" },
        as: { type: "string" },
        "spec-dir": { type: "string", default: "openapi" },
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

  if (values.as !== undefined) return asSpecSetMember(before.doc, after.doc, newFile, values.as, values["spec-dir"], values, io);
  const changes = diffSpecs(before.doc, after.doc);
  if (values.json) {
    io.out(JSON.stringify({ changes, summary: summarize(changes) }, null, 2) + "\n");
  } else {
    io.out(formatChanges(changes));
  }
  return exitFor(summarize(changes), failOn);
}

function exitFor(summary: ChangeSummary, failOn: string | undefined): number {
  if (failOn === "breaking" && summary.breaking > 0) return 1;
  if (failOn === "maybe-breaking" && summary.breaking + summary["maybe-breaking"] > 0) return 1;
  return 0;
}

/** `--as`: both sides through the remembered selection, the overlays apart, the servers as decisions; `--fail-on` counts the relay's changes and the overlays' alike. */
async function asSpecSetMember(
  oldDoc: object,
  newDoc: object,
  newFile: string,
  name: string,
  specDir: string,
  values: { json?: boolean; "fail-on"?: string },
  io: Output,
): Promise<number> {
  let changes: SpecChange[];
  let effects: OverlayEffect[];
  let selection: Selection | undefined;
  try {
    const view = await specSetView(specDir, name);
    selection = view.selection;
    const select = (doc: object, strict: boolean): object => (selection ? selectOperations(doc as Record<string, unknown>, selection, view.where, strict) : doc);
    changes = withoutServerChanges(diffSpecs(select(oldDoc, false), select(newDoc, true)));
    effects = overlayEffects(newDoc, view.overlays, selection, view.where);
  } catch (error) {
    io.err(`spec-diff: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const decisions = serverDecisions(newDoc, newFile);
  const all = [...changes, ...effects.flatMap((e) => e.changes)];
  if (values.json) {
    io.out(JSON.stringify({ changes, summary: summarize(changes), overlays: effects, decisions }, null, 2) + "\n");
  } else {
    io.out(selection ? `the relay's changes, as spec set member ${name} (operations selected):\n` : `the relay's changes, as spec set member ${name}:\n`);
    io.out(formatChanges(changes));
    io.out(formatOverlayEffects(effects));
    io.out(decisions.length ? `maintainer decisions (not applied):\n${decisions.map((d) => `  ${d}\n`).join("")}` : "");
  }
  return exitFor(summarize(all), values["fail-on"]);
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
