// Section 6, client side (run as .cache/bench/waits-worker.mjs):
// `node waits-worker.mjs kling|fetch <baseUrl> <tasks> <spreadMs> <pollIntervalMs>`; `fetch` runs the
// same scenario with a minimal hand-written fetch loop, the baseline of the ratios.
// Starts every wait at once; task i finishes at a fixed instant spread evenly over <spreadMs>
// (the server flips it then; the instant is in its id). Prints one JSON line and then returns
// without calling process.exit: the parent times how long the process takes to exit by itself.
import { createKlingClient, type FetchLike } from "../../src/index.js";

const [mode, baseUrl, tasksArg, spreadArg, pollArg] = process.argv.slice(2);
if ((mode !== "kling" && mode !== "fetch") || !baseUrl || !tasksArg || !spreadArg || !pollArg) {
  throw new Error("usage: waits-worker kling|fetch <url> <tasks> <spreadMs> <pollMs>");
}
const tasks = Number(tasksArg);
const spreadMs = Number(spreadArg);
const pollIntervalMs = Number(pollArg);

const requestsByUrl = new Map<string, number>();
const latencies: number[] = [];
const countingFetch: FetchLike = async (input, init) => {
  requestsByUrl.set(input.url, (requestsByUrl.get(input.url) ?? 0) + 1);
  const start = performance.now();
  const response = await fetch(input, init);
  latencies.push(performance.now() - start);
  return response;
};
const kling = createKlingClient({ apiKey: "sk-bench", baseUrl, fetch: countingFetch });

/** The baseline: the least a hand-written poll loop can do (fetch, parse, compare, sleep). */
async function rawWait(id: string): Promise<void> {
  const request = new Request(`${baseUrl}/kling/v1/videos/image2video/${id}`, { headers: { Authorization: "Bearer sk-bench" } });
  for (;;) {
    const response = await countingFetch(request.clone());
    const task = (await response.json()) as { status?: unknown };
    if (task.status === "completed") return;
    if (task.status === "failed") throw new Error(`task ${id} failed`);
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}
const wait =
  mode === "kling"
    ? (id: string) => kling.waitForImage2VideoTask(id, { pollIntervalMs, timeoutMs: spreadMs + 60_000 })
    : rawWait;

const rssBeforeMb = process.memoryUsage().rss / 1e6;
// The first task finishes a little after the start, so every wait sees at least one in_progress.
const start = Date.now() + 250;
const finishAt = Array.from({ length: tasks }, (_, i) => start + Math.round((spreadMs * (i + 0.5)) / tasks));
const ids = finishAt.map((at, i) => `t-${i}-${at}`);
const delays: number[] = [];
let failures = 0;
let firstError = "";

await Promise.all(
  ids.map((id, i) =>
    wait(id).then(
      () => void delays.push(Date.now() - finishAt[i]!),
      (error: unknown) => {
        failures++;
        firstError ||= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      },
    ),
  ),
);
const wallMs = Date.now() - start;

// Let the last responses' sockets go back to the pool before looking at what is still open.
await new Promise((resolve) => setImmediate(resolve));
// Sockets and timers are what would keep the process alive; an Immediate runs on the next tick anyway.
const openHandles = process.getActiveResourcesInfo().filter((kind) => /TCP|Timeout|Timer/.test(kind));
const perTask = ids.map((id) => requestsByUrl.get(`${baseUrl}/kling/v1/videos/image2video/${id}`) ?? 0);

process.stdout.write(
  `${JSON.stringify({
    tasks,
    failures,
    firstError,
    delays,
    perTask,
    latencies,
    wallMs,
    rssBeforeMb,
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    openHandles,
  })}\n`,
);
