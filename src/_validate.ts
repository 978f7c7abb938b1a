// What a 2xx answer is, decided in one pass per answer: the spec's task (or created task), a relay
// variant compat mode rewrites (src/_compat.ts), the relay's not-found envelope, or a
// ResponseValidationError; checked with the spec's own validator (the JSON Schema data
// scripts/generate.ts writes, read by src/_schema.ts). Error statuses become errors in errors.ts.
// Every refusal reads `<METHOD> <path> answered <status> with <what was wrong>`.
import { responseIssues, type ValidationIssue } from "./_spec.js";
import { nonEmpty, NOT_FOUND, normalizeTask } from "./_compat.js";
import { isObject, issue } from "./_schema.js";
import { ResponseValidationError } from "./errors.js";
import type { ValidationMode } from "./options.js";
import { IMAGE2VIDEO, TASK_PATHS, type VideoTask, type VideoTaskResult } from "./routes.js";
import type { CreatedTask } from "./types.js";

export { NOT_FOUND } from "./_compat.js";

/** The issue of a property the client requires though the spec does not. */
function missing(property: string, message: string): ValidationIssue {
  return issue("/" + property, "#/properties/" + property, "required", { missingProperty: property }, message);
}

const NO_STATUS = missing("status", "must be set: a task without one cannot be polled");
const NO_TASK_ID = missing("task_id", "must be a non-empty string: a created task without one cannot be polled");
const MISMATCH = "does not match the spec";

/** The spec's check of a task body, plus the client's one addition: a task must carry `status`. */
export function taskIssues(body: unknown, path: string = IMAGE2VIDEO.task): ValidationIssue[] {
  const issues = responseIssues(path, "get", 200, body);
  if (!issues) throw new Error("generated/ has no task schema: run npm run generate");
  return issues.length || typeof (body as { status?: unknown }).status == "string" ? issues : [NO_STATUS];
}

/** Throws the ResponseValidationError of an answer: `what` was wrong with its body, and the issues that say where. */
type Refuse = (what: string, issues?: readonly ValidationIssue[]) => never;

/**
 * An answer's body as JSON (undefined when it is empty or not JSON: no JSON text parses to
 * undefined), and its refusal; a body that did not parse is named as such by it, with the text kept
 * and no schema complaint about `undefined`.
 */
function read(method: string, path: string, status: number, text: string): [body: unknown, fail: Refuse] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: undefined.
  }
  const parsed = body !== undefined;
  return [
    body,
    (what, issues) => {
      const detail = parsed ? "a body that " + what : text.trim() ? "a body that is not JSON" : "an empty body";
      throw new ResponseValidationError(`${method} ${path} answered ${status} with ${detail}`, parsed ? { issues, body, status } : { body: text, status });
    },
  ];
}

/** What the caller sees when compat mode had to rewrite the body: it, with `raw` kept (not enumerable). */
function withRaw<T extends object>(task: T, raw: unknown): T & { readonly raw?: unknown } {
  return Object.defineProperty(task, "raw", { value: raw });
}

/**
 * Parses and checks a create's 2xx answer: the spec's `VideoResponse` with a non-empty `task_id`
 * (the client's one addition). In compat mode the gateway's other answer shapes are read too
 * (the new-api gateway's versions): `id` when `task_id` is absent, and `data.task_id` in Kling's native reply;
 * the body as sent stays on `raw`. In off mode any object carrying an id in one of those places passes.
 * Even unchecked, a created task is an object: `null` or `42` would break every caller.
 */
export function parseCreatedBody(text: string, status: number, mode: ValidationMode, path: string): CreatedTask {
  const [body, fail] = read("POST", path, status, text);
  if (!isObject(body)) return fail("is not a JSON object");
  const issues = mode == "off" ? [] : (responseIssues(path, "post", status, body) ?? []);
  const spec = nonEmpty(body.task_id);
  if (!issues.length && spec !== undefined) return body as CreatedTask;
  if (mode == "strict") fail(MISMATCH, issues.length ? issues : [NO_TASK_ID]);
  // Read as a record whatever it is: a JSON value that is not an object has no task_id property.
  const data = body.data as Record<string, unknown> | null | undefined;
  const taskId = spec ?? nonEmpty(body.id) ?? nonEmpty(data?.task_id) ?? fail("carries no task id", [NO_TASK_ID]);
  if (mode == "off") return { ...body, task_id: taskId } as CreatedTask;
  const statusWord = nonEmpty(body.status) ?? nonEmpty(data?.task_status);
  return withRaw({ task_id: taskId, ...(statusWord !== undefined && { status: statusWord }) }, body);
}

/**
 * Parses and checks a 2xx task body. Resolves to the task (in compat mode a known relay variant
 * rewritten, or NOT_FOUND for the relay's task_not_exist envelope); throws ResponseValidationError
 * for anything else. Even unchecked (off), a task is an object.
 */
export function parseTaskBody(text: string, status: number, mode: ValidationMode, path: string = IMAGE2VIDEO.task): VideoTaskResult | typeof NOT_FOUND {
  const [body, fail] = read("GET", path, status, text);
  if (mode == "off") return isObject(body) ? body : fail("is not a JSON object");
  // A body that did not parse fails the schema's "object" below, and refuse names it as not JSON.
  const issues = taskIssues(body, path);
  if (!issues.length) return body as VideoTask;
  if (mode == "strict") fail(MISMATCH, issues);
  // Compat: a variant counts only when its rewrite then meets the spec.
  const variant = normalizeTask(body);
  if (variant === NOT_FOUND) return variant;
  if (variant && !taskIssues(variant, path).length) return withRaw(variant, body);
  return fail("matches neither the spec nor a known relay variant", issues);
}

/**
 * Checks a 2xx answer of any operation (raw `GET`, `POST`, ... calls) against its JSON schema;
 * throws ResponseValidationError when the mode rejects it. Answers without a JSON schema in the
 * spec (binary, text) pass untouched. The task route is held to what getImage2VideoTask accepts:
 * the spec, a status, and in compat mode the relay variants it can rewrite (raw callers receive
 * them as sent).
 */
export function checkAnswer(path: string, method: string, status: number, text: string, mode: ValidationMode): void {
  if (mode == "off") return;
  if (TASK_PATHS.has(path) && method == "GET" && status == 200) {
    parseTaskBody(text, status, mode, path);
    return;
  }
  const [body, fail] = read(method, path, status, text);
  const issues = responseIssues(path, method, status, body);
  if (issues?.length) fail(MISMATCH, issues);
}
