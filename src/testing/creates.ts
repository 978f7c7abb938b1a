// The fake relay's create routes: what the relay's gateway (new-api) checks in a create body, in
// its order and with its answers (../shared research: relay-create.md), what Kling then refuses
// about the prompt and the image, the faults a test can script, and the lifecycle a created task
// runs. index.ts does the HTTP; this file decides.
import { createHash, randomBytes } from "node:crypto";
import { requestIssues } from "../_spec.js";
import { inspectImage, type ImageInfo } from "../image.js";
import { ROUTES, type RouteName } from "../routes.js";
import { COMPLETED_TASK, EXPIRED_TASK, FAILED_TASK, statusOnly } from "./fixtures.js";
import { buildKlingRequest, durationIssue, readTaskRequest, type KlingEndpoint, type RecordedKlingRequest } from "./gateway.js";
import { checkDelay, checkResponse, checkSteps, isScriptedResponse, stepper, type ScriptedResponse, type Step } from "./steps.js";

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

/**
 * What the relay's gateway made of a create for Kling; every field is undefined when it built
 * nothing (a create refused before, or its 500 `build_request_failed`).
 */
export interface GatewayRecord {
  /**
   * The JSON body the gateway sends Kling for this create, as new-api's Kling adaptor builds it:
   * its defaults (`mode` "std", `duration` "5", `aspect_ratio` "1:1" unless `size` says otherwise,
   * `cfg_scale` 0.5, `model_name` and `model` from the top-level `model`), `metadata` decoded over
   * them (keys without regard to case), zero values left out. Images that are not URLs read
   * `[image: <n> characters]` (see `klingImages`).
   */
  kling: RecordedKlingRequest | undefined;
  /**
   * The Kling endpoint the gateway calls, whichever route was called: image2video only with a
   * non-empty top-level `image` and an image or end frame in `kling`.
   */
  klingEndpoint: KlingEndpoint | undefined;
  /**
   * The keys whose value did not reach Kling, in the body's order: top-level ones (`width`, `seed`,
   * a `size` it cannot map, a `mode` that `metadata.mode` replaced, a fractional `duration`...) and
   * `metadata.` paths (unknown keys, `metadata.model`, zero values such as `metadata.cfg_scale` 0,
   * `metadata.camera_control.config.pan` 0, a key that a later one of another case replaced).
   * A null value is not listed (the same as absent); `metadata` itself only when it is not an object
   * or a JSON string of one (then ignored whole).
   */
  dropped: string[] | undefined;
  /**
   * The images in `kling`, by field: `image`, `image_tail`, `static_mask`, `dynamic_masks[<i>].mask`;
   * with `refused` when Kling refuses them (checked on image2video only: text2video ignores them).
   */
  klingImages: Record<string, RecordedImage> | undefined;
}

/** A create request as the relay read it: given to the `createdTasks` and `createFault` functions. */
export interface CreateRequestInfo extends GatewayRecord {
  /** The route it was sent to. */
  route: RouteName;
  /** The parsed JSON body; images that are not URLs (`image`, and in `metadata`) read `[image: <n> characters]`. */
  body: unknown;
  /** The top-level `image` string's summary, when the body has a non-empty one. */
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
export type CreateVerdict = (
  | { accepted: false; status: number; body: object }
  | { accepted: true; model: string }
) & { image: RecordedImage | undefined; parsed: unknown; gateway: GatewayRecord };

/** The gateway's task error shape (relay_task.go): `{ code, message, data: null }`. */
export function gatewayError(code: string, message: string): object {
  return { code, message, data: null };
}

/** The gateway's middleware error shape (auth, model routing): `{ error: { message, type, code } }`. */
function middlewareError(message: string, code = ""): object {
  return { error: { message, type: "new_api_error", code } };
}

const NO_GATEWAY: GatewayRecord = { kling: undefined, klingEndpoint: undefined, dropped: undefined, klingImages: undefined };

/**
 * Judges a create body as the gateway, then Kling, would: the JSON and `model` (the gateway's
 * distributor, middleware shape), the spec's schema, the fields' types, `prompt` and `duration`
 * (the task relay, `{code,message,data}` shape), then the request it builds for Kling (a wrong
 * type in `metadata`: 500 `build_request_failed`), then Kling's rules on the prompt and the images
 * (400 `task_failed`, refunded). Only an accepted body creates a task.
 */
export function judgeCreate(route: RouteName, text: string): CreateVerdict {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const answer = middlewareError("Invalid request, invalid JSON request body");
    return { accepted: false, status: 400, body: answer, image: undefined, parsed: undefined, gateway: NO_GATEWAY };
  }
  const body = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  const images = new Map<string, RecordedImage>();
  const image = typeof body.image === "string" && body.image !== "" ? readImage(body.image, "image", images) : undefined;
  let gateway = NO_GATEWAY;
  // Recorded bodies keep URLs; base64 (up to 128 MB of it) is recorded as its summary only.
  const record = (): unknown => summarizeImages(parsed, images);
  const refuse = (status: number, answer: object): CreateVerdict => {
    return { accepted: false, status, body: answer, image, parsed: record(), gateway };
  };

  const model = body.model ?? null;
  if (model !== null && typeof model !== "string") return refuse(400, middlewareError("Invalid request, field model must be a string"));
  if (!model) return refuse(400, middlewareError("Model name not specified"));

  // The gateway reads `duration` by its own rule (an int or a numeric string), not the spec's
  // `number`, and `metadata` as an object or a JSON string of one (anything else it ignores).
  const issues = (requestIssues(ROUTES[route].create, "post", parsed) ?? []).filter(
    (issue) => !/^\/(duration|metadata)(\/|$)/.test(issue.instancePath),
  );
  if (issues.length > 0) {
    const message = issues.map((issue) => `${issue.instancePath || "body"} ${issue.message ?? issue.keyword}`).join("; ");
    return refuse(400, gatewayError("invalid_request", `invalid request body: ${message}`));
  }
  const request = readTaskRequest(body);
  if ("error" in request) return refuse(400, gatewayError("invalid_request", request.error));
  if (request.prompt.value.trim() === "") return refuse(400, gatewayError("invalid_request", "prompt is required"));
  const seconds = durationIssue(request);
  if (seconds !== undefined) return refuse(400, gatewayError("invalid_seconds", seconds));

  const built = buildKlingRequest(body, request, model);
  if (!built.ok) return refuse(500, gatewayError("build_request_failed", built.message));
  const klingImages = judgeImages(built.kling, images);
  const kling = summarizeImages(built.kling, images) as RecordedKlingRequest;
  gateway = { kling, klingEndpoint: built.endpoint, dropped: built.dropped, klingImages };

  // Kling's own rules: the gateway passes the task on, Kling refuses it, the gateway refunds it.
  if ([...(built.kling.prompt ?? "")].length > MAX_PROMPT_LENGTH) {
    return refuse(400, gatewayError("task_failed", `prompt is longer than ${MAX_PROMPT_LENGTH} characters`));
  }
  // text2video takes no image: Kling judges the images only on image2video.
  const refused = built.endpoint === "image2video" ? Object.values(klingImages).find((info) => info.refused) : undefined;
  if (refused?.refused !== undefined) return refuse(400, gatewayError("task_failed", refused.refused));
  return { accepted: true, model, image, parsed: record(), gateway };
}

/**
 * Reads the images of Kling's request by Kling's rules (the same for the end frame and the masks
 * as for `image`, [D] kling-controls.md), and a mask's aspect ratio against the image's when both
 * are known (Kling: the same aspect ratio).
 */
function judgeImages(kling: RecordedKlingRequest, cache: Map<string, RecordedImage>): Record<string, RecordedImage> {
  const found: Array<[string, string | undefined]> = [
    ["image", kling.image],
    ["image_tail", kling.image_tail],
    ["static_mask", kling.static_mask],
    ...(kling.dynamic_masks ?? []).map((mask, i): [string, string | undefined] => [`dynamic_masks[${i}].mask`, mask.mask]),
  ];
  const out: Record<string, RecordedImage> = {};
  for (const [name, value] of found) {
    if (value === undefined || value === "") continue;
    out[name] = readImage(value, name, cache);
  }
  const base = out.image?.info;
  for (const [name, info] of Object.entries(out)) {
    const mask = info.info;
    if (!name.includes("mask") || !base || !mask || info.refused !== undefined) continue;
    if (mask.width * base.height !== mask.height * base.width) {
      out[name] = {
        ...info,
        refused: `${name} is ${mask.width}x${mask.height} px; its aspect ratio must be the image's (${base.width}x${base.height} px)`,
      };
    }
  }
  return out;
}

/** A copy of a parsed body (or Kling request), image strings that are not URLs as `[image: <n> characters]`. */
function summarizeImages(value: unknown, images: Map<string, RecordedImage>): unknown {
  if (typeof value === "string") {
    const image = images.get(value);
    return image && image.form !== "url" ? `[image: ${value.length} characters]` : value;
  }
  if (Array.isArray(value)) return value.map((item) => summarizeImages(item, images));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, summarizeImages(inner, images)]));
}

const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads an image string as Kling would: a URL (fetched by Kling, not here), or base64 judged by the image rules, named `name`. */
function readImage(value: string, name: string, cache: Map<string, RecordedImage>): RecordedImage {
  // The same string twice (an image reused as its own end frame) is hashed and decoded once.
  const known = cache.get(value);
  if (known !== undefined) return known;
  const image = inspectString(value, name);
  cache.set(value, image);
  return image;
}

function inspectString(value: string, name: string): RecordedImage {
  const summary = { length: value.length, sha256: sha256(value) };
  if (/^https?:\/\//i.test(value)) return { form: "url", ...summary };
  const dataUrl = /^data:[^,]*?(;base64)?,/i.exec(value);
  const payload = dataUrl ? value.slice(dataUrl[0].length) : value;
  if (!BASE64.test(payload) || payload.length % 4 !== 0 || (dataUrl && !dataUrl[1])) {
    return { form: dataUrl ? "data-url" : "invalid", ...summary, refused: `${name} is neither a URL nor base64` };
  }
  const bytes = Buffer.from(payload, "base64");
  const decoded = { byteLength: bytes.length, bytesSha256: sha256(bytes) };
  // Kling takes base64 without a prefix; a data: URL passes the gateway untouched and is refused upstream.
  if (dataUrl) return { form: "data-url", ...summary, ...decoded, refused: `${name} must be base64 without a data: prefix` };
  try {
    return { form: "base64", ...summary, ...decoded, info: inspectImage(bytes, name) };
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

/** How the tasks a relay creates run: options for all, or a function of each create request. */
export type CreatedTasksSetting = CreatedTaskOptions | ((create: CreateRequestInfo) => CreatedTaskOptions);

function checkCreatedTasksSetting(value: CreatedTasksSetting): CreatedTasksSetting {
  return typeof value === "function" ? value : checkCreatedTaskOptions(value);
}

/** A fake relay's create script as given: its faults, its fault function, how created tasks run. */
export interface CreateScriptOptions {
  createFaults?: readonly CreateFault[];
  createFault?: (create: CreateRequestInfo) => CreateFault | undefined;
  createdTasks?: CreatedTasksSetting;
}

/**
 * What a fake relay does with the creates it accepts, apart from HTTP: the queues of scripted
 * faults (one per route, one shared), the fault function, and how created tasks run. Options are
 * checked when they are set, so a bad one fails in the test that wrote it.
 */
export class CreateScript {
  readonly #initialFaults: readonly CreateFault[];
  readonly #initialCreated: CreatedTasksSetting;
  readonly #hook: CreateScriptOptions["createFault"];
  #queues: Record<RouteName | "any", CreateFault[]> = { any: [], image2video: [], text2video: [] };
  #createdTasks: CreatedTasksSetting;

  constructor(options: CreateScriptOptions) {
    const { createFault, createFaults } = options;
    if (createFault !== undefined && typeof createFault !== "function") throw new TypeError("fake relay: createFault must be a function");
    if (createFaults !== undefined && !Array.isArray(createFaults)) throw new TypeError("fake relay: createFaults must be an array");
    this.#hook = createFault;
    this.#initialFaults = (createFaults ?? []).map((fault) => checkCreateFault(fault));
    this.#initialCreated = checkCreatedTasksSetting(options.createdTasks ?? {});
    this.#createdTasks = this.#initialCreated;
    this.reset();
  }

  /** Back to the options given: their faults queued again, their created-task setting. */
  reset(): void {
    this.#queues = { any: [...this.#initialFaults], image2video: [], text2video: [] };
    this.#createdTasks = this.#initialCreated;
  }

  /** Queues faults, played in order: for one route's creates, else for any route. */
  queue(faults: readonly CreateFault[], route?: RouteName): void {
    if (!Array.isArray(faults)) throw new TypeError("fake relay: scriptCreates takes an array of create faults");
    if (route !== undefined && !Object.hasOwn(ROUTES, route)) {
      throw new TypeError(`fake relay: route must be ${Object.keys(ROUTES).join(" or ")}, got ${JSON.stringify(route)}`);
    }
    const checked = faults.map((fault, i) => checkCreateFault(fault, `fake relay: create fault ${i}`));
    this.#queues[route ?? "any"].push(...checked);
  }

  /** Changes how the tasks created from now on run. */
  setCreatedTasks(next: CreatedTasksSetting): void {
    this.#createdTasks = checkCreatedTasksSetting(next);
  }

  /** The next fault for an accepted create: its route's queue, then the shared one, then the function (an Error if it failed). */
  nextFault(info: CreateRequestInfo): CreateFault | undefined | Error {
    const queued = this.#queues[info.route].shift() ?? this.#queues.any.shift();
    if (queued !== undefined || this.#hook === undefined) return queued;
    try {
      const fault = this.#hook(info);
      return fault === undefined ? undefined : checkCreateFault(fault, "fake relay: createFault's fault");
    } catch (error) {
      return error as Error;
    }
  }

  /** How the task a create makes runs (an Error when the createdTasks function failed or gave bad options). */
  plan(info: CreateRequestInfo): CreatedTaskOptions | Error {
    const setting = this.#createdTasks;
    try {
      return typeof setting === "function" ? checkCreatedTaskOptions(setting(info), "fake relay: createdTasks()") : setting;
    } catch (error) {
      return error as Error;
    }
  }
}

/** The body of a created task at one point of its life; a completed one carries COMPLETED_TASK's url, which index.ts points at the video host. */
function taskBody(taskId: string, status: "queued" | "in_progress" | CreatedTaskOutcome): Step {
  switch (status) {
    case "queued":
    case "in_progress":
    case "cancelled":
      return statusOnly(taskId, status);
    case "completed":
      return { ...COMPLETED_TASK, task_id: taskId };
    case "failed":
      return { ...FAILED_TASK, task_id: taskId };
    case "expired":
      return { ...EXPIRED_TASK, task_id: taskId };
  }
}

/** The answers of a created task, one per GET: the explicit steps, or running then its outcome. */
export function createdTaskScript(taskId: string, options: CreatedTaskOptions, createdAt: number): () => Step {
  if (options.steps) return stepper(options.steps.map((step) => (isScriptedResponse(step) ? step : { ...step, task_id: taskId })));
  const running = options.runningPolls ?? 2;
  const minRunMs = options.minRunMs ?? 0;
  let served = 0;
  return () => {
    const count = served++;
    if (count < running || Date.now() - createdAt < minRunMs) return taskBody(taskId, count === 0 ? "queued" : "in_progress");
    return taskBody(taskId, options.outcome ?? "completed");
  };
}
