// Section 2: cold import of the main entry in a fresh Node process (median over spawns, taken
// in rotation so machine load hits every subject alike), and the heap it leaves after a GC.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { lastJson, runNode } from "./child.js";
import { ROOT } from "./paths.js";
import { bundlePath } from "./prepare.js";
import { fmt, fmtRatio, median } from "./stats.js";
import type { Row, SectionResult, Settings } from "./table.js";

interface Sample {
  ms: number;
  heap: number;
}

/** The snippet run with `node --expose-gc --input-type=module -e`. */
function snippet(specifier: string): string {
  return [
    "const start = performance.now();",
    `await import(${JSON.stringify(specifier)});`,
    "const ms = performance.now() - start;",
    "globalThis.gc();",
    "console.log(JSON.stringify({ ms, heap: process.memoryUsage().heapUsed }));",
  ].join("\n");
}

function countJs(dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js")).length;
}

/** Runs the section. */
export async function benchImport(settings: Settings): Promise<SectionResult> {
  const subjects: Array<{ name: string; specifier: string }> = [
    // An empty module: the process's own heap, subtracted from the others.
    { name: "empty module", specifier: "data:text/javascript,export{}" },
    { name: "openapi-fetch (baseline)", specifier: "openapi-fetch" },
    { name: "xiexus-kling (esbuild bundle of src/index.ts)", specifier: pathToFileURL(bundlePath("kling")).href },
  ];
  const dist = join(ROOT, "dist/esm/src/index.js");
  if (existsSync(dist)) {
    const files = countJs(join(ROOT, "dist/esm/src"));
    subjects.push({ name: `xiexus-kling dist/esm (tsc output, ${files} files)`, specifier: pathToFileURL(dist).href });
  }
  const samples = subjects.map((): Sample[] => []);
  for (let i = 0; i < settings.importSpawns; i++) {
    for (let k = 0; k < subjects.length; k++) {
      const index = (k + i) % subjects.length;
      const run = await runNode(["--expose-gc", "--input-type=module", "-e", snippet(subjects[index]!.specifier)]);
      samples[index]!.push(lastJson<Sample>(run));
    }
  }
  const ms = samples.map((s) => median(s.map((x) => x.ms)));
  const heap = samples.map((s) => median(s.map((x) => x.heap)));
  const baseMs = ms[1]!;
  const baseHeap = heap[1]! - heap[0]!;
  const rows: Row[] = [];
  subjects.forEach((subject, i) => {
    if (i === 0) return;
    const added = heap[i]! - heap[0]!;
    rows.push({
      section: "2. Import",
      subject: subject.name,
      value: `${fmt(ms[i]!, 1)} ms`,
      ratio: fmtRatio(ms[i]! / baseMs),
      target: "",
      status: "",
    });
    rows.push({
      section: "2. Import",
      subject: `${subject.name}: heap added`,
      value: `${fmt(added / 1024)} KiB`,
      ratio: fmtRatio(added / baseHeap),
      target: "",
      status: "",
    });
  });
  return {
    rows,
    notes: [
      `Import: \`node --expose-gc --input-type=module -e\` timing \`await import()\` of the entry, ${settings.importSpawns} fresh processes per subject ` +
        "in rotation, median; heap is heapUsed after a forced GC minus that of a process importing an empty module. " +
        "The xiexus-kling bundle keeps openapi-fetch external, so its figures include loading openapi-fetch.",
    ],
  };
}
