/**
 * What a spec change means for the package's users: the version bump it implies, and the
 * CHANGELOG entry spec:update writes, in words ("the answer may now include `progress`"), not
 * JSON pointers or rule ids.
 *
 * The versioning rule (docs/spec-watch.md), read from the change levels spec:diff gives:
 * - from 1.0.0: a breaking change bumps the major version, any other API change the minor one, a
 *   change that touches no operation (descriptions, an overlay that must go) the patch one;
 * - in 0.x, one place lower, as npm's caret ranges read 0.x (`^0.1.0` takes 0.1.x, never 0.2.0):
 *   a breaking change bumps the minor version, anything else the patch one. So a consumer on
 *   `^0.y.z` never receives a breaking spec change unasked. Maybe-breaking changes are called out
 *   in their own heading of the entry either way.
 */
import { RULES, type ChangeLevel, type SpecChange } from "./spec-diff.js";

/** A semver bump, as one word. */
export type Bump = "major" | "minor" | "patch";

/** The versioning rule in one line, for command output. */
export const VERSIONING_RULE = "0.x: a breaking change bumps the minor version, anything else the patch; from 1.0.0: breaking -> major, other API changes -> minor, the rest -> patch";

/** The bump `changes` (consumer-visible spec changes, possibly none) imply for a package now at `version`. */
export function impliedBump(version: string, changes: ReadonlyArray<{ level: ChangeLevel }>): Bump {
  const major = Number.parseInt(version.split(".")[0] ?? "0", 10);
  const breaking = changes.some((c) => c.level === "breaking");
  if (!(major >= 1)) return breaking ? "minor" : "patch";
  if (breaking) return "major";
  return changes.length > 0 ? "minor" : "patch";
}

/** Characters that would let spec text break a Markdown line or hide what it says. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` as one Markdown code span, whatever backticks or control characters it holds. */
export function mdCode(text: string): string {
  const clean = text.replace(UNSAFE, " ");
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = clean.startsWith("`") || clean.endsWith("`") ? " " : "";
  return `${fence}${pad}${clean}${pad}${fence}`;
}

/** `text` safe on one Markdown line (control characters and bidi overrides become spaces). */
export function mdLine(text: string): string {
  return text.replace(UNSAFE, " ");
}

/** The CHANGELOG's line width: its hand-written entries wrap at 100 columns. */
const WIDTH = 100;

/**
 * `line` wrapped at WIDTH, breaking only at spaces outside code spans and links (a break inside a
 * code span would read as a space in it); continuation lines indented by `indent`.
 */
export function wrap(text: string, indent = ""): string[] {
  // A nested bullet's own indent is kept: only the spaces after it are break points.
  const lead = /^ */.exec(text)![0];
  const line = text.slice(lead.length);
  const atoms: string[] = [];
  let current = lead;
  for (let i = 0; i < line.length; ) {
    if (line[i] === "`") {
      const fence = /^`+/.exec(line.slice(i))![0];
      const close = line.indexOf(fence, i + fence.length);
      const end = close === -1 ? i + fence.length : close + fence.length;
      current += line.slice(i, end);
      i = end;
    } else if (line[i] === " ") {
      if (current.trim() !== "") atoms.push(current);
      current = "";
      i++;
    } else {
      current += line[i];
      i++;
    }
  }
  if (current !== "") atoms.push(current);
  const out: string[] = [];
  let filled = "";
  for (const atom of atoms) {
    if (filled !== "" && filled.length + 1 + atom.length > WIDTH) {
      out.push(filled);
      filled = indent + atom;
    } else {
      filled = filled === "" ? atom : `${filled} ${atom}`;
    }
  }
  if (filled !== "") out.push(filled);
  return out;
}

/** Where in an operation a change is, read back from spec:diff's location. */
interface Place {
  /** The subject in words: "the answer's `status`", "the request body", "the `limit` query parameter". */
  subject: string;
  /** The property path (`error.code`), when the change is about one. */
  field?: string;
  /** The response status, for response changes. */
  status?: string;
}

const SUBJECT_PREFIXES = ["request-parameter-property", "request-parameter", "request-body", "request-property", "response-body", "response-property", "response-header"];

function answer(status: string | undefined): string {
  return status === undefined || /^2/.test(status) ? "the answer" : `the ${mdCode(status)} answer`;
}

function placeOf(location: string): Place {
  let m = /^response (\S+) \S+ body(?:\.(.+)|(\[\].*))?$/.exec(location);
  if (m) {
    const field = m[2] ?? (m[3] ? `[]${m[3].slice(2)}` : undefined);
    return field === undefined ? { subject: answer(m[1]), status: m[1]! } : { subject: `${answer(m[1])}'s ${mdCode(field)}`, field, status: m[1]! };
  }
  m = /^response (\S+) header (\S+)$/.exec(location);
  if (m) return { subject: `the ${mdCode(m[2]!)} header of ${answer(m[1])}`, status: m[1]! };
  m = /^response (\S+)/.exec(location);
  if (m) return { subject: answer(m[1]), status: m[1]! };
  m = /^request \S+ body(?:\.(.+)|(\[\].*))?$/.exec(location);
  if (m) {
    const field = m[1] ?? (m[2] ? `[]${m[2].slice(2)}` : undefined);
    return field === undefined ? { subject: "the request body" } : { subject: `the request's ${mdCode(field)}`, field };
  }
  m = /^parameter ([a-z]+)\.([^.[]+)(?:\.(.+))?$/.exec(location);
  if (m) {
    const param = `the ${mdCode(m[2]!)} ${m[1]} parameter`;
    return m[3] === undefined ? { subject: param } : { subject: `${mdCode(m[3])} in ${param}`, field: m[3] };
  }
  if (location.startsWith("request")) return { subject: "the request body" };
  return { subject: location === "operation" ? "the operation" : mdCode(location) };
}

/** "integer|string" -> "an integer or a string". */
function typeWords(types: string): string {
  const one = (t: string): string => (t === "null" ? "null" : `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`);
  const list = types.split("|").map(one);
  return list.length <= 1 ? (list[0] ?? types) : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

/** The value a detail names (`enum value "cancelled" added` -> `"cancelled"`). */
function valueOf(detail: string, pattern: RegExp): string {
  const m = pattern.exec(detail);
  return mdCode(m?.[1] ?? detail);
}

/** One change in words a user of the package understands, without the operation (the entry names it). */
export function describeChange(change: SpecChange): string {
  const { change: rule, detail } = change;
  const place = placeOf(change.location);
  const s = place.subject;
  const f = place.field === undefined ? s : mdCode(place.field);
  const response = RULES[rule]?.direction === "response";
  const param = /parameter ([a-z]+)\.(\S+)/.exec(change.location);
  const paramWords = param ? `the ${mdCode(param[2]!)} ${param[1]} parameter` : s;
  switch (rule) {
    case "operation-added":
      return "new operation";
    case "operation-removed":
      return "removed: code calling it stops compiling";
    case "webhook-added":
      return "new webhook";
    case "webhook-removed":
      return "webhook removed";
    case "endpoint-deprecated":
      return "deprecated: plan to stop calling it";
    case "endpoint-reactivated":
      return "no longer deprecated";
    case "operation-id-changed": {
      const m = /from (\S+) to (\S+)$/.exec(detail);
      return m ? `its operationId changed from ${mdCode(m[1]!)} to ${mdCode(m[2]!)}: code naming \`operations[...]\` by the old one stops compiling` : mdLine(detail);
    }
    case "response-optional-property-added":
      return `${answer(place.status)} may now include ${f}`;
    case "response-required-property-added":
      return `${answer(place.status)} now always includes ${f}`;
    case "response-property-removed":
      return `${answer(place.status)} no longer includes ${f}: code reading it stops compiling`;
    case "response-property-became-optional":
      return `${f} may now be missing from ${answer(place.status)}`;
    case "response-property-became-required":
      return `${f} is now always in ${answer(place.status)}`;
    case "new-optional-request-property":
      return `a request may now send ${f}`;
    case "new-required-request-property":
      return `a request must now send ${f}: calls without it are refused`;
    case "request-property-removed":
      return `a request can no longer send ${f}`;
    case "request-property-became-required":
      return `a request must now send ${f} (it was optional)`;
    case "request-property-became-optional":
      return `a request may now leave out ${f}`;
    case "new-optional-request-parameter":
      return `a call may now pass ${paramWords}`;
    case "new-required-request-parameter":
    case "new-request-path-parameter":
      return `a call must now pass ${paramWords}`;
    case "request-parameter-removed":
      return `${paramWords} is gone`;
    case "request-parameter-became-required":
      return `a call must now pass ${paramWords} (it was optional)`;
    case "request-parameter-became-optional":
      return `a call may now leave out ${paramWords}`;
    case "request-parameter-deprecated":
      return `${paramWords} is deprecated`;
    case "response-success-status-added":
      return `may now answer with status ${mdCode(place.status ?? "?")}: \`data\` becomes a union with its body`;
    case "response-non-success-status-added":
      return `may now answer with error status ${mdCode(place.status ?? "?")}`;
    case "response-success-status-removed":
    case "response-non-success-status-removed":
      return `no longer answers with status ${mdCode(place.status ?? "?")}`;
    case "request-body-added-required":
      return "a call must now send a request body";
    case "request-body-added-optional":
      return "a call may now send a request body";
    case "request-body-removed":
      return "a call can no longer send a request body";
  }
  const prefix = SUBJECT_PREFIXES.find((p) => rule.startsWith(`${p}-`));
  const suffix = prefix ? rule.slice(prefix.length + 1) : rule;
  const types = /from (.+) to (.+)$/.exec(detail);
  switch (suffix) {
    case "enum-value-added":
      return response ? `${s} may now be ${valueOf(detail, /enum value (.+) added/)}` : `${s} now accepts ${valueOf(detail, /enum value (.+) added/)}`;
    case "enum-value-removed":
      return response ? `${s} is no longer ${valueOf(detail, /enum value (.+) removed/)}` : `${s} no longer accepts ${valueOf(detail, /enum value (.+) removed/)}`;
    case "type-generalized":
      if (types) return response ? `${s} may now be ${typeWords(types[2]!)} (it was ${typeWords(types[1]!)})` : `${s} now accepts ${typeWords(types[2]!)} (it took ${typeWords(types[1]!)})`;
      break;
    case "type-specialized":
      if (types) return response ? `${s} is now only ${typeWords(types[2]!)} (it was ${typeWords(types[1]!)})` : `${s} now accepts only ${typeWords(types[2]!)} (it took ${typeWords(types[1]!)})`;
      break;
    case "type-changed":
      if (types) return `${s} is now ${typeWords(types[2]!)} (it was ${typeWords(types[1]!)})`;
      break;
    case "became-nullable":
      return response ? `${s} may now be null` : `${s} now accepts null`;
    case "became-not-nullable":
      return response ? `${s} is never null any more` : `${s} no longer accepts null`;
    case "deprecated":
      return `${s} is deprecated`;
  }
  return `${s}: ${mdLine(detail)}`;
}

/** `GET /path (opId)` -> "`opId` (`GET /path`)"; document-wide changes -> "The whole API". */
function operationWords(change: SpecChange): string {
  if (change.operation === "(document)") return "The whole API";
  const route = `${change.method.toUpperCase()} ${change.path}`;
  const id = /\(([^()]*)\)$/.exec(change.operation)?.[1];
  return id ? `${mdCode(id)} (${mdCode(route)})` : mdCode(route);
}

/** Non-breaking changes of one rule in one operation listed before the rest are counted, as spec:diff folds them. */
const FOLD_AFTER = 3;

/** Markdown bullets for `changes`, one per operation (its changes nested when several). */
export function changeBullets(changes: readonly SpecChange[]): string[] {
  const byOperation = new Map<string, SpecChange[]>();
  for (const change of changes) {
    const list = byOperation.get(change.operation);
    if (list) list.push(change);
    else byOperation.set(change.operation, [change]);
  }
  const lines: string[] = [];
  for (const list of byOperation.values()) {
    const seen = new Map<string, number>();
    const words: string[] = [];
    for (const change of list) {
      const n = (seen.get(change.change) ?? 0) + 1;
      seen.set(change.change, n);
      if (change.level !== "non-breaking" || n <= FOLD_AFTER) words.push(describeChange(change));
    }
    for (const [rule, n] of seen) {
      if (n > FOLD_AFTER && list.some((c) => c.change === rule && c.level === "non-breaking")) words.push(`and ${n - FOLD_AFTER} more like the above (\`npm run spec:diff -- --json\` lists each)`);
    }
    const head = operationWords(list[0]!);
    if (words.length === 1) lines.push(...wrap(`- ${head}: ${words[0]}`, "  "));
    else lines.push(...wrap(`- ${head}:`, "  "), ...words.flatMap((w) => wrap(`  - ${w}`, "    ")));
  }
  return lines;
}

/** What one spec update changed, for its CHANGELOG entry. */
export interface SpecUpdateSummary {
  /** The spec file in `openapi/` (`relay.json`). */
  spec: string;
  /** Where it came from, as given: a path or a URL. */
  source: string;
  /** `YYYY-MM-DD`. */
  date: string;
  /** Whether the spec file is new in `openapi/`. */
  added: boolean;
  /** Spec files it superseded (removed). */
  superseded: readonly string[];
  /** The changes the package's users see (the project's overlays applied, the selection kept). */
  changes: readonly SpecChange[];
  /** The package's version before the change, for the bump. */
  version: string;
}

/** The entry spec:update adds under `## [Unreleased]`: a `###` heading naming the spec and date, then the changes by level. */
export function changelogEntry(summary: SpecUpdateSummary): string {
  const bump = impliedBump(summary.version, summary.changes);
  const from = /^[a-z][a-z0-9+.-]*:\/\//i.test(summary.source) ? `<${mdLine(summary.source).replace(/[<>\s]/g, encodeURIComponent)}>` : mdCode(summary.source);
  const verb = summary.added ? "added" : "updated";
  const lines = [`### Spec ${verb}: ${mdCode(summary.spec)} (${summary.date})`, ""];
  const supersedes = summary.superseded.length ? `, superseding ${summary.superseded.map(mdCode).join(", ")}` : "";
  const rule = summary.version.startsWith("0.") ? "0.x: breaking changes bump the minor version" : "breaking changes bump the major version";
  lines.push(...wrap(`Taken from ${from} by \`npm run spec:update\`${supersedes}. Implies a **${bump}** release (${rule}).`));
  const at = (level: ChangeLevel) => summary.changes.filter((c) => c.level === level);
  const sections: Array<[string, SpecChange[]]> = [
    ["Breaking", at("breaking")],
    ["May break", at("maybe-breaking")],
    ["Other changes", at("non-breaking")],
  ];
  if (summary.changes.length === 0) lines.push("", ...wrap("No operation of the package changes (descriptions or examples only, or parts outside the selection)."));
  for (const [title, list] of sections) {
    if (list.length) lines.push("", `#### ${title}`, "", ...changeBullets(list));
  }
  return `${lines.join("\n")}\n`;
}

const UNRELEASED = /^## \[Unreleased\][^\n]*\n/m;

/** `changelog` with `entry` first under `## [Unreleased]` (the heading made when missing, before the first release). */
export function addUnreleasedEntry(changelog: string, entry: string): string {
  const text = changelog.replace(/\r\n/g, "\n");
  const heading = UNRELEASED.exec(text);
  if (heading) {
    const at = heading.index + heading[0].length;
    const rest = text.slice(at).replace(/^\n+/, "");
    return `${text.slice(0, at)}\n${entry}\n${rest}`;
  }
  const firstRelease = /^## /m.exec(text);
  const block = `## [Unreleased]\n\n${entry}\n`;
  if (firstRelease) return `${text.slice(0, firstRelease.index)}${block}${text.slice(firstRelease.index)}`;
  const base = text === "" ? "# Changelog\n\nAll notable changes to this project are documented in this file.\n" : text;
  return `${base.replace(/\n*$/, "\n")}\n${block}`;
}

/** Today as `YYYY-MM-DD` (UTC). */
export function isoDate(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
