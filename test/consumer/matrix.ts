// The consumer type-check matrix: TypeScript versions x module settings. Each cell is a small
// project inside an npm project that installed the packed tarball; `tsc --noEmit` must pass with
// strict on and skipLibCheck off, so our declarations and openapi-fetch's are checked as well.
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT, run, type RunResult } from "./exec.js";
import { npmProject } from "./install.js";

/** One consumer setup. */
export interface Cell {
  name: string;
  module: string;
  moduleResolution: string;
  /** The consumer's package.json "type": decides ESM or CJS under node16/nodenext. */
  packageType: "module" | "commonjs";
  lib: readonly string[];
  types: readonly string[];
  /** Templates (test/consumer/templates) compiled by this cell. */
  files: readonly string[];
  /** Also compile testing-entry.ts and node-entry.ts when the package ships `./testing` and `./node` (one cell per kind of resolution). */
  testing: boolean;
}

const BOTH = ["usage.ts", "mistakes.ts"];
const DOM = ["ES2022", "DOM"];

/** The cells; CommonJS ones also compile the `import x = require()` form. */
export const CELLS: readonly Cell[] = [
  { name: "node16-esm", module: "node16", moduleResolution: "node16", packageType: "module", lib: DOM, types: [], files: BOTH, testing: false },
  { name: "node16-cjs", module: "node16", moduleResolution: "node16", packageType: "commonjs", lib: DOM, types: [], files: [...BOTH, "require-style.ts"], testing: true },
  { name: "nodenext-esm", module: "nodenext", moduleResolution: "nodenext", packageType: "module", lib: DOM, types: [], files: BOTH, testing: false },
  { name: "nodenext-cjs", module: "nodenext", moduleResolution: "nodenext", packageType: "commonjs", lib: DOM, types: [], files: [...BOTH, "require-style.ts"], testing: false },
  { name: "bundler-esnext", module: "esnext", moduleResolution: "bundler", packageType: "module", lib: DOM, types: [], files: BOTH, testing: true },
  { name: "bundler-preserve", module: "preserve", moduleResolution: "bundler", packageType: "module", lib: DOM, types: [], files: BOTH, testing: false },
  { name: "node10-cjs", module: "commonjs", moduleResolution: "node10", packageType: "commonjs", lib: DOM, types: [], files: [...BOTH, "require-style.ts"], testing: true },
  // A Node app without the DOM lib: Headers, Request, AbortSignal... must come from @types/node.
  { name: "node16-esm-no-dom", module: "node16", moduleResolution: "node16", packageType: "module", lib: ["ES2022"], types: ["node"], files: BOTH, testing: true },
];

/** TypeScript versions checked: the oldest supported, the current 5.x, and the native 7.x compiler. */
export const TS_VERSIONS = ["5.4", "5.9", "7"] as const;

/**
 * Why a version cannot run a cell at all. TypeScript 7 removed `moduleResolution: node10`
 * (error TS5108), so no TS 7 project can be set up that way; the test asserts the removal instead.
 */
export function unsupported(version: string, cell: Cell): string | undefined {
  if (Number.parseInt(version, 10) >= 7 && cell.moduleResolution === "node10") return "TS5108";
  return undefined;
}

const TEMPLATES = resolve(ROOT, "test/consumer/templates");

/** The README's TypeScript examples, compiled as they are by every ESM cell (they use top-level await). */
const README_EXAMPLES = [...readFileSync(resolve(ROOT, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (match, i) => ({ name: `readme-${i}.ts`, source: match[1]! }),
);

/** The README examples a cell compiles: all of them in ESM cells, the `./testing` one where that entry is checked. */
export function readmeExamples(cell: Cell): Array<{ name: string; source: string }> {
  if (cell.packageType !== "module") return [];
  return README_EXAMPLES.filter((example) => cell.testing || !example.source.includes("xiexus-kling/testing"));
}

/** Installs the tarball, TypeScript `version` and @types/node into a cached consumer project. */
export function consumerProject(version: string, tarball: string, tarballSha256: string): Promise<string> {
  return npmProject("consumer", `ts${version}`, tarballSha256.slice(0, 12), [tarball, `typescript@${version}`, "@types/node@20"]);
}

/** Writes a cell (package.json, tsconfig.json, the templates) into `project` and returns its folder. */
export function writeCell(project: string, cell: Cell, files: readonly string[] = cell.files): string {
  const dir = join(project, "cells", cell.name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(TEMPLATES)) cpSync(join(TEMPLATES, file), join(dir, file));
  for (const example of README_EXAMPLES) writeFileSync(join(dir, example.name), example.source);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type: cell.packageType }));
  const compilerOptions = {
    strict: true,
    skipLibCheck: false,
    // Only TypeScript's own lib.*.d.ts go unchecked (a third of each run's time); every .d.ts of
    // the package, openapi-fetch and @types/node is still checked.
    skipDefaultLibCheck: true,
    // A warm run re-checks only what changed: tsc hashes every file (templates, the package's and
    // its dependencies' .d.ts) and replays the stored diagnostics of the unchanged ones. A new
    // tarball gets a new project folder (see consumerProject), so nothing survives a package change.
    incremental: true,
    tsBuildInfoFile: "./.tsbuildinfo",
    noEmit: true,
    target: "ES2022",
    lib: cell.lib,
    types: cell.types,
    module: cell.module,
    moduleResolution: cell.moduleResolution,
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }, null, 2));
  return dir;
}

/** Runs the project's `tsc -p` on a cell; the result's code is tsc's exit code. */
export function checkCell(project: string, cell: Cell, files?: readonly string[]): Promise<RunResult> {
  const dir = writeCell(project, cell, files);
  return run(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", dir, "--pretty", "false"], {
    cwd: project,
    timeoutMs: 120_000,
  });
}

/** Maps `items` through `task`, at most `limit` at a time, keeping the order. */
export async function pool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
