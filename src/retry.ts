// When to retry a request and how long to wait first: a ladder of early returns, one rule each.
import { retryAfterMs } from "./errors.js";

/** Retry-After hints longer than this are not waited out: the RateLimitError reaches the caller. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Backoff of the first retry, before doubling. */
const BASE_DELAY_MS = 500;
/** Backoff never grows past this. */
const MAX_DELAY_MS = 8_000;

/** Methods that are safe to send twice. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

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
