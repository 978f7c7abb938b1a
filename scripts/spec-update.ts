/**
 * Puts a new spec (JSON or YAML, OpenAPI 3.0/3.1) into `openapi/`, shows what it changes,
 * regenerates `generated/` and runs the contract suite.
 *
 * Usage: `tsx scripts/spec-update.ts <file> [--name <name>] [--no-test] [--spec-dir DIR] [--out-dir DIR]`
 *
 * The target is `<spec-dir>/<name>.json`: `--name` (`--as` is the old spelling), else the input's
 * basename; the same name replaces that spec, a new name adds one beside the others. The spec is
 * stored as pretty JSON (YAML converted), so generation is deterministic.
 *
 * The whole spec set is generated in memory first: a file that cannot be generated (not OpenAPI
 * 3.x, an unresolvable `$ref`, an operation another spec defines differently, ...) is refused,
 * naming the location, and neither `<spec-dir>` nor `<out-dir>` is touched. Defects that do not
 * stop generation are printed as warnings, after the API diff against the spec it replaces (or
 * against nothing, for a new one).
 * The contract suite reads the project's own `openapi/` and `generated/`: `--spec-dir`/`--out-dir`
 * exist for tests and belong with `--no-test`.
 * Exit codes: 0 done; 1 cannot be generated, or the contract suite failed; 2 usage error or invalid input.
 */
import { spawn } from "node:child_process";
import { access, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import { checkSpecName, generateSpecs, parseSpec, readSpecs, SPEC_EXTENSIONS, writeGenerated, type SpecInput } from "./generate.js";
import { diffSpecs, formatChanges } from "./spec-diff.js";

const USAGE = "usage: spec-update <file> [--name <name>] [--no-test] [--spec-dir DIR] [--out-dir DIR]";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CONTRACT_SUITE = "test/contract.test.ts";

/** Where `main` writes; tests pass their own. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** The spec file name (`<name>.json`) for `--name` or the input's path; throws on a name with directories. */
export function targetName(source: string, name?: string): string {
  const raw = name ?? path.basename(source);
  if (name !== undefined && (path.basename(name) !== name || name.startsWith(".") || name === "")) {
    throw new Error(`--name takes a file name without directories (got ${JSON.stringify(name)})`);
  }
  const ext = SPEC_EXTENSIONS.find((e) => raw.toLowerCase().endsWith(e));
  const base = ext ? raw.slice(0, -ext.length) : raw;
  checkSpecName(base, raw);
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

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { name?: string; as?: string; "no-test"?: boolean; "spec-dir": string; "out-dir": string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        name: { type: "string" },
        as: { type: "string" },
        "no-test": { type: "boolean" },
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
    io.err(`spec-update: expected one spec file, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }
  const specDir = values["spec-dir"];
  const outDir = values["out-dir"];
  let name: string;
  try {
    name = targetName(source, values.name ?? values.as);
  } catch (error) {
    io.err(`spec-update: ${oneLine(error)}\n`);
    return 2;
  }
  const target = path.join(specDir, name);

  let text: string;
  let newDoc: object;
  try {
    text = await readFile(source, "utf8");
  } catch (error) {
    io.err(`spec-update: cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? oneLine(error)}\n`);
    return 2;
  }
  try {
    newDoc = parseSpec(source, text);
  } catch (error) {
    io.err(`spec-update: refused: ${oneLine(error)}. Nothing was written to ${specDir}/.\n`);
    return 2;
  }
  const stored = `${JSON.stringify(newDoc, null, 2)}\n`;

  // The whole set, generated before anything is written.
  const current = (await exists(specDir)) ? await readSpecs(specDir).catch(() => [] as SpecInput[]) : [];
  const storedAs = path.posix.join(path.basename(specDir), name);
  const previous = current.find((s) => s.file === storedAs);
  const inputs = [...current.filter((s) => s.file !== storedAs), { file: storedAs, text: stored }];
  const warnings: string[] = [];
  let files;
  try {
    files = await generateSpecs(inputs, (message) => warnings.push(message));
  } catch (error) {
    io.err(`spec-update: refused: ${error instanceof Error ? error.message : String(error)}\nNothing was written to ${specDir}/ or ${outDir}/.\n`);
    return 1;
  }

  const oldDoc = previous ? parseSpec(previous.file, previous.text) : { openapi: (newDoc as { openapi: string }).openapi, info: {}, paths: {} };
  io.out(previous ? `replacing ${target}; changes for client consumers:\n` : `new spec file: ${target}; what it adds for client consumers:\n`);
  try {
    io.out(formatChanges(diffSpecs(oldDoc, newDoc)));
  } catch (error) {
    io.out(`(no diff: ${oneLine(error)})\n`);
  }
  for (const warning of warnings) io.out(`warning: ${warning}\n`);

  await mkdir(specDir, { recursive: true });
  // Write then rename, so an interrupted update never leaves a half-written spec behind.
  const temporary = path.join(specDir, `.${name}.${process.pid}.tmp`);
  await writeFile(temporary, stored);
  await rename(temporary, target);
  io.out(`wrote ${target} (${Buffer.byteLength(stored)} bytes)\n`);
  const changed = await writeGenerated(outDir, files);
  io.out(`regenerated ${outDir}/ (${changed} of ${files.length} files changed)\n`);

  if (values["no-test"]) return 0;
  if (!(await exists(path.join(ROOT, CONTRACT_SUITE)))) {
    io.err(`spec-update: ${CONTRACT_SUITE} not found, so the new spec is unchecked against the fixtures; pass --no-test to skip it.\n`);
    return 1;
  }
  io.out(`running the contract suite (${CONTRACT_SUITE})\n`);
  const tested = await runContractSuite();
  if (tested !== 0) {
    io.err(
      `spec-update: the contract suite failed (exit ${tested}); ${target} and ${outDir}/ are updated, ` +
        "see the suite's output above for the fixtures that no longer match.\n",
    );
    return tested;
  }
  return 0;
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
