// waitForImage2VideoTask: terminal statuses, the poll schedule, server hints, timeouts and aborts,
// on fake timers; and a real process that exits at once after awaiting it.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createKlingClient,
  ResponseValidationError,
  TaskFailedError,
  WaitTimeoutError,
  type Image2VideoTask,
} from "../src/index.js";
import { pollDelayMs } from "../src/wait.js";
import { scriptedFetch, type FetchStep } from "./helpers/scripted-fetch.js";
import { childLeftovers } from "./helpers/leftovers.js";
import { startServer } from "./helpers/server.js";

const queued = { task_id: "t1", status: "queued" };
const running = { task_id: "t1", status: "in_progress" };
const done = { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4", format: "mp4" };
const failed = { task_id: "t1", status: "failed", error: { code: 1301, message: "content moderation failed" } };

function setup(steps: FetchStep[], maxRetries = 2) {
  const scripted = scriptedFetch(steps);
  return { kling: createKlingClient({ apiKey: "sk-wait", fetch: scripted.fetch, maxRetries }), calls: scripted.calls };
}

/** Settles `promise` into an outcome without an unhandled rejection while timers are advanced. */
function capture<T>(promise: Promise<T>) {
  const box: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(box, { value, settled: true }),
    (error: unknown) => Object.assign(box, { error, settled: true }),
  );
  return box;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5); // jitter factor exactly 1
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("waitForImage2VideoTask", () => {
  it("goes queued -> in_progress -> completed, calling onUpdate once per status change", async () => {
    const { kling, calls } = setup([queued, queued, running, running, done]);
    const updates: string[] = [];
    const result = capture(
      kling.waitForImage2VideoTask("t1", { pollIntervalMs: 1000, onUpdate: (t) => updates.push(t.status!) }),
    );
    await vi.advanceTimersByTimeAsync(4000);
    expect(result.settled).toBe(true);
    expect(result.value).toEqual(done);
    expect(result.value!.url.length).toBeGreaterThan(0); // typed string: no narrowing needed
    expect(updates).toEqual(["queued", "in_progress", "completed"]);
    expect(calls).toHaveLength(5);
  });

  it("rejects with TaskFailedError carrying the task and its error", async () => {
    const { kling } = setup([queued, failed]);
    const result = capture(kling.waitForImage2VideoTask("t1", { pollIntervalMs: 500 }));
    await vi.advanceTimersByTimeAsync(500);
    const error = result.error as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.task).toEqual(failed);
    expect(error.code).toBe(1301);
    expect(error.errorMessage).toBe("content moderation failed");
    expect(error.message).toBe("task t1 failed: 1301: content moderation failed");
  });

  it("rejects with WaitTimeoutError past timeoutMs, with the last task seen", async () => {
    const { kling, calls } = setup([queued, running]);
    const result = capture(kling.waitForImage2VideoTask("t1", { pollIntervalMs: 1000, timeoutMs: 10_000 }));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(result.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = result.error as WaitTimeoutError;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error.lastTask).toEqual(running);
    expect(error.timeoutMs).toBe(10_000);
    expect(error.message).toBe("task t1 not finished after 10000 ms (last status: in_progress)");
    expect(calls).toHaveLength(10);
  });

  it("a timeout before any answer names the requested task", async () => {
    const { kling } = setup(["hang"]);
    const result = capture(kling.waitForImage2VideoTask("t-requested", { timeoutMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    const error = result.error as WaitTimeoutError;
    expect(error.taskId).toBe("t-requested");
    expect(error.lastTask).toBeUndefined();
    expect(error.message).toBe("task t-requested not finished after 1000 ms (no task seen yet)");
  });

  it("timeoutMs: Infinity waits without a deadline; beyond 2^31-1 ms is refused", async () => {
    const { kling } = setup([running, running, done]);
    const result = capture(kling.waitForImage2VideoTask("t1", { timeoutMs: Number.POSITIVE_INFINITY, pollIntervalMs: 1000 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(result.value).toEqual(done);
    await expect(kling.waitForImage2VideoTask("t1", { timeoutMs: 30 * 86_400_000 })).rejects.toThrow(/from 0 to 2147483647/);
  });

  it("defaults to a 15 minute budget", async () => {
    const { kling } = setup([running]);
    const result = capture(kling.waitForImage2VideoTask("t1"));
    await vi.advanceTimersByTimeAsync(15 * 60_000 - 1);
    expect(result.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(result.error).toBeInstanceOf(WaitTimeoutError);
  });

  it("aborted mid-sleep: rejects with the signal's reason at once, and polls no more", async () => {
    const { kling, calls } = setup([queued]);
    const controller = new AbortController();
    const result = capture(kling.waitForImage2VideoTask("t1", { signal: controller.signal, pollIntervalMs: 60_000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(1);
    const reason = new Error("user gave up");
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(result.error).toBe(reason);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toHaveLength(1);
  });

  it("aborted mid-request: rejects with the signal's reason, without retrying", async () => {
    const { kling, calls } = setup(["hang"]);
    const controller = new AbortController();
    const result = capture(kling.waitForImage2VideoTask("t1", { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(100);
    controller.abort("stop");
    await vi.advanceTimersByTimeAsync(0);
    expect(result.error).toBe("stop");
    expect(calls).toHaveLength(1);
  });

  it("an already-aborted signal rejects before any request", async () => {
    const { kling, calls } = setup([queued]);
    const result = capture(kling.waitForImage2VideoTask("t1", { signal: AbortSignal.abort("early") }));
    await vi.advanceTimersByTimeAsync(0);
    expect(result.error).toBe("early");
    expect(calls).toHaveLength(0);
  });

  it("default schedule: starts at 2 s and backs off by 1.5x to a 15 s cap", async () => {
    const { kling, calls } = setup([running]);
    const at: number[] = [];
    const start = Date.now();
    kling.use({ onRequest: () => void at.push(Date.now() - start) });
    const result = capture(kling.waitForImage2VideoTask("t1", { timeoutMs: 70_000 }));
    await vi.advanceTimersByTimeAsync(70_000);
    expect(result.error).toBeInstanceOf(WaitTimeoutError);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps).toEqual([2000, 3000, 4500, 6750, 10125, 15000, 15000]);
    expect(calls).toHaveLength(8);
  });

  it("jitter keeps each pause within ±20% of the schedule", () => {
    for (const r of [0, 0.25, 0.999]) {
      vi.spyOn(Math, "random").mockReturnValue(r);
      expect(pollDelayMs(0)).toBeGreaterThanOrEqual(1600);
      expect(pollDelayMs(0)).toBeLessThanOrEqual(2400);
      expect(pollDelayMs(20)).toBeGreaterThanOrEqual(12_000);
      expect(pollDelayMs(20)).toBeLessThanOrEqual(18_000);
    }
  });

  it("a 429's Retry-After wins over the schedule", async () => {
    const { kling, calls } = setup([queued, { status: 429, headers: { "retry-after": "7" } }, done], 0);
    const at: number[] = [];
    const start = Date.now();
    kling.use({ onRequest: () => void at.push(Date.now() - start) });
    const result = capture(kling.waitForImage2VideoTask("t1", { pollIntervalMs: 1000 }));
    await vi.advanceTimersByTimeAsync(8000);
    expect(result.value).toEqual(done);
    expect(at).toEqual([0, 1000, 8000]);
    expect(calls).toHaveLength(3);
  });

  it("a completed task without a url is a ResponseValidationError, not a silent success", async () => {
    const { kling } = setup([{ task_id: "t1", status: "completed" }]);
    const result = capture(kling.waitForImage2VideoTask("t1"));
    await vi.advanceTimersByTimeAsync(0);
    expect(result.error).toBeInstanceOf(ResponseValidationError);
  });

  it("other errors end the wait (after the request's own retries)", async () => {
    const { kling, calls } = setup([queued, { status: 401, body: { error: { message: "bad key" } } }]);
    const result = capture(kling.waitForImage2VideoTask("t1", { pollIntervalMs: 10 }));
    await vi.advanceTimersByTimeAsync(10);
    expect((result.error as Error).name).toBe("AuthenticationError");
    expect(calls).toHaveLength(2);
  });

  it("normalized relay tasks reach onUpdate with their raw body", async () => {
    const raw = { code: "success", message: "", data: { task_id: "t1", status: "SUCCESS", result_url: "https://x/v.mp4" } };
    const { kling } = setup([raw]);
    const seen: Image2VideoTask[] = [];
    const result = capture(kling.waitForImage2VideoTask("t1", { onUpdate: (t) => seen.push(t) }));
    await vi.advanceTimersByTimeAsync(0);
    expect(result.value).toEqual({ task_id: "t1", status: "completed", url: "https://x/v.mp4" });
    expect((seen[0] as { raw?: unknown }).raw).toEqual(raw);
  });
});

describe("a process that awaited the helper", () => {
  /** Runs a child that waits on a task served by this process; resolves with what kept it alive after. */
  async function leftovers(leak: boolean): Promise<{ alive: string[]; code: number | null }> {
    const server = await startServer([{ status: 200, body: queued }, { status: 200, body: done }]);
    try {
      return await childLeftovers("wait-child.ts", server.url, leak);
    } finally {
      await server.close();
    }
  }

  it("exits by itself with no timer or socket left behind", async () => {
    vi.useRealTimers();
    // The check has teeth: a child that leaks one timer shows it.
    expect((await leftovers(true)).alive).toContain("Timeout");
    expect(await leftovers(false)).toEqual({ alive: [], code: 0 });
  }, 30_000);
});
