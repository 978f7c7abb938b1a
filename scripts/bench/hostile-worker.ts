// Section 7, client side (run as .cache/bench/hostile-worker.mjs): `node hostile-worker.mjs <baseUrl> <taskId>`.
// One getImage2VideoTask against a hostile answer, no retries, after a warm-up call; prints its RSS
// before the call on one line, then the outcome (the error's class, or "ok") and its peak RSS on the last.
import { createKlingClient } from "../../src/index.js";

const [baseUrl, taskId] = process.argv.slice(2);
if (!baseUrl || !taskId) throw new Error("usage: hostile-worker <baseUrl> <taskId>");

const kling = createKlingClient({ apiKey: "sk-bench", baseUrl, maxRetries: 0, timeoutMs: 60_000 });
// One small answer first (a 404), so loading fetch itself is not counted against the hostile body.
await kling.getImage2VideoTask("warm-up").catch(() => undefined);
const baselineRss = process.memoryUsage.rss();
console.log(JSON.stringify({ baselineRss }));
let outcome = "ok";
let message = "";
try {
  await kling.getImage2VideoTask(taskId);
} catch (error) {
  outcome = error instanceof Error ? error.name : typeof error;
  message = error instanceof Error ? error.message.slice(0, 160) : String(error).slice(0, 160);
}
console.log(JSON.stringify({ baselineRss, peakRss: process.resourceUsage().maxRSS * 1024, outcome, message }));
