// Child process of the download bench and of test/download.test.ts's memory budget: downloads one
// URL to one path, with downloadVideo ("kling") or a hand-written fetch stream ("fetch", the
// baseline), sampling RSS meanwhile, and prints one JSON line. Bundled by scripts/bench/download.ts
// so no tsx loader runs inside the measured process.
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { downloadVideo } from "../../src/node/index.js";

const [mode, url, filePath] = process.argv.slice(2);
if ((mode !== "kling" && mode !== "fetch") || !url || !filePath) {
  console.error("usage: download-worker kling|fetch <url> <file>");
  process.exit(2);
}

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 5);

const started = performance.now();
let bytes: number;
if (mode === "kling") {
  bytes = (await downloadVideo(url, filePath, { overwrite: true })).bytes;
} else {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`fetch: ${response.status}`);
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(filePath));
  bytes = Number(response.headers.get("content-length"));
}
const ms = performance.now() - started;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());

const MB = 2 ** 20;
console.log(
  JSON.stringify({ mode, bytes, ms, peakRssMb: peakRss / MB, maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB }),
);
