// Section 5: scripts/generate.ts's generateSpec on the embedded spec and on synthetic specs of
// 10, 100 and 1,000 paths, each made here by cloning the relay's path under new names.
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateSpec } from "../generate.js";
import { CACHE, ROOT } from "./paths.js";
import { fmt, fmtBytes, fmtRatio, median } from "./stats.js";
import type { SectionResult, Settings } from "./table.js";

interface Spec {
  paths: Record<string, Record<string, { operationId?: string }>>;
}

/** The embedded spec with its one path cloned `count` times (new route and operationId each). */
export function syntheticSpec(embedded: string, count: number): string {
  const spec = JSON.parse(embedded) as Spec;
  const entries = Object.entries(spec.paths);
  const paths: Spec["paths"] = {};
  for (let i = 0; i < count; i++) {
    for (const [route, item] of entries) {
      const clone = structuredClone(item);
      for (const op of Object.values(clone)) if (op.operationId) op.operationId = `${op.operationId}${i}`;
      paths[route.replace("/image2video/", `/image2video${i}/`)] = clone;
    }
  }
  return JSON.stringify({ ...spec, paths }, null, 2);
}

async function timeOnce(name: string, text: string): Promise<{ ms: number; bytes: number }> {
  const start = performance.now();
  const files = await generateSpec(`openapi/${name}.json`, text);
  const ms = performance.now() - start;
  return { ms, bytes: files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0) };
}

/** Runs the section. */
export async function benchCodegen(settings: Settings): Promise<SectionResult> {
  const embedded = await readFile(join(ROOT, "test/fixtures/specs/kling-image2video.json"), "utf8");
  const dir = join(CACHE, "specs");
  await mkdir(dir, { recursive: true });
  const subjects: Array<{ label: string; name: string; text: string; paths: number }> = [
    { label: "embedded spec (1 path, baseline)", name: "kling-image2video", text: embedded, paths: 1 },
  ];
  for (const n of settings.codegen.sizes) {
    const text = syntheticSpec(embedded, n);
    const name = `synthetic-${n}`;
    // Kept for inspection only; regenerated at every run.
    await writeFile(join(dir, `${name}.json`), text);
    subjects.push({ label: `synthetic, ${fmt(n)} paths`, name, text, paths: n });
  }
  await timeOnce("warm-up", embedded);
  const results = [];
  for (const s of subjects) {
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < settings.codegen.rounds(s.paths); i++) {
      const r = await timeOnce(s.name, s.text);
      ms.push(r.ms);
      bytes = r.bytes;
    }
    results.push({ ...s, ms: median(ms), bytes, rounds: ms.length });
  }
  const base = results[0]!;
  const rows = results.map((r) => ({
    section: "5. Codegen",
    subject: r.label,
    value: `${fmt(r.ms, r.ms < 100 ? 1 : 0)} ms, ${fmtBytes(r.bytes)} out (${fmt(r.ms / r.paths, 2)} ms/path)`,
    ratio: `${fmtRatio(r.ms / base.ms)} time, ${fmtRatio(r.bytes / base.bytes)} size`,
    target: "",
    status: "" as const,
  }));
  return {
    rows,
    notes: [
      "Codegen: `generateSpec` of scripts/generate.ts (openapi-typescript types + Ajv standalone validators) in process, " +
        "after one warm-up, median of " +
        results.map((r) => `${r.rounds} (${fmt(r.paths)})`).join(", ") +
        " runs; synthetic specs clone the relay's path under new routes and operationIds (written to .cache/bench/specs, not committed).",
    ],
  };
}
