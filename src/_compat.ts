// Relay variants (shared research: relay-variants.md) rewritten into the spec's shape: the rules
// compat mode reads an off-spec task answer by (src/_validate.ts asks once, and checks the result).
// One table per decision; the README's compat table mirrors these.
import { isTaskNotExist } from "./errors.js";
import type { Image2VideoTaskStatus, VideoTask } from "./routes.js";
import { STATUS_KIND } from "./_status.js";

/**
 * Status words real relays send, mapped to the spec's statuses (matched case-insensitively); every
 * status the spec names (the one table, src/_status.ts) maps to itself.
 */
export const STATUS_ALIASES: Readonly<Record<string, Image2VideoTaskStatus>> = {
  ...(Object.fromEntries(Object.keys(STATUS_KIND).map((status) => [status, status])) as Record<string, Image2VideoTaskStatus>),
  submitted: "queued",
  not_start: "queued",
  pending: "queued",
  processing: "in_progress",
  running: "in_progress",
  succeeded: "completed",
  success: "completed",
  failure: "failed",
  canceled: "cancelled",
};

/** The relay's "task does not exist" envelope on a 2xx: the client answers it with TaskNotFoundError. */
export const NOT_FOUND = Symbol("task not found");

type Json = Record<string, unknown>;

/** Whether a value is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `{code, message, data}`: the gateway's envelope around the task. */
function isEnvelope(body: Json): boolean {
  return "data" in body && ("code" in body || "message" in body) && !("status" in body) && !("task_id" in body);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function errorOf(task: Json, status: Image2VideoTaskStatus): VideoTask["error"] | undefined {
  const source = isObject(task.error) ? task.error : undefined;
  const message = nonEmptyString(source?.message) ?? nonEmptyString(task.fail_reason);
  const rawCode = source?.code;
  // The spec's code is an integer or a word ("TaskExpired", "task_failed"); a numeric string is
  // the integer it spells, so a program comparing codes sees one form.
  const code =
    typeof rawCode === "number" && Number.isInteger(rawCode)
      ? rawCode
      : typeof rawCode === "string" && /^-?\d+$/.test(rawCode)
        ? Number(rawCode)
        : typeof rawCode === "string" && rawCode.trim() !== ""
          ? rawCode
          : undefined;
  if (message === undefined && code === undefined) return status === "failed" && source ? {} : undefined;
  return { ...(code !== undefined && { code }), ...(message !== undefined && { message }) };
}

/**
 * Rewrites a relay variant into the spec's task shape; NOT_FOUND for the gateway's envelope saying
 * the task does not exist; undefined when the body is not a variant we know (an unknown status
 * word, no status at all, not an object): the caller then rejects it. Never guesses: every rule is
 * one the research documents.
 */
export function normalizeTask(body: unknown): VideoTask | typeof NOT_FOUND | undefined {
  if (!isObject(body)) return undefined;
  let task: Json = body;
  if (isEnvelope(body)) {
    if (isObject(body.data)) task = body.data;
    else return isTaskNotExist(body) ? NOT_FOUND : undefined;
  }
  const status = typeof task.status === "string" ? STATUS_ALIASES[task.status.trim().toLowerCase()] : undefined;
  if (status === undefined) return undefined;

  // Built in the spec's property order, so a printed task reads the same either way.
  const out: VideoTask = {};
  const taskId = nonEmptyString(task.task_id);
  if (taskId !== undefined) out.task_id = taskId;
  out.status = status;
  const url = nonEmptyString(task.url) ?? nonEmptyString(task.result_url);
  if (url !== undefined) out.url = url;
  const format = nonEmptyString(task.format);
  if (format !== undefined) out.format = format;
  if (isObject(task.metadata)) out.metadata = task.metadata as VideoTask["metadata"];
  const error = errorOf(task, status);
  if (error !== undefined) out.error = error;
  return out;
}
