// `npm run bench [-- --quick]`: measures xiexus-kling against its peers and prints one table,
// also written to BENCHMARKS.md with the machine it ran on. Every figure is a ratio to a baseline
// measured in the same run; see the notes under the table for how each one is taken.
import { cpus, loadavg, totalmem } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { benchBatch } from "./batch.js";
import { benchBundle } from "./bundle.js";
import { benchCodegen } from "./codegen.js";
import { benchCreateMemory, benchCreateRequests } from "./create.js";
import { benchDownload } from "./download.js";
import { benchGenerateVideos, generateVideosSettings } from "./generate-videos.js";
import { benchGenerateVideosImages, generateVideosImagesSettings } from "./generate-videos-images.js";
import { benchHostile } from "./hostile.js";
import { benchImport } from "./import-cost.js";
import { ROOT } from "./paths.js";
import { prepare } from "./prepare.js";
import { benchRequests } from "./requests.js";
import { fmt } from "./stats.js";
import { renderTable, type Row, type SectionResult, type Settings } from "./table.js";
import { benchTypecheck } from "./typecheck.js";
import { benchWaits } from "./waits.js";

/** The hand-kept block at the top of BENCHMARKS.md, markers included. */
const STORY = /<!-- story: begin -->[\s\S]*?<!-- story: end -->/;

const FULL: Settings = {
  quick: false,
  requests: { rounds: 9, perRound: 400, warmup: 300 },
  importSpawns: 21,
  typecheckRounds: 3,
  codegen: { sizes: [10, 100, 1_000], rounds: (paths) => (paths >= 1_000 ? 3 : 5) },
  waits: { tasks: 1_000, spreadMs: 10_000, pollIntervalMs: 500 },
};

const QUICK: Settings = {
  quick: true,
  requests: { rounds: 3, perRound: 100, warmup: 50 },
  importSpawns: 3,
  typecheckRounds: 1,
  codegen: { sizes: [10, 100], rounds: () => 1 },
  waits: { tasks: 200, spreadMs: 3_000, pollIntervalMs: 500 },
};

function machine(command: string): string[] {
  const cpu = cpus();
  return [
    `- CPU: ${cpu[0]?.model.trim() ?? "unknown"}, ${cpu.length} cores (load average at start: ${loadavg().map((l) => l.toFixed(2)).join(", ")})`,
    `- Memory: ${fmt(totalmem() / 2 ** 30, 1)} GiB`,
    `- Node ${process.version} on ${process.platform}/${process.arch}`,
    `- Date: ${new Date().toISOString()}`,
    `- Command: \`${command}\``,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const settings = values.quick ? QUICK : FULL;
  const command = `npm run bench${values.quick ? " -- --quick" : ""}`;
  const header = machine(command);
  const started = performance.now();
  const timings: string[] = [];
  const timed = async (name: string, run: () => Promise<SectionResult>): Promise<SectionResult> => {
    const start = performance.now();
    process.stderr.write(`bench: ${name}...\n`);
    const result = await run();
    timings.push(`${name} ${fmt((performance.now() - start) / 1000, 1)} s`);
    return result;
  };

  await prepare();
  const sections = [
    await timed("per request", () => benchRequests(settings)),
    await timed("import", () => benchImport(settings)),
    await timed("bundle", () => benchBundle()),
    await timed("type-check", () => benchTypecheck(settings)),
    await timed("codegen", () => benchCodegen(settings)),
    await timed("waits", () => benchWaits(settings)),
    await timed("batch", () => benchBatch(settings.waits, { gc: true })),
    await timed("hostile body", () => benchHostile()),
    await timed("download", () => benchDownload(settings)),
    await timed("generate videos", () => benchGenerateVideos(generateVideosSettings(settings.quick))),
    await timed("generate videos with images", () => benchGenerateVideosImages(generateVideosImagesSettings(settings.quick))),
    await timed("create memory", () => benchCreateMemory(settings)),
    await timed("per create", () => benchCreateRequests(settings)),
  ];
  const rows: Row[] = sections.flatMap((s) => s.rows);
  const table = renderTable(rows);
  const total = (performance.now() - started) / 1000;
  const judged = rows.filter((r) => r.status);
  const missed = judged.filter((r) => r.status === "missed");

  console.log(`${header.join("\n")}\n\n${table}\n`);
  console.log(`${judged.length - missed.length} of ${judged.length} targets met; took ${fmt(total, 1)} s (${timings.join(", ")})`);

  // The story block of BENCHMARKS.md is kept by hand; a run rewrites everything after it.
  const file = join(ROOT, "BENCHMARKS.md");
  const previous = await readFile(file, "utf8").catch(() => "");
  const story = STORY.exec(previous)?.[0];
  const doc = [
    "# Benchmarks",
    "",
    ...(story ? [story, "", "## The last run", ""] : []),
    story
      ? `Written by \`${command}\` (sources in scripts/bench/); each run overwrites everything after the story above.`
      : `Written by \`${command}\` (sources in scripts/bench/); each run overwrites this file.`,
    values.quick ? "\n**Quick smoke run: fewer rounds and a smaller waits section; not for comparison.**\n" : "",
    ...header,
    "",
    table,
    "",
    `${judged.length - missed.length} of ${judged.length} targets met. The bench took ${fmt(total, 1)} s (${timings.join(", ")}).`,
    "",
    "## How each figure is taken",
    "",
    ...sections.flatMap((s) => s.notes.map((n) => `- ${n}`)),
    "",
  ].join("\n");
  await writeFile(file, doc);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
