// Every error the client throws is a KlingError; HTTP answers become APIError subclasses through
// one factory (APIError.generate). No error ever holds the API key: the client scrubs bodies,
// headers and causes before building one (see redact.ts), and never stores the request.
import type { ValidationIssue } from "./_spec.js";
import { retryAfterMs } from "./_retry.js";
import { isObject, text } from "./_schema.js";
import type { VideoTask } from "./routes.js";

/** Base class of every error thrown by xiexus-kling. */
export class KlingError extends Error {
  override name = "KlingError";
  /**
   * True only when a create's fate is unknown: the request may have reached the relay and started
   * a paid task whose id never came back (a timeout, a connection lost after the body was sent, a
   * proxy's 5xx page, a 2xx without a task id). The create was not resent. False everywhere else.
   */
  readonly mayHaveCreatedTask: boolean = false;
}

/** Marks an error from a create whose fate is unknown (see `KlingError.mayHaveCreatedTask`); returns it. */
export function markMayHaveCreatedTask<E extends KlingError>(error: E): E {
  // The field is an own, writable data property of every KlingError: readonly to callers only.
  (error as { mayHaveCreatedTask: boolean }).mayHaveCreatedTask = true;
  error.message += "; a task may have been created (not resent: check for it before creating again)";
  return error;
}

/** Bad input caught before any request: a task id, API key, base URL or option that cannot work. */
export class InvalidArgumentError extends KlingError {
  override name = "InvalidArgumentError";
  /** Which argument or option was wrong, e.g. `taskId`, `apiKey`, `baseUrl`. */
  declare readonly argument: string;
  constructor(argument: string, message: string) {
    super(message);
    Object.assign(this, { argument });
  }
}

/** What an APIError is built from. */
export interface APIErrorInit {
  /** HTTP status of the answer. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The body: parsed JSON when it was JSON, else the text (empty string when there was none). */
  body: unknown;
  /** Request method, for the message. */
  method: string;
  /** Request path (no host, no query), for the message. */
  path: string;
}

/** A short word describing the body: the relay's error code or message when it has one. */
function describeBody(body: unknown): string {
  if (typeof body === "string") {
    const trimmed = body.trim();
    return !trimmed ? "(empty body)" : /^<(!doctype|html)/i.test(trimmed) ? "(HTML body)" : trimmed.length > 120 ? `${trimmed.slice(0, 117)}...` : trimmed;
  }
  const fields = gatewayFields(body);
  const parts = [fields?.code ?? fields?.type, fields?.message].filter((p) => text(p) || typeof p === "number");
  return [...new Set(parts.map(String))].join(": ");
}

/** The relay answered with an HTTP error status. */
export class APIError extends KlingError {
  override name = "APIError";
  // The fields are `declare`d and set by one Object.assign: own, enumerable, in this order.
  /** HTTP status code. */
  declare readonly status: number;
  /** Response headers. */
  declare readonly headers: Headers;
  /** Response body: parsed JSON when possible, else text. */
  declare readonly body: unknown;
  /** The server's request id (`x-request-id` and similar), when it sent one. */
  declare readonly requestId: string | undefined;

  constructor(init: APIErrorInit, message?: string) {
    const { status, headers, body } = init;
    const detail = describeBody(body);
    super(message ?? `${init.method} ${init.path} -> ${status}${detail ? ` ${detail}` : ""}`);
    const requestId = headers.get("x-request-id") ?? headers.get("x-oneapi-request-id") ?? headers.get("request-id") ?? undefined;
    Object.assign(this, { status, headers, body, requestId });
  }

  /** Maps an HTTP answer to the most specific subclass. */
  static generate(init: APIErrorInit): APIError {
    const { status, body } = init;
    const Class =
      status === 401
        ? AuthenticationError
        : status === 403
          ? QUOTA_CODES.includes(gatewayCode(body) as string)
            ? InsufficientQuotaError
            : PermissionDeniedError
          : status === 404 || (status === 400 && isTaskNotExist(body))
            ? TaskNotFoundError
            : status === 429
              ? RateLimitError
              : status >= 500 && status <= 599
                ? InternalServerError
                : APIError;
    return new Class(init);
  }
}

/** True for the relay's `{"code":"task_not_exist", ...}` answer (new-api answers 400 with it). */
export function isTaskNotExist(body: unknown): boolean {
  // (A string or a number has no such property: reading it is harmless.)
  return [(body as Record<string, unknown> | null)?.code, (body as Record<string, unknown> | null)?.message].includes("task_not_exist");
}

/** The gateway's codes for a balance (or the key's own quota) too low to pay for a task. */
const QUOTA_CODES = ["insufficient_user_quota", "quota_not_enough", "pre_consume_token_quota_failed"];

/** The fields of an error body in either of the gateway's shapes: `{code, message, data}` or `{error: {code, message, type}}`. */
function gatewayFields(body: unknown): Record<string, unknown> | undefined {
  if (!isObject(body)) return undefined;
  // (null is an object to typeof, and falls through to the record.)
  return (typeof body.error == "object" && (body.error as Record<string, unknown>)) || body;
}

/** The error code of a body in either of the gateway's shapes. */
export function gatewayCode(body: unknown): string | undefined {
  return text(gatewayFields(body)?.code);
}

/**
 * True for an error body the gateway itself wrote (either of its two shapes, with a message): such
 * an answer ends the POST with a refund, so no task was created. A proxy's HTML page is not one.
 */
export function isGatewayError(body: unknown): boolean {
  const fields = gatewayFields(body);
  return typeof fields?.message === "string" && (typeof fields.code === "string" || typeof fields.type === "string");
}

/** 401: the API key was missing or refused. */
export class AuthenticationError extends APIError { override name = "AuthenticationError"; }

/** 403: the key is valid but may not do this. */
export class PermissionDeniedError extends APIError { override name = "PermissionDeniedError"; }

/** 403 for money: the balance (`insufficient_user_quota`) or the key's own quota is too low to pay for a task. Top up, then create again. */
export class InsufficientQuotaError extends PermissionDeniedError {
  override name = "InsufficientQuotaError";
  /** The gateway's code: `insufficient_user_quota`, `quota_not_enough` (older gateways) or `pre_consume_token_quota_failed`. */
  readonly code: string | undefined = gatewayCode(this.body);
}

/** The task does not exist: the spec's 404, or the relay's 400 `task_not_exist`. */
export class TaskNotFoundError extends APIError { override name = "TaskNotFoundError"; }

/** 429: slow down; `retryAfterMs` is the server's hint, when it gave one. */
export class RateLimitError extends APIError {
  override name = "RateLimitError";
  /** How long the server asked to wait, in ms (from `Retry-After` / `retry-after-ms`). */
  readonly retryAfterMs: number | undefined = retryAfterMs(this.headers);
}

/** 5xx: the relay or a proxy in front of it failed. */
export class InternalServerError extends APIError { override name = "InternalServerError"; }

/** The request did not get an HTTP answer: refused, reset, DNS, TLS, or a body cut short. */
export class APIConnectionError extends KlingError { override name = "APIConnectionError"; }

/**
 * The caller aborted a create while it was on its way: the relay may have the request, so
 * `mayHaveCreatedTask` is true; `cause` is the caller's abort reason. (An abort before the request
 * was handed to fetch rejects with the reason itself: nothing was sent.)
 */
export class APIUserAbortError extends KlingError { override name = "APIUserAbortError"; }

/** An attempt took longer than `timeoutMs`. */
export class APIConnectionTimeoutError extends APIConnectionError { override name = "APIConnectionTimeoutError"; }

/**
 * A body was larger than `maxResponseBytes` (counted after decompression), or a download larger
 * than its `maxBytes`: the read stopped at the limit and the connection was dropped. Not retried:
 * the same server would send it again.
 */
export class ResponseTooLargeError extends KlingError {
  override name = "ResponseTooLargeError";
  /** The limit that was passed, in bytes. */
  declare readonly limit: number;
  /** HTTP status of the answer. */
  declare readonly status: number;
  constructor(limit: number, status: number, option = "maxResponseBytes") {
    super(`the answer (HTTP ${status}) is larger than ${option} (${limit} bytes)`);
    Object.assign(this, { limit, status });
  }
}

/**
 * The relay answered 2xx with a body that does not match the spec (or cannot be made to, in compat
 * mode), or a video host with bytes that are not the file (an encoding that was not asked for).
 */
export class ResponseValidationError extends KlingError {
  override name = "ResponseValidationError";
  /** What did not match, and where (JSON pointer into the body). */
  declare readonly issues: readonly ValidationIssue[];
  /** The body as received: parsed JSON, or the text when it was not JSON. */
  declare readonly body: unknown;
  /** HTTP status of the answer. */
  declare readonly status: number;
  constructor(message: string, init: { issues?: readonly ValidationIssue[]; body: unknown; status: number }) {
    const issues = init.issues ?? [];
    const where = issues
      .slice(0, 3)
      .map((i) => `${i.instancePath || "(root)"} ${i.message ?? i.keyword}`)
      .join("; ");
    super(where ? `${message}: ${where}${issues.length > 3 ? ` (+${issues.length - 3} more)` : ""}` : message);
    Object.assign(this, { issues, body: init.body, status: init.status });
  }
}

/**
 * The task ended with status `failed`; `task` is the last answer, `code`/`errorMessage` its error.
 * `code` `"TaskExpired"`: the task ran past the relay's deadline; the relay refunded it.
 */
export class TaskFailedError extends KlingError {
  override name = "TaskFailedError";
  /** The failed task as the relay reported it. */
  declare readonly task: VideoTask;
  /** The task's error code, when it had one: a number, or a word such as `"TaskExpired"`. */
  declare readonly code: number | string | undefined;
  /** The task's error message, when it had one. */
  declare readonly errorMessage: string | undefined;
  constructor(task: VideoTask) {
    const code = task.error?.code;
    const errorMessage = task.error?.message;
    // "task <id> failed", then ": <code>" and ": <message>" when the task has them.
    super([`task ${task.task_id ?? "(no id)"} failed`, code, errorMessage].filter((p) => p !== undefined && p !== "").join(": "));
    Object.assign(this, { task, code, errorMessage });
  }
}

/** The task ended with status `cancelled`: the relay cancelled it and refunded it; `task` is the last answer. */
export class TaskCancelledError extends KlingError {
  override name = "TaskCancelledError";
  /** The cancelled task as the relay reported it. */
  declare readonly task: VideoTask;
  constructor(task: VideoTask) {
    super(`task ${task.task_id ?? "(no id)"} was cancelled by the relay (refunded)`);
    Object.assign(this, { task });
  }
}

/** `waitForImage2VideoTask` ran past its `timeoutMs`; `lastTask` is the last answer seen, if any. */
export class WaitTimeoutError extends KlingError {
  override name = "WaitTimeoutError";
  /** The task id that was waited on. */
  declare readonly taskId: string;
  /** The last task seen before giving up (undefined when no poll answered). */
  declare readonly lastTask: VideoTask | undefined;
  /** The wait's budget, in ms. */
  declare readonly timeoutMs: number;
  constructor(taskId: string, timeoutMs: number, lastTask: VideoTask | undefined) {
    super(`task ${taskId} not finished after ${timeoutMs} ms (${lastTask?.status ? `last status: ${lastTask.status}` : "no task seen yet"})`);
    Object.assign(this, { taskId, lastTask, timeoutMs });
  }
}
