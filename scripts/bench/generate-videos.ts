// Generate-videos section: a batch of 1,000 jobs (create, wait, download of a small video) with
// generateVideos in one child process, against the fake relay (xiexus-kling/testing) served by this
// process behind a loopback proxy that counts the requests in flight at once (relay and video host
// together). Measured: wall time and peak RSS of the batch; most requests in flight against
// `concurrency`; the journal's cost (the same batch with a journal that writes nothing, runs
// alternated, medians compared); resuming the finished batch: creates sent (must be 0), requests
// sent and wall time. Run on its own: `npx tsx scripts/bench/generate-videos.ts [--quick]`.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
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
  /** Rounds of (journal, no journal), alternated. */
  rounds: number;
  pollIntervalMs: number;
  videoBytes: number;
}

const WORKER = bundlePath("generate-videos-worker");

interface WorkerReport {
  mode: "file" | "none";
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
  appends: number;
  appendMsTotal: number;
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
  const concurrency = GENERATE_VIDEOS_TARGETS.concurrency;
  type Run = WorkerReport & { maxInFlight: number; requests: number; creates: number; processMs: number };
  const run = async (dir: string, mode: "file" | "none", transport: "http" | "fetch" = "http"): Promise<Run> => {
    proxy.reset();
    const creates = relay.createCount;
    const started = performance.now();
    const args = [WORKER, proxy.url, dir, String(settings.jobs), String(concurrency), String(settings.pollIntervalMs), mode, transport];
    const result = await runNode(args);
    const processMs = performance.now() - started;
    return { ...lastJson<WorkerReport>(result), maxInFlight: proxy.maxInFlight, requests: proxy.requests, creates: relay.createCount - creates, processMs };
  };
  try {
    const file: Run[] = [];
    const none: Run[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      // Alternated, and which goes first swapped each round: a drift in the machine's load hits both.
      const pair = [() => run(join(scratch, `file-${round}`), "file"), () => run(join(scratch, `none-${round}`), "none")];
      for (const next of round % 2 ? pair.reverse() : pair) {
        const r = await next();
        (r.mode === "file" ? file : none).push(r);
      }
    }
    const overFetch = await run(join(scratch, "fetch"), "file", "fetch");
    const resume = await run(join(scratch, "file-0"), "file");
    const first = file[0]!;
    const fileMs = median(file.map((r) => r.wallMs));
    const noneMs = median(none.map((r) => r.wallMs));
    const overheadPct = ((fileMs - noneMs) / fileMs) * 100;
    // The fastest runs: what is left when the machine's other load is least in the way.
    const bestFile = Math.min(...file.map((r) => r.wallMs));
    const bestNone = Math.min(...none.map((r) => r.wallMs));
    const bestOverheadPct = ((bestFile - bestNone) / bestFile) * 100;
    const all = [...file, ...none, overFetch];
    const failures = all.reduce((sum, r) => sum + r.failures, 0);
    const maxInFlight = Math.max(...all.map((r) => r.maxInFlight));
    const maxRss = Math.max(...file.map((r) => r.maxRssMb));
    const section = `generate videos (${fmt(settings.jobs)} jobs)`;
    const rows: Row[] = [
      {
        section,
        subject: `videos saved whole; wall time (concurrency ${concurrency}, pollIntervalMs ${settings.pollIntervalMs}, ${fmt(settings.videoBytes / 1024)} KiB videos)`,
        value: `${fmt(first.saved)} of ${fmt(settings.jobs)} per run, ${fmt(first.creates)} creates, ${fmt(first.requests)} requests; ${fmt(fileMs / 1000, 2)} s (median of ${file.length})`,
        ratio: "",
        target: `all ${fmt(settings.jobs)}, one create each`,
        status: verdict(failures === 0 && all.every((r) => r.saved === settings.jobs && r.creates === settings.jobs)),
      },
      {
        section,
        subject: "peak RSS (VmHWM) of the batch's process",
        value:
          `${fmt(maxRss, 1)} MB (no journal: ${fmt(Math.max(...none.map((r) => r.maxRssMb)), 1)} MB; ` +
          `polls over fetch instead of nodeHttpGet: ${fmt(overFetch.maxRssMb, 1)} MB)`,
        ratio: "",
        target: `< ${GENERATE_VIDEOS_TARGETS.rssMb} MB`,
        status: verdict(maxRss < GENERATE_VIDEOS_TARGETS.rssMb),
      },
      {
        section,
        subject: "requests in flight at most (relay and video host, counted at a proxy)",
        value: fmt(maxInFlight),
        ratio: "",
        target: `<= ${concurrency} (concurrency)`,
        status: verdict(maxInFlight <= concurrency),
      },
      {
        section,
        subject: "journal overhead: wall time with the journal vs one that writes nothing (medians; fastest runs)",
        value:
          `${fmt(overheadPct, 1)}%; ${fmt(bestOverheadPct, 1)}% (runs ${file.map((r) => fmt(r.wallMs / 1000, 2)).join(", ")} s ` +
          `vs ${none.map((r) => fmt(r.wallMs / 1000, 2)).join(", ")} s); ${fmt(first.appends)} appends, each on disk after ` +
          `${fmt(first.appendMsMedian, 2)} ms (median)`,
        ratio: "",
        target: `< ${GENERATE_VIDEOS_TARGETS.journalOverheadPct}%`,
        status: verdict(overheadPct < GENERATE_VIDEOS_TARGETS.journalOverheadPct),
      },
      {
        section,
        subject: "resuming the finished batch: creates sent, requests sent; time in the batch / whole process",
        value: `${fmt(resume.creates)}, ${fmt(resume.requests)}; ${fmt(resume.wallMs)} ms / ${fmt(resume.processMs)} ms (${fmt(resume.resumed)} resumed)`,
        ratio: "",
        target: `0 creates; < ${fmt(GENERATE_VIDEOS_TARGETS.resumeMs)} ms`,
        status: verdict(resume.creates === 0 && resume.resumed === settings.jobs && resume.processMs < GENERATE_VIDEOS_TARGETS.resumeMs),
      },
    ];
    for (const r of all) {
      if (r.firstError) rows.push({ section, subject: `first error (${r.mode})`, value: r.firstError, ratio: "", target: "", status: "" });
    }
    return {
      rows,
      notes: [
        `Generate videos: ${fmt(settings.jobs)} text2video jobs in one generateVideos (xiexus-kling/node) in a child process (bundled, plain node; ` +
          `the client with \`httpGet: nodeHttpGet\` as the CLI makes it, one run over fetch for the RSS row), ` +
          "its peak RSS read as VmHWM (`resourceUsage().maxRSS` keeps, on Linux, the RSS of the bench process it was forked " +
          `from: ${fmt(Math.max(...file.map((r) => r.forkMaxRssMb)), 1)} MB here), ` +
          `against the fake relay served by the bench process behind a loopback proxy that counts requests in flight (creates, polls, ` +
          `downloads). Each task is queued at its first poll and completed at the next; the video is ${fmt(settings.videoBytes / 1024)} KiB. ` +
          `Output and journal in the OS temp directory. The journal's overhead compares the median wall time of ${settings.rounds} runs ` +
          `with the journal (write + fdatasync per append, group-committed) against ${settings.rounds} runs, alternated, with a journal ` +
          `that keeps the same records in memory; the fastest of each is shown too, as the machine's other load only adds time. Resuming: the first finished batch's directory run again; its time is the whole ` +
          `process (node start, journal replay, a stat per video, one outcome per job).`,
      ],
    };
  } finally {
    await relay.close();
    await proxy.close();
    await rm(scratch, { recursive: true, force: true });
  }
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
