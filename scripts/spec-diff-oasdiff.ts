/**
 * Replays oasdiff's own checker test corpus through `diffSpecs` and scores how often our class
 * (ERR breaking / WARN maybe-breaking / INFO non-breaking or nothing) agrees with oasdiff's.
 *
 * Usage: `npm run spec:diff:oasdiff -- <dir>` where <dir> holds oasdiff's `checker/` and
 * `data/` folders (a checkout, or `git archive HEAD checker data | tar -x`). Nothing of oasdiff
 * is copied into this repository: the corpus is read where it lies.
 * Exit codes: 0 thresholds met; 1 under a threshold (or a breaking change classed lower); 2 usage.
 *
 * How a Go test becomes a case (heuristic, on purpose: no Go toolchain needed):
 * - each `func TestXxx(t *testing.T)` in `checker/*_test.go` is one candidate;
 * - its two specs are the `open("...")` (or `open(<dataFileFn handle>("..."))`) calls, or the
 *   numbered fixtures of `l(t, N)` / `d(t, config, A, B)` (`data/openapi-testN.yaml`);
 * - the expected rule ids are the `checker.<Name>Id` constants it mentions, and the ids it spells
 *   as strings where it reads one (`"<id>", errs[0].GetId()`, `e0.Id)`, `Id: "<id>"`), except on
 *   lines that assert absence (`requireNoChange`, `NotEqual`, `Nil`); their levels come from `checker/rules.go`;
 *   a test that mentions none but asserts `require.Empty(t, errs)` / `Len(t, errs, 0)` expects INFO.
 * A test that runs one check (`singleCheckConfig(checker.<Check>)`) is compared with our changes
 * on that check's side only (request / response / neither, from rules.go), since oasdiff ran
 * nothing else on the pair (an operation removed is always kept: it stands for every change inside),
 * and without our own calls that no oasdiff id names (servers, a renamed path parameter): no check finds those.
 * A disagreement is "deliberate" when every change of ours above oasdiff's level is a rule whose
 * registry entry says why we differ (`deliberate` in rules.ts); both numbers are printed.
 * Skipped, and counted as such: tests that edit a loaded spec in Go (`.Spec.`, or through a
 * helper: `f(t, s1, ...)`, `f(s1)`), so the YAML pair
 * is not what was compared; tests that do not open exactly two files; tests with custom severity
 * levels, ignore files, deprecation-days policy or versioning-policy knobs (levels no longer those
 * of rules.go), or that filter the ids they read (`slices.Contains`); tests with
 * no expectation we can read; pairs whose files fail to load.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { diffSpecs, type ChangeLevel, type SpecChange } from "./spec-diff.js";
import { loadSpec, type SpecDoc } from "./spec-diff/load.js";
import { RULES, type RuleDirection } from "./spec-diff/rules.js";

/** oasdiff's three levels. */
export type OasdiffLevel = "ERR" | "WARN" | "INFO";

const RANK: Record<OasdiffLevel, number> = { INFO: 0, WARN: 1, ERR: 2 };
const FROM_OURS: Record<ChangeLevel, OasdiffLevel> = { breaking: "ERR", "maybe-breaking": "WARN", "non-breaking": "INFO" };

/**
 * Rule families spec:diff does not claim to cover (README "Not compared" before this work);
 * a case lands in the "rest" bucket when any expected id, or the test's name, matches.
 */
const REST = /max|min|pattern|format|secur|deprecat|sunset|discriminator|default|additional|stabilit|tag|extensible|reactivat|contains|-if-|-then-|-else-|dependent|property-names|prefix-items|unevaluated|content-(encoding|media-type|schema)|read-only|write-only|version|header|webhook|schema-removed|operation-id|ReadOnly|WriteOnly|Header|Alpha|Beta|Draft|Max|Min|Pattern|Secur|Deprecat|Sunset|Discriminator|Default|Stabilit|Tag|Extensible/;

/** One replayed test. */
export interface CaseResult {
  test: string;
  files: [string, string];
  expectedIds: string[];
  expected: OasdiffLevel;
  ours: OasdiffLevel;
  bucket: "covered" | "rest";
  ourChanges: SpecChange[];
}

/** The whole score. */
export interface Score {
  cases: CaseResult[];
  skipped: Map<string, number>;
}

function maxLevel(levels: OasdiffLevel[]): OasdiffLevel {
  return levels.reduce<OasdiffLevel>((a, b) => (RANK[b] > RANK[a] ? b : a), "INFO");
}

/** Our class for a diff: the highest level among our changes, INFO when there is none. */
export function ourLevel(changes: readonly SpecChange[]): OasdiffLevel {
  return maxLevel(changes.map((c) => FROM_OURS[c.level]));
}

const DIRECTIONS: Record<string, RuleDirection> = { DirectionRequest: "request", DirectionResponse: "response", DirectionNone: "none" };

async function readRules(checkerDir: string): Promise<{ levels: Map<string, OasdiffLevel>; ids: Map<string, string>; checks: Map<string, Set<RuleDirection>> }> {
  const levels = new Map<string, OasdiffLevel>();
  const ids = new Map<string, string>();
  const checks = new Map<string, Set<RuleDirection>>();
  const rules = await readFile(path.join(checkerDir, "rules.go"), "utf8");
  for (const m of rules.matchAll(/newBackwardCompatibilityRule\((\w+),\s*(ERR|WARN|INFO),\s*(\w+),\s*(\w+)/g)) {
    levels.set(m[1] as string, m[2] as OasdiffLevel);
    const direction = DIRECTIONS[m[4] as string] ?? "none";
    checks.set(m[3] as string, (checks.get(m[3] as string) ?? new Set()).add(direction));
  }
  for (const name of await readdir(checkerDir)) {
    if (!name.endsWith(".go") || name.endsWith("_test.go")) continue;
    const text = await readFile(path.join(checkerDir, name), "utf8");
    for (const m of text.matchAll(/^\s*(\w+Id)\s*=\s*"([^"]+)"/gm)) ids.set(m[1] as string, m[2] as string);
  }
  return { levels, ids, checks };
}

interface GoTest {
  name: string;
  file: string;
  body: string;
}

function splitTests(file: string, text: string): GoTest[] {
  const tests: GoTest[] = [];
  const re = /^func (Test\w+)\(t \*testing\.T\) \{$/gm;
  const starts = [...text.matchAll(re)];
  for (const [i, m] of starts.entries()) {
    const from = m.index ?? 0;
    const next = starts[i + 1]?.index ?? text.length;
    const end = text.indexOf("\n}\n", from);
    tests.push({ name: m[1] as string, file, body: text.slice(from, end === -1 || end > next ? next : end) });
  }
  return tests;
}

/** The oasdiff ids one of our rules stands for: its own id, and those listed in the registry. */
function idNamesOf(rule: string): string[] {
  return [rule, ...(RULES[rule]?.oasdiff ?? [])];
}

/** Replays every readable test under `root` (holding `checker/` and `data/`). */
export async function score(root: string): Promise<Score> {
  const checkerDir = path.join(root, "checker");
  const { levels, ids, checks } = await readRules(checkerDir);
  const names = new Map([...ids].map(([name, id]) => [id, name]));
  // A rule of ours that oasdiff has no id for and that we mark as our own call (servers, a renamed
  // path parameter) is not what the one check a test runs could have found.
  const oasdiffNeverReports = (rule: string) => RULES[rule]?.deliberate !== undefined && !idNamesOf(rule).some((id) => names.has(id));
  const helpers = await readFile(path.join(checkerDir, "helpers_test.go"), "utf8").catch(() => "");
  const handles = new Map([...helpers.matchAll(/(\w+)\s*=\s*dataFileFn\("([^"]+)"\)/g)].map((m) => [m[1] as string, m[2] as string]));
  const skipped = new Map<string, number>();
  const skip = (why: string) => skipped.set(why, (skipped.get(why) ?? 0) + 1);
  const cache = new Map<string, SpecDoc | null>();
  const load = async (file: string): Promise<SpecDoc | null> => {
    if (!cache.has(file)) {
      const loaded = await loadSpec(file);
      cache.set(file, "doc" in loaded ? loaded.doc : null);
    }
    return cache.get(file) ?? null;
  };

  const cases: CaseResult[] = [];
  for (const name of (await readdir(checkerDir)).sort()) {
    if (!name.endsWith("_test.go")) continue;
    for (const test of splitTests(name, await readFile(path.join(checkerDir, name), "utf8"))) {
      const { body } = test;
      if (/\.Spec\b|\w\((t, )?s[12]\)|\w\(t, s[12]\b/.test(body)) { skip("edits a loaded spec in Go"); continue; }
      if (/WithSeverityLevels|WithDeprecation|slices\.Contains|ProcessIgnored|Versioning|WithAttributes|stabilityChanges|nullableWrapChanges|crossFileTypeChange/.test(body)) { skip("custom config or helper"); continue; }
      const files: string[] = [];
      for (const m of body.matchAll(/\bopen\(\s*(?:"([^"]+)"|(\w+)\("([^"]+)"\))/g)) {
        if (m[1] !== undefined) files.push(m[1]);
        else if (m[2] !== undefined && handles.has(m[2])) files.push(`../data/${handles.get(m[2]) as string}/${m[3] as string}`);
      }
      // oasdiff's numbered fixtures: `l(t, N)` loads one, `d(t, config, A, B)` diffs two.
      for (const m of body.matchAll(/\bl\(t, (\d+)\)/g)) files.push(`../data/openapi-test${m[1] as string}.yaml`);
      const numbered = /\bd\(t, [^,]+, (\d+), (\d+)\)/.exec(body);
      if (numbered) files.push(`../data/openapi-test${numbered[1] as string}.yaml`, `../data/openapi-test${numbered[2] as string}.yaml`);
      if (files.length !== 2) { skip("does not open exactly two files"); continue; }
      const expectedIds: string[] = [];
      const expect = (name: string | undefined) => {
        if (name !== undefined && ids.has(name) && levels.has(name) && !expectedIds.includes(name)) expectedIds.push(name);
      };
      for (const line of body.split("\n")) {
        if (/NoChange|NotEqual|Nil\(|NotContains|False\(/.test(line)) continue;
        for (const m of line.matchAll(/checker\.(\w+Id)\b/g)) expect(m[1]);
        // Some tests spell the id they read: `require.Equal(t, "request-property-pattern-added", errs[0].GetId())`.
        if (/GetId\(\)|\.Id\)|^\s*Id:/.test(line)) for (const m of line.matchAll(/"([a-z][a-z0-9-]*)"/g)) expect(names.get(m[1] as string));
      }
      const expectsNothing = /require\.(Empty\(t, errs\)|Len\(t, errs, 0\))/.test(body);
      if (expectedIds.length === 0 && !expectsNothing) { skip("no readable expectation"); continue; }
      const [a, b] = files.map((f) => path.resolve(checkerDir, f)) as [string, string];
      const [oldDoc, newDoc] = [await load(a), await load(b)];
      if (!oldDoc || !newDoc) { skip("a spec does not load"); continue; }
      const expected = maxLevel(expectedIds.map((id) => levels.get(id) as OasdiffLevel));
      const single = /singleCheckConfig\(checker\.(\w+)/.exec(body)?.[1];
      const sides = single === undefined ? undefined : checks.get(single);
      // A removed operation replaces every finding inside it: kept. (A renamed path parameter is
      // not one: the operation is matched and its findings are compared like any other.)
      const inScope = (c: SpecChange) => !sides || c.change === "operation-removed" || (sides.has(RULES[c.change]?.direction ?? "none") && !oasdiffNeverReports(c.change));
      let ourChanges = diffSpecs(oldDoc, newDoc).filter(inScope);
      // A test that only looks for its ids (no count, no "nothing else") says nothing of the
      // pair's other changes: compare the changes that carry those ids, when we report any.
      const exhaustive = /requireSingle|requireApiChanges|require\.(Len|Empty)\(t, errs\b/.test(body);
      const matching = ourChanges.filter((c) => idNamesOf(c.change).some((id) => expectedIds.some((e) => ids.get(e) === id)));
      if (!exhaustive && matching.length > 0) ourChanges = matching;
      const idNames = expectedIds.map((id) => ids.get(id) as string);
      const bucket = [...idNames, test.name, test.file].some((s) => REST.test(s)) ? "rest" : "covered";
      cases.push({ test: `${test.file}:${test.name}`, files: [path.relative(root, a), path.relative(root, b)], expectedIds: idNames, expected, ours: ourLevel(ourChanges), bucket, ourChanges });
    }
  }
  return { cases, skipped };
}

/** Why a disagreement is one we chose: every change of ours above oasdiff's level is a rule marked `deliberate`. */
export function deliberate(c: CaseResult): string | undefined {
  if (RANK[c.ours] <= RANK[c.expected]) return undefined;
  const above = c.ourChanges.filter((x) => RANK[FROM_OURS[x.level]] > RANK[c.expected]);
  const reasons = [...new Set(above.map((x) => RULES[x.change]?.deliberate === undefined ? undefined : x.change))];
  return reasons.includes(undefined) ? undefined : reasons.join(", ");
}

const THRESHOLDS = { covered: 0.95, rest: 0.8 } as const;

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const verbose = argv.includes("--verbose");
  const [root] = argv.filter((a) => !a.startsWith("--"));
  if (root === undefined) {
    out("usage: spec-diff-oasdiff <oasdiff checkout or extracted dir> [--verbose]\n");
    return 2;
  }
  const { cases, skipped } = await score(root);
  let failed = false;
  const lines: string[] = [];
  for (const bucket of ["covered", "rest"] as const) {
    const inBucket = cases.filter((c) => c.bucket === bucket);
    const agree = inBucket.filter((c) => c.expected === c.ours);
    const chosen = inBucket.filter((c) => c.expected !== c.ours && deliberate(c) !== undefined);
    const lower = inBucket.filter((c) => c.expected === "ERR" && c.ours !== "ERR" && deliberate(c) === undefined);
    const rate = (agree.length + chosen.length) / Math.max(1, inBucket.length);
    // An empty bucket has nothing to disagree with.
    const ok = (inBucket.length === 0 || rate >= THRESHOLDS[bucket]) && lower.length === 0;
    failed ||= !ok;
    lines.push(`${bucket}: ${agree.length}/${inBucket.length} agree (${(100 * agree.length / Math.max(1, inBucket.length)).toFixed(1)}%), ` +
      `${chosen.length} deliberate differences, ${(100 * rate).toFixed(1)}% counting those (threshold ${100 * THRESHOLDS[bucket]}%), ` +
      `${lower.length} breaking classed lower${ok ? "" : "  <- FAIL"}`);
    for (const c of inBucket.filter((x) => x.expected !== x.ours)) {
      const why = deliberate(c);
      if (why !== undefined && !verbose) continue;
      lines.push(`  ${bucket} ${c.test}: oasdiff ${c.expected} [${c.expectedIds.join(", ") || "none"}], ours ${c.ours} ` +
        `[${c.ourChanges.map((x) => `${FROM_OURS[x.level]} ${x.change}`).join(", ") || "none"}] ${c.files.join(" -> ")}${why ? ` (deliberate: ${why})` : ""}`);
    }
  }
  lines.push(`skipped: ${[...skipped].map(([why, n]) => `${n} ${why}`).join(", ") || "none"}`);
  out(lines.join("\n") + "\n");
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      console.error(`spec-diff-oasdiff: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
