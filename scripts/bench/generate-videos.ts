// Generate-videos section: a batch of 1,000 jobs (create, wait, download of a small video) with
// generateVideos in one child process, against the fake relay (xiexus-kling/testing) served by this
// process behind a loopback proxy that counts the requests in flight at once (relay and video host
// together). Measured: wall time and peak RSS of the batch; most requests in flight against
// `concurrency`; the journal's cost (the same batch with its journal file on a RAM file system,
// where a sync costs nothing; runs alternated, medians compared); resuming the finished batch:
// creates sent (must be 0), requests sent and wall time. Run on its own:
// `npx tsx scripts/bench/generate-videos.ts [--quick]`.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { access, constants, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createFakeRelay, type FakeRelay } from "../../src/testing/index.js";
import { verdict } from "./budgets.js";
import { lastJson, runNode } from "./child.js";
import { bundlePath, prepare } from "./prepare.js";
import { fmt, median } from "./stats.js";
import { renderTable, type Row, type SectionResult } from "./table.js";

/** The issue's targets for a batch of 1,000 jobs. */
export const GENERATE_VIDEOS_TARGETS = {
  /** Peak RSS of the batch's process, MB. */
  rssMb: 150,
  /** Requests in flight at once (creates, polls and downloads together). */
  concurrency: 8,
  /** The journal's share of the batch's wall time, %. */
  journalOverheadPct: 5,
  /** Resuming the finished batch, whole process, ms. */
  resumeMs: 2_000,
} as const;

/** Sizes of a run. */
export interface GenerateVideosSettings {
  jobs: number;
  /** Rounds of (journal on disk, journal in RAM), alternated. */
  rounds: number;
  pollIntervalMs: number;
  videoBytes: number;
}

const WORKER = bundlePath("generate-videos-worker");

/** A RAM file system to put the journal on for the comparison: Linux's /dev/shm, when it is there. */
const RAM_ROOT = "/dev/shm";

interface WorkerReport {
  mode: "disk" | "ram";
  transport: "http" | "fetch";
  jobs: number;
  saved: number;
  resumed: number;
  failures: number;
  firstError: string;
  wallMs: number;
  /** Peak RSS (VmHWM where there is one; see peak-rss.ts). */
  maxRssMb: number;
  /** `resourceUsage().maxRSS`, which on Linux includes this (parent) process's RSS at the fork. */
  forkMaxRssMb: number;
  maxSampledRssMb: number;
  /** Records in the journal at the end. */
  records: number;
  /** One append on its own, on the batch's disk, ms (median of 100; 0 when not timed). */
  appendMsMedian: number;
}

interface Counted {
  url: string;
  maxInFlight: number;
  requests: number;
  reset(): void;
  close(): Promise<void>;
}

/** A loopback proxy in front of the relay and its video host, counting the requests in flight at once. */
async function countingProxy(relay: () => FakeRelay): Promise<Counted> {
  let inFlight = 0;
  const counted = { maxInFlight: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    inFlight++;
    counted.requests++;
    counted.maxInFlight = Math.max(counted.maxInFlight, inFlight);
    let done = false;
    const end = (): void => {
      if (!done) inFlight--;
      done = true;
    };
    res.on("finish", end);
    res.on("close", end);
    const target = new URL(req.url!, req.url!.startsWith("/kling/videos/") ? relay().video!.origin : relay().url);
    const upstream = http.request(target, { method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  return Object.assign(counted, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reset() {
      counted.maxInFlight = 0;
      counted.requests = 0;
    },
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  });
}

/** A RAM file system this process may write to, or undefined where there is none. */
async function ramRoot(): Promise<string | undefined> {
  return access(RAM_ROOT, constants.W_OK).then(
    () => RAM_ROOT,
    () => undefined,
  );
}

/** Runs the section: bundles its worker, serves the fake relay, runs the batches. */
export async function benchGenerateVideos(settings: GenerateVideosSettings): Promise<SectionResult> {
  await prepare(["generate-videos-worker"]);
  const holder: { relay?: FakeRelay } = {};
  const proxy = await countingProxy(() => holder.relay!);
  const relay = (holder.relay = await createFakeRelay({
    video: { size: settings.videoBytes },
    // Queued at the first poll, completed at the next; the video through the counting proxy.
    createdTasks: { steps: [{ status: "queued" }, { status: "completed", url: `${proxy.url}/kling/videos/v.mp4` }] },
  }));
  const scratch = await mkdtemp(join(tmpdir(), "xiexus-bench-generate-"));
  const ram = await ramRoot();
  const ramDir = ram === undefined ? undefined : await mkdtemp(join(ram, "xiexus-bench-journal-"));
  const concurrency = GENERATE_VIDEOS_TARGETS.concurrency;
  const run = async (dir: string, mode: "disk" | "ram", transport: "http" | "fetch" = "http"): Promise<CountedRun> => {
    proxy.reset();
    const creates = relay.createCount;
    const started = performance.now();
    const args = [WORKER, proxy.url, dir, String(settings.jobs), String(concurrency), String(settings.pollIntervalMs), mode, transport];
    const result = await runNode(mode === "ram" ? [...args, ramDir!] : args);
    const processMs = performance.now() - started;
    return { ...lastJson<WorkerReport>(result), maxInFlight: proxy.maxInFlight, requests: proxy.requests, creates: relay.createCount - creates, processMs };
  };
  try {
    const disk: CountedRun[] = [];
    const inRam: CountedRun[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      // Alternated, and which goes first swapped each round: a drift in the machine's load hits both.
      const pair = [() => run(join(scratch, `disk-${round}`), "disk")];
      if (ramDir !== undefined) pair.push(() => run(join(scratch, `ram-${round}`), "ram"));
      for (const next of round % 2 ? pair.reverse() : pair) {
        const r = await next();
        (r.mode === "disk" ? disk : inRam).push(r);
      }
    }
    const overFetch = await run(join(scratch, "fetch"), "disk", "fetch");
    const resume = await run(join(scratch, "disk-0"), "disk");
    const all = [...disk, ...inRam, overFetch];
    const rows = generateVideosRows(settings, { disk, inRam, overFetch, resume, all });
    return { rows, notes: [generateVideosNote(settings, disk)] };
  } finally {
    await relay.close();
    await proxy.close();
    await rm(scratch, { recursive: true, force: true });
    if (ramDir !== undefined) await rm(ramDir, { recursive: true, force: true });
  }
}

/** One run of the batch, with what the proxy and the relay counted. */
type CountedRun = WorkerReport & { maxInFlight: number; requests: number; creates: number; processMs: number };

/** The section's rows from its runs (`inRam` empty where there is no RAM file system). */
function generateVideosRows(
  settings: GenerateVideosSettings,
  runs: { disk: CountedRun[]; inRam: CountedRun[]; overFetch: CountedRun; resume: CountedRun; all: CountedRun[] },
): Row[] {
  const { disk, inRam, overFetch, resume, all } = runs;
  const concurrency = GENERATE_VIDEOS_TARGETS.concurrency;
  const first = disk[0]!;
  const diskMs = median(disk.map((r) => r.wallMs));
  const failures = all.reduce((sum, r) => sum + r.failures, 0);
  const maxInFlight = Math.max(...all.map((r) => r.maxInFlight));
  const maxRss = Math.max(...disk.map((r) => r.maxRssMb));
  const section = `generate videos (${fmt(settings.jobs)} jobs)`;
  const seconds = (list: CountedRun[]): string => list.map((r) => fmt(r.wallMs / 1000, 2)).join(", ");
  const row = (subject: string, value: string, target: string, met: boolean | undefined): Row => ({
    section,
    subject,
    value,
    ratio: "",
    target,
    status: met === undefined ? "" : verdict(met),
  });
  const rows: Row[] = [
    row(
      `videos saved whole; wall time (concurrency ${concurrency}, pollIntervalMs ${settings.pollIntervalMs}, ${fmt(settings.videoBytes / 1024)} KiB videos)`,
      `${fmt(first.saved)} of ${fmt(settings.jobs)} per run, ${fmt(first.creates)} creates, ${fmt(first.requests)} requests; ${fmt(diskMs / 1000, 2)} s (median of ${disk.length})`,
      `all ${fmt(settings.jobs)}, one create each`,
      failures === 0 && all.every((r) => r.saved === settings.jobs && r.creates === settings.jobs),
    ),
    row(
      "peak RSS (VmHWM) of the batch's process",
      `${fmt(maxRss, 1)} MB (${inRam.length ? `journal in RAM: ${fmt(Math.max(...inRam.map((r) => r.maxRssMb)), 1)} MB; ` : ""}` +
        `polls over fetch instead of nodeHttpGet: ${fmt(overFetch.maxRssMb, 1)} MB)`,
      `< ${GENERATE_VIDEOS_TARGETS.rssMb} MB`,
      maxRss < GENERATE_VIDEOS_TARGETS.rssMb,
    ),
    row("requests in flight at most (relay and video host, counted at a proxy)", fmt(maxInFlight), `<= ${concurrency} (concurrency)`, maxInFlight <= concurrency),
  ];
  const appends = `${fmt(first.records)} records; one append alone on this disk ${fmt(first.appendMsMedian, 2)} ms (median of 100)`;
  if (inRam.length === 0) {
    rows.push(row("journal overhead: not measured (no RAM file system at /dev/shm to compare with)", appends, `< ${GENERATE_VIDEOS_TARGETS.journalOverheadPct}%`, undefined));
  } else {
    const overheadPct = ((diskMs - median(inRam.map((r) => r.wallMs))) / diskMs) * 100;
    // The fastest runs: what is left when the machine's other load is least in the way.
    const bestDisk = Math.min(...disk.map((r) => r.wallMs));
    const bestOverheadPct = ((bestDisk - Math.min(...inRam.map((r) => r.wallMs))) / bestDisk) * 100;
    rows.push(
      row(
        "journal overhead: wall time with the journal on disk vs in RAM, where a sync costs nothing (medians; fastest runs)",
        `${fmt(overheadPct, 1)}%; ${fmt(bestOverheadPct, 1)}% (runs ${seconds(disk)} s vs ${seconds(inRam)} s); ${appends}`,
        `< ${GENERATE_VIDEOS_TARGETS.journalOverheadPct}%`,
        overheadPct < GENERATE_VIDEOS_TARGETS.journalOverheadPct,
      ),
    );
  }
  rows.push(
    row(
      "resuming the finished batch: creates sent, requests sent; time in the batch / whole process",
      `${fmt(resume.creates)}, ${fmt(resume.requests)}; ${fmt(resume.wallMs)} ms / ${fmt(resume.processMs)} ms (${fmt(resume.resumed)} resumed)`,
      `0 creates; < ${fmt(GENERATE_VIDEOS_TARGETS.resumeMs)} ms`,
      resume.creates === 0 && resume.resumed === settings.jobs && resume.processMs < GENERATE_VIDEOS_TARGETS.resumeMs,
    ),
  );
  for (const r of all) if (r.firstError) rows.push(row(`first error (${r.mode})`, r.firstError, "", undefined));
  return rows;
}

/** How the section measures, for BENCHMARKS.md. */
function generateVideosNote(settings: GenerateVideosSettings, disk: CountedRun[]): string {
  return (
    `Generate videos: ${fmt(settings.jobs)} text2video jobs in one generateVideos (xiexus-kling/node) in a child process (bundled, plain node; ` +
    `the client with \`httpGet: nodeHttpGet\` as the CLI makes it, one run over fetch for the RSS row), ` +
    "its peak RSS read as VmHWM (`resourceUsage().maxRSS` keeps, on Linux, the RSS of the bench process it was forked " +
    `from: ${fmt(Math.max(...disk.map((r) => r.forkMaxRssMb)), 1)} MB here), ` +
    `against the fake relay served by the bench process behind a loopback proxy that counts requests in flight (creates, polls, ` +
    `downloads). Each task is queued at its first poll and completed at the next; the video is ${fmt(settings.videoBytes / 1024)} KiB. ` +
    `Output and journal in the OS temp directory. The journal's overhead compares the median wall time of ${settings.rounds} runs ` +
    `with the journal on disk (write + fdatasync per append, group-committed) against ${settings.rounds} runs, alternated, of the same ` +
    `batch whose journal file is a link to a file on a RAM file system (/dev/shm), where a sync costs nothing, the videos still on disk: ` +
    `the same code as a user runs, no journal swapped in. The fastest of each is shown too, as the machine's other load only adds time. ` +
    `One append alone: 100 intents to a fresh journal on the same disk after the first batch, one at a time. Resuming: the first ` +
    `finished batch's directory run again; its time is the whole process (node start, journal replay, a stat per video, one outcome per job).`
  );
}

/** The sizes of a full run (1,000 jobs, 3 rounds) or a quick one (200 jobs, 1 round). */
export function generateVideosSettings(quick: boolean): GenerateVideosSettings {
  return quick
    ? { jobs: 200, rounds: 1, pollIntervalMs: 50, videoBytes: 16 * 1024 }
    : { jobs: 1_000, rounds: 3, pollIntervalMs: 50, videoBytes: 16 * 1024 };
}

// Run on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const result = await benchGenerateVideos(generateVideosSettings(values.quick));
  console.log(`${renderTable(result.rows)}\n\n${result.notes.map((n) => `- ${n}`).join("\n")}`);
}
