// Turns a 2xx body into a task according to the validation mode, with the spec's own validator
// (the JSON Schema data scripts/generate.ts writes, read by src/_schema.ts).
import { responseIssues, type ValidationIssue } from "./_spec.js";
import { normalizeTask } from "./compat.js";
import { ResponseValidationError } from "./errors.js";
import type { ValidationMode } from "./options.js";
import { IMAGE2VIDEO_TASK_PATH, type Image2VideoTask, type Image2VideoTaskResult } from "./types.js";

const NO_STATUS: ValidationIssue = {
  instancePath: "/status",
  schemaPath: "#/properties/status",
  keyword: "required",
  params: { missingProperty: "status" },
  message: "must have a status (a task without one cannot be polled)",
};

/** The spec's check of a task body, plus the client's one addition: a task must carry `status`. */
export function taskIssues(body: unknown): ValidationIssue[] {
  const issues = responseIssues(IMAGE2VIDEO_TASK_PATH, "get", 200, body);
  if (issues === undefined) throw new Error("generated/ has no JSON schema for the task's 200 response: run npm run generate");
  if (issues.length) return issues;
  if (typeof (body as { status?: unknown }).status !== "string") return [NO_STATUS];
  return [];
}

/** What the caller sees when compat mode had to rewrite the body: it, with `raw` kept. */
function withRaw<T extends object>(task: T, raw: unknown): T & { readonly raw?: unknown } {
  Object.defineProperty(task, "raw", { value: raw, enumerable: false });
  return task;
}

/** Signals the relay's "task does not exist" envelope on a 2xx; the client maps it to TaskNotFoundError. */
export const NOT_FOUND = Symbol("task not found");

/** What compat mode makes of an off-spec body: the rewritten task, NOT_FOUND, or undefined (no known variant). */
function compatTask(body: unknown): Image2VideoTask | typeof NOT_FOUND | undefined {
  const normalized = normalizeTask(body);
  if (normalized.kind === "not-found") return NOT_FOUND;
  if (normalized.kind === "task" && taskIssues(normalized.task).length === 0) return normalized.task;
  return undefined;
}

/**
 * Parses and checks a 2xx body. Resolves to the task (or NOT_FOUND for the relay's
 * task_not_exist envelope in compat mode); throws ResponseValidationError for anything else.
 */
export function parseTaskBody(
  text: string | undefined,
  status: number,
  mode: ValidationMode,
): Image2VideoTaskResult | typeof NOT_FOUND {
  if (text === undefined || text.trim() === "") {
    throw new ResponseValidationError("the relay answered with an empty body", { body: text ?? "", status });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ResponseValidationError("the relay's answer is not JSON", { body: text, status });
  }
  if (mode === "off") {
    // No schema check, but a task is still an object: `null` or `42` would break every caller.
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new ResponseValidationError("the relay's answer is not a JSON object", { body, status });
    }
    return body as Image2VideoTaskResult;
  }

  const issues = taskIssues(body);
  if (issues.length === 0) return body as Image2VideoTaskResult;
  if (mode === "strict") {
    throw new ResponseValidationError("the relay's answer does not match the spec", { issues, body, status });
  }
  const rewritten = compatTask(body);
  if (rewritten === NOT_FOUND) return NOT_FOUND;
  if (rewritten !== undefined) return withRaw(rewritten, body);
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
  const isTask = path === IMAGE2VIDEO_TASK_PATH && method === "GET" && status === 200;
  const issues = isTask && body !== undefined ? taskIssues(body) : responseIssues(path, method, status, body);
  if (issues === undefined || issues.length === 0) return;
  if (isTask && mode === "compat" && compatTask(body) !== undefined) return;
  if (body === undefined) {
    // Nothing was parsed, so the schema's complaints about `undefined` would only be noise.
    const what = text === "" ? "an empty body" : "a body that is not JSON";
    throw new ResponseValidationError(`${method} ${path} answered ${status} with ${what}`, { body: text, status });
  }
  throw new ResponseValidationError(`${method} ${path} answered ${status} with a body that does not match the spec`, { issues, body, status });
}
