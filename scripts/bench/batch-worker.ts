// Batch section, client side (run as .cache/bench/batch-worker.mjs):
// `node batch-worker.mjs batch|waits <baseUrl> <tasks> <spreadMs> <pollIntervalMs|default> <concurrency> [fetch|http]`.
// The last argument picks how the task GETs are sent: Node's fetch (the default) or the client's
// `httpGet: nodeHttpGet`. `batch` waits for every task with one waitForImage2VideoTasks; `waits` runs one
// waitForImage2VideoTask per task (the old way), for comparison. Task i finishes at a fixed instant
// spread evenly over <spreadMs> (the server flips it then; the instant is in its id). Counts the
// requests in flight at every moment, samples RSS, prints one JSON line, and returns without
// process.exit: the parent times how long the process takes to exit by itself.
// BATCH_GC=1 (with --expose-gc) forces a GC every 100 settled tasks and reports heap use after it:
// what the requests leave behind, as opposed to what is merely not collected yet.
import { createKlingClient, type HttpGet } from "../../src/index.js";
import { nodeHttpGet } from "../../src/node/index.js";
import { peakRssBytes } from "./peak-rss.js";

const [mode, baseUrl, tasksArg, spreadArg, pollArg, concurrencyArg, transportArg = "fetch"] = process.argv.slice(2);
if ((mode !== "batch" && mode !== "waits") || !baseUrl || !tasksArg || !spreadArg || !pollArg || !concurrencyArg) {
  throw new Error("usage: batch-worker batch|waits <url> <tasks> <spreadMs> <pollMs|default> <concurrency> [fetch|http]");
}
const tasks = Number(tasksArg);
const spreadMs = Number(spreadArg);
const pollIntervalMs = pollArg === "default" ? undefined : Number(pollArg);
const concurrency = Number(concurrencyArg);
const gc = process.env.BATCH_GC ? (globalThis as { gc?: () => void }).gc : undefined;

let inFlight = 0;
let maxInFlight = 0;
let requests = 0;
/** Wraps a request function so every call is counted while it is in flight. */
const counted =
  <A extends unknown[], R>(send: (...args: A) => Promise<R>) =>
  async (...args: A): Promise<R> => {
    requests++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await send(...args);
    } finally {
      inFlight--;
    }
  };
if (transportArg !== "fetch" && transportArg !== "http") throw new Error(`transport must be fetch or http, got ${transportArg}`);
// The platform's fetch is counted in place, so the client takes its default path (fetch looked up
// at each call), as an application's would.
const platformFetch = globalThis.fetch;
globalThis.fetch = counted(platformFetch) as typeof fetch;
const countingHttpGet: HttpGet = counted(nodeHttpGet);
const kling = createKlingClient({ apiKey: "sk-bench", baseUrl, ...(transportArg === "http" && { httpGet: countingHttpGet }) });

let maxSampledRssMb = 0;
const sampler = setInterval(() => {
  maxSampledRssMb = Math.max(maxSampledRssMb, process.memoryUsage().rss / 1e6);
}, 50);

const rssBeforeMb = process.memoryUsage().rss / 1e6;
// The first task finishes a little after the start, so every task is seen in_progress at least once.
const start = Date.now() + 250;
const finishAt = new Map<string, number>();
for (let i = 0; i < tasks; i++) finishAt.set(`t-${i}-${start + Math.round((spreadMs * (i + 0.5)) / tasks)}`, 0);
for (const id of finishAt.keys()) finishAt.set(id, Number(id.split("-")[2]));
const delays: number[] = [];
const heapAfterGcMb: number[] = [];
let failures = 0;
let firstError = "";
let settled = 0;

const record = (id: string, error?: unknown): void => {
  if (error === undefined) delays.push(Date.now() - finishAt.get(id)!);
  else {
    failures++;
    firstError ||= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  if (gc && ++settled % 100 === 0) {
    gc();
    heapAfterGcMb.push(process.memoryUsage().heapUsed / 1e6);
  }
};
const timeoutMs = spreadMs + 120_000;

if (mode === "batch") {
  const options = { concurrency, timeoutMs, ...(pollIntervalMs !== undefined && { pollIntervalMs }) };
  for await (const outcome of kling.waitForImage2VideoTasks(finishAt.keys(), options)) record(outcome.taskId, outcome.error);
} else {
  const options = { timeoutMs, ...(pollIntervalMs !== undefined && { pollIntervalMs }) };
  await Promise.all(
    [...finishAt.keys()].map((id) =>
      kling.waitForImage2VideoTask(id, options).then(
        () => record(id),
        (error: unknown) => record(id, error ?? new Error("rejected")),
      ),
    ),
  );
}
const wallMs = Date.now() - start;
clearInterval(sampler);

// Let the last responses' sockets go back to the pool before looking at what is still open.
await new Promise((resolve) => setImmediate(resolve));
const openHandles = process.getActiveResourcesInfo().filter((kind) => /TCP|Timeout|Timer/.test(kind));

process.stdout.write(
  `${JSON.stringify({
    mode,
    transport: transportArg,
    tasks,
    concurrency: mode === "batch" ? concurrency : tasks,
    pollIntervalMs: pollIntervalMs ?? "default",
    failures,
    firstError,
    delays,
    requests,
    maxInFlight,
    wallMs,
    rssBeforeMb,
    maxRssMb: peakRssBytes() / 1e6,
    /** Not the figure: on Linux it includes the parent's RSS at the fork (see peak-rss.ts). */
    forkMaxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    maxSampledRssMb,
    heapAfterGcMb,
    openHandles,
  })}\n`,
);
