// generateVideos against the fake relay on loopback: a batch saved whole, the concurrency limit
// counted at the servers, jobs that fail without stopping the others, resuming from the journal
// (nothing created twice), the create whose fate is unknown, the lock, bad input refused before any
// request, and a batch in a child process killed with SIGKILL at random moments until it completes.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createKlingClient, InvalidArgumentError, TaskFailedError, type KlingClient } from "../src/index.js";
import {
  FileExistsError,
  generateVideos,
  JobMayHaveBeenCreatedError,
  type GenerateVideosOptions,
  type VideoJob,
  type VideoJobEvent,
  type VideoOutcome,
} from "../src/node/index.js";
import { JOURNAL_FILE, JournalLockedError, openJournal } from "../src/node/journal.js";
import { createFakeRelay, FAKE_RELAY_API_KEY, fakeVideoSha256, type CreateRequestInfo, type FakeRelay } from "../src/testing/index.js";
import { makePng } from "./helpers/images.js";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const CHILD = join(ROOT, "test", "helpers", "generate-videos-child.ts");
const VIDEO_SIZE = 48 * 1024;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "xiexus-generate-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function relayWith(options: Parameters<typeof createFakeRelay>[0] = {}): Promise<FakeRelay> {
  const relay = await createFakeRelay({ video: { size: VIDEO_SIZE }, createdTasks: { runningPolls: 1 }, ...options });
  cleanups.push(() => relay.close());
  return relay;
}

const clientOf = (baseUrl: string): KlingClient => createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl, maxRetries: 1 });

const textJob = (i: number, extra: Partial<VideoJob> = {}): VideoJob => ({
  model: "kling-v1",
  prompt: `job ${i}: a cat walks`,
  duration: 5,
  ...extra,
});

/** The job a create was for, read back from its prompt ("job <i>: ..."). */
const jobOf = (create: CreateRequestInfo): string => /^job (\S+):/.exec((create.body as { prompt: string }).prompt)?.[1] ?? "?";

async function collect(iterable: AsyncIterable<VideoOutcome>): Promise<VideoOutcome[]> {
  const outcomes: VideoOutcome[] = [];
  for await (const outcome of iterable) outcomes.push(outcome);
  return outcomes;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const byKey = (outcomes: readonly VideoOutcome[]): Map<string, VideoOutcome> => new Map(outcomes.map((o) => [o.key, o]));

async function journalRecords(dir: string): Promise<Array<{ t: string; key: string; taskId?: string }>> {
  const text = await readFile(join(dir, JOURNAL_FILE), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { t: string; key: string; taskId?: string });
}

describe("a batch", () => {
  it("saves every video whole, text2video and image2video (file path, URL, bytes), journaling each step", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    const images = await tempDir();
    await writeFile(join(images, "cat.png"), makePng(640, 480));
    const jobs: VideoJob[] = [
      ...Array.from({ length: 16 }, (_, i) => textJob(i)),
      textJob(16, { image: "cat.png", key: "from-file" }),
      textJob(17, { image: join(images, "cat.png"), output: "sub/dir/abs.mp4" }),
      textJob(18, { image: "https://example.com/cat.jpg" }),
      textJob(19, { image: new Uint8Array(makePng(400, 400)) }),
    ];
    const events: VideoJobEvent[] = [];
    const outcomes = await collect(
      generateVideos(clientOf(relay.url), jobs, { outputDir: out, baseDir: images, pollIntervalMs: 10, onUpdate: (e) => events.push(e) }),
    );

    expect(outcomes).toHaveLength(20);
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(relay.createCount).toBe(20);
    expect(relay.creates.filter((c) => c.route === "image2video")).toHaveLength(4);
    // The file's bytes reached the relay as base64 of the file.
    const fromFile = relay.creates.find((c) => jobOf(c) === "16")!;
    expect(fromFile.image?.bytesSha256).toBe(createHash("sha256").update(makePng(640, 480)).digest("hex"));
    const expected = fakeVideoSha256(VIDEO_SIZE);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ bytes: VIDEO_SIZE, resumed: false });
      expect(await sha256File(outcome.path!)).toBe(expected);
    }
    const outputs = byKey(outcomes);
    expect(outputs.get("from-file")!.path).toBe(join(out, "from-file.mp4"));
    expect([...outputs.values()].some((o) => o.path === join(out, "sub", "dir", "abs.mp4"))).toBe(true);
    // Derived keys are stable names: job-<20 hex>.
    expect([...outputs.keys()].filter((k) => /^job-[0-9a-f]{20}$/.test(k))).toHaveLength(19);
    // No temp file left, only the videos and the journal (its lock released).
    const topLevel = [...outputs.values()].filter((o) => !o.path!.includes("sub")).map((o) => o.path!.slice(out.length + 1));
    expect((await readdir(out)).sort()).toEqual([JOURNAL_FILE, ...topLevel, "sub"].sort());

    // Each job: intent, created, saved, in that order, with the task the relay made for it.
    const records = await journalRecords(out);
    for (const outcome of outcomes) {
      expect(records.filter((r) => r.key === outcome.key).map((r) => r.t)).toEqual(["intent", "created", "saved"]);
      expect(records.find((r) => r.key === outcome.key && r.t === "created")!.taskId).toBe(outcome.taskId);
    }
    // Each job's events, in order.
    const first = outcomes[0]!;
    const mine = events.filter((e) => e.key === first.key).map((e) => e.type);
    expect(mine[0]).toBe("creating");
    expect(mine[1]).toBe("created");
    expect(mine).toContain("downloading");
    expect(mine.at(-1)).toBe("saved");
  });

  it("never has more than `concurrency` requests in flight, creates, polls and downloads counted together at the servers", async () => {
    const proxy = await countingProxy();
    const relay = await relayWith({
      video: { size: 256 * 1024, bytesPerSecond: 4 * 1024 * 1024 },
      // The video URL goes through the counting proxy too.
      createdTasks: { steps: [{ status: "queued" }, { status: "in_progress" }, { status: "completed", url: `${proxy.url}/kling/videos/v.mp4` }] },
    });
    proxy.target(relay.url, relay.video!.origin);
    const out = await tempDir();
    const outcomes = await collect(
      generateVideos(clientOf(proxy.url), Array.from({ length: 24 }, (_, i) => textJob(i)), { outputDir: out, concurrency: 3, pollIntervalMs: 5 }),
    );
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(proxy.requests.creates).toBe(24);
    expect(proxy.requests.downloads).toBe(24);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(3);
    // The count works: the batch did fill its slots.
    expect(proxy.maxInFlight).toBe(3);
  });

  it("reports a refused image, a missing image file and a failed task by key, and finishes the others", async () => {
    const relay = await relayWith({
      createdTasks: (create) => (jobOf(create) === "bad-task" ? { outcome: "failed", runningPolls: 1 } : { runningPolls: 1 }),
    });
    const out = await tempDir();
    const images = await tempDir();
    await writeFile(join(images, "tiny.png"), makePng(100, 100));
    const jobs = [
      textJob(0),
      { ...textJob(1), prompt: "job bad-task: fails", key: "will-fail" },
      textJob(2, { key: "tiny", image: "tiny.png" }),
      textJob(3, { key: "missing", image: "nope.png" }),
      textJob(4),
    ];
    const options = { outputDir: out, baseDir: images, pollIntervalMs: 10 };
    const outcomes = byKey(await collect(generateVideos(clientOf(relay.url), jobs, options)));
    expect(outcomes.size).toBe(5);
    expect(outcomes.get("tiny")!.error).toBeInstanceOf(InvalidArgumentError);
    expect(outcomes.get("tiny")!.error!.message).toMatch(/tiny\.png/);
    expect(outcomes.get("tiny")!.taskId).toBeUndefined();
    expect(outcomes.get("missing")!.error!.message).toMatch(/nope\.png.*no such file/);
    const failed = outcomes.get("will-fail")!;
    expect(failed.error).toBeInstanceOf(TaskFailedError);
    expect(failed.taskId).toMatch(/^task_/);
    expect([...outcomes.values()].filter((o) => !o.error)).toHaveLength(2);
    // Refused images cost no request.
    expect(relay.createCount).toBe(3);

    // Run again: the failed task is a new paid attempt (the user ran the batch again); the saved two are not touched.
    relay.setCreatedTasks({ runningPolls: 1 });
    const again = byKey(await collect(generateVideos(clientOf(relay.url), jobs, options)));
    expect(again.get("will-fail")).toMatchObject({ resumed: false, bytes: VIDEO_SIZE });
    expect(again.get("will-fail")!.taskId).not.toBe(failed.taskId);
    expect(again.get("tiny")!.error).toBeInstanceOf(InvalidArgumentError);
    expect([...again.values()].filter((o) => o.resumed)).toHaveLength(2);
    expect(relay.createCount).toBe(4);
  });

  it("a 429 on a create pauses the batch, then the create is sent again (refunded: no task); one task per job", async () => {
    const relay = await relayWith();
    relay.scriptCreates([{ status: 429, body: { code: "rate_limited", message: "slow down", data: null }, headers: { "retry-after-ms": "30" } }]);
    const out = await tempDir();
    const jobs = Array.from({ length: 6 }, (_, i) => textJob(i));
    const outcomes = await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, concurrency: 2, pollIntervalMs: 10 }));
    expect(outcomes.filter((o) => o.error)).toEqual([]);
    expect(relay.creates.filter((c) => c.answeredStatus === 429)).toHaveLength(1);
    expect(relay.createCount).toBe(6);
    const limited = jobOf(relay.creates.find((c) => c.answeredStatus === 429)!);
    expect(relay.creates.filter((c) => jobOf(c) === limited).map((c) => c.answeredStatus)).toEqual([429, 200]);
    // Journaled as a create refused (no task), then a new intent.
    const key = outcomes.find((o) => relay.creates.some((c) => c.taskId === o.taskId && jobOf(c) === limited))!.key;
    expect((await journalRecords(out)).filter((r) => r.key === key).map((r) => r.t)).toEqual(["intent", "failed", "intent", "created", "saved"]);
  });

  it("a 429 on a poll pauses every job for its Retry-After, not only the one that got it; then every job goes on", async () => {
    const pause = 300;
    const relay = await relayWith();
    // Job 0's first poll is refused; the others run a second at least, so they would poll all through the pause.
    relay.setCreatedTasks((create) =>
      jobOf(create) === "0"
        ? {
            steps: [
              { status: 429, body: { code: "rate_limited", message: "slow down", data: null }, headers: { "retry-after-ms": String(pause) } },
              { status: "completed", url: `${relay.video!.origin}/kling/videos/limited.mp4` },
            ],
          }
        : { runningPolls: 1, minRunMs: 1000 },
    );
    const kling = clientOf(relay.url);
    // When each helper request was sent, and when the batch heard the 429 (the pause starts after it).
    const sent: number[] = [];
    let limitedAt = 0;
    kling.use({
      onRequest: () => void sent.push(Date.now()),
      onResponse: ({ response }) => void (response.status === 429 && (limitedAt = Date.now())),
    });
    const jobs = Array.from({ length: 3 }, (_, i) => textJob(i, { key: `p${i}` }));
    const outcomes = await collect(generateVideos(kling, jobs, { outputDir: await tempDir(), concurrency: 3, pollIntervalMs: 10 }));

    expect(outcomes.filter((o) => o.error)).toEqual([]);
    // The 429 came straight back to the batch (the client did not sit it out itself): answered once.
    expect(relay.requests.filter((r) => r.status === 429)).toHaveLength(1);
    expect(limitedAt).toBeGreaterThan(0);
    // Not one request of any job was sent during the pause; before it and after it, the others polled.
    expect(sent.filter((at) => at > limitedAt && at < limitedAt + pause)).toEqual([]);
    expect(sent.filter((at) => at >= limitedAt + pause).length).toBeGreaterThan(1);
    expect(sent.filter((at) => at <= limitedAt).length).toBeGreaterThan(3);
  });

  it("refuses a file already at an output before any request, unless overwrite", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    await writeFile(join(out, "taken.mp4"), "mine");
    const jobs = [textJob(0, { key: "taken" }), textJob(1)];
    const outcomes = byKey(await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, pollIntervalMs: 10 })));
    expect(outcomes.get("taken")!.error).toBeInstanceOf(FileExistsError);
    expect(await readFile(join(out, "taken.mp4"), "utf8")).toBe("mine");
    expect(relay.createCount).toBe(1);
    const again = byKey(await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, pollIntervalMs: 10, overwrite: true })));
    expect(again.get("taken")).toMatchObject({ bytes: VIDEO_SIZE, resumed: false });
    expect(relay.createCount).toBe(2);
  });
});

describe("resuming from the journal", () => {
  it("a completed batch run again sends no request and yields every video resumed; a lost or cut file is fetched again", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    const jobs = Array.from({ length: 8 }, (_, i) => textJob(i));
    const first = await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, pollIntervalMs: 10 }));
    expect(relay.createCount).toBe(8);
    const requests = relay.requests.length;
    const videoRequests = relay.video!.requests.length;

    const events: VideoJobEvent[] = [];
    const again = await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, onUpdate: (e) => events.push(e) }));
    expect(again).toHaveLength(8);
    expect(again.every((o) => o.resumed === true && o.bytes === VIDEO_SIZE)).toBe(true);
    expect(byKey(again)).toEqual(new Map(first.map((o) => [o.key, { ...o, resumed: true }])));
    expect(events.map((e) => e.type)).toEqual(Array(8).fill("saved"));
    expect(relay.requests.length).toBe(requests);
    expect(relay.video!.requests.length).toBe(videoRequests);

    // One file deleted, one cut short: both fetched again from their own tasks, nothing created.
    await unlink(first[0]!.path!);
    await truncate(first[1]!.path!, 1000);
    const third = byKey(await collect(generateVideos(clientOf(relay.url), jobs, { outputDir: out, pollIntervalMs: 10 })));
    expect(relay.createCount).toBe(8);
    for (const outcome of first.slice(0, 2)) {
      expect(third.get(outcome.key)).toMatchObject({ taskId: outcome.taskId, resumed: false, bytes: VIDEO_SIZE });
      expect(await sha256File(outcome.path!)).toBe(fakeVideoSha256(VIDEO_SIZE));
    }
    expect([...third.values()].filter((o) => o.resumed)).toHaveLength(6);
  });

  it("a create reset after its body: 'may have been created', not sent again on a re-run, created again with recreateUnknown", async () => {
    const relay = await relayWith();
    relay.scriptCreates([{ fault: "reset-after-body" }]);
    const out = await tempDir();
    const jobs = Array.from({ length: 4 }, (_, i) => textJob(i, { key: `k${i}` }));
    const options = { outputDir: out, concurrency: 1, pollIntervalMs: 10 };
    const first = byKey(await collect(generateVideos(clientOf(relay.url), jobs, options)));
    const lost = first.get("k0")!;
    expect(lost.error).toBeInstanceOf(JobMayHaveBeenCreatedError);
    expect(lost.error!.mayHaveCreatedTask).toBe(true);
    expect(lost.error!.message).toMatch(/job "k0" may have been created/);
    expect(lost.error!.message).toMatch(/recreateUnknown: true \(CLI: --recreate-unknown\)/);
    expect(lost.taskId).toBeUndefined();
    // The relay did create it (and would bill it).
    expect(relay.createCount).toBe(4);
    expect([...first.values()].filter((o) => !o.error)).toHaveLength(3);

    const second = byKey(await collect(generateVideos(clientOf(relay.url), jobs, options)));
    expect(second.get("k0")!.error).toBeInstanceOf(JobMayHaveBeenCreatedError);
    expect(second.get("k0")!.error!.message).toMatch(/may have been created.*an earlier run sent its create/);
    expect(relay.createCount).toBe(4);

    const third = byKey(await collect(generateVideos(clientOf(relay.url), jobs, { ...options, recreateUnknown: true })));
    expect(third.get("k0")).toMatchObject({ resumed: false, bytes: VIDEO_SIZE });
    expect(relay.createCount).toBe(5);
    expect((await journalRecords(out)).filter((r) => r.key === "k0").map((r) => r.t)).toEqual([
      "intent",
      "failed",
      "recreate",
      "intent",
      "created",
      "saved",
    ]);
    const fourth = await collect(generateVideos(clientOf(relay.url), jobs, { ...options, recreateUnknown: true }));
    expect(fourth.every((o) => o.resumed)).toBe(true);
    expect(relay.createCount).toBe(5);
  });

  it("a job already `created` in the journal is waited for, never created", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    const kling = clientOf(relay.url);
    const job = textJob(0, { key: "made-earlier" });
    const { task_id: taskId } = await kling.createText2VideoTask({ model: "kling-v1", prompt: job.prompt! });
    const journal = await openJournal(out);
    await journal.intent("made-earlier", "fp");
    await journal.created("made-earlier", taskId);
    await journal.close();
    // A run killed mid-download left a partial file beside the output.
    await writeFile(join(out, ".made-earlier.mp4.0123456789ab.part"), "partial");

    const events: VideoJobEvent[] = [];
    const [outcome] = await collect(generateVideos(kling, [job], { outputDir: out, pollIntervalMs: 10, onUpdate: (e) => events.push(e) }));
    expect(outcome).toMatchObject({ key: "made-earlier", taskId, resumed: false, bytes: VIDEO_SIZE });
    expect(relay.createCount).toBe(1);
    expect(events[0]).toEqual({ type: "created", key: "made-earlier", taskId, resumed: true });
    expect(events.some((e) => e.type === "creating")).toBe(false);
    expect((await readdir(out)).sort()).toEqual([JOURNAL_FILE, "made-earlier.mp4"]);
  });

  it("an abort lets a create already sent finish and journals its task: the next run waits for it", async () => {
    const relay = await relayWith();
    // The create's answer takes a while: the abort comes while it is on its way.
    relay.scriptCreates([{ status: 200, created: true, bodyFrom: (answer) => answer, delayMs: 200 }]);
    const out = await tempDir();
    const controller = new AbortController();
    const reason = new Error("stop");
    const run = collect(
      generateVideos(clientOf(relay.url), [textJob(0, { key: "slow" })], {
        outputDir: out,
        signal: controller.signal,
        onUpdate: (e) => e.type === "creating" && controller.abort(reason),
      }),
    );
    await expect(run).rejects.toBe(reason);
    expect(relay.createCount).toBe(1);
    expect((await journalRecords(out)).map((r) => r.t)).toEqual(["intent", "created"]);
    const [outcome] = await collect(generateVideos(clientOf(relay.url), [textJob(0, { key: "slow" })], { outputDir: out, pollIntervalMs: 10 }));
    expect(outcome).toMatchObject({ key: "slow", taskId: relay.creates[0]!.taskId, bytes: VIDEO_SIZE });
    expect(relay.createCount).toBe(1);
  });
});

describe("jobs and events", () => {
  it("takes an async iterable of jobs; an onUpdate that throws ends the batch with its error, the lock released", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    async function* jobs(): AsyncGenerator<VideoJob> {
      for (let i = 0; i < 3; i++) yield textJob(i, { key: `a${i}` });
    }
    const boom = new Error("board crashed");
    const run = collect(
      generateVideos(clientOf(relay.url), jobs(), {
        outputDir: out,
        pollIntervalMs: 10,
        onUpdate: (e) => {
          if (e.type === "downloading") throw boom;
        },
      }),
    );
    await expect(run).rejects.toBe(boom);
    // Every task created is journaled: the next run waits for them and creates nothing.
    const created = relay.createCount;
    const outcomes = await collect(generateVideos(clientOf(relay.url), jobs(), { outputDir: out, pollIntervalMs: 10 }));
    expect(outcomes.map((o) => o.key).sort()).toEqual(["a0", "a1", "a2"]);
    expect(outcomes.every((o) => o.bytes === VIDEO_SIZE)).toBe(true);
    expect(relay.createCount).toBe(3);
    expect(created).toBeGreaterThanOrEqual(1);
  });
});

describe("the lock and bad input", () => {
  it("refuses a second batch on the same directory while one runs", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    const held = await openJournal(out);
    cleanups.push(() => held.close());
    await expect(collect(generateVideos(clientOf(relay.url), [textJob(0)], { outputDir: out }))).rejects.toBeInstanceOf(JournalLockedError);
    await held.close();
    // Two batches at once: the second is refused, the first completes.
    const first = collect(generateVideos(clientOf(relay.url), [textJob(0)], { outputDir: out, pollIntervalMs: 10 }));
    const second = collect(generateVideos(clientOf(relay.url), [textJob(1)], { outputDir: out, pollIntervalMs: 10 }));
    const [a, b] = await Promise.allSettled([first, second]);
    expect([a.status, b.status].sort()).toEqual(["fulfilled", "rejected"]);
    expect((a.status === "rejected" ? a.reason : (b as PromiseRejectedResult).reason) as unknown).toBeInstanceOf(JournalLockedError);
    expect(relay.createCount).toBe(1);
  });

  it("refuses bad options at the call, and bad jobs, duplicate keys or outputs before any request", async () => {
    const relay = await relayWith();
    const out = await tempDir();
    const kling = clientOf(relay.url);
    const call = (jobs: unknown, options: unknown): unknown => generateVideos(kling, jobs as VideoJob[], options as GenerateVideosOptions);
    expect(() => call([], undefined)).toThrow(InvalidArgumentError);
    expect(() => call([], {})).toThrow(/outputDir/);
    expect(() => call([], { outputDir: out, concurrency: 0 })).toThrow(/concurrency/);
    expect(() => call([], { outputDir: out, recreateUnknown: "yes" })).toThrow(/recreateUnknown/);
    expect(() => call([], { outputDir: out, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => call("jobs.jsonl", { outputDir: out })).toThrow(/jobs must be/);
    expect(() => generateVideos({} as KlingClient, [], { outputDir: out })).toThrow(/kling/);

    const refused = async (jobs: unknown[], pattern: RegExp): Promise<void> => {
      const error = await collect(call(jobs, { outputDir: out }) as AsyncIterable<VideoOutcome>).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(pattern);
    };
    await refused([textJob(0), textJob(1), textJob(0)], /jobs\[2\] has the key "job-[0-9a-f]{20}" of jobs\[0\].*give each its own key/);
    await refused([textJob(0, { key: "a" }), textJob(1, { key: "a" })], /jobs\[1\] has the key "a"/);
    await refused([textJob(0, { output: "x.mp4" }), textJob(1, { output: "X.MP4" })], /same file/);
    await refused([textJob(0, { output: "../escape.mp4" })], /not inside outputDir/);
    await refused([textJob(0, { output: resolve(out, "..", "abs.mp4") })], /not inside outputDir/);
    await refused([textJob(0, { output: JOURNAL_FILE })], /journal/);
    await refused([textJob(0, { key: "a\nb" })], /control character/);
    await refused([textJob(0, { key: "k".repeat(257) })], /257 characters/);
    await refused([textJob(0, { image: 42 as never })], /image must be/);
    await refused([null], /jobs\[0\] must be an object/);
    expect(relay.requests).toEqual([]);
    // Nothing was written either: no journal for a batch that never started.
    expect(await readdir(out)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// THE KILL TEST: a batch of 50 in a child process, SIGKILLed at random moments five times, then run
// until it completes. Across every run the relay created exactly one task per job, plus one for each
// job reported "may have been created" and created again with recreateUnknown; every video whole.

interface ChildRun {
  lines: Array<Record<string, unknown>>;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the batch child; `killWhen` sees each line and says when to SIGKILL it. */
function runChild(
  baseUrl: string,
  out: string,
  extra: Record<string, string>,
  killWhen?: (line: Record<string, unknown>) => boolean,
): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CHILD], {
      cwd: ROOT,
      env: { ...process.env, BASE_URL: baseUrl, OUT: out, JOBS: "50", ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(async () => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
    const lines: ChildRun["lines"] = [];
    let buffer = "";
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let end = buffer.indexOf("\n"); end !== -1; end = buffer.indexOf("\n")) {
        const line = JSON.parse(buffer.slice(0, end)) as Record<string, unknown>;
        buffer = buffer.slice(end + 1);
        lines.push(line);
        if (killWhen?.(line) && child.signalCode === null) child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ lines, code, signal, stderr }));
  });
}

/** A seeded generator, so a failing run can be replayed (the seed is in the test's failure message). */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("a batch killed with SIGKILL", () => {
  it("five kills (after an intent, after a create, mid-download), re-run to completion: one task per job, every video whole", { timeout: 60_000 }, async () => {
    const seed = Date.now() % 1_000_000;
    const rand = random(seed);
    const size = 128 * 1024;
    const faulted = new Set<string>();
    let faults = true;
    const relay = await relayWith({
      // Tasks run a while and downloads take ~0.25 s: every window a kill can land in is open.
      video: { size, bytesPerSecond: 512 * 1024 },
      createdTasks: { runningPolls: 1, minRunMs: 150 },
      // The first two creates to reach the relay are reset after it created their tasks: "may have
      // been created". (Not two jobs named in advance: a kill can stop a job's create before it
      // reaches the relay, and its next one is sent only with recreateUnknown, faults off.)
      // Every create answers after 40 ms, so a kill can land while creates are on their way.
      createFault: (create) => {
        if (!faults || faulted.size >= 2) {
          return { status: 200, created: true, bodyFrom: (answer) => answer, delayMs: 40 };
        }
        faulted.add(jobOf(create));
        return { fault: "reset-after-body", delayMs: 40 };
      },
    });
    const out = await tempDir();
    const at = `seed ${seed}`;
    const kills: string[] = [];

    // Where each run is killed: after the n-th line of a kind (an intent journaled, a task created,
    // download progress), each kind at least once, two more at random; small counts, so each run
    // leaves work for the next. The batch creates before it downloads, so kills during creates go first.
    const kinds = ["creating", "created", "downloading"] as const;
    const plans = [...kinds, kinds[Math.floor(rand() * 3)]!, kinds[Math.floor(rand() * 3)]!]
      .map((kind) => ({ kind, n: 1 + Math.floor(rand() * 4), order: (kind === "downloading" ? 1 : 0) + rand() }))
      .sort((a, b) => a.order - b.order);
    for (const plan of plans) {
      // Once (nearly) every job has its task, only downloads are left to kill.
      const records = await journalRecords(out).catch(() => []);
      const withTask = new Set(records.filter((r) => r.t === "created").map((r) => r.key));
      const kind = withTask.size >= 40 ? "downloading" : plan.kind;
      let seen = 0;
      const run = await runChild(relay.url, out, {}, (line) => {
        if (line.e !== kind) return false;
        if (kind === "created" && line.resumed) return false;
        if (kind === "downloading" && !((line.received as number) > 0)) return false;
        return ++seen >= plan.n;
      });
      kills.push(`${kind} #${plan.n}`);
      expect(run.signal, `${at}, kills ${kills.join(", ")}: ${run.stderr}`).toBe("SIGKILL");
    }

    // Run until nothing changes; then once with recreateUnknown for the jobs reported as unknown.
    let last: ChildRun | undefined;
    for (let round = 0; round < 4; round++) {
      last = await runChild(relay.url, out, {});
      expect(last.code, `${at}: ${last.stderr}`).toBe(0);
      if (last.lines.filter((l) => l.o && l.error).every((l) => l.mayHaveCreatedTask)) break;
    }
    const unknown = last!.lines.filter((l) => l.o && l.error).map((l) => l.key as string);
    for (const line of last!.lines.filter((l) => l.o && l.error)) {
      expect(line.message, at).toMatch(/may have been created/);
    }
    // Two creates were reset (dozens reached the relay by now), and both jobs are among them.
    expect(faulted.size, at).toBe(2);
    for (const job of faulted) expect(unknown, at).toContain(`job-${job}`);
    faults = false;
    const final = await runChild(relay.url, out, { RECREATE: "1" });
    expect(final.code, `${at}: ${final.stderr}`).toBe(0);
    const outcomes = final.lines.filter((l) => l.o);
    expect(outcomes, at).toHaveLength(50);
    expect(outcomes.filter((l) => l.error), at).toEqual([]);
    const recreated = final.lines.filter((l) => l.e === "creating").map((l) => l.key as string);
    expect(recreated.sort(), at).toEqual(unknown.sort());

    // The money: one task per job; a second one only for jobs reported unknown and created again.
    const tasksPerJob = new Map<string, number>();
    for (const create of relay.creates) if (create.taskId) tasksPerJob.set(jobOf(create), (tasksPerJob.get(jobOf(create)) ?? 0) + 1);
    expect(tasksPerJob.size, at).toBe(50);
    const twice = [...tasksPerJob].filter(([, n]) => n > 1).map(([job]) => `job-${job}`);
    expect([...tasksPerJob.values()].every((n) => n <= 2), at).toBe(true);
    for (const key of twice) expect(unknown, at).toContain(key);
    for (const job of faulted) expect(twice, at).toContain(`job-${job}`);
    expect(relay.createCount, at).toBe(50 + twice.length);

    // Every video present and whole, nothing else left in the directory.
    const expected = fakeVideoSha256(size);
    for (const line of outcomes) expect(await sha256File(line.path as string), `${at}: ${String(line.key)}`).toBe(expected);
    const files = (await readdir(out)).filter((name) => name !== JOURNAL_FILE);
    expect(files.sort(), at).toEqual(Array.from({ length: 50 }, (_, i) => `job-${i}.mp4`).sort());

    // And run once more: nothing to do, nothing sent.
    const requests = relay.requests.length;
    const done = await runChild(relay.url, out, { RECREATE: "1" });
    expect(done.lines.filter((l) => l.o && l.resumed).length, at).toBe(50);
    expect(relay.requests.length, at).toBe(requests);
  });
});

// ---------------------------------------------------------------------------------------------------
/** A loopback proxy in front of the relay and its video host, counting the requests in flight at once. */
async function countingProxy(): Promise<{
  url: string;
  maxInFlight: number;
  requests: { creates: number; downloads: number };
  target(relay: string, video: string): void;
}> {
  let relayUrl = "";
  let videoUrl = "";
  let inFlight = 0;
  const state = { maxInFlight: 0, requests: { creates: 0, downloads: 0 } };
  const server = http.createServer((req, res) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    let done = false;
    const end = (): void => {
      if (!done) inFlight--;
      done = true;
    };
    res.on("finish", end);
    res.on("close", end);
    const video = req.url!.startsWith("/kling/videos/");
    if (video) state.requests.downloads++;
    else if (req.method === "POST") state.requests.creates++;
    const target = new URL(req.url!, video ? videoUrl : relayUrl);
    const upstream = http.request(target, { method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  cleanups.push(() => new Promise((closed) => {
    server.close(closed);
    server.closeAllConnections();
  }));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    target(relay: string, video: string) {
      relayUrl = relay;
      videoUrl = video;
    },
  });
}
