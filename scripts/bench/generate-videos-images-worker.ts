// Generate-videos section with images, batch side (run as .cache/bench/generate-videos-images-worker.mjs,
// or as ...-read.mjs, the same code built with openImageFile reading the file whole, as the batch did before):
// `node generate-videos-images-worker.mjs <baseUrl> <outDir> <imageDir> <jobs> <concurrency> <pollIntervalMs> images|text`.
// One generateVideos batch (xiexus-kling/node, the real journal) against the fake relay the parent
// serves: `images`: job i is image2video with `image: "job-<i>.png"`, a file in <imageDir> (opened
// at create time by generateVideos); `text`: the same jobs without images (text2video), the floor.
// The client sends its polls with `httpGet: nodeHttpGet`, as the CLI does. Prints one JSON line:
// outcomes, wall time, this process's peak RSS (VmHWM; see peak-rss.ts) and its RSS before the batch.
import { createKlingClient } from "../../src/index.js";
import { generateVideos, nodeHttpGet, type VideoJob } from "../../src/node/index.js";
import { FAKE_RELAY_API_KEY } from "../../src/testing/index.js";
import { peakRssBytes } from "./peak-rss.js";

const [baseUrl, outDir, imageDir, jobsArg, concurrencyArg, pollArg, kind] = process.argv.slice(2);
if (!baseUrl || !outDir || !imageDir || !jobsArg || !concurrencyArg || !pollArg || (kind !== "images" && kind !== "text")) {
  throw new Error("usage: generate-videos-images-worker <baseUrl> <outDir> <imageDir> <jobs> <concurrency> <pollIntervalMs> images|text");
}

const MB = 1e6;

const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl, httpGet: nodeHttpGet });
const jobs: VideoJob[] = Array.from({ length: Number(jobsArg) }, (_, i) => ({
  key: `job-${i}`,
  model: "kling-v1",
  prompt: `job ${i}: the picture comes to life`,
  duration: 5,
  ...(kind === "images" && { image: `job-${i}.png` }),
}));

// Everything the batch needs is loaded; what the process holds from here on is the batch's.
const startRss = process.memoryUsage.rss();
const start = performance.now();
let saved = 0;
let failures = 0;
let firstError = "";
const options = { outputDir: outDir, baseDir: imageDir, concurrency: Number(concurrencyArg), pollIntervalMs: Number(pollArg) };
for await (const outcome of generateVideos(kling, jobs, options)) {
  if (outcome.error) {
    failures++;
    firstError ||= `${outcome.error.name}: ${outcome.error.message}`;
  } else {
    saved++;
  }
}
const wallMs = performance.now() - start;

process.stdout.write(
  `${JSON.stringify({
    kind,
    jobs: jobs.length,
    saved,
    failures,
    firstError,
    wallMs,
    startRssMb: startRss / MB,
    peakRssMb: peakRssBytes() / MB,
    /** Not the figure: on Linux it includes the parent's RSS at the fork (see peak-rss.ts). */
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
  })}\n`,
);
