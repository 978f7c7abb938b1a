// Relay variants (shared research: relay-variants.md) rewritten into the spec's shape: the rules
// compat mode reads an off-spec task answer by (src/_validate.ts asks once, and checks the result).
// One table per decision; the README's compat table mirrors these.
import { isTaskNotExist } from "./errors.js";
import type { Image2VideoTaskStatus, VideoTask } from "./routes.js";
import { isObject, text } from "./_schema.js";
import { statusKind } from "./_status.js";

/**
 * Status words real relays send, mapped to the spec's statuses (matched case-insensitively, as are
 * the statuses the spec names: the one table, src/_status.ts).
 */
export const STATUS_ALIASES: Readonly<Record<string, Image2VideoTaskStatus>> = {
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

/** A string that is not blank, else undefined. */
export function nonEmpty(value: unknown): string | undefined {
  return typeof value == "string" && value.trim() ? value : undefined;
}

/** `object` without its undefined members: a rewritten task shows only what the relay sent. */
function defined<T extends object>(object: T): T {
  for (const key in object) if (object[key] === undefined) delete object[key];
  return object;
}

function errorOf(task: Json, status: Image2VideoTaskStatus): VideoTask["error"] | undefined {
  const source = isObject(task.error) ? task.error : undefined;
  const message = text(source?.message) ?? text(task.fail_reason);
  const raw = source?.code;
  // The spec's code is an integer or a word ("TaskExpired", "task_failed"); a numeric string is
  // the integer it spells, so a program comparing codes sees one form.
  const code = Number.isInteger(raw) ? (raw as number) : nonEmpty(raw) ? (/^-?\d+$/.test(raw as string) ? Number(raw) : (raw as string)) : undefined;
  // Nothing to say: an empty error only on a failed task that sent one.
  const error = defined({ code, message });
  return Object.keys(error).length || (status == "failed" && source) ? error : undefined;
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
  // `{code, message, data}`: the gateway's envelope around the task.
  if ("data" in body && ("code" in body || "message" in body) && !("status" in body) && !("task_id" in body)) {
    if (!isObject(body.data)) return isTaskNotExist(body) ? NOT_FOUND : undefined;
    task = body.data;
  }
  // No status word (undefined, looked up as "undefined") names no status.
  const word = text(task.status)?.trim().toLowerCase() as string;
  const status = statusKind(word) ? (word as Image2VideoTaskStatus) : STATUS_ALIASES[word];
  if (!status) return undefined;
  // Built in the spec's property order, so a printed task reads the same either way.
  return defined({
    task_id: text(task.task_id),
    status,
    url: text(task.url) ?? text(task.result_url),
    format: text(task.format),
    metadata: isObject(task.metadata) ? (task.metadata as VideoTask["metadata"]) : undefined,
    error: errorOf(task, status),
  });
}
