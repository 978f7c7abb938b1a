// The `fetch` handed to openapi-fetch. It looks up the real fetch at call time, gives each attempt
// its own timeout (covering the body, which it reads under a byte cap), retries what is worth
// retrying, and turns transport failures into APIConnectionError / APIConnectionTimeoutError.
// HTTP error answers pass through as Responses: openapi-fetch returns them as `{ error }`.
import { APIConnectionError, APIConnectionTimeoutError, APIError, ResponseTooLargeError } from "./errors.js";
import type { FetchLike, HttpGet, HttpGetResponse } from "./options.js";
import { backoffMs, isIdempotent, isRetryableStatus, retryDelayMs } from "./retry.js";
import { sleep } from "./_sleep.js";

/** The part of the options a single request obeys. */
export interface RequestPolicy {
  /** Time limit of one attempt, ms. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Most bytes of a body read into memory (decoded, so a gzip bomb counts at its inflated size). */
  maxResponseBytes: number;
  /** Whether a 429 is retried here; a batch handles it itself, pausing every poll. Default true. */
  retryRateLimit?: boolean;
  /**
   * A request that creates a paid task: retried (up to `maxRetries`) only when the relay surely did
   * not take it: the connection was never made, or a 429 (the gateway answers it before doing
   * anything). Never after a timeout, a reset, a 408 or a 5xx: those may have created a task.
   */
  create?: boolean;
}

/** What the transport needs besides the policy. */
export interface TransportDeps {
  /** The user's fetch; undefined means `globalThis.fetch`, looked up at each call. */
  fetch: FetchLike | undefined;
  /** Sends the GETs of `Transport.get` instead of fetch, when set. */
  httpGet: HttpGet | undefined;
  /** Scrubs the API key out of anything that becomes part of an error. */
  redact: <T>(value: T) => T;
}

/**
 * What a transport does with a body: "buffer" reads it (under the cap) and hands on a rebuilt
 * Response; "side" reads it and leaves the text in `readBody` instead, handing on the original
 * Response unread-able (the task helpers, which parse the text themselves); "stream" passes the
 * body through unread (a raw call with `parseAs: "stream"`). Error answers are always buffered.
 */
export type BodyMode = "buffer" | "side" | "stream";

const sideBodies = new WeakMap<Response, string>();
const bufferedBodies = new WeakMap<Response, Uint8Array>();
/** Bodies an HttpGet already read, by the body-less Response that stands for its answer. */
const prereadBodies = new WeakMap<Response, Uint8Array>();

/**
 * A status past 599 (a proxy's 999 "request denied"): no Response can hold it (the constructor
 * takes 200-599) and no retry will change it, so it ends the call as a plain APIError.
 */
class OddStatus {
  constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {}
}

/** An HttpGet's answer as a Response without a body stream (the bytes wait in prereadBodies). */
function fromHttpGet(answer: HttpGetResponse): Response {
  if (answer.status > 599) throw new OddStatus(answer.status, answer.headers);
  const response = new Response(null, { status: answer.status, statusText: answer.statusText, headers: answer.headers });
  Object.defineProperty(response, "url", { value: answer.url });
  prereadBodies.set(response, answer.body);
  return response;
}

/** The body a "side" transport read, by the Response it returned. */
export function readBody(response: Response): string | undefined {
  return sideBodies.get(response);
}

/** The bytes a "buffer" transport read into the Response it returned (so a check need not read it again). */
export function bufferedBody(response: Response): Uint8Array | undefined {
  return bufferedBodies.get(response);
}

const TIMED_OUT = Symbol("timed out");

/**
 * Reads a body to its end, as text (UTF-8) or as bytes, failing with ResponseTooLargeError past
 * `limit` decoded bytes.
 */
async function readCapped(response: Response, limit: number, asText: boolean, cancel: () => void): Promise<string | Uint8Array> {
  const preread = prereadBodies.get(response);
  if (preread) return asText ? new TextDecoder().decode(preread) : preread;
  const length = response.headers.get("content-length");
  // An unencoded body is as long as it says (fetch enforces it): read it whole when that fits, and
  // refuse it at once when it does not (nothing of it need arrive first).
  if (length !== null && /^\d+$/.test(length) && !response.headers.has("content-encoding")) {
    if (+length <= limit) return asText ? response.text() : new Uint8Array(await response.arrayBuffer());
    cancel();
    response.body?.cancel().catch(() => {});
    throw new ResponseTooLargeError(limit, response.status);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        // Stop at once and drop the connection: the rest is never downloaded, let alone kept.
        cancel();
        reader.cancel().catch(() => {});
        throw new ResponseTooLargeError(limit, response.status);
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  for (let i = 0, offset = 0; i < chunks.length; offset += chunks[i]!.byteLength, i++) bytes.set(chunks[i]!, offset);
  return asText ? new TextDecoder().decode(bytes) : bytes;
}

/**
 * One request as the transport sees it: openapi-fetch's Request, or the task helper's GET, which is
 * described rather than built (fetch then builds the one Request it needs, not two).
 */
interface Outgoing {
  method: string;
  url: string;
  /** The caller's signal, when there is one. */
  signal: AbortSignal | undefined;
  /** Sends one attempt under `signal`; `last`: no attempt follows, so a body need not be kept. */
  send(signal: AbortSignal, last: boolean): Promise<Response>;
}

/** Runs one attempt: fetch plus the body, under the attempt's own timeout and the caller's signal. */
async function attempt(out: Outgoing, policy: RequestPolicy, deps: TransportDeps, mode: BodyMode, last: boolean): Promise<Response> {
  const userSignal = out.signal;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(userSignal?.reason);
  userSignal?.addEventListener("abort", onAbort);
  const timer = policy.timeoutMs < Infinity ? setTimeout(() => controller.abort(TIMED_OUT), policy.timeoutMs) : undefined;
  let streaming = false;
  try {
    const response = await out.send(controller.signal, last);
    if (response.status > 599) {
      response.body?.cancel().catch(() => {});
      throw new OddStatus(response.status, response.headers);
    }
    if (mode === "stream" && response.ok) {
      // The caller reads the stream; the attempt's timeout covered the headers, the signal the rest.
      streaming = true;
      return response;
    }
    // Read the body inside the timeout: a server that sends headers and then stalls is a timeout too.
    const side = mode === "side" && response.ok;
    const body = await readCapped(response, policy.maxResponseBytes, side, () => controller.abort(TIMED_OUT));
    if (side) {
      sideBodies.set(response, body as string);
      return response;
    }
    const empty = body.length === 0 || response.status === 204 || response.status === 205 || response.status === 304;
    const rebuilt = new Response(empty ? null : (body as Uint8Array<ArrayBuffer>), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    // A constructed Response has no url; keep the real one for messages and for raw callers.
    Object.defineProperty(rebuilt, "url", { value: response.url || out.url });
    bufferedBodies.set(rebuilt, body as Uint8Array);
    return rebuilt;
  } catch (error) {
    if (userSignal?.aborted) throw userSignal.reason;
    if (error instanceof ResponseTooLargeError) throw error;
    const where = `${out.method} ${new URL(out.url).pathname}`;
    if (error instanceof OddStatus) {
      const { status, headers } = error;
      throw new APIError({ status, headers: deps.redact(headers), body: "", method: out.method, path: new URL(out.url).pathname });
    }
    if (controller.signal.reason === TIMED_OUT) {
      throw new APIConnectionTimeoutError(`${where} timed out after ${policy.timeoutMs} ms`);
    }
    const cause = deps.redact(error);
    throw new APIConnectionError(`${where} failed: ${describeCause(cause)}`, { cause });
  } finally {
    clearTimeout(timer);
    // A streamed body stays tied to the caller's signal; everything else lets go of it now.
    if (!streaming) userSignal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Codes of a connection that was never made, so not one byte of the request left: refused, no
 * such host, DNS failing, connect timed out (undici's, before any byte of the request).
 */
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);

/** Whether a failed attempt surely sent nothing: its error chain names a connection that was never made. */
export function neverConnected(error: unknown): boolean {
  if (error instanceof APIConnectionTimeoutError) return false;
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_CONNECTED.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The words of an error chain: `fetch failed` says little, its cause's message and code say more. */
export function describeCause(error: unknown): string {
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

/**
 * The redirect mode of a create. `"error"` where the platform takes it; workerd refuses it ("does
 * not make sense at the edge", even in `new Request`) and gets `"manual"`, its 3xx then treated as
 * the redirect error it stands for. Asked once, at the first create.
 */
let createRedirect: "error" | "manual" | undefined;
function redirectMode(): "error" | "manual" {
  if (createRedirect === undefined) {
    try {
      new Request("http://localhost/", { redirect: "error" });
      createRedirect = "error";
    } catch {
      createRedirect = "manual";
    }
  }
  return createRedirect;
}

/** A POST body as an attempt makes it: text, a stream, or text still being read (from a Blob where bodies cannot stream). */
export type CreateBodyPart = string | ReadableStream<Uint8Array> | Promise<string>;

/** The fetch openapi-fetch calls, plus `get` and `post`: a request described by its URL and headers, sent the same way. */
export type Transport = ((request: Request) => Promise<Response>) & {
  get(url: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Response>;
  /** A POST whose body is made afresh for each attempt (a stream can be sent once). */
  post(url: string, headers: Record<string, string>, body: () => CreateBodyPart, signal: AbortSignal | undefined): Promise<Response>;
};

/** Builds the fetch function openapi-fetch calls, enforcing `policy` on every request. */
export function createTransport(policy: RequestPolicy, deps: TransportDeps, mode: BodyMode = "buffer"): Transport {
  async function run(out: Outgoing): Promise<Response> {
    const retries = isIdempotent(out.method) || policy.create ? policy.maxRetries : 0;
    for (let n = 0; ; n++) {
      if (out.signal?.aborted) throw out.signal.reason;
      let response: Response;
      try {
        response = await attempt(out, policy, deps, mode, n >= retries);
      } catch (error) {
        if (!(error instanceof APIConnectionError) || n >= retries) throw error;
        // A create is resent only when nothing of it left this machine.
        if (policy.create && !neverConnected(error)) throw error;
        await sleep(backoffMs(n), out.signal);
        continue;
      }
      if (n >= retries || !isRetryableStatus(response.status)) return response;
      if (response.status === 429 && policy.retryRateLimit === false) return response;
      // A create's 5xx or 408 may come after the task was made: only a 429 is surely harmless.
      if (policy.create && response.status !== 429) return response;
      const delay = retryDelayMs(n, response.headers);
      if (delay === undefined) return response;
      await sleep(delay, out.signal);
    }
  }
  const transport = (request: Request): Promise<Response> =>
    run({
      method: request.method,
      url: request.url,
      signal: request.signal,
      // A body can be sent once: every attempt but the last gets a copy.
      send: (signal, last) => (deps.fetch ?? fetch)(request.body && !last ? request.clone() : request, { signal }),
    });
  transport.get = (url: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Response> =>
    run({
      method: "GET",
      url,
      signal,
      // An HttpGet reads the body itself; the user's fetch is promised a Request; the platform's
      // fetch builds its own from the URL.
      send: (attemptSignal) =>
        deps.httpGet
          ? deps.httpGet({ url, headers, signal: attemptSignal, maxBytes: policy.maxResponseBytes }).then(fromHttpGet)
          : deps.fetch
            ? deps.fetch(new Request(url, { headers, signal: attemptSignal }))
            : fetch(url, { headers, signal: attemptSignal }),
    });
  transport.post = (url: string, headers: Record<string, string>, body: () => CreateBodyPart, signal: AbortSignal | undefined): Promise<Response> =>
    run({
      method: "POST",
      url,
      signal,
      send: async (attemptSignal) => {
        // `redirect: "error"` and no window spare undici the spec's copy of the request, which tees a
        // streamed body and keeps the unread half (the whole base64 of an image) until the end. A
        // create is never redirected anyway: a 301/302 would turn it into a GET, a 307 cannot resend a stream.
        const redirect = redirectMode();
        const init = { method: "POST", headers, body: await body(), signal: attemptSignal, duplex: "half", redirect, window: null } as RequestInit;
        const response = await (deps.fetch ? deps.fetch(new Request(url, init)) : fetch(url, init));
        if (redirect === "manual" && response.status >= 300 && response.status < 400) {
          response.body?.cancel().catch(() => {});
          throw new TypeError(`the create was redirected (HTTP ${response.status})`);
        }
        return response;
      },
    });
  return transport;
}
