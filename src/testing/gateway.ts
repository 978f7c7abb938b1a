// The relay's gateway (new-api) between a create body and Kling: how it reads the body (its
// `TaskSubmitReq`) and the request it builds for Kling (the Kling adaptor's
// `convertToRequestPayload`), with Go's encoding/json rules, since those decide what Kling gets:
// keys matched without regard to case, `metadata` decoded over the defaults in sorted key order,
// unknown keys dropped, `omitempty` dropping zero values, a wrong type failing the whole create.
// Pure functions over parsed JSON; creates.ts judges what they return. Sources: new-api
// `relay/channel/task/kling/adaptor.go`, `relay/channel/task/taskcommon/helpers.go`
// (`UnmarshalMetadata`), `relay/common/relay_info.go` (`TaskSubmitReq.UnmarshalJSON`),
// `relay/common/relay_utils.go` (`ValidateBasicTaskRequest`), `middleware/kling_adapter.go`;
// ../shared research: kling-controls.md.

/** The Kling endpoint the gateway calls: it goes by the image, not by the route the client called. */
export type KlingEndpoint = "image2video" | "text2video";

/** A camera move as Kling gets it; zero axes are absent (the gateway's `omitempty`). */
export interface RecordedKlingCameraControl {
  /** The move's type, when non-empty. */
  type?: string;
  /** The axes, present whenever the body had a `config` object; only the non-zero ones. */
  config?: { horizontal?: number; vertical?: number; pan?: number; tilt?: number; roll?: number; zoom?: number };
}

/** One motion-brush area as Kling gets it. */
export interface RecordedKlingDynamicMask {
  /** The mask image, when non-empty (base64 recorded as `[image: <n> characters]`, see `klingImages`). */
  mask?: string;
  /** The path; always whole numbers (the gateway refuses others with 500), absent when empty. */
  trajectories?: Array<{ x: number; y: number }>;
}

/**
 * The JSON body the relay's gateway sends Kling for a create, keys as its JSON tags and in its
 * order. A key is absent when its value is the zero value (`omitempty`): `cfg_scale: 0` is not
 * sent, so Kling uses its default 0.5. Images that are not URLs are recorded as
 * `[image: <n> characters]` (their hashes and sizes are in `klingImages`).
 */
export interface RecordedKlingRequest {
  /** The top-level `prompt`, unless `metadata.prompt` replaced it. */
  prompt?: string;
  /** The top-level `image`, unless `metadata.image` replaced it. */
  image?: string;
  /** The end frame, from `metadata.image_tail`. */
  image_tail?: string;
  /** From `metadata.negative_prompt`. */
  negative_prompt?: string;
  /** `metadata.mode`, else the top-level `mode`, else `"std"`. */
  mode?: string;
  /** A string: `metadata.duration` (a string), else the top-level `duration` read as a whole number, else `"5"`. */
  duration?: string;
  /** `metadata.aspect_ratio`, else from the top-level `size` (1280x720/1920x1080: 16:9, 720x1280/1080x1920: 9:16), else `"1:1"`. */
  aspect_ratio?: string;
  /** The top-level `model` (what the relay bills), unless `metadata.model_name` replaced it. */
  model_name?: string;
  /** The same again, for upstreams that read `model`; `metadata.model` cannot replace it, a key such as `Model` can. */
  model?: string;
  /** `metadata.cfg_scale`, else 0.5; absent when 0. */
  cfg_scale?: number;
  /** From `metadata.static_mask`. */
  static_mask?: string;
  /** From `metadata.dynamic_masks`, absent when empty. */
  dynamic_masks?: RecordedKlingDynamicMask[];
  /** From `metadata.camera_control`. */
  camera_control?: RecordedKlingCameraControl;
  /** From `metadata.callback_url`. */
  callback_url?: string;
  /** From `metadata.external_task_id`. */
  external_task_id?: string;
}

// ---- Go types, as the gateway declares them (adaptor.go) ----

type GoType = { kind: "string" } | { kind: "float64" } | { kind: "int" } | GoSlice | GoPointer | GoStruct;
interface GoSlice {
  kind: "slice";
  elem: GoType;
}
interface GoPointer {
  kind: "pointer";
  elem: GoStruct;
}
interface GoStruct {
  kind: "struct";
  /** The type's name in Go's error messages (`kling.DynamicMask`) and its bare name (`DynamicMask`). */
  qualified: string;
  name: string;
  fields: readonly GoField[];
}
interface GoField {
  tag: string;
  type: GoType;
  omitempty: boolean;
}

const STRING = { kind: "string" } as const;
const FLOAT = { kind: "float64" } as const;
const INT = { kind: "int" } as const;
const field = (tag: string, type: GoType, omitempty = true): GoField => ({ tag, type, omitempty });
const struct = (name: string, fields: GoField[]): GoStruct => ({ kind: "struct", qualified: `kling.${name}`, name, fields });

// x and y have no omitempty: a point at 0 is sent.
const TRAJECTORY_POINT = struct("TrajectoryPoint", [field("x", INT, false), field("y", INT, false)]);
const DYNAMIC_MASK = struct("DynamicMask", [field("mask", STRING), field("trajectories", { kind: "slice", elem: TRAJECTORY_POINT })]);
const CAMERA_CONFIG = struct(
  "CameraConfig",
  ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"].map((axis) => field(axis, FLOAT)),
);
const CAMERA_CONTROL = struct("CameraControl", [field("type", STRING), field("config", { kind: "pointer", elem: CAMERA_CONFIG })]);

/** The gateway's `requestPayload`, in its declaration order (Go's JSON output order). */
const REQUEST_PAYLOAD = struct("requestPayload", [
  field("prompt", STRING),
  field("image", STRING),
  field("image_tail", STRING),
  field("negative_prompt", STRING),
  field("mode", STRING),
  field("duration", STRING),
  field("aspect_ratio", STRING),
  field("model_name", STRING),
  field("model", STRING),
  field("cfg_scale", FLOAT),
  field("static_mask", STRING),
  field("dynamic_masks", { kind: "slice", elem: DYNAMIC_MASK }),
  field("camera_control", { kind: "pointer", elem: CAMERA_CONTROL }),
  field("callback_url", STRING),
  field("external_task_id", STRING),
]);

// ---- Go values, each field remembering which key of the body set it ----

type GoValue = string | number | GoValue[] | StructValue | null;
/** A struct's fields, in declaration order; `src` is the body path whose value is there (undefined: a default). */
interface StructValue {
  slots: Array<{ value: GoValue; src: string | undefined }>;
}

function zero(type: GoType): GoValue {
  switch (type.kind) {
    case "string":
      return "";
    case "float64":
    case "int":
      return 0;
    case "struct":
      return { slots: type.fields.map((f) => ({ value: zero(f.type), src: undefined })) };
    default:
      return null; // a nil slice or pointer
  }
}

/** A field of the body of the wrong type: Go's UnmarshalTypeError, with its message. */
class GoTypeError extends Error {}

/** Where the decoder is, for Go's error message: the innermost struct and the JSON names from the root. */
interface Context {
  path: string;
  struct: string;
  fields: readonly string[];
}

function typeName(type: GoType): string {
  switch (type.kind) {
    case "slice":
      return `[]${typeName(type.elem)}`;
    case "pointer":
      return typeName(type.elem);
    case "struct":
      return type.qualified;
    default:
      return type.kind;
  }
}

/** What Go calls a JSON value in its messages. */
function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

function typeError(value: string, type: GoType, context: Context): GoTypeError {
  const where = context.fields.length > 0 ? `Go struct field ${context.struct}.${context.fields.join(".")}` : "Go value";
  return new GoTypeError(`json: cannot unmarshal ${value} into ${where} of type ${typeName(type)}`);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Go's case folding of a JSON key for matching a field (Go 1.21 `foldName`): ASCII letters to
 * upper case, and the two runes that fold onto ASCII letters (U+017F long s, U+212A Kelvin sign).
 */
const goFold = (key: string): string =>
  key.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/\u017f/g, "S").replace(/\u212a/g, "K");

/** The field a key sets: the exact name first, else the same name without regard to case (Go's rule). */
function fieldIndex(type: GoStruct, key: string): number {
  const exact = type.fields.findIndex((f) => f.tag === key);
  if (exact >= 0) return exact;
  const folded = goFold(key);
  return type.fields.findIndex((f) => goFold(f.tag) === folded);
}

/** Go's map order: keys sorted by their bytes (UTF-8 order is code point order). */
function sortedKeys(object: Record<string, unknown>): string[] {
  return Object.keys(object).sort((a, b) => {
    const x = [...a].map((c) => c.codePointAt(0)!);
    const y = [...b].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
}

/**
 * Decodes a JSON value into a Go value of `type` as encoding/json does: null leaves a scalar or a
 * struct as it was (and empties a slice or pointer), an object merges into an existing struct, an
 * array reuses a slice's elements. Every key met is recorded in `offered`.
 * Returns undefined when nothing changed.
 */
function decode(type: GoType, json: unknown, current: GoValue, context: Context, offered: string[]): { value: GoValue } | undefined {
  if (json === null) return type.kind === "slice" || type.kind === "pointer" ? { value: null } : undefined;
  switch (type.kind) {
    case "string":
      if (typeof json !== "string") throw typeError(jsonKind(json), type, context);
      return { value: json };
    case "float64":
      if (typeof json !== "number") throw typeError(jsonKind(json), type, context);
      return { value: json };
    case "int":
      if (typeof json !== "number") throw typeError(jsonKind(json), type, context);
      // Go parses the literal as an int64: a fraction, or a number past int64, is a type error.
      if (!Number.isInteger(json) || json < -(2 ** 63) || json >= 2 ** 63) throw typeError(`number ${json}`, type, context);
      return { value: json };
    case "slice": {
      if (!Array.isArray(json)) throw typeError(jsonKind(json), type, context);
      const previous = Array.isArray(current) ? current : [];
      const elements = json.map((item, i) => {
        // Go decodes into the existing element when there is one (no zeroing first).
        const element = i < previous.length ? previous[i]! : zero(type.elem);
        const path = `${context.path}[${i}]`;
        return decode(type.elem, item, element, { ...context, path }, offered)?.value ?? element;
      });
      return { value: elements };
    }
    case "pointer":
    case "struct": {
      const target = type.kind === "pointer" ? type.elem : type;
      if (!isObject(json)) throw typeError(jsonKind(json), target, context);
      const value = (current as StructValue | null) ?? (zero(target) as StructValue);
      decodeFields(target, json, value, context, offered, sortedKeys(json));
      return { value };
    }
  }
}

/** Decodes an object's keys, in the given order, over a struct; unknown keys are skipped. */
function decodeFields(
  type: GoStruct,
  json: Record<string, unknown>,
  value: StructValue,
  context: Context,
  offered: string[],
  keys: readonly string[],
): void {
  for (const key of keys) {
    const path = `${context.path}.${key}`;
    // null is the same as absent: it changes nothing Kling gets (a nil slice or pointer is omitted).
    if (json[key] !== null) offered.push(path);
    const index = fieldIndex(type, key);
    if (index < 0) continue;
    const f = type.fields[index]!;
    const slot = value.slots[index]!;
    const inner = { path, struct: type.name, fields: [...context.fields, f.tag] };
    const decoded = decode(f.type, json[key], slot.value, inner, offered);
    if (decoded) value.slots[index] = { value: decoded.value, src: path };
  }
}

function isEmpty(type: GoType, value: GoValue): boolean {
  if (value === null) return true;
  if (type.kind === "string" || type.kind === "float64" || type.kind === "int") return value === "" || value === 0;
  return Array.isArray(value) && value.length === 0;
}

/** Go's json.Marshal of a decoded value: fields in order, `omitempty` ones dropped when empty; `reached` gets the paths sent. */
function encode(type: GoType, value: GoValue, reached: Set<string>): unknown {
  if (type.kind === "slice") return (value as GoValue[] | null)?.map((element) => encode(type.elem, element, reached)) ?? null;
  if (type.kind === "pointer" || type.kind === "struct") {
    if (value === null) return null;
    const target = type.kind === "pointer" ? type.elem : type;
    const out: Record<string, unknown> = {};
    target.fields.forEach((f, i) => {
      const slot = (value as StructValue).slots[i]!;
      if (f.omitempty && isEmpty(f.type, slot.value)) return;
      out[f.tag] = encode(f.type, slot.value, reached);
      if (slot.src !== undefined) reached.add(slot.src);
    });
    return out;
  }
  return value;
}

// ---- The create body as the gateway reads it (TaskSubmitReq) ----

/** One top-level field as read, with the body key that set it (undefined: not in the body). */
export interface Read<T> {
  /** The value read (the zero value when absent). */
  value: T;
  /** The body key it came from. */
  src: string | undefined;
}

/** A create body as the gateway reads it before building Kling's request. */
export interface TaskRequest {
  /** The top-level `prompt`. */
  prompt: Read<string>;
  /** The top-level `mode`. */
  mode: Read<string>;
  /** The top-level `image`. */
  image: Read<string>;
  /** The top-level `size`. */
  size: Read<string>;
  /** The top-level `duration` as a whole number: 0 when absent or unreadable (a fraction, words). */
  duration: Read<number>;
  /** The top-level `seconds`, which the gateway checks in place of a zero duration. */
  seconds: Read<string>;
  /** `metadata` decoded to an object; undefined when absent, null or not decodable (then ignored whole). */
  metadata: Read<Record<string, unknown> | undefined>;
  /** The body's keys, in its order. */
  keys: readonly string[];
}

/** TaskSubmitReq's string fields (model is read by the distributor first; input_reference is read and unused). */
const TASK_STRINGS = ["prompt", "model", "mode", "image", "size", "seconds", "input_reference"] as const;
type TaskString = (typeof TASK_STRINGS)[number];

const INT64 = /^[+-]?\d+$/;

/** The top-level `duration` as the gateway reads it: an int, else a string Atoi reads, else 0. */
function readDuration(value: unknown): number {
  const number = typeof value === "string" && INT64.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || Math.abs(number) >= 2 ** 63) return 0;
  return number;
}

/** Whether a parsed JSON value holds a number past float64 (JSON.parse gives Infinity; Go refuses it). */
function hasHugeNumber(value: unknown): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(hasHugeNumber);
  return isObject(value) && Object.values(value).some(hasHugeNumber);
}

/** `metadata` as the gateway decodes it: an object, or a JSON string of one; anything else is ignored whole. */
function readMetadata(value: unknown): Record<string, unknown> | undefined {
  let decoded = value;
  if (typeof value === "string" && value !== "") {
    try {
      decoded = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  // A number past float64 anywhere makes Go's decode into a map fail: the gateway then ignores metadata.
  return isObject(decoded) && !hasHugeNumber(decoded) ? decoded : undefined;
}

/**
 * Reads a create body as the gateway's TaskSubmitReq: its keys matched without regard to case, in
 * the body's order (the last one wins). A value of the wrong type is the gateway's 400
 * `invalid_request`, whose message this returns.
 */
export function readTaskRequest(body: Record<string, unknown>): TaskRequest | { error: string } {
  const keys = Object.keys(body);
  const strings = Object.fromEntries(TASK_STRINGS.map((name) => [name, { value: "", src: undefined }])) as Record<TaskString, Read<string>>;
  let duration: Read<number> = { value: 0, src: undefined };
  let metadata: Read<Record<string, unknown> | undefined> = { value: undefined, src: undefined };
  let error: string | undefined;
  const fail = (kind: string, name: string, type: string): void => {
    // Go keeps decoding after a wrong type and reports the first; the anonymous wrapper struct has no name.
    error ??= `json: cannot unmarshal ${kind} into Go struct field .${name} of type ${type}`;
  };
  for (const key of keys) {
    const value = body[key];
    const name = goFold(key);
    const string = TASK_STRINGS.find((candidate) => goFold(candidate) === name);
    if (string !== undefined) {
      if (typeof value === "string") strings[string] = { value, src: key };
      else if (value !== null) fail(jsonKind(value), string, "string");
    } else if (name === "IMAGES") {
      if (Array.isArray(value)) {
        const bad: unknown = value.find((item) => item !== null && typeof item !== "string");
        if (bad !== undefined) fail(jsonKind(bad), "images", "string");
      } else if (value !== null) fail(jsonKind(value), "images", "[]string");
    } else if (name === "DURATION") {
      // A json.RawMessage: read by hand, never a decoding error.
      duration = { value: readDuration(value), src: key };
    } else if (name === "METADATA") {
      metadata = { value: readMetadata(value), src: key };
    }
  }
  if (error !== undefined) return { error };
  const { prompt, mode, image, size, seconds } = strings;
  return { prompt, mode, image, size, duration, seconds, metadata, keys };
}

/** The gateway's bounds on a create's length (validateTaskDurationBounds): the message of its 400 `invalid_seconds`, or undefined. */
export function durationIssue(request: TaskRequest): string | undefined {
  let seconds = request.duration.value;
  if (seconds === 0 && request.seconds.value !== "") seconds = readDuration(request.seconds.value);
  return seconds < 0 || seconds > 3600 ? "seconds must be between 1 and 3600" : undefined;
}

// ---- The request Kling gets ----

/** `size` to an aspect ratio (getAspectRatio); undefined for any other size, which gives the default 1:1. */
const SIZE_ASPECT: Readonly<Record<string, string>> = {
  "1024x1024": "1:1",
  "512x512": "1:1",
  "1280x720": "16:9",
  "1920x1080": "16:9",
  "720x1280": "9:16",
  "1080x1920": "9:16",
};

/** What the gateway built for Kling from a create, or why it could not (its 500 `build_request_failed`). */
export type KlingBuild =
  | {
      ok: true;
      /** Kling's request body, images whole (creates.ts summarizes them). */
      kling: RecordedKlingRequest;
      endpoint: KlingEndpoint;
      /** Top-level and `metadata.` paths whose value did not reach Kling, in the body's order. */
      dropped: string[];
    }
  | { ok: false; message: string };

/**
 * Builds Kling's request as the gateway's Kling adaptor does: defaults from the top-level fields,
 * then `metadata` decoded over them (without its `model` key), then `omitempty`. `model` is the
 * model the gateway routed and bills (the top-level `model`). `body` is the parsed create body,
 * for the endpoint: the gateway's middleware goes by its top-level `image` key.
 */
export function buildKlingRequest(body: Record<string, unknown>, request: TaskRequest, model: string): KlingBuild {
  const payload = zero(REQUEST_PAYLOAD) as StructValue;
  const set = (tag: string, value: GoValue, src: string | undefined): void => {
    payload.slots[REQUEST_PAYLOAD.fields.findIndex((f) => f.tag === tag)] = { value, src };
  };
  const modelSrc = body.model === model ? "model" : undefined;
  set("prompt", request.prompt.value, request.prompt.src);
  set("image", request.image.value, request.image.src);
  // taskcommon.DefaultString / DefaultInt: only "" and 0 take the default.
  set("mode", request.mode.value || "std", request.mode.value ? request.mode.src : undefined);
  set("duration", String(request.duration.value || 5), request.duration.value ? request.duration.src : undefined);
  const aspect = SIZE_ASPECT[request.size.value];
  set("aspect_ratio", aspect ?? "1:1", aspect ? request.size.src : undefined);
  set("model_name", model, modelSrc);
  set("model", model, modelSrc);
  set("cfg_scale", 0.5, undefined);
  set("dynamic_masks", [], undefined);

  const offered: string[] = [];
  const metadata = request.metadata.value;
  if (metadata !== undefined) {
    // UnmarshalMetadata deletes the exact key "model" (so that metadata cannot change the billed model).
    if (Object.hasOwn(metadata, "model") && metadata.model !== null) offered.push("metadata.model");
    const kept = Object.fromEntries(Object.entries(metadata).filter(([key]) => key !== "model"));
    const context = { path: "metadata", struct: REQUEST_PAYLOAD.name, fields: [] };
    try {
      decodeFields(REQUEST_PAYLOAD, kept, payload, context, offered, sortedKeys(kept));
    } catch (error) {
      if (!(error instanceof GoTypeError)) throw error;
      // Wrapped twice on its way out: by UnmarshalMetadata, then by convertToRequestPayload.
      return { ok: false, message: `unmarshal metadata failed: unmarshal metadata failed: ${error.message}` };
    }
  }

  const reached = new Set<string>();
  const kling = encode(REQUEST_PAYLOAD, payload, reached) as RecordedKlingRequest;
  // A key reached Kling when its value, or any value inside it, is in Kling's request.
  const reachedPath = (path: string): boolean =>
    reached.has(path) || [...reached].some((r) => r.startsWith(`${path}.`) || r.startsWith(`${path}[`));
  const order = documentOrder(metadata);
  const droppedMetadata = offered.filter((path) => !reachedPath(path)).sort((a, b) => order.get(a)! - order.get(b)!);
  const dropped = request.keys.flatMap((key) => {
    if (body[key] === null) return [];
    if (key === request.metadata.src && metadata !== undefined) return droppedMetadata;
    return reachedPath(key) ? [] : [key];
  });

  // The middleware sets text2video when the body has no top-level "image" key or an empty one;
  // the adaptor does when the request it built has neither image nor image_tail.
  const text = !Object.hasOwn(body, "image") || body.image === "" || (!kling.image && !kling.image_tail);
  return { ok: true, kling, endpoint: text ? "text2video" : "image2video", dropped };
}

/** Every path of a metadata object in document order, to list dropped keys as they were written. */
function documentOrder(metadata: Record<string, unknown> | undefined): Map<string, number> {
  const order = new Map<string, number>();
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`));
    else if (isObject(value)) {
      for (const [key, inner] of Object.entries(value)) {
        order.set(`${path}.${key}`, order.size);
        walk(inner, `${path}.${key}`);
      }
    }
  };
  walk(metadata, "metadata");
  return order;
}
