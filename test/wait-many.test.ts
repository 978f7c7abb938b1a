// waitForMany, the batch wait: settlement order, the concurrency bound, the batch-wide 429 pause,
// duplicates, per-task outcomes, aborts and break, mostly on fake timers with a scripted `get`;
// then against a real loopback server (in-flight counted by the server) and in a child process
// (nothing left behind after a break).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createKlingClient,
  InvalidArgumentError,
  RateLimitError,
  ResponseValidationError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
  type Image2VideoTaskResult,
} from "../src/index.js";
import { pollDelayMs } from "../src/wait.js";
import { waitForMany, type GetTaskById, type WaitOutcome } from "../src/wait-many.js";
import { childLeftovers } from "./helpers/leftovers.js";

type Answer = Image2VideoTaskResult | Error | "hang";

const running = (id: string): Image2VideoTaskResult => ({ task_id: id, status: "in_progress" });
const queued = (id: string): Image2VideoTaskResult => ({ task_id: id, status: "queued" });
const done = (id: string): Image2VideoTaskResult => ({ task_id: id, status: "completed", url: `https://cdn.example/${id}.mp4` });
const failed = (id: string): Image2VideoTaskResult => ({ task_id: id, status: "failed", error: { code: 1301, message: "moderation" } });

function rateLimit(retryAfterMs?: number): RateLimitError {
  const headers = new Headers(retryAfterMs === undefined ? {} : { "retry-after-ms": String(retryAfterMs) });
  return new RateLimitError({ status: 429, headers, body: "", method: "GET", path: "/kling/v1/videos/image2video/x" });
}

/**
 * A `get` answering each task from its script (the last answer repeats), after `latencyMs` on the
 * (fake) clock. Records every call's time and the most requests ever in flight.
 */
function scriptedGet(scripts: Record<string, Answer[]>, latencyMs = 10) {
  const calls: Array<{ id: string; at: number }> = [];
  const signals: AbortSignal[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const get: GetTaskById = (id, signal) => {
    const script = scripts[id] ?? [new TaskNotFoundError({ status: 404, headers: new Headers(), body: "", method: "GET", path: id })];
    const count = calls.filter((c) => c.id === id).length;
    const answer = script[Math.min(count, script.length - 1)]!;
    calls.push({ id, at: Date.now() });
    signals.push(signal);
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    return new Promise<Image2VideoTaskResult>((resolve, reject) => {
      const finish = (): void => void stats.inFlight--;
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        finish();
        reject(signal.reason);
      }, { once: true });
      const settle = (): void => {
        finish();
        if (answer instanceof Error) reject(answer);
        else resolve(answer as Image2VideoTaskResult);
      };
      // latencyMs 0 answers without a timer, so the fake clock does not move.
      const timer = answer === "hang" ? undefined : latencyMs === 0 ? void queueMicrotask(settle) : setTimeout(settle, latencyMs);
    });
  };
  return { get, calls, signals, stats };
}

/** Collects every outcome, advancing the fake clock until the iterable ends. */
async function collect(iterable: AsyncIterable<WaitOutcome>): Promise<WaitOutcome[]> {
  const out: WaitOutcome[] = [];
  const run = (async () => {
    for await (const outcome of iterable) out.push(outcome);
  })();
  let finished = false;
  let failure: unknown;
  run.then(() => (finished = true), (error: unknown) => ((finished = true), (failure = error)));
  for (let i = 0; !finished && i < 10_000; i++) await vi.advanceTimersByTimeAsync(50);
  if (!finished) throw new Error("the batch never ended");
  if (failure !== undefined) throw failure;
  return out;
}

describe("waitForMany (scripted get, fake timers)", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("yields outcomes in the order tasks settle; a failure stops no other task", async () => {
    const { get } = scriptedGet({
      slow: [queued("slow"), running("slow"), running("slow"), done("slow")],
      fast: [done("fast")],
      broken: [running("broken"), failed("broken")],
      // A missing task: TaskNotFoundError from the scripted get.
    });
    const outcomes = await collect(waitForMany(["slow", "fast", "broken", "ghost"], get, { pollIntervalMs: 100 }));
    expect(outcomes.map((o) => o.taskId)).toEqual(["fast", "ghost", "broken", "slow"]);
    expect(outcomes[0]!.task?.url).toBe("https://cdn.example/fast.mp4");
    expect(outcomes[1]!.error).toBeInstanceOf(TaskNotFoundError);
    expect(outcomes[2]!.error).toBeInstanceOf(TaskFailedError);
    expect((outcomes[2]!.error as TaskFailedError).code).toBe(1301);
    expect(outcomes[3]!.task?.status).toBe("completed");
  });

  it("never has more than `concurrency` requests in flight, and makes exactly the polls needed", async () => {
    const scripts: Record<string, Answer[]> = {};
    for (let i = 0; i < 60; i++) scripts[`t${i}`] = [queued(`t${i}`), running(`t${i}`), done(`t${i}`)];
    const { get, calls, stats } = scriptedGet(scripts, 7);
    const outcomes = await collect(waitForMany(Object.keys(scripts), get, { concurrency: 3, pollIntervalMs: 20 }));
    expect(outcomes).toHaveLength(60);
    expect(outcomes.every((o) => o.task !== undefined)).toBe(true);
    expect(stats.maxInFlight).toBe(3);
    expect(calls).toHaveLength(180);
  });

  it("a 429 pauses every poll of the batch for its Retry-After, then retries that task", async () => {
    const { get, calls } = scriptedGet({
      a: [running("a"), rateLimit(1_000), running("a"), done("a")],
      b: [running("b")],
      c: [running("c"), running("c"), running("c"), running("c"), running("c"), running("c"), done("c")],
    });
    const iterable = waitForMany(["a", "b", "c"], get, { pollIntervalMs: 100, timeoutMs: 5_000 });
    const outcomes = await collect(iterable);
    const limited = calls.filter((c) => c.id === "a")[1]!.at;
    const answeredAt = limited + 10;
    // Nothing at all is sent while the pause lasts, by any task...
    expect(calls.filter((c) => c.at > limited && c.at < answeredAt + 1_000)).toEqual([]);
    // ...then polling resumes, the limited task included, and it is not a failure.
    expect(calls.some((c) => c.id === "a" && c.at >= answeredAt + 1_000)).toBe(true);
    expect(outcomes.find((o) => o.taskId === "a")?.task?.status).toBe("completed");
    expect(outcomes.find((o) => o.taskId === "c")?.task?.status).toBe("completed");
    expect(outcomes.find((o) => o.taskId === "b")?.error).toBeInstanceOf(WaitTimeoutError);
  });

  it("a 429 without Retry-After pauses the batch by the backoff schedule", async () => {
    const { get, calls } = scriptedGet({ a: [rateLimit(), done("a")], b: [running("b"), done("b")] }, 0);
    await collect(waitForMany(["a", "b"], get, { pollIntervalMs: 10 }));
    // backoffMs(0) with random 0.5: 500 ms x (1 - 0.125).
    expect(calls.map((c) => c.at - calls[0]!.at)).toEqual([0, 0, 438, 438]);
  });

  it("waits for a duplicated id once", async () => {
    const { get, calls } = scriptedGet({ a: [running("a"), done("a")], b: [done("b")] });
    const outcomes = await collect(waitForMany(["a", "b", "a", "a"], get, { pollIntervalMs: 50 }));
    expect(outcomes.map((o) => o.taskId).sort()).toEqual(["a", "b"]);
    expect(calls.filter((c) => c.id === "a")).toHaveLength(2);
  });

  it("ends each unfinished task with its own WaitTimeoutError when the budget runs out", async () => {
    const { get, signals } = scriptedGet({ stuck: [queued("stuck")], hung: ["hang"], ok: [done("ok")] });
    const outcomes = await collect(waitForMany(["stuck", "hung", "ok"], get, { pollIntervalMs: 100, timeoutMs: 1_000 }));
    expect(outcomes[0]!.taskId).toBe("ok");
    const stuck = outcomes.find((o) => o.taskId === "stuck")!.error as WaitTimeoutError;
    expect(stuck).toBeInstanceOf(WaitTimeoutError);
    expect(stuck.lastTask?.status).toBe("queued");
    expect(stuck.timeoutMs).toBe(1_000);
    expect((outcomes.find((o) => o.taskId === "hung")!.error as WaitTimeoutError).lastTask).toBeUndefined();
    expect(signals.every((s) => !s.aborted || s.reason !== undefined)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a status the spec does not name is an error outcome at once, not polled until the budget ends", async () => {
    const odd = { task_id: "odd", status: "paused" } as unknown as Image2VideoTaskResult;
    const { get, calls } = scriptedGet({ odd: [odd], nourl: [{ task_id: "nourl", status: "completed" }] });
    const outcomes = await collect(waitForMany(["odd", "nourl"], get, { pollIntervalMs: 100 }));
    for (const outcome of outcomes) expect(outcome.error).toBeInstanceOf(ResponseValidationError);
    expect(outcomes.find((o) => o.taskId === "odd")!.error!.message).toContain('"paused"');
    expect(calls).toHaveLength(2);
  });

  it("calls onUpdate with the task and its id once per status change", async () => {
    const { get } = scriptedGet({ a: [queued("a"), queued("a"), running("a"), done("a")], b: [done("b")] });
    const seen: string[] = [];
    await collect(waitForMany(["a", "b"], get, { pollIntervalMs: 10, onUpdate: (task, id) => seen.push(`${id}:${task.status}`) }));
    expect(seen.sort()).toEqual(["a:completed", "a:in_progress", "a:queued", "b:completed"]);
  });

  it("uses the single wait's default schedule per task", async () => {
    const { get, calls } = scriptedGet({ a: [running("a"), running("a"), running("a"), done("a")] }, 0);
    await collect(waitForMany(["a"], get));
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    expect(gaps).toEqual([pollDelayMs(0), pollDelayMs(1), pollDelayMs(2)]);
  });

  it("rejects bad ids and options synchronously, before any request", () => {
    const { get, calls } = scriptedGet({});
    const bad: Array<() => unknown> = [
      () => waitForMany(["ok", " padded "], get),
      () => waitForMany([""], get),
      () => waitForMany([".."], get),
      () => waitForMany([42 as unknown as string], get),
      () => waitForMany("abc" as unknown as Iterable<string>, get, { concurrency: 0 }),
      () => waitForMany(["a"], get, { concurrency: 257 }),
      () => waitForMany(["a"], get, { concurrency: 1.5 }),
      () => waitForMany(["a"], get, { timeoutMs: -1 }),
      () => waitForMany(["a"], get, { pollIntervalMs: Number.NaN }),
      () => waitForMany(null as unknown as Iterable<string>, get),
    ];
    for (const call of bad) expect(call).toThrow(InvalidArgumentError);
    // A string is an Iterable<string> to TypeScript too: only the check stops "abc" becoming three waits.
    const oneString: Iterable<string> = "abc";
    expect(() => waitForMany(oneString, get)).toThrow(/taskIds is one string/);
    expect(() => waitForMany(["a", "b", "c\n"], get)).toThrow(/control character \(taskIds\[2\]\)$/);
    expect(calls).toHaveLength(0);
    expect(() => waitForMany(["a"], get, { concurrency: 256 })).not.toThrow();
  });

  it("an empty list ends at once", async () => {
    const { get } = scriptedGet({});
    expect(await collect(waitForMany([], get))).toEqual([]);
  });

  it("aborting ends every wait at once: in-flight requests aborted, the caller's reason thrown", async () => {
    const { get, signals, stats } = scriptedGet({ a: ["hang"], b: ["hang"], c: [running("c")] });
    const controller = new AbortController();
    const reason = { why: "user gave up" };
    const iterable = waitForMany(["a", "b", "c"], get, { signal: controller.signal, pollIntervalMs: 10 });
    const pending = iterable.next();
    await vi.advanceTimersByTimeAsync(100);
    expect(stats.inFlight).toBeGreaterThan(0);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(stats.inFlight).toBe(0);
    // The hung requests of a and b (and c's poll, if one was in flight) were aborted with the caller's reason.
    const aborted = signals.filter((s) => s.aborted);
    expect(aborted.length).toBeGreaterThanOrEqual(2);
    expect(aborted.every((s) => s.reason === reason)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(await iterable.next()).toEqual({ value: undefined, done: true });
  });

  it("an already aborted signal throws its reason from the first next(), with no request", async () => {
    const { get, calls } = scriptedGet({ a: [done("a")] });
    const reason = new Error("before start");
    await expect(waitForMany(["a"], get, { signal: AbortSignal.abort(reason) }).next()).rejects.toBe(reason);
    expect(calls).toHaveLength(0);
  });

  it("breaking out of for-await stops polling, aborts in-flight requests and leaves no timer", async () => {
    const { get, calls, stats } = scriptedGet({ a: [done("a")], b: ["hang"], c: [running("c")] });
    const iterable = waitForMany(["a", "b", "c"], get, { pollIntervalMs: 10 });
    const loop = (async () => {
      for await (const outcome of iterable) if (outcome.taskId === "a") break;
    })();
    await vi.advanceTimersByTimeAsync(100);
    await loop;
    const sent = calls.length;
    expect(stats.inFlight).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(sent);
  });

  it("an error that is not a KlingError (a bug) ends the batch with that error", async () => {
    const bug = new TypeError("boom");
    const { get } = scriptedGet({ a: [bug], b: ["hang"] });
    await expect(collect(waitForMany(["a", "b"], get))).rejects.toBe(bug);
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** A loopback relay: tasks complete at their `finishAfter`-th poll; counts requests in flight. */
async function countingRelay(finishAfter: number, latencyMs: number) {
  const polls = new Map<string, number>();
  const stats = { inFlight: 0, maxInFlight: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.on("close", () => void stats.inFlight--);
    const id = decodeURIComponent((req.url ?? "").split("/").pop() ?? "");
    const n = (polls.get(id) ?? 0) + 1;
    polls.set(id, n);
    const body = n >= finishAfter ? done(id) : running(id);
    setTimeout(() => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    }, latencyMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    stats,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe("waitForMany against a loopback relay", () => {
  it("120 tasks: the server never sees more than `concurrency` requests at once, and exactly 3 polls per task", async () => {
    const relay = await countingRelay(3, 2);
    try {
      const kling = createKlingClient({ apiKey: "sk-many", baseUrl: relay.url });
      const ids = Array.from({ length: 120 }, (_, i) => `task-${i}`);
      const outcomes: WaitOutcome[] = [];
      for await (const outcome of waitForMany(ids, (id, signal) => kling.getImage2VideoTask(id, { signal }), {
        concurrency: 4,
        pollIntervalMs: 20,
      })) {
        outcomes.push(outcome);
      }
      expect(outcomes.filter((o) => o.task)).toHaveLength(120);
      expect(relay.stats.maxInFlight).toBeLessThanOrEqual(4);
      expect(relay.stats.maxInFlight).toBeGreaterThan(1);
      expect(relay.stats.requests).toBe(360);
    } finally {
      await relay.close();
    }
  });

  it("aborting closes every in-flight request at the server", async () => {
    const relay = await countingRelay(Number.POSITIVE_INFINITY, 60_000);
    try {
      const kling = createKlingClient({ apiKey: "sk-many", baseUrl: relay.url });
      const controller = new AbortController();
      const iterable = waitForMany(["a", "b", "c"], (id, signal) => kling.getImage2VideoTask(id, { signal }), {
        signal: controller.signal,
      });
      const pending = iterable.next();
      while (relay.stats.inFlight < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      const reason = new Error("stop");
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      for (let i = 0; relay.stats.inFlight > 0 && i < 200; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(relay.stats.inFlight).toBe(0);
    } finally {
      await relay.close();
    }
  });

  async function leftovers(leak: boolean): Promise<{ alive: string[]; code: number | null }> {
    const relay = await countingRelay(Number.POSITIVE_INFINITY, 0);
    try {
      return await childLeftovers("wait-many-child.ts", relay.url, leak);
    } finally {
      await relay.close();
    }
  }

  it("a process that breaks out of the loop exits by itself, with no timer or socket left", async () => {
    // The check has teeth: a child that leaks one timer shows it.
    expect((await leftovers(true)).alive).toContain("Timeout");
    expect(await leftovers(false)).toEqual({ alive: [], code: 0 });
  }, 30_000);
});
