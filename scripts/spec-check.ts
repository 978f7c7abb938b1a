/**
 * Tells whether a published spec changes what the package is made from, without writing a file.
 *
 * Usage: `tsx scripts/spec-check.ts <file|url> [--name <name>] [--spec-dir DIR] [--json | --markdown]`
 *
 * The published spec (a file, or an http(s) URL read by spec-fetch.ts under its limits) is read as
 * `openapi/<name>.json` would be (`--name`, default the source's last path segment): through the
 * project's overlays (`openapi/overlays/`) and the remembered selection (`openapi/spec-set.json`),
 * and compared with `openapi/<name>.json` read the same way.
 *
 * Exit codes:
 * - 0: nothing the package is made from changed (the same bytes, or a file that differs only
 *   outside it: operations not selected, `info`, `servers`, `tags`);
 * - 1: it changed. Printed: the relay's changes per operation (spec:diff's classes), each overlay
 *   action that no longer applies (the relay fixed the defect: the overlay must go), each selection
 *   entry that matches nothing, what the package's users see with the overlays applied, and last
 *   the version bump that implies, as `bump: major|minor|patch` (scripts/spec-changelog.ts);
 * - 2: it could not tell: the source cannot be read (unreachable, not 2xx, over the byte cap, too
 *   slow), is not an OpenAPI 3.x document, `openapi/<name>.json` does not exist, or a usage error.
 *
 * `--json` prints the same as one object; `--markdown` prints it as a pull request body (the words
 * of the CHANGELOG entry, then the raw diff), which the spec-watch workflow uses. Nothing is ever
 * written: the output goes to stdout and stderr only.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import { changeBullets, impliedBump, mdCode, mdLine, VERSIONING_RULE, type Bump } from "./spec-changelog.js";
import {
  defaultOutput,
  type Output,
  applyOverlaysTolerant,
  diffSpecs,
  formatChanges,
  formatStaleActions,
  serverDecisions,
  specSetView,
  summarize,
  summaryLine,
  withoutServerChanges,
  type ChangeLevel,
  type SpecChange,
  type StaleOverlayAction,
} from "./spec-diff.js";
import { sameJson } from "./spec-diff/core.js";
import { parseSpecText, REMOTE_MAX_ALIAS_COUNT } from "./spec-diff/load.js";
import { isUrl, readSpecSource, SpecReadError, sourceBaseName } from "./spec-fetch.js";
import { describeSelection, selectOperations, SPEC_SET_FILE, type Selection } from "./spec-set.js";
import type { JsonObject } from "./spec-normalize.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const USAGE = "usage: spec-check <file|url> [--name <name>] [--spec-dir DIR] [--json | --markdown]";


/** What a check found; `--json` prints it as is. */
export interface CheckResult {
  source: string;
  /** The spec file it is compared with, as shown (`openapi/relay.json`). */
  spec: string;
  changed: boolean;
  /** The bump the change implies; null when nothing changed. */
  bump: Bump | null;
  /** The relay's own changes, through the selection, overlays not applied. */
  relayChanges: SpecChange[];
  /** What the package's users see: both sides with the overlays applied, through the selection. */
  changes: SpecChange[];
  staleOverlayActions: StaleOverlayAction[];
  /** Selection entries that match no operation of the new spec. */
  selectionProblems: string[];
  /** Servers other than the pinned base URL: reported, never applied. */
  decisions: string[];
  /** Whether the file differs from the stored one at all (it may, outside what the package is made from). */
  bytesDiffer: boolean;
}

/** The parts of a document the package is not made from: a change there alone changes nothing. */
const OUTSIDE = ["info", "servers", "tags", "externalDocs"];

function inside(doc: JsonObject): JsonObject {
  const out = { ...doc };
  for (const key of OUTSIDE) delete out[key];
  return out;
}

/** Each selection entry that matches no operation of `doc`, as one line. */
function selectionProblems(doc: JsonObject, selection: Selection | undefined, where: string): string[] {
  const problems: string[] = [];
  for (const key of ["pathPrefixes", "tags", "operationIds"] as const) {
    for (const value of selection?.[key] ?? []) {
      try {
        selectOperations(doc, { [key]: [value] }, where, true);
      } catch (error) {
        problems.push((error instanceof Error ? error.message : String(error)).replace(/\s+/g, " "));
      }
    }
  }
  return problems;
}

/** Compares `newDoc` (published) with `oldDoc` (stored) as spec file `name` of the spec set in `specDir`. */
export async function checkSpec(source: string, name: string, specDir: string, oldDoc: JsonObject, newDoc: JsonObject, bytesDiffer: boolean, version: string): Promise<CheckResult> {
  const view = await specSetView(specDir, name);
  const select = (doc: JsonObject): JsonObject => (view.selection ? selectOperations(doc, view.selection, view.where, false) : doc);
  // The stored side generated cleanly (generate:check), so its overlays all apply; tolerant anyway, so a stale openapi/ still gets an answer.
  const oldOverlaid = applyOverlaysTolerant(oldDoc, view.overlays).doc as JsonObject;
  const newOverlaid = applyOverlaysTolerant(newDoc, view.overlays);
  const relayChanges = withoutServerChanges(diffSpecs(select(oldDoc), select(newDoc)));
  const before = select(oldOverlaid);
  const after = select(newOverlaid.doc as JsonObject);
  const changes = withoutServerChanges(diffSpecs(before, after));
  const problems = selectionProblems(newOverlaid.doc as JsonObject, view.selection, view.where);
  const changed = newOverlaid.stale.length > 0 || problems.length > 0 || changes.length > 0 || !sameJson(inside(before), inside(after));
  return {
    source,
    spec: path.posix.join(path.basename(specDir), name),
    changed,
    bump: changed ? impliedBump(version, changes) : null,
    relayChanges,
    changes,
    staleOverlayActions: newOverlaid.stale,
    selectionProblems: problems,
    decisions: serverDecisions(newDoc, source),
    bytesDiffer,
  };
}

/** Relay text on a terminal: control characters and bidi overrides shown as `?`, so a spec cannot forge lines. */
function plain(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "?");
}

/** The human report; its last line is `bump: <word>` when something changed. */
export function formatText(result: CheckResult, selection: string | undefined): string {
  const lines = [`spec:check ${result.source} against ${result.spec}${selection ? ` (operations selected: ${selection})` : ""}`];
  if (!result.changed) {
    lines.push(
      result.bytesDiffer
        ? `no change: the published file differs from ${result.spec} only outside what the package is made from (operations not selected, info, servers, tags); nothing to take`
        : `no change: the published file is ${result.spec}, byte for byte`,
    );
    for (const d of result.decisions) lines.push(`maintainer decision (not applied): ${d}`);
    return plain(lines.join("\n") + "\n");
  }
  lines.push("the relay's changes (selected operations, overlays not applied):");
  lines.push(formatChanges(result.relayChanges).trimEnd());
  if (result.staleOverlayActions.length) {
    lines.push("overlay actions that no longer apply (the relay fixed what they fix: delete them, or the overlay):");
    lines.push(...formatStaleActions(result.staleOverlayActions).map((l) => `  ${l}`));
  }
  if (result.selectionProblems.length) {
    lines.push("selection entries that match nothing (fix or remove them):");
    lines.push(...result.selectionProblems.map((l) => `  ${l}`));
  }
  const same = JSON.stringify(result.changes) === JSON.stringify(result.relayChanges);
  lines.push(`for the package's users (the project's overlays applied): ${same ? `the same (${summaryLine(result.changes)})` : ""}`.trimEnd());
  if (!same) lines.push(formatChanges(result.changes).trimEnd());
  if (result.changes.length === 0) lines.push("no operation changes: descriptions or examples only, or an overlay that must go");
  if (result.decisions.length) lines.push("maintainer decisions (not applied):", ...result.decisions.map((d) => `  ${d}`));
  lines.push(`next: npm run spec:update -- ${result.source} --name ${path.posix.basename(result.spec, ".json")}`);
  lines.push(`versioning rule: ${VERSIONING_RULE}`);
  lines.push(`bump: ${result.bump}`);
  return plain(lines.join("\n") + "\n");
}

/** GitHub refuses a pull request body past 65,536 characters. */
const MARKDOWN_LIMIT = 60_000;

/** A fenced block that `text` cannot close early, whatever backticks it holds. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text.split("\n").map((line) => mdLine(line).trimEnd()).join("\n")}\n${fence}`;
}

/** The report as a pull request body: the bump, the changes in words, then the raw diff. */
export function formatMarkdown(result: CheckResult, selection: string | undefined): string {
  const source = isUrl(result.source) ? `<${mdLine(result.source).replace(/[<>\s]/g, encodeURIComponent)}>` : mdCode(result.source);
  const lines = [`## ${mdCode(result.spec)}: the published spec changed`, ""];
  if (!result.changed) return `${lines.join("\n")}No change: nothing the package is made from differs.\n`;
  lines.push(`Checked by \`npm run spec:check\` against ${source}${selection ? ` (operations selected: ${mdLine(selection)})` : ""}.`, "");
  lines.push(`**Version bump: ${result.bump}** (${VERSIONING_RULE}).`, "");
  lines.push(`For the package's users (the project's overlays applied): ${summaryLine(result.changes)}.`);
  const levels: Array<[ChangeLevel, string]> = [["breaking", "Breaking"], ["maybe-breaking", "May break"], ["non-breaking", "Other changes"]];
  for (const [level, title] of levels) {
    const list = result.changes.filter((c) => c.level === level);
    if (list.length) lines.push("", `### ${title}`, "", ...changeBullets(list));
  }
  if (result.staleOverlayActions.length) {
    lines.push("", "### Overlay actions that no longer apply", "", "The relay fixed what they fix: delete them (or the overlay) in this pull request.", "");
    lines.push(...formatStaleActions(result.staleOverlayActions).map((l) => `- ${mdLine(l)}`));
  }
  if (result.selectionProblems.length) {
    lines.push("", "### Selection entries that match nothing", "", ...result.selectionProblems.map((l) => `- ${mdLine(l)}`));
  }
  if (result.decisions.length) lines.push("", "### Maintainer decisions (not applied)", "", ...result.decisions.map((d) => `- ${mdLine(d)}`));
  const head = lines.join("\n");
  let diff = formatChanges(result.relayChanges);
  const room = MARKDOWN_LIMIT - head.length - 400;
  if (diff.length > room) diff = `${diff.slice(0, Math.max(0, room))}\n… cut here: run npm run spec:diff for the rest`;
  return `${head}\n\n<details><summary>The relay's changes as <code>spec:diff</code> classes them</summary>\n\n${fenced(diff.trimEnd())}\n\n</details>\n`;
}

async function packageVersion(): Promise<string> {
  const text = await readFile(path.join(ROOT, "package.json"), "utf8").catch(() => "{}");
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === "string" ? version : "0.0.0";
}

/**
 * The spec file `--name` (or the source's last path segment) means: `relay`, `relay.json` and
 * `relay.yaml` all mean `relay.json`, as spec:update stores it. Not spec:update's own function:
 * that module loads the code generator, seconds of start-up a check does not need.
 */
export function specFileName(source: string, name?: string): string {
  const raw = name ?? sourceBaseName(source);
  if (raw === "" || path.basename(raw) !== raw || raw.startsWith(".")) {
    throw new Error(name === undefined ? `${source} names no spec file; pass --name` : `--name takes a file name without directories (got ${JSON.stringify(name)})`);
  }
  const file = `${raw.replace(/\.(json|ya?ml)$/i, "")}.json`;
  if (file === SPEC_SET_FILE) throw new Error(`${SPEC_SET_FILE} holds the remembered selection, not a spec; pass --name`);
  return file;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code (0 same, 1 changed, 2 could not tell). */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { name?: string; "spec-dir": string; json?: boolean; markdown?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        name: { type: "string" },
        "spec-dir": { type: "string", default: "openapi" },
        json: { type: "boolean" },
        markdown: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`spec-check: ${oneLine(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const [source] = positionals;
  if (source === undefined || positionals.length !== 1 || (values.json && values.markdown)) {
    io.err(`spec-check: expected one spec file or URL${values.json && values.markdown ? ", and one of --json or --markdown" : ""}\n${USAGE}\n`);
    return 2;
  }
  const specDir = values["spec-dir"];
  let name: string;
  try {
    name = specFileName(source, values.name);
  } catch (error) {
    io.err(`spec-check: ${oneLine(error)}\n`);
    return 2;
  }
  const stored = path.join(specDir, name);
  const shown = path.posix.join(path.basename(specDir), name);
  let storedBytes: Buffer;
  try {
    storedBytes = await readFile(stored);
  } catch {
    io.err(`spec-check: could not tell: there is no ${shown} to compare with (--name names a spec in ${specDir}/, e.g. --name relay)\n`);
    return 2;
  }
  let bytes: Buffer;
  try {
    bytes = (await readSpecSource(source)).bytes;
  } catch (error) {
    io.err(`spec-check: could not tell: ${error instanceof SpecReadError ? error.message : oneLine(error)}\n`);
    return 2;
  }
  let newDoc: JsonObject;
  let oldDoc: JsonObject;
  try {
    newDoc = parseSpecText(source, bytes.toString("utf8"), isUrl(source) ? { maxAliasCount: REMOTE_MAX_ALIAS_COUNT } : {});
  } catch (error) {
    io.err(`spec-check: could not tell: ${oneLine(error)}\n`);
    return 2;
  }
  let result: CheckResult;
  let selection: string | undefined;
  try {
    oldDoc = parseSpecText(shown, storedBytes.toString("utf8"));
    const view = await specSetView(specDir, name);
    selection = view.selection ? describeSelection(view.selection) : undefined;
    result = await checkSpec(source, name, specDir, oldDoc, newDoc, !bytes.equals(storedBytes), await packageVersion());
  } catch (error) {
    io.err(`spec-check: could not tell: ${oneLine(error)}\n`);
    return 2;
  }
  if (values.json) io.out(`${JSON.stringify({ ...result, summary: summarize(result.changes) }, null, 2)}\n`);
  else if (values.markdown) io.out(formatMarkdown(result, selection));
  else io.out(formatText(result, selection));
  return result.changed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`spec-check: could not tell: ${oneLine(error)}`);
      process.exitCode = 2;
    },
  );
}
