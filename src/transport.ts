// The `fetch` handed to openapi-fetch. It looks up the real fetch at call time, gives each attempt
// its own timeout (covering the body, which it reads in full), retries what is worth retrying,
// and turns transport failures into APIConnectionError / APIConnectionTimeoutError. HTTP error
// answers pass through as Responses: openapi-fetch returns them as `{ error }`, and
// getImage2VideoTask maps them with APIError.generate.
import { APIConnectionError, APIConnectionTimeoutError } from "./errors.js";
import type { FetchLike } from "./options.js";
import { backoffMs, isIdempotent, isRetryableStatus, retryDelayMs } from "./retry.js";
import { sleep } from "./_sleep.js";

/** The part of the options a single request obeys. */
export interface RequestPolicy {
  /** Time limit of one attempt, ms. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
}

/** What the transport needs besides the policy. */
export interface TransportDeps {
  /** The user's fetch; undefined means `globalThis.fetch`, looked up at each call. */
  fetch: FetchLike | undefined;
  /** Scrubs the API key out of anything that becomes part of an error. */
  redact: <T>(value: T) => T;
}

const TIMED_OUT = Symbol("timed out");

function pathOf(request: Request): string {
  return new URL(request.url).pathname;
}

/** Runs one attempt: fetch plus the whole body, under the attempt's own timeout and the caller's signal. */
async function attempt(request: Request, policy: RequestPolicy, deps: TransportDeps): Promise<Response> {
  const userSignal = request.signal;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(userSignal.reason);
  userSignal.addEventListener("abort", onAbort, { once: true });
  const timer = Number.isFinite(policy.timeoutMs) ? setTimeout(() => controller.abort(TIMED_OUT), policy.timeoutMs) : undefined;
  try {
    const fetchImpl = deps.fetch ?? globalThis.fetch;
    const response = await fetchImpl(new Request(request, { signal: controller.signal }));
    // Read the body inside the timeout: a server that sends headers and then stalls is a timeout too.
    const body = await response.arrayBuffer();
    const empty = body.byteLength === 0 || response.status === 204 || response.status === 205 || response.status === 304;
    const buffered = new Response(empty ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    // A constructed Response has no url; keep the real one for messages and for raw GET callers.
    Object.defineProperty(buffered, "url", { value: response.url || request.url });
    return buffered;
  } catch (error) {
    if (userSignal.aborted) throw userSignal.reason;
    const where = `${request.method} ${pathOf(request)}`;
    if (controller.signal.reason === TIMED_OUT) {
      throw new APIConnectionTimeoutError(`${where} timed out after ${policy.timeoutMs} ms`);
    }
    const cause = deps.redact(error);
    const detail = describeCause(cause);
    throw new APIConnectionError(`${where} failed: ${detail}`, { cause });
  } finally {
    clearTimeout(timer);
    userSignal.removeEventListener("abort", onAbort);
  }
}

/** The words of an error chain: `fetch failed` says little, its cause's message and code say more. */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const e = current as { code?: unknown; message?: unknown; cause?: unknown };
    const message = typeof e.message === "string" ? e.message : "";
    if (message) parts.push(message);
    if (typeof e.code === "string" && !message.includes(e.code)) parts.push(e.code);
    current = e.cause;
  }
  return parts.length ? [...new Set(parts)].join(": ") : "connection error";
}

/** Builds the fetch function openapi-fetch calls, enforcing `policy` on every request. */
export function createTransport(policy: RequestPolicy, deps: TransportDeps): (request: Request) => Promise<Response> {
  return async function klingFetch(request: Request): Promise<Response> {
    const retries = isIdempotent(request.method) ? policy.maxRetries : 0;
    for (let n = 0; ; n++) {
      if (request.signal.aborted) throw request.signal.reason;
      let response: Response;
      try {
        response = await attempt(request, policy, deps);
      } catch (error) {
        if (!(error instanceof APIConnectionError) || n >= retries) throw error;
        await sleep(backoffMs(n), request.signal);
        continue;
      }
      if (n >= retries || !isRetryableStatus(response.status)) return response;
      const delay = retryDelayMs(n, response.headers);
      if (delay === undefined) return response;
      await sleep(delay, request.signal);
    }
  };
}
