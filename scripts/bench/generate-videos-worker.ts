// Generate-videos section, batch side (run as .cache/bench/generate-videos-worker.mjs):
// `node generate-videos-worker.mjs <baseUrl> <outDir> <jobs> <concurrency> <pollIntervalMs> file|none http|fetch`.
// Runs one generateVideos batch of <jobs> text2video jobs into <outDir> against the fake relay the
// parent serves. `file`: the real journal (write + fdatasync per append, group-committed), with the
// time each append took; `none`: a journal that keeps its records in memory and writes nothing, to
// measure what the file costs. `http`: the client sends its polls with `httpGet: nodeHttpGet` (as the
// CLI does, and the README advises for Node batches); `fetch`: over Node's fetch. Prints one JSON line: outcomes, wall time, peak RSS (VmHWM, see peak-rss.ts), journal figures.
import { createKlingClient } from "../../src/index.js";
import { runGenerateVideos, type VideoJob } from "../../src/node/generate-videos.js";
import { nodeHttpGet } from "../../src/node/index.js";
import { openJournal, replay, type JobState, type Journal, type JournalRecord } from "../../src/node/journal.js";
import { FAKE_RELAY_API_KEY } from "../../src/testing/index.js";
import { peakRssBytes } from "./peak-rss.js";

const [baseUrl, outDir, jobsArg, concurrencyArg, pollArg, mode, transport] = process.argv.slice(2);
if (!baseUrl || !outDir || !jobsArg || !concurrencyArg || !pollArg || (mode !== "file" && mode !== "none") || (transport !== "http" && transport !== "fetch")) {
  throw new Error("usage: generate-videos-worker <baseUrl> <outDir> <jobs> <concurrency> <pollIntervalMs> file|none http|fetch");
}

/** Appends timed: how long the batch waited on each one (they overlap: group commit). */
const appendMs: number[] = [];

/** The real journal, each append timed. */
async function timedJournal(dir: string, options: { signal?: AbortSignal }): Promise<Journal> {
  const journal = await openJournal(dir, options);
  const timed =
    <A extends unknown[]>(append: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const start = performance.now();
      await append(...args);
      appendMs.push(performance.now() - start);
    };
  return {
    dir: journal.dir,
    path: journal.path,
    state: (key) => journal.state(key),
    states: () => journal.states(),
    intent: timed((key: string, fingerprint: string) => journal.intent(key, fingerprint)),
    created: timed((key: string, taskId: string) => journal.created(key, taskId)),
    saved: timed((key: string, taskId: string, path: string, bytes: number) => journal.saved(key, taskId, path, bytes)),
    failed: timed((key: string, info: Parameters<Journal["failed"]>[1]) => journal.failed(key, info)),
    recreate: timed((key: string) => journal.recreate(key)),
    close: () => journal.close(),
  };
}

/** A journal that writes nothing: the same replay rules, over records kept in memory. */
async function memoryJournal(dir: string): Promise<Journal> {
  const records = new Map<string, JournalRecord[]>();
  const states = new Map<string, JobState>();
  const append = async (record: JournalRecord): Promise<void> => {
    const list = [...(records.get(record.key) ?? []), record];
    states.set(record.key, replay(list).get(record.key)!);
    records.set(record.key, list);
  };
  const at = (): string => new Date().toISOString();
  return {
    dir,
    path: `${dir}/(memory)`,
    state: (key) => states.get(key) ?? { key, phase: "none", attempts: 0 },
    states: () => new Map(states),
    intent: (key, fingerprint) => append({ v: 1, t: "intent", key, at: at(), fingerprint }),
    created: (key, taskId) => append({ v: 1, t: "created", key, at: at(), taskId }),
    saved: (key, taskId, path, bytes) => append({ v: 1, t: "saved", key, at: at(), taskId, path: path.slice(dir.length + 1), bytes }),
    failed: (key, info) => {
      const error = { name: "Error", message: String((info.error as Error)?.message ?? info.error) };
      return append(
        info.taskId === undefined
          ? { v: 1, t: "failed", key, at: at(), error, mayHaveCreatedTask: info.mayHaveCreatedTask ?? true }
          : { v: 1, t: "failed", key, at: at(), error, taskId: info.taskId, resumable: info.resumable },
      );
    },
    recreate: (key) => append({ v: 1, t: "recreate", key, at: at() }),
    close: async () => undefined,
  };
}

let maxSampledRssMb = 0;
const sampler = setInterval(() => {
  maxSampledRssMb = Math.max(maxSampledRssMb, process.memoryUsage().rss / 1e6);
}, 20);

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
const batch = runGenerateVideos(
  kling,
  jobs,
  { outputDir: outDir, concurrency: Number(concurrencyArg), pollIntervalMs: Number(pollArg) },
  { openJournal: mode === "file" ? timedJournal : memoryJournal },
);
for await (const outcome of batch) {
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
    maxRssMb: peakRssBytes() / 1e6,
    /** Not the figure: on Linux it includes the parent's RSS at the fork (see peak-rss.ts). */
    forkMaxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    maxSampledRssMb,
    appends: appendMs.length,
    appendMsTotal: appendMs.reduce((sum, ms) => sum + ms, 0),
    appendMsMedian: appendMs.sort((a, b) => a - b)[Math.floor(appendMs.length / 2)] ?? 0,
  })}\n`,
);
