/**
 * Reads a spec from a file or an http(s) URL, for spec:update, spec:diff and spec:check.
 *
 * A URL is downloaded under limits, so a wrong or hostile address cannot hang the command, fill
 * the memory or borrow a credential:
 * - one time limit for the whole download, redirects and body included (SPEC_TIMEOUT_MS);
 * - a byte cap (SPEC_MAX_BYTES) on the decoded body: a declared `Content-Length` over it is
 *   refused before the body is read, and a body that passes it while streaming is cancelled
 *   there, the rest unread (the connection is closed);
 * - at most SPEC_MAX_REDIRECTS redirects, followed by hand (`redirect: "manual"`), each target
 *   checked: http(s) only, no `user:pass@`, never from https down to http;
 * - no credentials: no `Authorization`, no cookie (Node's fetch keeps no jar), and a URL carrying
 *   `user:pass@` is refused rather than sent;
 * - a non-2xx answer or a cut connection is an error naming the URL and the cause.
 * Whether the bytes are a spec is the caller's check (it names the URL too).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

/** The largest spec body accepted, in decoded bytes (the relay's combined file is ~180 kB). */
export const SPEC_MAX_BYTES = 16 * 1024 * 1024;

/** The time limit for one download, redirects and body included, in milliseconds. */
export const SPEC_TIMEOUT_MS = 60_000;

/** How many redirects one download follows. */
export const SPEC_MAX_REDIRECTS = 5;

/** Limits of one download; the defaults are the constants above. */
export interface SpecFetchOptions {
  /** Decoded body cap in bytes; default SPEC_MAX_BYTES. */
  maxBytes?: number;
  /** Whole-download time limit in ms; default SPEC_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Redirects followed; default SPEC_MAX_REDIRECTS. */
  maxRedirects?: number;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
}

/** A spec's bytes and where they came from. */
export interface SpecSource {
  bytes: Buffer;
  /** The source as given (a path or a URL), for messages. */
  shown: string;
  /** For a URL, the one the body came from after redirects. */
  finalUrl?: string;
}

/** A spec that could not be read: `message` is `cannot read <source>: <cause>`. */
export class SpecReadError extends Error {
  override name = "SpecReadError";

  /** `source` as shown; `reason` the cause in words. */
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`cannot read ${source}: ${reason}`);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Whether `source` is written as a URL (`scheme://...`) rather than a file path. */
export function isUrl(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
}

/** The last path segment of a URL (`.../openapi/relay.json?v=2` -> `relay.json`), or a path's basename. */
export function sourceBaseName(source: string): string {
  if (!isUrl(source)) return path.basename(source);
  try {
    const segment = new URL(source).pathname.split("/").pop() ?? "";
    return decodeURIComponent(segment);
  } catch {
    return "";
  }
}

/** A URL for messages: its credentials (which are refused anyway) never shown. */
function shownUrl(url: URL): string {
  if (url.username === "" && url.password === "") return url.href;
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href.replace("://", "://***@");
}

function checkTarget(url: URL, shown: string, from?: URL): void {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SpecReadError(shown, `${from ? "a redirect to " : ""}${url.protocol} is not http(s)`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new SpecReadError(shown, `${from ? "a redirect to " : ""}a URL with credentials (user:pass@) is refused: no credential is ever sent`);
  }
  if (from?.protocol === "https:" && url.protocol === "http:") {
    throw new SpecReadError(shown, `a redirect from https to http (${shownUrl(url)}) is refused`);
  }
}

/** A fetch failure in words: the timeout, or the network cause undici wraps in `TypeError: fetch failed`. */
function causeOf(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Downloads `source` (an http(s) URL) under the limits above; resolves with its bytes, or rejects
 * with a SpecReadError naming the URL (and where a redirect led) and the cause.
 */
export async function fetchSpec(source: string, options: SpecFetchOptions = {}): Promise<SpecSource> {
  const maxBytes = options.maxBytes ?? SPEC_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? SPEC_TIMEOUT_MS;
  const maxRedirects = options.maxRedirects ?? SPEC_MAX_REDIRECTS;
  const doFetch = options.fetch ?? fetch;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new SpecReadError(source, "not a valid URL");
  }
  const given = shownUrl(url);
  checkTarget(url, given);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
  // Named with the hop it failed at, so a redirect chain's failure says where it ended.
  const at = (): string => (url.href === new URL(source).href ? given : `${given} (redirected to ${shownUrl(url)})`);
  try {
    for (let hop = 0; ; hop++) {
      let response: Response;
      try {
        response = await doFetch(url.href, {
          method: "GET",
          redirect: "manual",
          credentials: "omit",
          signal: controller.signal,
          headers: { accept: "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.1" },
        });
      } catch (error) {
        throw new SpecReadError(at(), causeOf(error, controller.signal));
      }
      if (REDIRECTS.has(response.status)) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get("location");
        if (location === null) throw new SpecReadError(at(), `HTTP ${response.status} without a Location header`);
        if (hop >= maxRedirects) throw new SpecReadError(at(), `more than ${maxRedirects} redirects`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new SpecReadError(at(), `HTTP ${response.status} to an invalid Location ${JSON.stringify(location)}`);
        }
        checkTarget(next, at(), url);
        url = next;
        continue;
      }
      if (response.status < 200 || response.status > 299) {
        await response.body?.cancel().catch(() => undefined);
        throw new SpecReadError(at(), `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
      }
      const declared = Number(response.headers.get("content-length") ?? Number.NaN);
      if (Number.isFinite(declared) && declared > maxBytes) {
        // Refused at the headers: the body is never read, and the abort closes the connection.
        await response.body?.cancel().catch(() => undefined);
        controller.abort(new Error("refused"));
        throw new SpecReadError(at(), `the answer declares ${declared} bytes, over the ${maxBytes}-byte cap; refused unread`);
      }
      const bytes = await readCapped(response, maxBytes, controller, at);
      return { bytes, shown: given, finalUrl: url.href };
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Reads `response`'s body, counting decoded bytes; past `maxBytes` the stream is cancelled and the rest never read. */
async function readCapped(response: Response, maxBytes: number, controller: AbortController, at: () => string): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (error) {
      const why = controller.signal.aborted ? causeOf(error, controller.signal) : `the connection was cut after ${total} bytes (${causeOf(error, controller.signal)})`;
      throw new SpecReadError(at(), why);
    }
    if (step.done) break;
    total += step.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      controller.abort(new Error("refused"));
      throw new SpecReadError(at(), `the body passed the ${maxBytes}-byte cap; the rest was not read`);
    }
    chunks.push(step.value);
  }
  return Buffer.concat(chunks, total);
}

/** Reads a spec's bytes from a file path or an http(s) URL (fetchSpec's limits); rejects with a SpecReadError. */
export async function readSpecSource(source: string, options: SpecFetchOptions = {}): Promise<SpecSource> {
  if (isUrl(source)) return fetchSpec(source, options);
  try {
    return { bytes: await readFile(source), shown: source };
  } catch (error) {
    throw new SpecReadError(source, (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error)));
  }
}
