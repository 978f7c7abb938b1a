// Section 2: cold import of the built package (scripts/build.ts run on a copy of the checkout in
// .cache/bench/package: the files `npm pack` ships) in a fresh Node process, against openapi-fetch:
// ESM by `import()`, CommonJS by `require()`, each against openapi-fetch loaded the same way. Median
// over spawns taken in rotation, so machine load hits every subject alike; plus the heap left after a GC.
import { cpSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
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

/** Builds the package as published into .cache/bench/package/dist (the checkout's dist/ is left alone). */
async function buildPackage(): Promise<void> {
  rmSync(PACKAGE, { recursive: true, force: true });
  mkdirSync(PACKAGE, { recursive: true });
  for (const item of ["src", "generated", "package.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(ROOT, item), join(PACKAGE, item), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(PACKAGE, "node_modules"), "dir");
  await build(PACKAGE);
  // Not shipped: the same file minified, to show what minifying would (not) buy.
  await esbuild({
    entryPoints: [join(PACKAGE, "dist/esm/src/index.js")],
    outfile: join(PACKAGE, "minified/index.js"),
    minify: true,
    format: "esm",
    target: "es2022",
    logLevel: "warning",
  });
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
  const file = (path: string): string => join(PACKAGE, path);
  const subjects: Subject[] = [
    { name: "openapi-fetch, import (ESM baseline)", format: "esm", target: "openapi-fetch", heap: true },
    { name: "xiexus-kling, import (dist/esm/src/index.js, 1 file)", format: "esm", target: file("dist/esm/src/index.js"), judged: true, heap: true },
    { name: "xiexus-kling, import, minified (not shipped)", format: "esm", target: file("minified/index.js") },
    { name: "xiexus-kling/testing, import (+ the main file)", format: "esm", target: file("dist/esm/src/testing/index.js") },
    { name: "xiexus-kling/node, import (+ the main file)", format: "esm", target: file("dist/esm/src/node/index.js") },
    { name: "openapi-fetch, require (CJS baseline)", format: "cjs", target: "openapi-fetch", heap: true },
    { name: "xiexus-kling, require (dist/cjs/src/index.js, 1 file)", format: "cjs", target: file("dist/cjs/src/index.js"), judged: true, heap: true },
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
      const run = await runNode(["--expose-gc", ...flags, "-e", snippet(subject)], 60_000, PACKAGE);
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
      `Import: the package built by scripts/build.ts into .cache/bench/package (${JS_FILES.length} JavaScript files: one per entry and format), ` +
        `loaded in fresh processes (\`node --expose-gc -e\`: \`await import()\` for ESM, \`require()\` for CommonJS), ${settings.importSpawns} per subject ` +
        "in rotation, median. Each ratio is to openapi-fetch loaded the same way (import or require). The xiexus-kling files keep openapi-fetch " +
        "external, so their figures include loading it; /testing and /node include the main file they import. " +
        "Heap is heapUsed after a forced GC minus that of a process loading nothing of its own. The minified row is the same file " +
        "through esbuild --minify, not shipped: the package ships unminified code for readable stack traces.",
    ],
  };
}
