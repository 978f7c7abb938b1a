// Section 2: cold import of the built package (scripts/build.ts run on a copy of the checkout in
// .cache/bench/package) in a fresh Node process, against openapi-fetch, as a consumer loads them:
// by package name from a project whose node_modules holds both as npm installs them (copies, not
// links). ESM by `import()`, CommonJS by `require()`, each against openapi-fetch loaded the same way.
// Median over spawns taken in rotation, so machine load hits every subject alike; plus the heap
// left after a GC.
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build as esbuild } from "esbuild";
import { build, JS_FILES } from "../build.js";
import { BUDGETS, verdict, withinRatio } from "./budgets.js";
import { lastJson, runNode } from "./child.js";
import { CACHE, ROOT } from "./paths.js";
import { fmt, fmtRatio, median } from "./stats.js";
import type { Row, SectionResult, Settings } from "./table.js";

interface Sample {
  ms: number;
  heap: number;
}

interface Subject {
  name: string;
  format: "esm" | "cjs";
  /** A package name or an absolute file path. */
  target: string;
  /** Judged against the import target (the main entry only). */
  judged?: boolean;
  /** Also report the heap it adds. */
  heap?: boolean;
}

const PACKAGE = join(CACHE, "package");
/** The consumer project the subjects are loaded from. */
const CONSUMER = join(CACHE, "import-consumer");

/** Builds the package as published into .cache/bench/package/dist (the checkout's dist/ is left alone). */
async function buildPackage(): Promise<void> {
  rmSync(PACKAGE, { recursive: true, force: true });
  mkdirSync(PACKAGE, { recursive: true });
  for (const item of ["src", "generated", "package.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(ROOT, item), join(PACKAGE, item), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(PACKAGE, "node_modules"), "dir");
  await build(PACKAGE);
  // The consumer: both packages installed side by side, plus a minified copy of ours (not shipped).
  rmSync(CONSUMER, { recursive: true, force: true });
  const modules = join(CONSUMER, "node_modules");
  mkdirSync(modules, { recursive: true });
  writeFileSync(join(CONSUMER, "package.json"), '{ "name": "import-consumer", "private": true }\n');
  cpSync(join(ROOT, "node_modules/openapi-fetch"), join(modules, "openapi-fetch"), { recursive: true });
  for (const [name, minified] of [["xiexus-kling", false], ["xiexus-kling-minified", true]] as const) {
    for (const item of ["package.json", "dist"]) cpSync(join(PACKAGE, item), join(modules, name, item), { recursive: true });
    if (!minified) continue;
    for (const format of ["esm", "cjs"] as const) {
      await esbuild({
        entryPoints: [join(PACKAGE, `dist/${format}/src/index.js`)],
        outfile: join(modules, name, `dist/${format}/src/index.js`),
        allowOverwrite: true,
        minify: true,
        format,
        target: "es2022",
        logLevel: "warning",
      });
    }
  }
}

/** The program run with `node --expose-gc [--input-type=module] -e`. */
function snippet(subject: Subject): string {
  const load =
    subject.format === "esm"
      ? `await import(${JSON.stringify(subject.target.startsWith("/") ? pathToFileURL(subject.target).href : subject.target)});`
      : `require(${JSON.stringify(subject.target)});`;
  const body = [
    "const start = performance.now();",
    load,
    "const ms = performance.now() - start;",
    "globalThis.gc();",
    "console.log(JSON.stringify({ ms, heap: process.memoryUsage().heapUsed }));",
  ].join("\n");
  return subject.format === "esm" ? body : `(async () => {\n${body}\n})();`;
}

/** Runs the section. */
export async function benchImport(settings: Settings): Promise<SectionResult> {
  await buildPackage();
  const subjects: Subject[] = [
    { name: "openapi-fetch, import (ESM baseline)", format: "esm", target: "openapi-fetch", heap: true },
    { name: "xiexus-kling, import (1 file, openapi-fetch inside)", format: "esm", target: "xiexus-kling", judged: true, heap: true },
    { name: "xiexus-kling, import, minified (not shipped)", format: "esm", target: "xiexus-kling-minified" },
    { name: "xiexus-kling/testing, import (+ the main file)", format: "esm", target: "xiexus-kling/testing" },
    { name: "xiexus-kling/node, import (+ the main file)", format: "esm", target: "xiexus-kling/node" },
    { name: "openapi-fetch, require (CJS baseline)", format: "cjs", target: "openapi-fetch", heap: true },
    { name: "xiexus-kling, require (1 file, openapi-fetch inside)", format: "cjs", target: "xiexus-kling", judged: true, heap: true },
    { name: "xiexus-kling, require, minified (not shipped)", format: "cjs", target: "xiexus-kling-minified" },
  ];
  // An empty program per format: the process's own heap, subtracted from the others.
  const empty: Subject[] = [
    { name: "empty", format: "esm", target: "data:text/javascript,export{}" },
    { name: "empty", format: "cjs", target: "node:os" },
  ];
  const all = [...empty, ...subjects];
  const samples = all.map((): Sample[] => []);
  for (let i = 0; i < settings.importSpawns; i++) {
    for (let k = 0; k < all.length; k++) {
      const index = (k + i) % all.length;
      const subject = all[index]!;
      const flags = subject.format === "esm" ? ["--input-type=module"] : [];
      const run = await runNode(["--expose-gc", ...flags, "-e", snippet(subject)], 60_000, CONSUMER);
      samples[index]!.push(lastJson<Sample>(run));
    }
  }
  const ms = samples.map((s) => median(s.map((x) => x.ms)));
  const heap = samples.map((s) => median(s.map((x) => x.heap)));
  const indexOf = (name: string): number => all.findIndex((s) => s.name === name);
  const baseline = (format: "esm" | "cjs"): number => indexOf(format === "esm" ? subjects[0]!.name : subjects[5]!.name);
  const emptyOf = (format: "esm" | "cjs"): number => (format === "esm" ? 0 : 1);

  const rows: Row[] = [];
  all.forEach((subject, i) => {
    if (i < empty.length) return;
    const base = baseline(subject.format);
    const ratio = ms[i]! / ms[base]!;
    rows.push({
      section: "2. Import",
      subject: subject.name,
      value: `${fmt(ms[i]!, 1)} ms`,
      ratio: fmtRatio(ratio),
      target: subject.judged ? `<= ${BUDGETS.importRatio.toFixed(2)}x openapi-fetch` : "",
      status: subject.judged ? verdict(withinRatio(ms[i]!, ms[base]!, BUDGETS.importRatio)) : "",
    });
    if (!subject.heap) return;
    const added = heap[i]! - heap[emptyOf(subject.format)]!;
    const baseAdded = heap[base]! - heap[emptyOf(subject.format)]!;
    rows.push({
      section: "2. Import",
      subject: `${subject.name}: heap added`,
      value: `${fmt(added / 1024)} KiB`,
      ratio: fmtRatio(added / baseAdded),
      target: "",
      status: "",
    });
  });
  return {
    rows,
    notes: [
      `Import: the package built by scripts/build.ts (${JS_FILES.length} JavaScript files: one per entry and format), installed beside ` +
        "openapi-fetch in a consumer project (.cache/bench/import-consumer) and loaded by name from it, as a user's code does, in fresh " +
        `processes (\`node --expose-gc -e\`: \`await import()\` for ESM, \`require()\` for CommonJS), ${settings.importSpawns} per subject ` +
        "in rotation, median. Each ratio is to openapi-fetch loaded the same way (import or require). The main file has openapi-fetch " +
        "compiled in; /testing and /node include the main file they import. " +
        "Heap is heapUsed after a forced GC minus that of a process loading nothing of its own. The minified rows are the same file " +
        "through esbuild --minify, not shipped: the package ships unminified code for readable stack traces.",
    ],
  };
}
