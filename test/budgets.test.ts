// Deterministic budgets from the bench (scripts/bench/budgets.ts): type-check instantiations of a
// README-style consumer, and requests per waited task. Timing budgets live in `npm run bench` only.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BUDGETS,
  assertBudget,
  atMost,
  defaultScheduleRequestBounds,
  requestsUntilFinished,
  withinRatio,
} from "../scripts/bench/budgets.js";
import { CONSUMERS, typecheck } from "../scripts/bench/typecheck.js";
import { createKlingClient, type FetchLike } from "../src/index.js";
import { pollDelayMs } from "../src/wait.js";

const TASK_ID = "kling-budget-task";

/** An in-memory relay: in_progress until `done()` says otherwise, then completed; counts requests. */
function countingRelay(done: (requests: number) => boolean): { fetch: FetchLike; count: () => number } {
  let requests = 0;
  const fetch: FetchLike = async () => {
    requests++;
    const body = done(requests)
      ? { task_id: TASK_ID, status: "completed", url: "https://cdn.example.com/v.mp4", format: "mp4" }
      : { task_id: TASK_ID, status: "in_progress", format: "mp4" };
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  };
  return { fetch, count: () => requests };
}

function client(fetch: FetchLike): ReturnType<typeof createKlingClient> {
  return createKlingClient({ apiKey: "sk-budget", baseUrl: "http://127.0.0.1:9", fetch });
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("budget helpers", () => {
  it("reject an over-budget value", () => {
    expect(withinRatio(110, 100, 1.1)).toBe(true);
    expect(withinRatio(111, 100, 1.1)).toBe(false);
    expect(withinRatio(Number.NaN, 100, 1.1)).toBe(false);
    expect(atMost(BUDGETS.typecheckInstantiationsMax + 1, BUDGETS.typecheckInstantiationsMax)).toBe(false);
    expect(() => assertBudget(withinRatio(120, 100, 1.1), "instantiations", "120 vs 100")).toThrow(/budget exceeded/);
  });

  it("count the polls of a schedule", () => {
    expect(requestsUntilFinished(0, () => 500)).toBe(1);
    expect(requestsUntilFinished(1_000, () => 500)).toBe(3);
    expect(requestsUntilFinished(1_001, () => 500)).toBe(4);
  });
});

describe("type-check cost of a consumer", () => {
  it(
    "stays within 10% of bare openapi-fetch's instantiations and under the absolute ceiling",
    async () => {
      const [kling, bare] = await Promise.all([typecheck(CONSUMERS.kling), typecheck(CONSUMERS["openapi-fetch"])]);
      const detail = `xiexus-kling ${kling.instantiations} vs openapi-fetch ${bare.instantiations}`;
      assertBudget(withinRatio(kling.instantiations, bare.instantiations, BUDGETS.typecheckInstantiationRatio), "ratio", detail);
      assertBudget(atMost(kling.instantiations, BUDGETS.typecheckInstantiationsMax), "ceiling", detail);
    },
    90_000,
  );
});

describe("requests per waited task", () => {
  it.each([1, 2, 5, 12])("a task completing at poll %i costs exactly that many requests", async (k) => {
    const relay = countingRelay((n) => n >= k);
    const task = await client(relay.fetch).waitForImage2VideoTask(TASK_ID, { pollIntervalMs: 1 });
    expect(task.status).toBe("completed");
    expect(relay.count()).toBe(k);
  });

  it("the default schedule's bounds for a task finishing at 60 s are 8 to 10 requests", () => {
    expect(defaultScheduleRequestBounds(BUDGETS.defaultScheduleFinishMs)).toEqual({ min: 8, max: 10 });
  });

  it.each([
    [0, 10],
    [0.5, 9],
    [0.999, 8],
  ])(
    "the default schedule with Math.random() = %d makes %i requests for a task finishing at 60 s",
    async (random, expected) => {
      vi.spyOn(Math, "random").mockReturnValue(random);
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"], now: 0 });
      const finishAt = BUDGETS.defaultScheduleFinishMs;
      const relay = countingRelay(() => Date.now() >= finishAt);
      let settled = false;
      const wait = client(relay.fetch)
        .waitForImage2VideoTask(TASK_ID)
        .finally(() => (settled = true));
      for (let t = 0; !settled && t < 5 * 60_000; t += 250) await vi.advanceTimersByTimeAsync(250);
      await expect(wait).resolves.toMatchObject({ status: "completed" });

      const predicted = requestsUntilFinished(finishAt, (poll) => pollDelayMs(poll, () => random));
      const { min, max } = defaultScheduleRequestBounds(finishAt);
      expect(predicted).toBe(expected);
      expect(relay.count()).toBe(predicted);
      expect(relay.count()).toBeGreaterThanOrEqual(min);
      expect(relay.count()).toBeLessThanOrEqual(max);
    },
  );
});
