// The fake relay's create routes: what the relay's gateway (new-api) checks in a create body, in
// its order and with its answers (../shared research: relay-create.md), what Kling then refuses
// about the prompt and the image, the faults a test can script, and the lifecycle a created task
// runs. index.ts does the HTTP; this file decides.
import { createHash, randomBytes } from "node:crypto";
import { requestIssues } from "../_spec.js";
import { inspectImage, type ImageInfo } from "../image.js";
import { ROUTES, type RouteName } from "../routes.js";
import { COMPLETED_TASK, EXPIRED_TASK, FAILED_TASK } from "./fixtures.js";
import { checkDelay, checkResponse, checkSteps, isScriptedResponse, type ScriptedResponse, type Step } from "./steps.js";

/** The gateway's body cap (new-api's default, 128 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 128 * 1024 * 1024;

/** Kling's longest prompt, in characters. */
const MAX_PROMPT_LENGTH = 2_500;

/** The success answer of a create, the gateway's current shape (since 2026-02): a video object, no envelope. */
export interface FakeCreateAnswer {
  /** The gateway's public task id (the same as `task_id`). */
  id: string;
  /** The task id to poll. */
  task_id: string;
  /** Always `video`. */
  object: "video";
  /** The model of the request. */
  model: string;
  /** Always `queued`: a task starts queued. */
  status: "queued";
  /** Always 0. */
  progress: number;
  /** When the task was created, in Unix seconds. */
  created_at: number;
}

/**
 * A scripted misbehaviour of a create, played instead of the relay's normal answer to a create it
 * would accept (a body it refuses is answered 400 as usual and consumes no fault).
 * - `reset-after-body`: the whole body is read, a task IS created (and paid for), then the
 *   connection is reset without an answer: the costly case, where the client cannot know.
 * - `stall`: the body is read and a task created, then no answer ever comes (until the client gives up).
 * - an HTTP answer (`{ status, body?, headers?, delayMs? }`): sent instead of the success answer.
 *   Nothing is created unless `created: true` (a proxy's 502 page may hide a task the gateway did
 *   create). `bodyFrom` builds the body from the success answer the relay would have sent, to
 *   script an older or odd answer shape for a task that does exist.
 */
export type CreateFault =
  | { fault: "reset-after-body"; delayMs?: number }
  | { fault: "stall" }
  | CreateFaultResponse;

/** A scripted HTTP answer to a create (see CreateFault). */
export interface CreateFaultResponse extends ScriptedResponse {
  /** Whether a task was created behind this answer (it then runs its lifecycle and counts). Default: false. */
  created?: boolean;
  /** Builds the body from the success answer the relay would have sent (needs `created: true`; instead of `body`). */
  bodyFrom?: (answer: FakeCreateAnswer) => unknown;
}

/** How a created task ends. `expired`: failed with error code `"TaskExpired"` (ran past its deadline, refunded). */
export type CreatedTaskOutcome = "completed" | "failed" | "cancelled" | "expired";

/** How a task created through the fake relay runs; every field is optional. */
export interface CreatedTaskOptions {
  /** How it ends. Default: `completed`, with a `url` on the video host when the relay has one. */
  outcome?: CreatedTaskOutcome;
  /**
   * How many GETs see it running before it ends: the first sees `queued`, the others
   * `in_progress`. Default: 2 (queued -> in_progress -> outcome, as DEMO_TASK_ID).
   */
  runningPolls?: number;
  /**
   * It also runs at least this long after its create (ms), as a real task runs whether or not
   * anyone polls: a batch killed and started again finds it further on. Default: 0.
   */
  minRunMs?: number;
  /** Explicit steps instead (task bodies get the created id as `task_id`); the last one repeats. */
  steps?: readonly Step[];
}

/** What the relay recorded of an `image` string: enough to check the exact bytes without keeping them. */
export interface RecordedImage {
  /** `url` (http/https), `base64`, `data-url` (a `data:` URL, which Kling refuses) or `invalid` (neither). */
  form: "url" | "base64" | "data-url" | "invalid";
  /** Length of the string, in characters. */
  length: number;
  /** sha256 (hex) of the string as sent. */
  sha256: string;
  /** Length of the decoded bytes (base64 and data URLs). */
  byteLength?: number;
  /** sha256 (hex) of the decoded bytes (base64 and data URLs): compare with the file's. */
  bytesSha256?: string;
  /** What the image rules read from the bytes, when they passed. */
  info?: ImageInfo;
  /** Why Kling refused it (the relay answered 400 `task_failed`), when it did. */
  refused?: string;
}

/** A create request as the relay read it: given to the `createdTasks` and `createFault` functions. */
export interface CreateRequestInfo {
  /** The route it was sent to. */
  route: RouteName;
  /** The parsed JSON body; an `image` that is not a URL is replaced by `[image: <n> characters]` (see `image`). */
  body: unknown;
  /** The `image` string's summary, when the body has a non-empty one. */
  image: RecordedImage | undefined;
  /** 0 for the first create the relay received (since start or `reset()`), 1 for the next... */
  index: number;
}

/** What the relay recorded of one create (an authorized POST to a create route whose body was read). */
export interface RecordedCreate extends CreateRequestInfo {
  /** The id of the task it created (and would bill), when it did; undefined when it created nothing. */
  taskId: string | undefined;
  /** The HTTP status answered; 0 when no answer was sent (a reset or a stall). */
  answeredStatus: number;
  /** The scripted fault played, if any (`response` for a scripted HTTP answer). */
  fault: "reset-after-body" | "stall" | "response" | undefined;
  /** When the body had been read, ms since the epoch. */
  time: number;
}

/** The relay's decision on a create body before any fault: refused (with its answer) or accepted. */
export type CreateVerdict =
  | { accepted: false; status: number; body: object; image: RecordedImage | undefined; parsed: unknown }
  | { accepted: true; model: string; image: RecordedImage | undefined; parsed: unknown };

/** The gateway's task error shape (relay_task.go): `{ code, message, data: null }`. */
export function gatewayError(code: string, message: string): object {
  return { code, message, data: null };
}

/** The gateway's middleware error shape (auth, model routing): `{ error: { message, type, code } }`. */
function middlewareError(message: string, code = ""): object {
  return { error: { message, type: "new_api_error", code } };
}

const refuse = (status: number, body: object, image: RecordedImage | undefined, parsed: unknown): CreateVerdict => ({
  accepted: false,
  status,
  body,
  image,
  parsed,
});

/**
 * Judges a create body as the gateway, then Kling, would: the JSON and `model` (the gateway's
 * distributor, middleware shape), the spec's schema, `prompt` and `duration` (the task relay,
 * `{code,message,data}` shape), then Kling's rules on the prompt and the image (400 `task_failed`,
 * refunded). Only an accepted body creates a task.
 */
export function judgeCreate(route: RouteName, text: string): CreateVerdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse(400, middlewareError("Invalid request, invalid JSON request body"), undefined, undefined);
  }
  const body = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const image = typeof body.image === "string" && body.image !== "" ? readImage(body.image) : undefined;
  // Recorded bodies keep a URL; base64 (up to 128 MB of it) is recorded as its summary only.
  const kept = image && image.form !== "url" ? { ...body, image: `[image: ${image.length} characters]` } : parsed;

  const model = body.model ?? null;
  if (model !== null && typeof model !== "string") {
    return refuse(400, middlewareError("Invalid request, field model must be a string"), image, kept);
  }
  if (!model) return refuse(400, middlewareError("Model name not specified"), image, kept);

  // The gateway reads `duration` by its own rule (an int or a numeric string), not the spec's `number`.
  const issues = (requestIssues(ROUTES[route].create, "post", parsed) ?? []).filter(
    (issue) => !/^\/duration(\/|$)/.test(issue.instancePath),
  );
  if (issues.length > 0) {
    const message = issues.map((issue) => `${issue.instancePath || "body"} ${issue.message ?? issue.keyword}`).join("; ");
    return refuse(400, gatewayError("invalid_request", `invalid request body: ${message}`), image, kept);
  }
  const { prompt, duration } = body;
  if (typeof prompt !== "string" || prompt.trim() === "") {
    return refuse(400, gatewayError("invalid_request", "prompt is required"), image, kept);
  }
  if (duration !== undefined && duration !== null && !validSeconds(duration)) {
    return refuse(400, gatewayError("invalid_seconds", "duration must be an integer from 0 to 3600 seconds"), image, kept);
  }

  // Kling's own rules: the gateway passes the task on, Kling refuses it, the gateway refunds it.
  if ([...prompt].length > MAX_PROMPT_LENGTH) {
    return refuse(400, gatewayError("task_failed", `prompt is longer than ${MAX_PROMPT_LENGTH} characters`), image, kept);
  }
  if (image?.refused !== undefined) return refuse(400, gatewayError("task_failed", image.refused), image, kept);
  return { accepted: true, model, image, parsed: kept };
}

/** An int, or a string of digits (new-api parses it with Atoi), from 0 to 3600. */
function validSeconds(value: unknown): boolean {
  const seconds = typeof value === "string" && /^[+-]?\d+$/.test(value) ? Number(value) : value;
  return typeof seconds === "number" && Number.isInteger(seconds) && seconds >= 0 && seconds <= 3600;
}

const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads an `image` string as Kling would: a URL (fetched by Kling, not here), or base64 judged by the image rules. */
function readImage(value: string): RecordedImage {
  const summary = { length: value.length, sha256: sha256(value) };
  if (/^https?:\/\//i.test(value)) return { form: "url", ...summary };
  const dataUrl = /^data:[^,]*?(;base64)?,/i.exec(value);
  const payload = dataUrl ? value.slice(dataUrl[0].length) : value;
  if (!BASE64.test(payload) || payload.length % 4 !== 0 || (dataUrl && !dataUrl[1])) {
    return { form: dataUrl ? "data-url" : "invalid", ...summary, refused: "image is neither a URL nor base64" };
  }
  const bytes = Buffer.from(payload, "base64");
  const decoded = { byteLength: bytes.length, bytesSha256: sha256(bytes) };
  // Kling takes base64 without a prefix; a data: URL passes the gateway untouched and is refused upstream.
  if (dataUrl) return { form: "data-url", ...summary, ...decoded, refused: "image must be base64 without a data: prefix" };
  try {
    return { form: "base64", ...summary, ...decoded, info: inspectImage(bytes, "image") };
  } catch (error) {
    return { form: "base64", ...summary, ...decoded, refused: (error as Error).message };
  }
}

/** A fresh task id in the gateway's public form: `task_` and 32 letters and digits. */
export function newTaskId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 * 62: bytes past it would favour the first letters.
  const bytes = [...randomBytes(64)].filter((byte) => byte < 248).slice(0, 32);
  return bytes.length < 32 ? newTaskId() : `task_${bytes.map((byte) => alphabet[byte % 62]).join("")}`;
}

/** Refuses a create fault node:http could not play, when it is set rather than when a create meets it. */
export function checkCreateFault(fault: CreateFault, where = "fake relay: create fault"): CreateFault {
  if (fault === null || typeof fault !== "object" || Array.isArray(fault)) {
    throw new TypeError(`${where} must be { fault: "reset-after-body" | "stall" } or { status, body?, headers?, delayMs?, created? }`);
  }
  if ("fault" in fault) {
    const kind: unknown = fault.fault;
    if (kind !== "reset-after-body" && kind !== "stall") {
      throw new TypeError(`${where}: fault must be "reset-after-body" or "stall", got ${JSON.stringify(kind)}`);
    }
    if (fault.fault === "reset-after-body") checkDelay(where, fault.delayMs);
    return { ...fault };
  }
  const { created, bodyFrom } = fault;
  if (created !== undefined && typeof created !== "boolean") throw new TypeError(`${where}: created must be a boolean`);
  if (bodyFrom !== undefined) {
    if (typeof bodyFrom !== "function") throw new TypeError(`${where}: bodyFrom must be a function`);
    if (!created) throw new TypeError(`${where}: bodyFrom needs created: true (it builds on the created task's answer)`);
    if (fault.body !== undefined) throw new TypeError(`${where}: give body or bodyFrom, not both`);
  }
  checkResponse(where, fault);
  return { ...fault, headers: fault.headers && { ...fault.headers } };
}

/** Refuses created-task options that could not run. */
export function checkCreatedTaskOptions(options: CreatedTaskOptions, where = "fake relay: createdTasks"): CreatedTaskOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) throw new TypeError(`${where} must be an object`);
  const { outcome, runningPolls, minRunMs, steps } = options;
  if (outcome !== undefined && !["completed", "failed", "cancelled", "expired"].includes(outcome)) {
    throw new TypeError(`${where}: outcome must be completed, failed, cancelled or expired, got ${JSON.stringify(outcome)}`);
  }
  if (runningPolls !== undefined && !(Number.isInteger(runningPolls) && runningPolls >= 0)) {
    throw new RangeError(`${where}: runningPolls must be a whole number >= 0`);
  }
  if (minRunMs !== undefined && !(typeof minRunMs === "number" && Number.isFinite(minRunMs) && minRunMs >= 0)) {
    throw new RangeError(`${where}: minRunMs must be a finite number >= 0`);
  }
  return { ...options, steps: steps && checkSteps("(created)", steps) };
}

/** The body of a created task at one point of its life; a completed one carries COMPLETED_TASK's url, which index.ts points at the video host. */
function taskBody(taskId: string, status: "queued" | "in_progress" | CreatedTaskOutcome): Step {
  switch (status) {
    case "queued":
    case "in_progress":
      return { task_id: taskId, status, format: "mp4" };
    case "completed":
      return { ...COMPLETED_TASK, task_id: taskId };
    case "failed":
      return { ...FAILED_TASK, task_id: taskId };
    case "expired":
      return { ...EXPIRED_TASK, task_id: taskId };
    case "cancelled":
      return { task_id: taskId, status: "cancelled", format: "mp4" };
  }
}

/** The answers of a created task, one per GET: the explicit steps, or running then its outcome. */
export function createdTaskScript(taskId: string, options: CreatedTaskOptions, createdAt: number): () => Step {
  let served = 0;
  if (options.steps) {
    const steps = options.steps.map((step) => (isScriptedResponse(step) ? step : { ...step, task_id: taskId }));
    return () => steps[Math.min(served++, steps.length - 1)]!;
  }
  const running = options.runningPolls ?? 2;
  const minRunMs = options.minRunMs ?? 0;
  return () => {
    const count = served++;
    if (count < running || Date.now() - createdAt < minRunMs) return taskBody(taskId, count === 0 ? "queued" : "in_progress");
    return taskBody(taskId, options.outcome ?? "completed");
  };
}
