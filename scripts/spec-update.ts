/**
 * Puts a new spec into `openapi/`, shows what it changes, regenerates `generated/` and runs the
 * contract suite.
 *
 * Usage: `tsx scripts/spec-update.ts <file> [--as <name.json>] [--no-test] [--spec-dir DIR] [--out-dir DIR]`
 *
 * Which file it replaces, first match wins:
 * 1. `--as <name.json>`: `<spec-dir>/<name.json>`;
 * 2. the one spec in `<spec-dir>` that declares exactly the same (non-empty) set of paths, whatever
 *    its name: a re-exported spec usually arrives as `openapi (3).json`, not under our name;
 * 3. `<spec-dir>/<basename of file>`, which adds a spec unless that name already exists.
 *
 * The file is validated before anything is written; an invalid one leaves `<spec-dir>` untouched.
 * It is copied byte for byte. If the generator rejects it, the previous spec is put back.
 * The contract suite reads the project's own `openapi/` and `generated/`: `--spec-dir`/`--out-dir`
 * exist for tests and belong with `--no-test`.
 * Exit codes: 0 done; 1 generation or contract suite failed; 2 usage error or invalid input.
 */
import { spawn } from "node:child_process";
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseSpec } from "./generate.js";
import { diffSpecs, formatChanges } from "./spec-diff.js";

const USAGE = "usage: spec-update <file> [--as <name.json>] [--no-test] [--spec-dir DIR] [--out-dir DIR]";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GENERATE_SCRIPT = fileURLToPath(new URL("./generate.ts", import.meta.url));
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

/** The file a spec will be written to, and why that one. */
export interface Target {
  file: string;
  reason: "--as" | "same paths" | "same name" | "new";
}

function pathSet(doc: object): string[] {
  const paths = (doc as { paths?: unknown }).paths;
  return paths !== null && typeof paths === "object" ? Object.keys(paths).sort() : [];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/** Picks the file in `specDir` that `newDoc` (read from `sourceFile`) replaces or adds; see the file header. */
export async function chooseTarget(specDir: string, newDoc: object, sourceFile: string, as?: string, io: Output = defaultOutput): Promise<Target> {
  if (as !== undefined) return { file: path.join(specDir, as), reason: "--as" };
  const wanted = pathSet(newDoc);
  const names = (await readdir(specDir).catch(() => [] as string[])).filter((f) => f.endsWith(".json")).sort();
  const matches: string[] = [];
  if (wanted.length > 0) {
    for (const name of names) {
      const file = path.join(specDir, name);
      try {
        if (sameSet(pathSet(parseSpec(file, await readFile(file, "utf8"))), wanted)) matches.push(name);
      } catch (error) {
        io.err(`spec-update: ignoring ${file} when matching paths: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
  const base = path.basename(sourceFile);
  if (matches.length > 1) {
    // Prefer the same name over guessing; otherwise make the caller say which.
    if (matches.includes(base)) return { file: path.join(specDir, base), reason: "same paths" };
    throw new Error(`${matches.length} specs in ${specDir} declare the same paths (${matches.join(", ")}); choose one with --as`);
  }
  if (matches[0] !== undefined) return { file: path.join(specDir, matches[0]), reason: "same paths" };
  return { file: path.join(specDir, base), reason: names.includes(base) ? "same name" : "new" };
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}

/** Runs a command, forwarding its output to `io` (or inheriting stdio), and resolves with its exit code. */
function run(command: string, args: readonly string[], io: Output | "inherit"): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: io === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"] });
    if (io !== "inherit") {
      child.stdout?.on("data", (chunk: Buffer) => io.out(chunk.toString()));
      child.stderr?.on("data", (chunk: Buffer) => io.err(chunk.toString()));
    }
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const resolver = createRequire(import.meta.url);

/** Regenerates `outDir` from `specDir` with scripts/generate.ts; resolves with its exit code. */
export function regenerate(specDir: string, outDir: string, io: Output = defaultOutput): Promise<number> {
  // Same as `npx tsx scripts/generate.ts`, minus npx: it cannot go looking for tsx on the network.
  const tsx = pathToFileURL(resolver.resolve("tsx")).href;
  return run(process.execPath, ["--import", tsx, GENERATE_SCRIPT, "--spec-dir", path.resolve(specDir), "--out-dir", path.resolve(outDir)], io);
}

/** Runs the contract suite (`vitest run test/contract.test.ts`) with inherited stdio; resolves with its exit code. */
export function runContractSuite(): Promise<number> {
  const vitest = path.join(path.dirname(resolver.resolve("vitest/package.json")), "vitest.mjs");
  return run(process.execPath, [vitest, "run", CONTRACT_SUITE], "inherit");
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { as?: string; "no-test"?: boolean; "spec-dir": string; "out-dir": string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
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
  const as = values.as;
  if (as !== undefined && (path.basename(as) !== as || !as.endsWith(".json") || as.startsWith("."))) {
    io.err(`spec-update: --as takes a file name ending in .json, without directories (got ${JSON.stringify(as)})\n`);
    return 2;
  }
  const specDir = values["spec-dir"];
  const outDir = values["out-dir"];

  let bytes: Buffer;
  let newDoc: object;
  try {
    bytes = await readFile(source);
  } catch (error) {
    io.err(`spec-update: cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? oneLine(error)}\n`);
    return 2;
  }
  try {
    newDoc = parseSpec(source, bytes.toString("utf8"));
  } catch (error) {
    io.err(`spec-update: refused: ${oneLine(error)}. Nothing was written to ${specDir}/.\n`);
    return 2;
  }

  let target: Target;
  try {
    target = await chooseTarget(specDir, newDoc, source, as, io);
  } catch (error) {
    io.err(`spec-update: ${oneLine(error)}\n`);
    return 2;
  }

  const previous = await readFile(target.file).catch(() => null);
  if (previous === null) {
    io.out(`new spec file: ${target.file}\n`);
  } else {
    io.out(`replacing ${target.file} (${target.reason}); changes for client consumers:\n`);
    try {
      io.out(formatChanges(diffSpecs(parseSpec(target.file, previous.toString("utf8")), newDoc)));
    } catch (error) {
      io.out(`(no diff: the current file is not a valid spec: ${oneLine(error)})\n`);
    }
  }

  await mkdir(specDir, { recursive: true });
  // Write then rename, so an interrupted update never leaves a half-written spec behind.
  const temporary = path.join(specDir, `.${path.basename(target.file)}.${process.pid}.tmp`);
  await writeFile(temporary, bytes);
  await rename(temporary, target.file);
  io.out(`wrote ${target.file} (${bytes.length} bytes)\n`);

  const generated = await regenerate(specDir, outDir, io);
  if (generated !== 0) {
    // generate.ts writes nothing when it fails, so putting the old spec back restores a consistent pair.
    if (previous === null) await rm(target.file, { force: true });
    else await writeFile(target.file, previous);
    io.err(`spec-update: generation failed (exit ${generated}); ${target.file} was ${previous === null ? "removed" : "restored"}.\n`);
    return 1;
  }

  if (values["no-test"]) return 0;
  if (!(await exists(path.join(ROOT, CONTRACT_SUITE)))) {
    io.err(`spec-update: ${CONTRACT_SUITE} not found, so the new spec is unchecked against the fixtures; pass --no-test to skip it.\n`);
    return 1;
  }
  io.out(`running the contract suite (${CONTRACT_SUITE})\n`);
  const tested = await runContractSuite();
  if (tested !== 0) {
    io.err(
      `spec-update: the contract suite failed (exit ${tested}); ${target.file} and ${outDir}/ are updated, ` +
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
