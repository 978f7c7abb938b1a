// What a 2xx answer is, decided in one pass per answer: the spec's task (or created task), a relay
// variant compat mode rewrites (src/_compat.ts), the relay's not-found envelope, or a
// ResponseValidationError; checked with the spec's own validator (the JSON Schema data
// scripts/generate.ts writes, read by src/_schema.ts). Error statuses become errors in errors.ts.
import { responseIssues, type ValidationIssue } from "./_spec.js";
import { isObject, NOT_FOUND, normalizeTask } from "./_compat.js";
import { ResponseValidationError } from "./errors.js";
import type { ValidationMode } from "./options.js";
import { IMAGE2VIDEO, TASK_PATHS, type VideoTask, type VideoTaskResult } from "./routes.js";
import type { CreatedTask } from "./types.js";

export { NOT_FOUND } from "./_compat.js";

/** The issue of a property the client requires though the spec does not. */
function missing(property: string, message: string): ValidationIssue {
  return { instancePath: `/${property}`, schemaPath: `#/properties/${property}`, keyword: "required", params: { missingProperty: property }, message };
}

const NO_STATUS = missing("status", "must have a status (a task without one cannot be polled)");

/** The spec's check of a task body, plus the client's one addition: a task must carry `status`. */
export function taskIssues(body: unknown, path: string = IMAGE2VIDEO.task): ValidationIssue[] {
  const issues = responseIssues(path, "get", 200, body);
  if (issues === undefined) throw new Error("generated/ has no JSON schema for the task's 200 response: run npm run generate");
  if (issues.length) return issues;
  if (typeof (body as { status?: unknown }).status !== "string") return [NO_STATUS];
  return [];
}

/** Parses a 2xx body as JSON (an object, when `object`); an empty body or one that is not JSON (or not an object) is a ResponseValidationError. */
function parseJson(text: string, status: number, object?: boolean): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ResponseValidationError(text.trim() ? "the relay's answer is not JSON" : "the relay answered with an empty body", { body: text, status });
  }
  // Even unchecked, a task or a created task is an object: `null` or `42` would break every caller.
  if (object && !isObject(body)) throw new ResponseValidationError("the relay's answer is not a JSON object", { body, status });
  return body;
}

const NO_TASK_ID = missing("task_id", "must have a non-empty task_id (a created task without one cannot be polled)");

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/**
 * Parses and checks a create's 2xx answer: the spec's `VideoResponse` with a non-empty `task_id`
 * (the client's one addition). In compat mode the gateway's other answer shapes are read too
 * (the new-api gateway's versions): `id` when `task_id` is absent, and `data.task_id` in Kling's native reply;
 * the body as sent stays on `raw`. In off mode any object carrying an id in one of those places passes.
 */
export function parseCreatedBody(text: string, status: number, mode: ValidationMode, path: string): CreatedTask {
  const body = parseJson(text, status, true);
  const record = body as Record<string, unknown>;
  const issues = mode === "off" ? [] : (responseIssues(path, "post", status, body) ?? []);
  const spec = nonEmpty(record.task_id);
  if (issues.length === 0 && spec !== undefined) return body as CreatedTask;
  if (mode === "strict") {
    throw new ResponseValidationError("the relay's create answer does not match the spec", { issues: issues.length ? issues : [NO_TASK_ID], body, status });
  }
  const data = isObject(record.data) ? record.data : undefined;
  const taskId = spec ?? nonEmpty(record.id) ?? nonEmpty(data?.task_id);
  if (taskId === undefined) {
    throw new ResponseValidationError("the relay's create answer carries no task id", { issues: [NO_TASK_ID], body, status });
  }
  if (mode === "off") return { ...record, task_id: taskId } as CreatedTask;
  const statusWord = nonEmpty(record.status) ?? nonEmpty(data?.task_status);
  return withRaw({ task_id: taskId, ...(statusWord !== undefined && { status: statusWord }) }, body);
}

/** What the caller sees when compat mode had to rewrite the body: it, with `raw` kept. */
function withRaw<T extends object>(task: T, raw: unknown): T & { readonly raw?: unknown } {
  Object.defineProperty(task, "raw", { value: raw, enumerable: false });
  return task;
}

/** What compat mode makes of an off-spec task body: the rewritten task when it then meets the spec, NOT_FOUND, or undefined. */
function variantOf(body: unknown, path: string): VideoTask | typeof NOT_FOUND | undefined {
  const variant = normalizeTask(body);
  return variant === NOT_FOUND || (variant && taskIssues(variant, path).length === 0) ? variant : undefined;
}

/**
 * Parses and checks a 2xx body. Resolves to the task (or NOT_FOUND for the relay's
 * task_not_exist envelope in compat mode); throws ResponseValidationError for anything else.
 */
export function parseTaskBody(text: string, status: number, mode: ValidationMode, path: string = IMAGE2VIDEO.task): VideoTaskResult | typeof NOT_FOUND {
  const body = parseJson(text, status, mode === "off");
  if (mode === "off") return body as VideoTask;
  const issues = taskIssues(body, path);
  if (issues.length === 0) return body as VideoTask;
  if (mode === "strict") {
    throw new ResponseValidationError("the relay's answer does not match the spec", { issues, body, status });
  }
  const variant = variantOf(body, path);
  if (variant === NOT_FOUND) return NOT_FOUND;
  if (variant) return withRaw(variant, body);
  throw new ResponseValidationError("the relay's answer matches neither the spec nor a known relay variant", {
    issues,
    body,
    status,
  });
}

/**
 * Checks a 2xx answer of any operation (raw `GET`, `POST`, ... calls) against its JSON schema;
 * throws ResponseValidationError when the mode rejects it. Answers without a JSON schema in the
 * spec (binary, text) pass untouched. In compat mode the task route also accepts the relay
 * variants `getImage2VideoTask` knows how to rewrite; raw calls receive them as sent.
 */
export function checkAnswer(path: string, method: string, status: number, text: string, mode: ValidationMode): void {
  if (mode === "off") return;
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  // The task route is held to what getImage2VideoTask accepts: the spec, a status, and in compat
  // mode the relay variants it can rewrite (handed to raw callers as sent).
  const isTask = TASK_PATHS.has(path) && method === "GET" && status === 200;
  const issues = isTask && body !== undefined ? taskIssues(body, path) : responseIssues(path, method, status, body);
  if (issues === undefined || issues.length === 0) return;
  if (isTask && mode === "compat" && variantOf(body, path) !== undefined) return;
  if (body === undefined) {
    // Nothing was parsed, so the schema's complaints about `undefined` would only be noise.
    const what = text === "" ? "an empty body" : "a body that is not JSON";
    throw new ResponseValidationError(`${method} ${path} answered ${status} with ${what}`, { body: text, status });
  }
  throw new ResponseValidationError(`${method} ${path} answered ${status} with a body that does not match the spec`, { issues, body, status });
}
