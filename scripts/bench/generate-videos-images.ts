// Generate-videos section with images: peak RSS of a batch of 32 image2video jobs whose images are
// 9.5 MiB PNG files, at concurrency 8, in one child process, against the fake relay
// (xiexus-kling/testing) served by this process. Three variants, rotated: the batch as it is
// (generateVideos opens each image with openImageFile, a Blob backed by the file that the create
// streams from disk); the same code built with openImageFile reading the file whole (what the batch
// did before, see prepare.ts); and the same jobs without images (text2video), the process's floor.
// Every create is checked at the relay: one per job, its image the file's exact bytes.
// Run on its own: `npx tsx scripts/bench/generate-videos-images.ts [--quick]`.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createFakeRelay, fakePng } from "../../src/testing/index.js";
import { verdict } from "./budgets.js";
import { lastJson, runNode } from "./child.js";
import { CACHE } from "./paths.js";
import { bundlePath, prepare } from "./prepare.js";
import { fmt, fmtRatio, max, median } from "./stats.js";
import { renderTable, type Row, type SectionResult } from "./table.js";

/** The issue's target: peak RSS of the batch's process, MB (it was 230 MB with the images read whole). */
export const GENERATE_VIDEOS_IMAGES_TARGET_MB = 110;

/** Sizes of a run. */
export interface GenerateVideosImagesSettings {
  jobs: number;
  concurrency: number;
  /** Bytes of each image file. */
  imageBytes: number;
  /** Runs per variant, rotated. */
  rounds: number;
  pollIntervalMs: number;
  videoBytes: number;
}

/** The full run (3 rounds) or a quick one (1 round); the batch itself is the same. */
export function generateVideosImagesSettings(quick: boolean): GenerateVideosImagesSettings {
  return { jobs: 32, concurrency: 8, imageBytes: 9.5 * 2 ** 20, rounds: quick ? 1 : 3, pollIntervalMs: 50, videoBytes: 16 * 1024 };
}

interface WorkerReport {
  kind: "images" | "text";
  jobs: number;
  saved: number;
  failures: number;
  firstError: string;
  wallMs: number;
  startRssMb: number;
  peakRssMb: number;
  maxRssMb: number;
}

const VARIANTS = [
  { name: "open", bundle: "generate-videos-images-worker", kind: "images", subject: "openImageFile, streamed from disk (generateVideos as it is)" },
  { name: "read", bundle: "generate-videos-images-worker-read", kind: "images", subject: "each image read whole (readImageFile, as the batch did before)" },
  { name: "text", bundle: "generate-videos-images-worker", kind: "text", subject: "the same jobs without images (text2video): the floor" },
] as const;

/** The job images, written once to .cache/bench (rewritten if a size differs); the sha256 of each file's bytes. */
async function jobImages(settings: GenerateVideosImagesSettings): Promise<{ dir: string; sha256: string[] }> {
  const dir = join(CACHE, `images-${settings.imageBytes}`);
  await mkdir(dir, { recursive: true });
  const sha256: string[] = [];
  for (let i = 0; i < settings.jobs; i++) {
    // A height per job, so no two files are the same bytes (the relay checks each create got its own).
    const png = fakePng(1280, 720 + i, { size: settings.imageBytes });
    sha256.push(createHash("sha256").update(png).digest("hex"));
    const file = join(dir, `job-${i}.png`);
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size !== png.length) await writeFile(file, png);
  }
  return { dir, sha256 };
}

/** Runs the section: the images, the fake relay, then `rounds` runs of each variant in rotation. */
export async function benchGenerateVideosImages(settings: GenerateVideosImagesSettings): Promise<SectionResult> {
  await prepare([...new Set(VARIANTS.map((v) => v.bundle))]);
  const images = await jobImages(settings);
  const relay = await createFakeRelay({ video: { size: settings.videoBytes }, createdTasks: { runningPolls: 1 } });
  const scratch = await mkdtemp(join(tmpdir(), "xiexus-bench-generate-images-"));
  const reports = VARIANTS.map((): WorkerReport[] => []);
  try {
    for (let round = 0; round < settings.rounds; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const i = (k + round) % VARIANTS.length;
        const variant = VARIANTS[i]!;
        const seen = relay.creates.length;
        const args = [
          bundlePath(variant.bundle),
          relay.url,
          join(scratch, `${variant.name}-${round}`),
          images.dir,
          String(settings.jobs),
          String(settings.concurrency),
          String(settings.pollIntervalMs),
          variant.kind,
        ];
        const report = lastJson<WorkerReport>(await runNode(args, 300_000));
        if (report.saved !== settings.jobs) throw new Error(`${variant.name}: ${report.saved} of ${settings.jobs} saved (${report.firstError})`);
        const creates = relay.creates.slice(seen);
        if (creates.length !== settings.jobs) throw new Error(`${variant.name}: ${creates.length} creates for ${settings.jobs} jobs`);
        if (variant.kind === "images") {
          // Each job's create carried its own file, byte for byte (the relay decodes the base64 and hashes it).
          const got = new Set(creates.map((c) => c.image?.bytesSha256));
          const missing = images.sha256.filter((sha) => !got.has(sha));
          if (missing.length) throw new Error(`${variant.name}: ${missing.length} job images did not reach the relay intact`);
        }
        reports[i]!.push(report);
      }
    }
  } finally {
    await relay.close();
    await rm(scratch, { recursive: true, force: true });
  }
  const peaks = (i: number): number[] => reports[i]!.map((r) => r.peakRssMb);
  const before = median(peaks(1));
  const section = `generate videos (${settings.jobs} images of ${fmt(settings.imageBytes / 2 ** 20, 1)} MiB)`;
  const rows: Row[] = VARIANTS.map((variant, i): Row => {
    const values = peaks(i);
    const judged = variant.name === "open";
    return {
      section,
      subject: `peak RSS of the batch's process: ${variant.subject}`,
      value:
        `max ${fmt(max(values), 1)} MB, median ${fmt(median(values), 1)} MB of ${values.length}; ` +
        `${fmt(median(reports[i]!.map((r) => r.startRssMb)), 1)} MB before the batch; ${fmt(median(reports[i]!.map((r) => r.wallMs / 1000)), 2)} s`,
      ratio: variant.name === "read" ? "1.00x" : fmtRatio(median(values) / before),
      target: judged ? `<= ${GENERATE_VIDEOS_IMAGES_TARGET_MB} MB (max of ${values.length})` : "",
      status: judged ? verdict(max(values) <= GENERATE_VIDEOS_IMAGES_TARGET_MB) : "",
    };
  });
  rows.push({
    section,
    subject: "videos saved; creates, each with its job's image intact",
    value: `${fmt(settings.jobs)} of ${fmt(settings.jobs)} per run; ${fmt(settings.jobs)} creates per run, images checked by sha256 at the relay`,
    ratio: "",
    target: `all ${settings.jobs}, one create each`,
    status: "met",
  });
  return {
    rows,
    notes: [
      `Generate videos with images: ${settings.jobs} image2video jobs, each \`image\` a path to its own PNG of ` +
        `${fmt(settings.imageBytes)} bytes (fakePng of xiexus-kling/testing, padded; written once to .cache/bench), in one generateVideos ` +
        `(xiexus-kling/node, the real journal, concurrency ${settings.concurrency}, pollIntervalMs ${settings.pollIntervalMs}, polls over ` +
        "`httpGet: nodeHttpGet` as the CLI makes them) in a child process (bundled, plain node), against the fake relay served by " +
        `the bench process, which reads every body, decodes each image and checks its sha256 against the job's file. Each task is queued at ` +
        `its first poll and completed at the next; the video is ${fmt(settings.videoBytes / 1024)} KiB. Peak RSS is the child's whole ` +
        "life (VmHWM; not `process.resourceUsage().maxRSS`, which on Linux keeps the parent's RSS at the fork, here the bench " +
        "process with the relay), node and the loaded code included: the text2video row shows " +
        `that floor. ${settings.rounds} runs per variant, rotated; the target is read on the largest. "Read whole" is the same worker ` +
        "built with `openImageFile` replaced by `readImageFile` (scripts/bench/prepare.ts), as generateVideos read job images before.",
    ],
  };
}

// Run on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const result = await benchGenerateVideosImages(generateVideosImagesSettings(values.quick));
  console.log(`${renderTable(result.rows)}\n\n${result.notes.map((n) => `- ${n}`).join("\n")}`);
}
