// When to send a request again and how long to wait first: the one room for retry rules, written as
// a ladder of early returns, one rule each. The transport asks `retryDelay` after every attempt.

/** Retry-After hints longer than this are not waited out: the RateLimitError reaches the caller. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Backoff of the first retry, before doubling. */
const BASE_DELAY_MS = 500;
/** Backoff never grows past this. */
const MAX_DELAY_MS = 8_000;

/** Methods that are safe to send twice (upper case). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/** A header's plain number: digits, maybe with a fraction. */
const NUMBER = /^\d+(\.\d+)?$/;

/** Parses `retry-after-ms`, then `Retry-After` (seconds or an HTTP date); undefined when absent or invalid. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms")?.trim() ?? "";
  if (NUMBER.test(ms)) return Number(ms);
  const value = headers.get("retry-after")?.trim() ?? "";
  if (NUMBER.test(value)) return Number(value) * 1000;
  // An HTTP date names its day and month; anything else ("-5", "1e3") is not one, whatever Date.parse thinks.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
  return isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Whether an HTTP answer with this status is worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  // Timeouts, rate limits and server-side failures are transient.
  if (status === 408 || status === 429) return true;
  // 5xx only: a status past 599 is no HTTP status at all, and nothing says it will pass.
  if (status >= 500 && status <= 599) return true;
  // 400, 401, 403, 404 and the rest of 4xx will answer the same again.
  return false;
}

/** Whether a request with this method may be retried at all. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped at 8 s, each shortened by up to 25%. */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const base = Math.min(BASE_DELAY_MS * 2 ** retry, MAX_DELAY_MS);
  return Math.round(base * (1 - 0.25 * random()));
}

/**
 * How long to wait before retry number `retry` (0-based) after an answer with these headers;
 * `undefined` means: do not retry, the server asked for a longer pause than we will sit through.
 */
export function retryDelayMs(retry: number, headers: Headers): number | undefined {
  const hint = retryAfterMs(headers);
  // A server hint wins over our own schedule...
  if (hint !== undefined) return hint <= MAX_RETRY_AFTER_MS ? hint : undefined;
  // ...else the exponential schedule.
  return backoffMs(retry);
}

/**
 * Codes of a connection that was never made, so not one byte of the request left: refused, no
 * such host, DNS failing, connect timed out (undici's, before any byte of the request).
 */
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);

/**
 * Whether a failed attempt surely sent nothing: its error chain names a connection that was never
 * made. (A timeout names none: the request may have left.)
 */
export function neverConnected(error: unknown): boolean {
  // Down the cause chain, at most 5 deep.
  for (let depth = 0; error && depth < 5; depth++) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_CONNECTED.has(code)) return true;
    error = (error as { cause?: unknown }).cause;
  }
  return false;
}

/** Who may be retried and how often: the part of a request's policy the ladder reads. */
export interface RetryRule {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Whether a 429 is retried here; a batch handles it itself, pausing every poll. Default true. */
  retryRateLimit?: boolean;
  /**
   * A request that creates a paid task: retried (up to `maxRetries`) only when the relay surely did
   * not take it: the connection was never made, or a 429 (the gateway answers it before doing
   * anything). Never after a timeout, a reset, a 408 or a 5xx: those may have created a task.
   */
  create?: boolean;
}

/**
 * The pause before retry number `retry` (0-based) of a `method` request under `rule`, after an
 * attempt that got `response` or failed to connect with `error` (an APIConnectionError); undefined:
 * do not retry, hand the answer or the error on.
 */
export function retryDelay(retry: number, rule: RetryRule, method: string, response: { status: number; headers: Headers } | undefined, error?: unknown): number | undefined {
  // Only so many retries.
  if (retry >= rule.maxRetries) return undefined;
  // A POST, PATCH... may have done its work: sent once, unless it is a create (the rules below).
  if (!rule.create && !isIdempotent(method)) return undefined;
  if (!response) {
    // A create is resent only when nothing of it left this machine.
    return rule.create && !neverConnected(error) ? undefined : backoffMs(retry);
  }
  const status = response.status;
  if (!isRetryableStatus(status)) return undefined;
  // A batch pauses every poll on a 429 itself.
  if (status === 429 && rule.retryRateLimit === false) return undefined;
  // A create's 5xx or 408 may come after the task was made: only a 429 is surely harmless.
  if (rule.create && status !== 429) return undefined;
  return retryDelayMs(retry, response.headers);
}
