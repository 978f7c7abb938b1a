// Child process for hostile.test.ts: one task request against a hostile loopback server, in a
// process of its own so its memory is its own (the server writing gigabytes and other tests'
// garbage live in the test process). Prints one JSON line: the error, and the RSS growth.
//   node --expose-gc --import tsx hostile-child.ts <baseUrl> <fetch|nodeHttpGet> <get|raw> <taskId> [maxResponseBytes]
import { createKlingClient, KlingError, ResponseTooLargeError } from "../../src/index.js";
import { nodeHttpGet } from "../../src/node/index.js";

/** What the child reports. */
export interface HostileReport {
  /** The error's name, or "none" when the call resolved. */
  error: string;
  isKlingError: boolean;
  isResponseTooLarge: boolean;
  limit: number | undefined;
  status: number | undefined;
  message: string;
  /** Peak RSS during the call less the RSS before it, bytes. */
  growth: number;
}

const [baseUrl, transport, call, taskId, maxBytes] = process.argv.slice(2);
if (!baseUrl || !transport || !call || !taskId) throw new Error("usage: hostile-child <baseUrl> <fetch|nodeHttpGet> <get|raw> <taskId> [maxResponseBytes]");

const kling = createKlingClient({
  apiKey: "sk-hostile",
  baseUrl,
  timeoutMs: 60_000,
  ...(transport === "nodeHttpGet" && { httpGet: nodeHttpGet }),
  ...(maxBytes !== undefined && { maxResponseBytes: Number(maxBytes) }),
});
const request = (id: string): Promise<unknown> =>
  call === "raw" ? kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: id } } }) : kling.getImage2VideoTask(id);

// One small answer first, so loading the transport and the client's code is not counted.
await request("warm-up").catch(() => undefined);
globalThis.gc?.();
const start = process.memoryUsage.rss();
const maxRssBefore = process.resourceUsage().maxRSS * 1024;
let sampled = start;
const sampler = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage.rss())), 5);
let error: unknown;
try {
  await request(taskId);
} catch (caught) {
  error = caught;
}
clearInterval(sampler);
sampled = Math.max(sampled, process.memoryUsage.rss());
// Sampling misses a peak while the event loop is busy; the kernel's high-water mark does not, but it
// only says something about this call when the call raised it.
const maxRssAfter = process.resourceUsage().maxRSS * 1024;
const peak = maxRssAfter > maxRssBefore ? Math.max(sampled, maxRssAfter) : sampled;
const report: HostileReport = {
  error: error === undefined ? "none" : error instanceof Error ? error.name : typeof error,
  isKlingError: error instanceof KlingError,
  isResponseTooLarge: error instanceof ResponseTooLargeError,
  limit: error instanceof ResponseTooLargeError ? error.limit : undefined,
  status: error instanceof ResponseTooLargeError ? error.status : undefined,
  message: error instanceof Error ? error.message : "",
  growth: peak - start,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
