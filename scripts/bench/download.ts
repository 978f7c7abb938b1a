// Section: one large download to disk in a child process, from the fake relay's video host (bytes
// generated on the fly in this process), with downloadVideo against a hand-written fetch stream
// (the baseline). test/download.test.ts asserts the memory budget with the same measurement.
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeRelay, fakeVideoSha256 } from "../../src/testing/index.js";
import { verdict } from "./budgets.js";
import { lastJson, runNode } from "./child.js";
import { bundlePath, prepare } from "./prepare.js";
import { fmt, fmtRatio } from "./stats.js";
import type { Row, SectionResult, Settings } from "./table.js";

/** Peak RSS budget of the child downloading 1 GiB with downloadVideo, MB. */
export const DOWNLOAD_RSS_BUDGET_MB = 100;

/** Size of the measured download: 1 GiB. */
export const DOWNLOAD_BENCH_BYTES = 2 ** 30;

/** What one measured download reports. */
export interface DownloadReport {
  mode: "kling" | "fetch";
  /** Bytes on disk after the download (checked by the parent). */
  bytes: number;
  /** Wall time of the download in the child, ms. */
  ms: number;
  /** Highest `process.memoryUsage.rss()` sampled every 5 ms, MB. */
  peakRssMb: number;
  /** `process.resourceUsage().maxRSS`, MB. */
  maxRssMb: number;
  /** Whether the file's sha256 matched the served video (only when asked to verify). */
  verified?: boolean;
}

const WORKER = bundlePath("download-worker");

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Downloads `size` bytes from a fresh fake video host in a child process; the file is deleted after. */
export async function measureDownload(
  mode: "kling" | "fetch",
  size: number = DOWNLOAD_BENCH_BYTES,
  options: { verify?: boolean } = {},
): Promise<DownloadReport> {
  await prepare(["download-worker"]);
  const relay = await createFakeRelay({ video: { size } });
  const dir = await mkdtemp(join(tmpdir(), "kling-download-"));
  try {
    const file = join(dir, "video.mp4");
    const report = lastJson<DownloadReport>(await runNode([WORKER, mode, relay.video!.url, file], 300_000));
    report.bytes = (await stat(file)).size;
    if (options.verify) report.verified = (await sha256File(file)) === fakeVideoSha256(size);
    return report;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await relay.close();
  }
}

/** Runs the section (a quick run downloads 256 MiB instead of 1 GiB). */
export async function benchDownload(settings: Settings): Promise<SectionResult> {
  const size = settings.quick ? 2 ** 28 : DOWNLOAD_BENCH_BYTES;
  const base = await measureDownload("fetch", size);
  const kling = await measureDownload("kling", size);
  const section = `9. Download ${fmt(size / 2 ** 20)} MiB`;
  const vs = (k: string, b: string): string => `${k} (fetch stream: ${b})`;
  const peak = (r: DownloadReport): number => Math.max(r.peakRssMb, r.maxRssMb);
  const mbps = (r: DownloadReport): number => r.bytes / 2 ** 20 / (r.ms / 1000);
  const rows: Row[] = [
    {
      section,
      subject: "peak RSS of the downloading process (max of sampled rss and maxRSS)",
      value: vs(`${fmt(peak(kling), 1)} MB`, `${fmt(peak(base), 1)} MB`),
      ratio: fmtRatio(peak(kling) / peak(base)),
      target: `< ${DOWNLOAD_RSS_BUDGET_MB} MB`,
      status: verdict(kling.bytes === size && peak(kling) < DOWNLOAD_RSS_BUDGET_MB),
    },
    {
      section,
      subject: "throughput over loopback, to disk",
      value: vs(`${fmt(mbps(kling))} MiB/s`, `${fmt(mbps(base))} MiB/s`),
      ratio: fmtRatio(mbps(kling) / mbps(base)),
      target: "",
      status: "",
    },
  ];
  return {
    rows,
    notes: [
      `Download: ${fmt(size / 2 ** 20)} MiB from the fake relay's video host (bytes generated on the fly in the bench ` +
        "process) to a temp file, in a child process running plain node on a bundle; RSS sampled every 5 ms plus " +
        "`resourceUsage().maxRSS`. downloadVideo streams through node:http with a temp file, fsync and rename; the " +
        "baseline is `fetch` piped into `fs.createWriteStream` with no temp file, resume or fsync.",
    ],
  };
}
