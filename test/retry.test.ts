// The retry rules on their own: which answers are retried, the backoff schedule, and how a
// server's Retry-After / retry-after-ms hint is read and capped.
import { describe, expect, it } from "vitest";
import { backoffMs, isIdempotent, isRetryableStatus, MAX_RETRY_AFTER_MS, retryAfterMs, retryDelayMs } from "../src/_retry.js";

describe("isRetryableStatus", () => {
  it.each([408, 429, 500, 502, 503, 504, 599])("retries %i", (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });
  // Past 599 is no HTTP status: nothing says another attempt would pass.
  it.each([200, 304, 400, 401, 403, 404, 409, 422, 600, 999])("never retries %i", (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});

describe("isIdempotent", () => {
  it("retries only methods that are safe to send twice", () => {
    expect(["GET", "get", "HEAD", "OPTIONS", "PUT", "DELETE"].map(isIdempotent)).toEqual([true, true, true, true, true, true]);
    expect(["POST", "PATCH"].map(isIdempotent)).toEqual([false, false]);
  });
});

describe("backoffMs", () => {
  it("doubles from 0.5 s to an 8 s cap, shortened by at most 25% jitter", () => {
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffMs(n, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect([0, 1, 4].map((n) => backoffMs(n, () => 1))).toEqual([375, 750, 6000]);
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2026-11-23T12:00:00Z");
  const h = (init: Record<string, string>) => new Headers(init);

  it("reads seconds, decimals, HTTP dates and retry-after-ms", () => {
    expect(retryAfterMs(h({ "retry-after": "3" }), now)).toBe(3000);
    expect(retryAfterMs(h({ "retry-after": "1.5" }), now)).toBe(1500);
    expect(retryAfterMs(h({ "retry-after": "Mon, 23 Nov 2026 12:00:07 GMT" }), now)).toBe(7000);
    expect(retryAfterMs(h({ "retry-after": "Mon, 23 Nov 2026 11:59:00 GMT" }), now)).toBe(0);
    expect(retryAfterMs(h({ "retry-after-ms": "250", "retry-after": "9" }), now)).toBe(250);
  });

  it("ignores what it cannot read", () => {
    expect(retryAfterMs(h({}), now)).toBeUndefined();
    expect(retryAfterMs(h({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(h({ "retry-after": "-5" }), now)).toBeUndefined();
    expect(retryAfterMs(h({ "retry-after-ms": "abc" }), now)).toBeUndefined();
  });
});

describe("retryDelayMs", () => {
  it("prefers the server's hint, up to the cap; beyond it, does not retry", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryDelayMs(0, new Headers({ "retry-after": String(MAX_RETRY_AFTER_MS / 1000) }))).toBe(MAX_RETRY_AFTER_MS);
    expect(retryDelayMs(0, new Headers({ "retry-after": String(MAX_RETRY_AFTER_MS / 1000 + 1) }))).toBeUndefined();
  });

  it("falls back to the backoff schedule", () => {
    const delay = retryDelayMs(2, new Headers());
    expect(delay).toBeGreaterThanOrEqual(1500);
    expect(delay).toBeLessThanOrEqual(2000);
  });
});

describe("retryRateLimit, per call", () => {
  it("false hands a 429 straight back (one request); by default it is waited out and retried; a non-boolean is refused before any request", async () => {
    const { createKlingClient, InvalidArgumentError, RateLimitError } = await import("../src/index.js");
    const { createFakeRelay, FAKE_RELAY_API_KEY, COMPLETED_TASK } = await import("../src/testing/index.js");
    const relay = await createFakeRelay();
    try {
      const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url });
      const limited = { status: 429, headers: { "retry-after": "0" }, body: { error: { message: "slow down", type: "rate_limit" } } };
      relay.setTask("t-429", [limited, { ...COMPLETED_TASK, task_id: "t-429" }]);
      const error = await kling.getImage2VideoTask("t-429", { retryRateLimit: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitError);
      expect(relay.requests).toHaveLength(1);
      relay.setTask("t-429b", [limited, { ...COMPLETED_TASK, task_id: "t-429b" }]);
      await expect(kling.getImage2VideoTask("t-429b")).resolves.toMatchObject({ status: "completed" });
      expect(relay.requests).toHaveLength(3);
      const refused = await kling.getImage2VideoTask("t-429", { retryRateLimit: "no" as unknown as boolean }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvalidArgumentError);
      expect(relay.requests).toHaveLength(3);
    } finally {
      await relay.close();
    }
  });
});
