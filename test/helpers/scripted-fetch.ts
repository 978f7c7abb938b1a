// An in-memory fetch that answers from a script (the last step repeats) and records each request:
// for tests that run on fake timers, where real sockets would not be driven by the fake clock.
import type { FetchLike } from "../../src/index.js";

/** One scripted answer: a task body (200) or a full response. */
export type FetchStep = object | { status: number; body?: unknown; headers?: Record<string, string> } | "hang";

/** A fetch answering from `steps`; `calls` counts requests. */
export function scriptedFetch(steps: FetchStep[]): { fetch: FetchLike; calls: Request[] } {
  const calls: Request[] = [];
  const fetch: FetchLike = (request) => {
    const step = steps[Math.min(calls.length, steps.length - 1)]!;
    calls.push(request);
    if (step === "hang") {
      return new Promise((_resolve, reject) => {
        request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true });
      });
    }
    if ("status" in step && typeof step.status === "number" && !("task_id" in step)) {
      const s = step as { status: number; body?: unknown; headers?: Record<string, string> };
      const text = s.body === undefined ? "" : typeof s.body === "string" ? s.body : JSON.stringify(s.body);
      return Promise.resolve(new Response(text || null, { status: s.status, headers: s.headers }));
    }
    return Promise.resolve(Response.json(step));
  };
  return { fetch, calls };
}
