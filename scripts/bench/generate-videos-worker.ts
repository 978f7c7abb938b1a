// Generate-videos section, batch side (run as .cache/bench/generate-videos-worker.mjs):
// `node generate-videos-worker.mjs <baseUrl> <outDir> <jobs> <concurrency> <pollIntervalMs> disk|ram http|fetch [ramDir]`.
// Runs one generateVideos batch (xiexus-kling/node, as a user calls it) of <jobs> text2video jobs
// into <outDir> against the fake relay the parent serves. `disk`: the journal where the batch puts
// it, beside the videos (write + fdatasync per append, group-committed); `ram`: the same journal
// file, made beforehand as a link to a file in <ramDir> (a RAM file system, where a sync costs
// nothing), the videos still on disk: the difference is what the journal's durability costs.
// `http`: the client sends its polls with `httpGet: nodeHttpGet` (as the CLI does, and the README
// advises for Node batches); `fetch`: over Node's fetch. After the batch, on its own, 100 appends to a
// fresh journal in <outDir>'s file system, timed one by one (not after a resume). Prints one JSON line: outcomes, wall
// time, peak RSS (VmHWM, see peak-rss.ts), the journal's records and the appends timed.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createKlingClient } from "../../src/index.js";
import { generateVideos, JOURNAL_FILE, nodeHttpGet, type VideoJob } from "../../src/node/index.js";
import { openJournal } from "../../src/node/journal.js";
import { FAKE_RELAY_API_KEY } from "../../src/testing/index.js";
import { peakRssBytes } from "./peak-rss.js";

const [baseUrl, outDir, jobsArg, concurrencyArg, pollArg, mode, transport, ramDir] = process.argv.slice(2);
if (
  !baseUrl ||
  !outDir ||
  !jobsArg ||
  !concurrencyArg ||
  !pollArg ||
  (mode !== "disk" && mode !== "ram") ||
  (transport !== "http" && transport !== "fetch") ||
  (mode === "ram" && !ramDir)
) {
  throw new Error("usage: generate-videos-worker <baseUrl> <outDir> <jobs> <concurrency> <pollIntervalMs> disk|ram http|fetch [ramDir]");
}

/** Times `count` appends to a fresh journal beside `dir`, one at a time: what one costs on this file system, ms each. */
async function timeAppends(dir: string, count: number): Promise<number[]> {
  const probe = await mkdtemp(`${dir}-probe-`);
  const journal = await openJournal(probe);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await journal.intent(`probe-${i}`, "sha256:probe");
      times.push(performance.now() - start);
    }
  } finally {
    await journal.close();
    await rm(probe, { recursive: true, force: true });
  }
  return times;
}

let maxSampledRssMb = 0;
const sampler = setInterval(() => {
  maxSampledRssMb = Math.max(maxSampledRssMb, process.memoryUsage().rss / 1e6);
}, 20);

if (mode === "ram") {
  // The journal opens its file in append mode, which follows the link: its records land in RAM.
  const target = join(ramDir!, `journal-${process.pid}.jsonl`);
  await mkdir(outDir, { recursive: true });
  await writeFile(target, "");
  await symlink(target, join(outDir, JOURNAL_FILE));
}

const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl, ...(transport === "http" && { httpGet: nodeHttpGet }) });
const jobs: VideoJob[] = Array.from({ length: Number(jobsArg) }, (_, i) => ({
  key: `job-${i}`,
  model: "kling-v1",
  prompt: `job ${i}: a paper boat on a river`,
  duration: 5,
}));

const start = performance.now();
let saved = 0;
let resumed = 0;
let failures = 0;
let firstError = "";
for await (const outcome of generateVideos(kling, jobs, { outputDir: outDir, concurrency: Number(concurrencyArg), pollIntervalMs: Number(pollArg) })) {
  if (outcome.error) {
    failures++;
    firstError ||= `${outcome.error.name}: ${outcome.error.message}`;
  } else {
    saved++;
    if (outcome.resumed) resumed++;
  }
}
const wallMs = performance.now() - start;
clearInterval(sampler);
const maxRssMb = peakRssBytes() / 1e6;
const records = (await readFile(join(outDir, JOURNAL_FILE), "utf8")).split("\n").length - 1;
// Appends timed alone, on the disk the videos went to; not after a resume, whose whole process is timed.
const appendMs = mode === "disk" && resumed === 0 ? (await timeAppends(join(dirname(outDir), "append"), 100)).sort((a, b) => a - b) : [];

process.stdout.write(
  `${JSON.stringify({
    mode,
    transport,
    jobs: jobs.length,
    saved,
    resumed,
    failures,
    firstError,
    wallMs,
    maxRssMb,
    /** Not the figure: on Linux it includes the parent's RSS at the fork (see peak-rss.ts). */
    forkMaxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    maxSampledRssMb,
    records,
    appendMsMedian: appendMs[Math.floor(appendMs.length / 2)] ?? 0,
  })}\n`,
);
