// Client options, normalized once by a pure function over a defaults object, with every input
// check that must happen before any request.
import { InvalidArgumentError } from "./errors.js";
import { invalid } from "./_messages.js";

/**
 * Where the key goes when no `baseUrl` or `XIEXUS_BASE_URL` says otherwise. Pinned here on purpose:
 * adding, updating or removing a spec never changes it (a spec's `servers` are reported, not applied).
 */
export const DEFAULT_BASE_URL = "https://api.xiexus.cn";

/** How strictly 2xx bodies are checked against the spec: see the README's compat table. */
export type ValidationMode = "strict" | "compat" | "off";

/** A `fetch`-compatible function. */
export type FetchLike = (input: Request, init?: RequestInit) => Promise<Response>;

/** One GET the client hands an `httpGet`: where, with which headers, under which signal and byte cap. */
export interface HttpGetRequest {
  /** Absolute URL. */
  url: string;
  /** Request headers, Authorization included when the client has a key. */
  headers: Record<string, string>;
  /** Aborted on the attempt's timeout or the caller's abort; the request must stop then. */
  signal: AbortSignal;
  /** Most body bytes (decoded) to read; past it, reject with `ResponseTooLargeError`. */
  maxBytes: number;
}

/** What an `httpGet` resolves with: the answer after redirects, its whole body read and decoded. */
export interface HttpGetResponse {
  /** HTTP status, 200-599. */
  status: number;
  /** Reason phrase, possibly empty. */
  statusText: string;
  /** Response headers. */
  headers: Headers;
  /** The URL that answered (after redirects). */
  url: string;
  /** The whole body, decoded (no Content-Encoding left). */
  body: Uint8Array;
}

/**
 * Sends a GET without `fetch`; `nodeHttpGet` from `xiexus-kling/node` is one. Any rejection but
 * `ResponseTooLargeError` counts as a connection failure (retried like fetch's).
 */
export type HttpGet = (request: HttpGetRequest) => Promise<HttpGetResponse>;

/** Options of `createKlingClient`; every one is optional. */
export interface KlingClientOptions {
  /**
   * API key sent as `Authorization: Bearer <key>`. Default: `process.env.XIEXUS_API_KEY`.
   * `null` says "no key here": no Authorization header is sent (a proxy at `baseUrl` adds it).
   */
  apiKey?: string | null;
  /** Absolute http(s) URL of the relay. Default: `process.env.XIEXUS_BASE_URL`, else `DEFAULT_BASE_URL` (`https://api.xiexus.cn`). */
  baseUrl?: string;
  /** The `fetch` to use. Default: `globalThis.fetch`, looked up at each call (so mocks installed later work). */
  fetch?: FetchLike;
  /**
   * Sends the task helpers' GETs (get, wait, batch) instead of `fetch`, after your middlewares
   * (they see them as Requests, as ever); raw calls keep using `fetch`. Pass `nodeHttpGet` from `xiexus-kling/node` on
   * Node for big batches: less memory and faster polls than Node's fetch. Default: none (fetch).
   */
  httpGet?: HttpGet;
  /** Extra headers on every request. Default: none. */
  headers?: Record<string, string>;
  /** Time limit of one attempt (connect + headers + body), in ms; `Infinity` for none. Default: 60000. */
  timeoutMs?: number;
  /** Retries after the first attempt, for connection errors, timeouts, 408, 429 and 5xx. Default: 2. */
  maxRetries?: number;
  /** How 2xx bodies are checked against the spec. Default: `"compat"`. */
  validation?: ValidationMode;
  /** Most bytes of one answer read into memory, counted after decompression. Default: 4194304 (4 MiB). */
  maxResponseBytes?: number;
}

/** Options after defaults, environment and checks. */
export interface ResolvedOptions {
  /** The key, or null when a proxy adds it. */
  apiKey: string | null;
  baseUrl: string;
  fetch: FetchLike | undefined;
  httpGet: HttpGet | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetries: number;
  validation: ValidationMode;
  maxResponseBytes: number;
}

/** The defaults of every option that has one. */
export const DEFAULTS = {
  timeoutMs: 60_000,
  maxRetries: 2,
  validation: "compat",
  maxResponseBytes: 4 * 1024 * 1024,
} as const satisfies Partial<ResolvedOptions>;

/** Longest task id accepted; real ids are a few dozen characters. */
export const MAX_TASK_ID_LENGTH = 256;

/** A C0 or C1 control character (or DEL): never in an id, a key or a header. */
export const CONTROL = /\p{Cc}/u;
/**
 * A UTF-16 surrogate without its pair: not text, and encodeURIComponent throws on it. (With the `u`
 * flag a pair reads as one code point outside Cs, so only a lone surrogate matches.)
 */
export const LONE_SURROGATE = /\p{Cs}/u;
const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/;

/** An HTTP token (RFC 9110): what a header name may be. */
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~\w-]+$/;

/** Whether a host name is this machine: `localhost`, 127.x.x.x or ::1 (bracketed or not). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOST.test(host);
}

/**
 * Whether a redirect from `from` to `to` may be followed: to https, or to plain http on loopback;
 * and to this machine only from this machine (a remote host must not steer us to a local service).
 */
export function isAllowedRedirect(from: URL, to: URL): boolean {
  const local = isLoopbackHost(to.hostname);
  return (to.protocol === "https:" || (to.protocol === "http:" && local)) && (!local || isLoopbackHost(from.hostname));
}

/** An environment variable; unset and empty are the same (`FOO= cmd` must not override a default). */
function env(name: string): string | undefined {
  try {
    // `process` is absent in browsers; reading it through globalThis keeps the bundle free of Node.
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name] || undefined;
  } catch {
    // Deno without --allow-env throws on the read: an environment we may not see is an unset one
    // (undefined, by falling off the end).
  }
}

/** The longest delay a timer can hold (setTimeout fires at once beyond it): about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Refuses an option unless `ok`: "<name> must be <rule>, got <value>". */
function expectOption(ok: unknown, name: string, rule: string, value: unknown): void {
  if (!ok) invalid(name, `must be ${rule}, got ${String(value)}`);
}

/** Checks a duration option: a number of ms from 0 to MAX_TIMER_MS, or Infinity (no limit) where allowed. */
export function checkDuration(name: string, value: unknown, allowInfinity = false): number {
  expectOption(
    typeof value === "number" && value >= 0 && (value <= MAX_TIMER_MS || (allowInfinity && value === Infinity)),
    name,
    `a number of milliseconds from 0 to ${MAX_TIMER_MS}${allowInfinity ? " (or Infinity)" : ""}`,
    value,
  );
  return value as number;
}

/** Checks a whole-number option: from `min` to `max`. */
export function checkCount(name: string, value: unknown, min: number, max: number): number {
  // (Number.isInteger is false for anything but a number.)
  expectOption(Number.isInteger(value) && (value as number) >= min && (value as number) <= max, name, `a whole number from ${min} to ${max}`, value);
  return value as number;
}

/** Checks a retry count: a whole number from 0 to 10. */
export function checkRetries(value: unknown): number {
  return checkCount("maxRetries", value, 0, 10);
}

function checkApiKey(key: string | null | undefined): string | null {
  if (key === null) return null;
  // The key itself never appears in a message: say what is wrong with it, not what it is. A Bearer
  // token is token68 (RFC 6750): anything else (a pasted line break, a zero-width space, a quote)
  // cannot be a key, fetch cannot send some of it, and JSON would escape some of it past the redactor.
  const problem =
    key === undefined || key === ""
      ? "is missing"
      : typeof key !== "string" || !/^[\w.~+/-]+=*$/.test(key)
        ? "has a character no Bearer token has (only letters, digits, - . _ ~ + / and a trailing =)"
        : "";
  if (problem) invalid("apiKey", `${problem}: set XIEXUS_API_KEY or options.apiKey (null when a proxy adds it)`);
  return key as string;
}

/** Checks a base URL: absolute http(s), no credentials, query or fragment; plain http only to loopback. */
export function checkBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value is not quoted back: a malformed URL may still hold credentials.
    invalid("baseUrl", `must be an absolute http(s) URL, such as ${DEFAULT_BASE_URL}`);
  }
  // Plain http would send the API key in clear text: only to this machine.
  const problem =
    url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))
      ? `must use https (plain http is only allowed to loopback), got ${url.protocol}`
      : url.username || url.password
        ? "must not contain credentials; pass the key as apiKey"
        : url.search || url.hash
          ? "must not have a query or a fragment"
          : "";
  if (problem) invalid("baseUrl", problem);
  return url.href.replace(/\/+$/, "");
}

/** Checks a task id: a non-blank string of at most 256 characters, no control characters, no `.`/`..`. */
export function checkTaskId(taskId: unknown): string {
  // The first problem found, in this order; "" when there is none.
  const problem =
    typeof taskId !== "string"
      ? `must be a string, got ${typeof taskId}`
      : !taskId.trim()
        ? "is empty"
        : taskId.length > MAX_TASK_ID_LENGTH
          ? `is ${taskId.length} characters long; at most ${MAX_TASK_ID_LENGTH}`
          : CONTROL.test(taskId)
            ? "contains a control character"
            : LONE_SURROGATE.test(taskId)
              ? "is not well-formed Unicode"
              : taskId !== taskId.trim()
                ? "has leading or trailing whitespace"
                : // URLs resolve "." and ".." segments away, so such an id could never reach the task route.
                  /^\.\.?$/.test(taskId)
                  ? `"${taskId}" cannot be sent as a path segment`
                  : "";
  if (problem) invalid("taskId", problem);
  return taskId as string;
}

const VALIDATION_MODES: readonly ValidationMode[] = ["strict", "compat", "off"];

/** Checks a validation mode: "strict", "compat" or "off". */
export function checkValidation(value: unknown): ValidationMode {
  expectOption(VALIDATION_MODES.includes(value as ValidationMode), "validation", '"strict", "compat" or "off"', value);
  return value as ValidationMode;
}

/** Checks an options argument: an object, or absent (none); null, a string or an array is a mistake. */
export function checkOptionsObject<T extends object>(value: T | undefined): T {
  if (value === undefined) return {} as T;
  const got = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
  expectOption(got === "object", "options", "an object", got);
  return value;
}

/** Checks an optional function option. */
export function checkFunction<T>(name: string, value: T): T {
  if (value !== undefined && typeof value !== "function") invalid(name, "must be a function");
  return value;
}

/** Checks an optional abort signal; read by its shape, so a signal from another realm or polyfill counts. */
export function checkSignal(value: unknown): AbortSignal | undefined {
  const signal = value as Partial<AbortSignal> | null | undefined;
  if (signal !== undefined && (typeof signal?.aborted !== "boolean" || typeof signal.addEventListener !== "function")) {
    invalid("signal", "must be an AbortSignal");
  }
  return signal as AbortSignal | undefined;
}

/** Checks the extra headers: a plain object of HTTP-token names and Latin-1 values, no Authorization; returns a copy. */
function checkHeaders(given: Record<string, string>): Record<string, string> {
  // A Headers, Map or array would be read as an empty record: say so rather than drop them. (A
  // primitive's prototype is its wrapper's, never Object.prototype: refused here too.)
  if (![Object.prototype, null].includes(Object.getPrototypeOf(given))) {
    invalid("headers", "must be a plain object of name: value strings");
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    // fetch sends Latin-1 only (a ByteString): anything above U+00FF would fail at every request. With
    // the control characters (C0, DEL, C1) out, what is left is space to ~ and U+00A0 to U+00FF.
    const problem = /^authorization$/i.test(name)
      ? "set the key with apiKey, not an Authorization header"
      : !HTTP_TOKEN.test(name)
        ? `header name ${JSON.stringify(name)} is not an HTTP token`
        : typeof value !== "string" || /[^ -~\xa0-\xff]/.test(value)
          ? `header ${name} must be a string of Latin-1 characters without control characters`
          : "";
    if (problem) throw new InvalidArgumentError("headers", problem);
    headers[name] = value;
  }
  return headers;
}

/** Applies environment and defaults to the options and checks each one; throws InvalidArgumentError. */
export function resolveOptions(given?: KlingClientOptions): ResolvedOptions {
  const options = checkOptionsObject(given);
  // Checked in this order: the first problem found is the one reported.
  return {
    validation: checkValidation(options.validation ?? DEFAULTS.validation),
    fetch: checkFunction("fetch", options.fetch),
    httpGet: checkFunction("httpGet", options.httpGet),
    headers: checkHeaders(options.headers ?? {}),
    apiKey: checkApiKey(options.apiKey === undefined ? env("XIEXUS_API_KEY") : options.apiKey),
    baseUrl: checkBaseUrl(options.baseUrl ?? env("XIEXUS_BASE_URL") ?? DEFAULT_BASE_URL),
    timeoutMs: checkDuration("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs, true),
    maxRetries: checkRetries(options.maxRetries ?? DEFAULTS.maxRetries),
    maxResponseBytes: checkCount("maxResponseBytes", options.maxResponseBytes ?? DEFAULTS.maxResponseBytes, 1, 2 ** 31),
  };
}
