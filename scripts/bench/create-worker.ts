// Section "create from a 10 MiB image", client side (run as .cache/bench/create-worker.mjs with
// --expose-gc): `node --expose-gc create-worker.mjs <kling|naive> <bytes|file|open> <baseUrl> <image> <warm-up image>`.
// One image2video create of <image>, after two warm-up creates of a small image by the same path
// (so fetch, undici and our code are loaded before the baseline). "bytes": the image is read
// into memory before the baseline; "file": it is read inside the measured part; "open" (kling
// only): it is opened with openImageFile inside the measured part, a Blob backed by the file that
// the create streams from disk. "kling" is createImage2VideoTask (streamed base64 body); "naive"
// is the fetch a user writes by hand.
// Peak RSS is the larger of `rss()` sampled every 1 ms and VmHWM (reset after the baseline through
// /proc/self/clear_refs): a synchronous JSON.stringify blocks the sampler, VmHWM still sees it.
// Prints one JSON line.
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createKlingClient } from "../../src/index.js";
import { openImageFile, readImageFile } from "../../src/node/image-file.js";

const [mode, source, baseUrl, imagePath, warmPath] = process.argv.slice(2);
const sources = mode === "kling" ? ["bytes", "file", "open"] : ["bytes", "file"];
if ((mode !== "kling" && mode !== "naive") || !sources.includes(source ?? "") || !baseUrl || !imagePath || !warmPath) {
  console.error("usage: create-worker kling|naive bytes|file <baseUrl> <image> <warm-up image> (kling also: open)");
  process.exit(2);
}

const API_KEY = "sk-bench";
const REQUEST = { model: "kling-v1", prompt: "The cat stands up and walks out of the frame" } as const;
const createUrl = `${baseUrl}/kling/v1/videos/image2video`;
const kling = createKlingClient({ apiKey: API_KEY, baseUrl, maxRetries: 0, timeoutMs: 60_000 });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("create-worker needs --expose-gc");

/** The create as a user writes it without this package: the file, its base64, the JSON, its encoding. */
async function naiveCreate(bytes: Uint8Array): Promise<string> {
  const body = JSON.stringify({ ...REQUEST, image: Buffer.from(bytes).toString("base64") });
  const response = await fetch(createUrl, {
    method: "POST",
    headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
    body,
  });
  const created = (await response.json()) as { task_id?: string };
  if (!response.ok || !created.task_id) throw new Error(`naive create: HTTP ${response.status}`);
  return created.task_id;
}

async function create(image: Uint8Array | Blob): Promise<string> {
  if (mode === "naive") return naiveCreate(image as Uint8Array);
  return (await kling.createImage2VideoTask({ ...REQUEST, image })).task_id;
}

// The warm-up goes the way the measured create goes, so "open" has loaded openAsBlob and the Blob stream.
const warmUp = async (): Promise<Uint8Array | Blob> => (source === "open" ? openImageFile(warmPath) : readFileSync(warmPath));
await create(await warmUp());
await create(await warmUp());

const bytes: Buffer | undefined = source === "bytes" ? readFileSync(imagePath) : undefined;
// RSS keeps moving for ~200 ms after start-up (V8 shrinking its spaces, code flushed): a baseline
// taken in that window makes the create look cheaper (or dearer) than it is. Settle first.
let settled = process.memoryUsage.rss();
for (let i = 0; i < 20; i++) {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const now = process.memoryUsage.rss();
  if (i >= 2 && Math.abs(now - settled) < 256 * 1024) break;
  settled = now;
}
gc();
const baselineRss = process.memoryUsage.rss();

function vmHwm(): number {
  try {
    const kb = /^VmHWM:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

// Linux: writing 5 resets the peak (VmHWM) to the current RSS, so it measures from here on.
let hwmReset = false;
try {
  writeFileSync("/proc/self/clear_refs", "5");
  hwmReset = true;
} catch {
  // No /proc (not Linux) or not allowed: the sampled peak alone is reported.
}

let sampledPeak = baselineRss;
let sampledLow = baselineRss;
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  sampledPeak = Math.max(sampledPeak, rss);
  sampledLow = Math.min(sampledLow, rss);
}, 1);

const started = performance.now();
let image: Uint8Array | Blob;
if (bytes) image = bytes;
else if (source === "open") image = await openImageFile(imagePath);
else image = mode === "kling" ? await readImageFile(imagePath) : await readFile(imagePath);
const taskId = await create(image);
const ms = performance.now() - started;
clearInterval(sampler);
sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
const hwm = hwmReset ? vmHwm() : Number.NaN;

const MB = 2 ** 20;
const peak = Number.isNaN(hwm) ? sampledPeak : Math.max(sampledPeak, hwm);
console.log(
  JSON.stringify({
    mode,
    source,
    taskId,
    imageBytes: image instanceof Blob ? image.size : image.byteLength,
    ms,
    baselineMb: baselineRss / MB,
    sampledPeakOverMb: (sampledPeak - baselineRss) / MB,
    hwmOverMb: hwmReset ? (hwm - baselineRss) / MB : null,
    peakOverMb: (peak - baselineRss) / MB,
    /** How far RSS fell below the baseline meanwhile (a baseline still settling shows here). */
    lowUnderMb: (baselineRss - sampledLow) / MB,
  }),
);
