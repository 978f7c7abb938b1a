// The transport: sends one request under a policy (a timeout per attempt, retries by the rules of
// src/_retry.ts, a cap on the bytes it reads) and turns what went wrong on the way into
// APIConnectionError / APIConnectionTimeoutError. HTTP error answers pass through as Responses.
// Raw calls reach it as openapi-fetch's fetch; the task helpers' requests come from their own
// pipeline (src/task-route.ts). Either way the body is read here, inside the attempt's timeout.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, KlingError, markMayHaveCreatedTask, ResponseTooLargeError } from "./errors.js";
import type { FetchLike, HttpGet } from "./options.js";
import { isIdempotent, neverConnected, retryDelay, type RetryRule } from "./_retry.js";
import { TIMED_OUT } from "./_sleep.js";

/** The part of the options a single request obeys: the retry rule, plus the time and byte limits. */
export interface RequestPolicy extends RetryRule {
  /** Time limit of one attempt, ms. */
  timeoutMs: number;
  /** Most bytes of a body read into memory (decoded, so a gzip bomb counts at its inflated size). */
  maxResponseBytes: number;
}

/** What the transport sends with, besides the policy (the client's options hold both). */
export interface TransportDeps {
  /** The user's fetch; undefined means `globalThis.fetch`, looked up at each call. */
  fetch: FetchLike | undefined;
  /** Sends the task helpers' GETs instead of fetch, when set. */
  httpGet: HttpGet | undefined;
}

/** A POST body as an attempt makes it: text, a stream, or text still being read (from a Blob where bodies cannot stream). */
export type CreateBodyPart = string | ReadableStream<Uint8Array> | Promise<string>;

/** How one request is sent, besides its policy. */
export interface SendOptions {
  /** Makes the body afresh for every attempt after the first, which sends the one given (a stream can be sent once). */
  remake?: () => CreateBodyPart;
  /** Hands a 2xx body on unread (a raw call with `parseAs: "stream"`). */
  stream?: boolean;
  /** Sends a GET through the client's `httpGet`, when it has one (the task helpers' GETs). */
  httpGet?: boolean;
}

/** A request's init as the transport takes it beside a URL: fetch's, with the headers as a record (what an HttpGet takes). */
export type SendInit = Omit<RequestInit, "headers"> & { headers?: Record<string, string>; duplex?: "half" };

/** What an attempt got: the answer's status line and headers, and its body read whole or, streamed, unread. */
export interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  /** The URL that answered. */
  url: string;
  /** The body as read (decoded, under the cap); absent when streamed. An httpGet's answer is one as it is. */
  body?: Uint8Array;
  /** The Response itself, its body unread, when the caller asked for a stream. */
  stream?: Response;
}

/**
 * Sends a request (fetch's own arguments: a URL and its init, or a Request) under `policy`,
 * aborted by `signal`; resolves with the answer or rejects with a KlingError (or `signal.reason`).
 */
export type Send = (input: Request | string, init: SendInit, policy: RequestPolicy, signal: AbortSignal | undefined, options: SendOptions) => Promise<Answer>;

/**
 * Reads bodies as UTF-8 text (the helpers' and the raw calls' checks). Typed by its one method: a
 * consumer compiling without the DOM lib has no TextDecoder type, and this file's declarations ship.
 */
export const decoder: { decode(bytes?: ArrayBuffer | ArrayBufferView): string } = new TextDecoder();

/** Whether an answer is a 2xx, as Response.ok says. */
export const isOk = (answer: { status: number }): boolean => answer.status >= 200 && answer.status < 300;

/** An answer as a Response a caller can read: the streamed one, or one rebuilt around the bytes read. */
export function responseOf(answer: Answer): Response {
  return answer.stream ?? bufferedResponse(answer, answer.body!);
}

/** Statuses whose answers carry no body (a Response refuses one for them). */
export const isBodyless = (status: number): boolean => status === 204 || status === 205 || status === 304;

/** The bodies of the Responses `bufferedResponse` made, by Response (a check reads them instead of the stream). */
const buffered = new WeakMap<Response, Uint8Array | ArrayBuffer | string>();

/** The body a Response from `bufferedResponse` was made around; undefined for any other Response. */
export const bufferedBody = (response: Response): Uint8Array | ArrayBuffer | string | undefined => buffered.get(response);

/**
 * A Response around a body already read (none for the statuses that cannot have one), keeping the
 * real URL, its body kept for `bufferedBody`, so a check reads that instead of the stream. A plain
 * Response, not a subclass: `extends Response` at the top of the module would make every import
 * load Node's fetch (undici, ~20 ms) before any request needs it.
 */
export function bufferedResponse(
  /** The status line and URL of the answer (an Answer, or the Response this one stands in for). */
  head: { status: number; statusText: string; headers: Headers; url: string },
  /** The body, as read (bytes) or as scrubbed (text). */
  body: Uint8Array | ArrayBuffer | string,
  /** The headers: the answer's own, unless given scrubbed. */
  headers = head.headers,
): Response {
  const response = new Response(isBodyless(head.status) ? null : (body as Uint8Array<ArrayBuffer> | string), { status: head.status, statusText: head.statusText, headers });
  buffered.set(response, body);
  // A constructed Response has no url; keep the real one for messages and for raw callers.
  return Object.defineProperty(response, "url", { value: head.url });
}

/**
 * Reads a body to its end, failing with ResponseTooLargeError past `limit` decoded bytes (after
 * `cancel`, which drops the connection: the rest is never downloaded, let alone kept).
 */
async function readCapped(response: Response, limit: number, cancel: () => void): Promise<Uint8Array> {
  const length = response.headers.get("content-length") ?? "";
  const tooLarge = (): never => {
    cancel();
    response.body?.cancel().catch(() => {});
    throw new ResponseTooLargeError(limit, response.status);
  };
  // An unencoded body is as long as it says (fetch enforces it): read it whole when that fits, and
  // refuse it at once when it does not (nothing of it need arrive first).
  if (/^\d+$/.test(length) && !response.headers.has("content-encoding")) {
    return +length <= limit ? new Uint8Array(await response.arrayBuffer()) : tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader!.read()) {
    size += chunk.value.byteLength;
    if (size > limit) tooLarge();
    chunks.push(chunk.value);
  }
  const bytes = new Uint8Array(size);
  size = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, size);
    size += chunk.byteLength;
  }
  return bytes;
}

/**
 * The redirect mode of a create. `"error"` where the platform takes it; workerd refuses it ("does
 * not make sense at the edge", even in `new Request`) and gets `"manual"`, its 3xx then treated as
 * the redirect error it stands for. Asked once, at the first create.
 */
let createRedirect: "error" | "manual" | undefined;
export function redirectMode(): "error" | "manual" {
  try {
    // A Request built with "error" says "error"; workerd throws instead.
    createRedirect ??= new Request("http://localhost/", { redirect: "error" }).redirect as "error";
  } catch {
    createRedirect = "manual";
  }
  return createRedirect;
}

/** The words of an error chain: `fetch failed` says little, its cause's message and code say more. */
export function describeCause(error: unknown): string {
  const parts = new Set<string>();
  let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    const message = typeof e.message === "string" ? e.message : "";
    if (message) parts.add(message);
    // A code its message already names is not said twice (an empty one never counts).
    if (typeof e.code === "string" && !message.includes(e.code)) parts.add(e.code);
  }
  return [...parts].join(": ") || "connection error";
}

/**
 * Builds the function that sends every request of one client; `redact` scrubs the API key out of
 * anything that becomes part of an error.
 */
export function createTransport(deps: TransportDeps, redact: <T>(value: T) => T): Send {
  return async (input, init, policy, signal, options) => {
    // What the request says, read from its init beside a URL or from the Request itself (which has its URL).
    const asked: { method?: string; body?: unknown; redirect?: string; url?: string } = typeof input === "string" ? init : input;
    const { method = "GET", url = input as string } = asked;
    const path = (): string => new URL(url).pathname;

    /** Attempt `n`'s answer: fetch (or httpGet) plus the body, under `controller` (the attempt's timeout and the caller's signal). */
    async function answerOf(n: number, controller: AbortController): Promise<Answer> {
      let answer: Answer;
      let response: Response | undefined;
      if (options.httpGet && deps.httpGet && method === "GET") {
        const headers = typeof input === "string" ? (init.headers ?? {}) : Object.fromEntries(input.headers);
        answer = await deps.httpGet({ url, headers, signal: controller.signal, maxBytes: policy.maxResponseBytes });
      } else {
        // One attempt's request. A body can be sent once: an attempt after the first sends the body
        // made afresh (`remake`), or else a copy of the Request kept while more attempts may follow.
        const sent: RequestInit & { duplex?: string } = { ...(init as RequestInit), signal: controller.signal };
        let request = input;
        if (asked.body) {
          // `window: null` with a create's `redirect: "error"` spares undici the spec's copy of the request,
          // which tees a streamed body and keeps the unread half (the whole base64 of an image) until the end.
          sent.window = null;
          if (options.remake) {
            if (n) Object.assign(sent, { body: await options.remake(), duplex: "half" });
          } else if (typeof input !== "string" && n < (policy.create || isIdempotent(method) ? policy.maxRetries : 0)) {
            request = input.clone();
          }
        }
        response = await (deps.fetch ? deps.fetch(new Request(request, sent)) : fetch(request, sent));
        answer = { status: response.status, statusText: response.statusText, headers: response.headers, url: response.url || url };
      }
      const { status } = answer;
      // Where a create cannot say `redirect: "error"` (workerd), its 3xx is the error it stands for.
      const redirected = asked.redirect === "manual" && policy.create && status >= 300 && status < 400;
      if (status > 599 || redirected) {
        response?.body?.cancel().catch(() => {});
        // A status past 599 (a proxy's 999 "request denied"): no Response can hold it (the constructor
        // takes 200-599) and no retry will change it, so it ends the call as a plain APIError.
        throw redirected
          ? new TypeError(`the create was redirected (HTTP ${status})`)
          : new APIError({ status, headers: redact(answer.headers), body: "", method, path: path() });
      }
      // A streamed body: the caller reads it; the attempt's timeout covered the headers, the signal the rest.
      if (options.stream && response?.ok) answer.stream = response;
      // Read the body inside the timeout: a server that sends headers and then stalls is a timeout too.
      else if (response) answer.body = await readCapped(response, policy.maxResponseBytes, () => controller.abort(TIMED_OUT));
      return answer;
    }

    for (let n = 0; ; n++) {
      if (signal?.aborted) throw signal.reason;
      // The attempt's own timeout, and the caller's signal.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort);
      const timer = policy.timeoutMs < Infinity ? setTimeout(() => controller.abort(TIMED_OUT), policy.timeoutMs) : undefined;
      let answer: Answer | undefined;
      let failure: KlingError | undefined;
      try {
        answer = await answerOf(n, controller);
      } catch (error) {
        // Aborted on its way: a create may have reached the relay (nothing tells that it did not).
        if (signal?.aborted) {
          throw policy.create ? markMayHaveCreatedTask(new APIUserAbortError(`${method} ${path()} was aborted after it was sent`, { cause: signal.reason })) : signal.reason;
        }
        // Our own errors pass as they are; what fetch (or httpGet) threw becomes a connection error
        // (a timeout, when the attempt's limit cut it), its cause scrubbed.
        const cause = redact(error);
        failure =
          error instanceof KlingError
            ? error
            : controller.signal.reason === TIMED_OUT
              ? new APIConnectionTimeoutError(`${method} ${path()} timed out after ${policy.timeoutMs} ms`)
              : new APIConnectionError(`${method} ${path()} failed: ${describeCause(cause)}`, { cause });
      } finally {
        clearTimeout(timer);
        // A streamed body stays tied to the caller's signal; everything else lets go of it now.
        if (!answer?.stream) signal?.removeEventListener("abort", onAbort);
      }
      // Only a connection error (a timeout among them) may be retried; any other error ends the call.
      const delay = failure && !(failure instanceof APIConnectionError) ? undefined : retryDelay(n, policy, method, answer, failure);
      if (delay === undefined) {
        if (answer) return answer;
        // A create's failure that may have come after the relay took it says so (KlingError.mayHaveCreatedTask).
        throw policy.create && !neverConnected(failure) ? markMayHaveCreatedTask(failure!) : failure;
      }
      // The pause before the next attempt, cut short by an abort (the loop then throws its reason).
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(pause);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const pause = setTimeout(done, signal?.aborted ? 0 : delay); // already aborted: no wait at all
        signal?.addEventListener("abort", done);
      });
    }
  };
}
