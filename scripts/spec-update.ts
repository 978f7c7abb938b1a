/**
 * Puts a new spec (JSON or YAML, OpenAPI 3.0/3.1) into `openapi/`, shows what it changes,
 * regenerates `generated/` and runs the contract suite.
 *
 * Usage: `tsx scripts/spec-update.ts <file|url> [--name <name>] [--select-path <prefix>]... [--select-tag <tag>]...
 *   [--select-operation <operationId>]... [--select-all] [--supersedes <spec file>]... [--no-test]
 *   [--changelog FILE | --no-changelog] [--spec-dir DIR] [--out-dir DIR]`
 *
 * - The spec is a file or an http(s) URL, downloaded by spec-fetch.ts (a time limit, a byte cap, a
 *   few redirects, no credentials); a URL that cannot be read, or whose body is not a spec, is
 *   refused naming the URL and the cause, and nothing is written.
 * - The target is `<spec-dir>/<name>.json`: `--name` (`--as` is the old spelling), else the input's
 *   basename; the same name replaces that spec, a new name adds one beside the others. A JSON file
 *   is stored byte for byte as published (the generated headers' sha256 is then the publisher's
 *   file's); YAML is stored as its pretty JSON twin.
 * - Selection: `--select-path/--select-tag/--select-operation` (repeatable; an operation matching any
 *   is kept) are remembered for that spec in `<spec-dir>/spec-set.json`, so the next update of the
 *   same file keeps the same subset without them; given again, they replace the remembered ones;
 *   `--select-all` forgets them (the whole spec is generated).
 * - Supersede: `--supersedes <file>` names a spec of `<spec-dir>` that the new one replaces: it is
 *   removed, with its remembered selection, and each of its operations is diffed against its new
 *   definition (an operation the new spec no longer has is reported removed). A file already gone
 *   is a note, so the same command run twice changes nothing. Two files that both stay must still
 *   define a shared operation alike, as before.
 * - The whole spec set, with the project's overlays (`<spec-dir>/overlays/`), is generated in memory
 *   first: what cannot be generated (not OpenAPI 3.x, an unresolvable `$ref`, an operation another
 *   spec defines differently, an overlay action or a selection entry matching nothing, ...) is
 *   refused naming the location, and neither `<spec-dir>` nor `<out-dir>` is touched.
 * - Printed: the relay's own changes (old definitions against new, selected), then what the
 *   project's overlays change on top of it, then servers other than the pinned base URL (maintainer
 *   decisions, never applied), then the warnings.
 * - The contract suite (test/contract.test.ts) then checks the recorded fixtures against the new
 *   files. When it fails, `<spec-dir>` and `<out-dir>` are put back exactly as they were (a failing
 *   tree is never left behind) and the output says what to do next; exit 1.
 * - Once the update stands (the suite passed, or `--no-test`) and `<spec-dir>` changed, an entry is
 *   added under `## [Unreleased]` of the CHANGELOG (`--changelog`, default `CHANGELOG.md` beside
 *   `<spec-dir>`; `--no-changelog` skips it): the spec, the source, the date, and what the package's
 *   users see change (overlays applied, selection kept), in words, breaking changes under their own
 *   heading (scripts/spec-changelog.ts). The same spec taken twice adds nothing the second time.
 *
 * The contract suite reads the project's own `openapi/` and `generated/`: `--spec-dir`/`--out-dir`
 * exist for tests and belong with `--no-test`.
 * Exit codes: 0 done; 1 cannot be generated, or the contract suite failed (rolled back); 2 usage error or invalid input.
 */
import { spawn } from "node:child_process";
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  checkSpecName,
  generateSpecs,
  isSpecFileName,
  parseSpec,
  readExtras,
  readSpecs,
  SPEC_EXTENSIONS,
  writeGenerated,
  type SetExtras,
  type SpecInput,
} from "./generate.js";
import {
  defaultOutput,
  type Output,
  applyOverlaysTolerant,
  diffSpecs,
  formatChanges,
  formatOverlayEffects,
  overlayEffects,
  serverDecisions,
  withoutServerChanges,
  type SpecChange,
} from "./spec-diff.js";
import { addUnreleasedEntry, changelogEntry, isoDate } from "./spec-changelog.js";
import { isUrl, readSpecSource, SpecReadError, sourceBaseName } from "./spec-fetch.js";
import {
  describeSelection,
  formatSpecSetConfig,
  onlyOperations,
  operationKeys,
  parseOverlay,
  parseSpecSetConfig,
  selectOperations,
  SPEC_SET_FILE,
  type Overlay,
  type Selection,
  type SpecSetConfig,
} from "./spec-set.js";
import type { JsonObject } from "./spec-normalize.js";

const USAGE =
  "usage: spec-update <file|url> [--name <name>] [--select-path <prefix>]... [--select-tag <tag>]... [--select-operation <operationId>]... " +
  "[--select-all] [--supersedes <spec file>]... [--no-test] [--changelog FILE | --no-changelog] [--spec-dir DIR] [--out-dir DIR]";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CONTRACT_SUITE = "test/contract.test.ts";


/** Runs the contract suite and resolves with its exit code; tests pass their own. */
export type ContractRunner = () => Promise<number>;

/** The spec file name (`<name>.json`) for `--name` or the input's path (a URL's last segment); throws on a name with directories or a reserved name. */
export function targetName(source: string, name?: string): string {
  const raw = name ?? sourceBaseName(source);
  if (name === undefined && raw === "") throw new Error(`${source} names no file; pass --name`);
  if (name !== undefined && (path.basename(name) !== name || name.startsWith(".") || name === "")) {
    throw new Error(`--name takes a file name without directories (got ${JSON.stringify(name)})`);
  }
  const ext = SPEC_EXTENSIONS.find((e) => raw.toLowerCase().endsWith(e));
  const base = ext ? raw.slice(0, -ext.length) : raw;
  checkSpecName(base, raw);
  if (!isSpecFileName(`${base}.json`)) throw new Error(`${JSON.stringify(raw)} is reserved: ${SPEC_SET_FILE} holds the remembered selection; pick another --name`);
  return `${base}.json`;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

const resolver = createRequire(import.meta.url);

/** Runs the contract suite (`vitest run test/contract.test.ts`) with inherited stdio; resolves with its exit code. */
export function runContractSuite(): Promise<number> {
  const vitest = path.join(path.dirname(resolver.resolve("vitest/package.json")), "vitest.mjs");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [vitest, "run", CONTRACT_SUITE], { cwd: ROOT, stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Every file under `dir` (recursively) with its bytes; what a rollback puts back. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) files.set(full, await readFile(full));
    }
  };
  await walk(dir);
  return files;
}

/** Puts `dir` back to `before`: files written since are removed, changed or removed ones restored byte for byte; a directory that did not exist is removed. */
async function restore(dir: string, before: Map<string, Buffer>, existed: boolean): Promise<void> {
  if (!existed) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const now = await snapshot(dir);
  for (const file of now.keys()) if (!before.has(file)) await rm(file, { force: true });
  for (const [file, bytes] of before) {
    const current = now.get(file);
    if (current && current.equals(bytes)) continue;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
}

/** Writes `bytes` to `file` through a temp file and a rename, so a reader never sees half a file. */
async function writeAtomically(file: string, bytes: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(temporary, bytes);
  await rename(temporary, file);
}

/** The spec file name `--supersedes` means: `kling-image2video`, `kling-image2video.json` or `openapi/kling-image2video.json`. */
function supersededName(given: string): string {
  const base = path.basename(given);
  return SPEC_EXTENSIONS.some((ext) => base.toLowerCase().endsWith(ext)) ? base : `${base}.json`;
}

type Doc = JsonObject;

/** The overlays that extend spec file `name`, in file-name order. */
function overlaysOf(overlays: readonly Overlay[], name: string): Overlay[] {
  return overlays.filter((o) => o.spec === name);
}

/** The package's version (package.json beside scripts/), which the CHANGELOG entry's bump is read against. */
async function packageVersion(): Promise<string> {
  const text = await readFile(path.join(ROOT, "package.json"), "utf8").catch(() => "{}");
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === "string" ? version : "0.0.0";
}

/** The empty document a new spec is compared with. */
function emptyLike(doc: Doc): Doc {
  return { openapi: doc.openapi, info: {}, paths: {} };
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput, runContract: ContractRunner = runContractSuite): Promise<number> {
  let values: {
    name?: string;
    as?: string;
    "select-path"?: string[];
    "select-tag"?: string[];
    "select-operation"?: string[];
    "select-all"?: boolean;
    supersedes?: string[];
    "no-test"?: boolean;
    changelog?: string;
    "no-changelog"?: boolean;
    "spec-dir": string;
    "out-dir": string;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        name: { type: "string" },
        as: { type: "string" },
        "select-path": { type: "string", multiple: true },
        "select-tag": { type: "string", multiple: true },
        "select-operation": { type: "string", multiple: true },
        "select-all": { type: "boolean" },
        supersedes: { type: "string", multiple: true },
        "no-test": { type: "boolean" },
        changelog: { type: "string" },
        "no-changelog": { type: "boolean" },
        "spec-dir": { type: "string", default: "openapi" },
        "out-dir": { type: "string", default: "generated" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`spec-update: ${oneLine(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const [source] = positionals;
  if (source === undefined || positionals.length !== 1) {
    io.err(`spec-update: expected one spec file or URL, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }
  if (values.changelog !== undefined && values["no-changelog"]) {
    io.err(`spec-update: --changelog and --no-changelog contradict each other\n`);
    return 2;
  }
  const specDir = values["spec-dir"];
  const outDir = values["out-dir"];
  const shownDir = path.basename(specDir);
  let name: string;
  try {
    name = targetName(source, values.name ?? values.as);
  } catch (error) {
    io.err(`spec-update: ${oneLine(error)}\n`);
    return 2;
  }
  const target = path.join(specDir, name);
  const given: Selection = {};
  if (values["select-path"]?.length) given.pathPrefixes = values["select-path"];
  if (values["select-tag"]?.length) given.tags = values["select-tag"];
  if (values["select-operation"]?.length) given.operationIds = values["select-operation"];
  const selecting = Object.keys(given).length > 0;
  if (selecting && values["select-all"]) {
    io.err(`spec-update: --select-all keeps the whole spec; it cannot be combined with --select-path/--select-tag/--select-operation\n`);
    return 2;
  }
  if ([...(given.pathPrefixes ?? []), ...(given.tags ?? []), ...(given.operationIds ?? [])].some((v) => v === "")) {
    io.err(`spec-update: a --select-* value cannot be empty\n`);
    return 2;
  }
  const superseded = [...new Set((values.supersedes ?? []).map(supersededName))];
  if (superseded.includes(name)) {
    io.err(`spec-update: ${name} cannot supersede itself (the same name already replaces it)\n`);
    return 2;
  }

  let bytes: Buffer;
  let newDoc: Doc;
  try {
    bytes = (await readSpecSource(source)).bytes;
  } catch (error) {
    const why = error instanceof SpecReadError ? error.message : `cannot read ${source}: ${oneLine(error)}`;
    io.err(`spec-update: ${why}. Nothing was written to ${specDir}/ or ${outDir}/.\n`);
    return 2;
  }
  const text = bytes.toString("utf8");
  try {
    newDoc = parseSpec(source, text);
  } catch (error) {
    io.err(`spec-update: refused: ${oneLine(error)}. Nothing was written to ${specDir}/.\n`);
    return 2;
  }
  // JSON as published, byte for byte; YAML as its JSON twin (generation reads JSON or YAML alike, but one format is stored).
  const isJson = /^\s*[{[]/.test(text.replace(/^\uFEFF/, ""));
  const stored: string | Buffer = isJson ? bytes : `${JSON.stringify(newDoc, null, 2)}\n`;

  // The set as it is, and as it will be; generated before anything is written.
  const hasDir = await exists(specDir);
  const current = hasDir ? await readSpecs(specDir).catch(() => [] as SpecInput[]) : [];
  let extras: SetExtras;
  let config: SpecSetConfig;
  try {
    extras = hasDir ? await readExtras(specDir) : {};
    config = extras.config ? parseSpecSetConfig(extras.config.file, extras.config.text) : { select: {} };
  } catch (error) {
    io.err(`spec-update: refused: ${oneLine(error)}\nNothing was written to ${specDir}/ or ${outDir}/.\n`);
    return 1;
  }
  const storedAs = path.posix.join(shownDir, name);
  const previous = current.find((s) => s.file === storedAs);
  const gone = superseded.filter((file) => !current.some((s) => s.file === path.posix.join(shownDir, file)));
  const replaced = superseded.filter((file) => !gone.includes(file)).map((file) => current.find((s) => s.file === path.posix.join(shownDir, file))!);
  const oldConfig = structuredClone(config);
  if (selecting) config.select[name] = given;
  else if (values["select-all"]) delete config.select[name];
  for (const file of superseded) delete config.select[file];
  const configText = Object.keys(config.select).length ? formatSpecSetConfig(config) : undefined;
  const configFile = path.posix.join(shownDir, SPEC_SET_FILE);
  const inputs = [
    ...current.filter((s) => s.file !== storedAs && !replaced.includes(s)),
    { file: storedAs, text: Buffer.isBuffer(stored) ? text : stored },
  ];
  const warnings: string[] = [];
  let files;
  try {
    files = await generateSpecs(inputs, (message) => warnings.push(message), {
      overlays: extras.overlays,
      config: configText === undefined ? undefined : { file: configFile, text: configText },
    });
  } catch (error) {
    io.err(`spec-update: refused: ${error instanceof Error ? error.message : String(error)}\nNothing was written to ${specDir}/ or ${outDir}/.\n`);
    return 1;
  }

  // What a consumer sees change: the relay's own definitions, old against new, through the selections.
  const selection = config.select[name];
  const where = `${configFile}#/select/${name}`;
  const select = (doc: Doc, sel: Selection | undefined, strict: boolean): Doc => (sel ? selectOperations(doc, sel, where, strict) : doc);
  const overlays = (extras.overlays ?? []).map((o) => parseOverlay(o.file, o.text, shownDir));
  /**
   * Old definitions against new, through the selections: the relay's own (`overlaid` false, what is
   * printed) or what the package's users see (`overlaid` true, the project's overlays applied to
   * both sides; what the CHANGELOG says). An overlay written just before this update may not apply
   * to the old file: there it is skipped.
   */
  const compare = (overlaid: boolean, report: (error: unknown) => void): SpecChange[] => {
    const prepare = (doc: Doc, file: string): Doc => (overlaid ? (applyOverlaysTolerant(doc, overlaysOf(overlays, file)).doc as Doc) : doc);
    const newView = select(prepare(newDoc, name), selection, true);
    const oldView = previous ? select(prepare(parseSpec(previous.file, previous.text), name), oldConfig.select[name], false) : emptyLike(newDoc);
    const supersededKeys = new Set<string>();
    const oldViews = replaced.map((s) => {
      const file = path.basename(s.file);
      const view = select(prepare(parseSpec(s.file, s.text), file), oldConfig.select[file], false);
      for (const key of operationKeys(view)) supersededKeys.add(key);
      return { file: s.file, view };
    });
    const found: SpecChange[] = [];
    const seen = new Set<string>();
    const diff = (a: Doc, b: Doc): void => {
      try {
        // A document-wide change (security, ...) shows once, though each superseded file is compared apart.
        for (const change of withoutServerChanges(diffSpecs(a, b))) {
          const key = JSON.stringify(change);
          if (!seen.has(key)) found.push(change);
          seen.add(key);
        }
      } catch (error) {
        report(error);
      }
    };
    diff(onlyOperations(oldView, supersededKeys, false), onlyOperations(newView, supersededKeys, false));
    for (const old of oldViews) diff(old.view, onlyOperations(newView, new Set(operationKeys(old.view)), true));
    return found;
  };
  const changes = compare(false, (error) => io.out(`(no diff: ${oneLine(error)})\n`));
  const seenByUsers = compare(true, () => undefined);
  const oldViews = replaced.map((s) => ({ file: s.file }));

  io.out(previous ? `replacing ${target}` : `new spec file: ${target}`);
  const fresh = selecting && JSON.stringify(oldConfig.select[name]) !== JSON.stringify(given);
  io.out(selection ? `; operations selected by ${configFile} (${describeSelection(selection)}${fresh ? ", remembered from now on" : ", as remembered"})\n` : "\n");
  for (const old of oldViews) io.out(`supersedes ${old.file}: its operations are compared with their new definitions, and the file is removed\n`);
  for (const file of gone) io.out(`note: --supersedes ${file}: no such spec in ${specDir}/ (already superseded?); nothing to remove\n`);
  io.out("changes for client consumers (the relay's own):\n");
  io.out(formatChanges(changes));
  io.out(formatOverlayEffects(overlayEffects(newDoc, overlaysOf(overlays, name), selection, where)));
  const decisions = inputs.flatMap((s) => serverDecisions(s.file === storedAs ? newDoc : parseSpec(s.file, s.text), s.file));
  if (decisions.length) io.out(`maintainer decisions (not applied):\n${decisions.map((d) => `  ${d}\n`).join("")}`);
  for (const warning of warnings) io.out(`warning: ${warning}\n`);

  const outExisted = await exists(outDir);
  const beforeSpecs = await snapshot(specDir);
  const beforeOut = await snapshot(outDir);
  const previousBytes = previous ? await readFile(target) : undefined;
  // Whether this update changes openapi/ at all: only then does it earn a CHANGELOG entry.
  let specChanged = replaced.length > 0;
  if (!previousBytes || !previousBytes.equals(Buffer.isBuffer(stored) ? stored : Buffer.from(stored))) {
    specChanged = true;
    await writeAtomically(target, stored);
    io.out(`wrote ${target} (${Buffer.byteLength(stored)} bytes${isJson ? ", as published" : ", converted from YAML"})\n`);
  } else {
    io.out(`${target} is already this file, byte for byte\n`);
  }
  for (const old of replaced) {
    await rm(path.join(specDir, path.basename(old.file)), { force: true });
    io.out(`removed ${path.join(specDir, path.basename(old.file))} (superseded by ${target})\n`);
  }
  const configPath = path.join(specDir, SPEC_SET_FILE);
  if (configText !== extras.config?.text) {
    specChanged = true;
    if (configText === undefined) await rm(configPath, { force: true });
    else await writeAtomically(configPath, configText);
    io.out(`${configText === undefined ? "removed" : "wrote"} ${configPath}\n`);
  }
  const changed = await writeGenerated(outDir, files);
  io.out(`regenerated ${outDir}/ (${changed} of ${files.length} files changed)\n`);

  // Written once the update stands, so a rollback never has a CHANGELOG entry to take back.
  const recordInChangelog = async (): Promise<number> => {
    if (values["no-changelog"] || !specChanged) return 0;
    const file = values.changelog ?? path.join(path.dirname(path.resolve(specDir)), "CHANGELOG.md");
    const entry = changelogEntry({
      spec: name,
      source: isUrl(source) ? source : source.split(path.sep).join("/"),
      date: isoDate(),
      added: !previous,
      superseded: replaced.map((old) => path.basename(old.file)),
      changes: seenByUsers,
      version: await packageVersion(),
    });
    try {
      const before = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return "";
        throw error;
      });
      await writeAtomically(file, addUnreleasedEntry(before, entry));
    } catch (error) {
      io.err(`spec-update: the update stands, but ${file} could not be written (${oneLine(error)}); add this entry under [Unreleased] by hand:\n${entry}`);
      return 1;
    }
    io.out(`added an entry under [Unreleased] in ${file}\n`);
    return 0;
  };

  if (values["no-test"]) return recordInChangelog();
  const rollBack = async (why: string): Promise<number> => {
    await restore(specDir, beforeSpecs, hasDir);
    await restore(outDir, beforeOut, outExisted);
    io.err(
      `spec-update: ${why}; ${specDir}/ and ${outDir}/ are back exactly as they were.\n` +
        `Next: fix or re-record the fixtures named above (test/fixtures/) so they match the new spec, then run the same command again; ` +
        `to look at the new spec in place first, add --no-test, then run npx vitest run ${CONTRACT_SUITE}.\n`,
    );
    return 1;
  };
  if (!(await exists(path.join(ROOT, CONTRACT_SUITE)))) return rollBack(`${CONTRACT_SUITE} not found, so the new spec is unchecked against the fixtures`);
  io.out(`running the contract suite (${CONTRACT_SUITE})\n`);
  const tested = await runContract();
  if (tested !== 0) return rollBack(`the contract suite failed (exit ${tested}) against the new files`);
  return recordInChangelog();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`spec-update: ${oneLine(error)}`);
      process.exitCode = 1;
    },
  );
}
