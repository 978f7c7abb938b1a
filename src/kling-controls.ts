// Kling's own controls, as the relay's gateway reads them: typed, and the rules that are checked
// before a byte is sent, kept as data with their sources next to them. The checks themselves are
// in src/create.ts; this file only says what the rules are.
// Sources: [S] the gateway's source (new-api `relay/channel/task/kling/adaptor.go`, `convertToRequestPayload`,
// up to ccd535ef8), [D] republished copies of Kling's API reference; see docs/kling-controls.md.
import type { ImageInput } from "./image.js";

/** Kling's generation modes: `std` (faster, cheaper) or `pro` (higher quality). [D] */
export const KLING_MODES = ["std", "pro"] as const;

/** A Kling generation mode. */
export type KlingMode = (typeof KLING_MODES)[number];

/** The aspect ratios Kling takes for text2video (image2video follows its image). [D] */
export const KLING_ASPECT_RATIOS = ["16:9", "9:16", "1:1"] as const;

/** A Kling aspect ratio. */
export type KlingAspectRatio = (typeof KLING_ASPECT_RATIOS)[number];

/** The aspect ratio this package sends for a text2video create that names none: Kling's documented default. [D] */
export const DEFAULT_TEXT2VIDEO_ASPECT_RATIO: KlingAspectRatio = "16:9";

/** Kling's camera moves: `simple` takes a `config`; the four others are preset moves without one. [D] */
export const KLING_CAMERA_TYPES = ["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"] as const;

/** A Kling camera move. */
export type KlingCameraType = (typeof KLING_CAMERA_TYPES)[number];

/** The axes of a `simple` camera move; exactly one is non-zero. [D] */
export const KLING_CAMERA_AXES = ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"] as const;

/** One axis of a `simple` camera move. */
export type KlingCameraAxis = (typeof KLING_CAMERA_AXES)[number];

/** A `simple` camera move: exactly one axis non-zero, each from -10 to 10. [D] */
export type KlingCameraConfig = { [axis in KlingCameraAxis]?: number };

/** `camera_control`: `{ type: "simple", config }` with one non-zero axis, or a preset move without `config`. [D] */
export type KlingCameraControl =
  | { type: "simple"; config: KlingCameraConfig }
  | { type: Exclude<KlingCameraType, "simple">; config?: undefined };

/** A point of a motion-brush trajectory, in whole pixels of the image, origin bottom-left. [D][S: integers] */
export interface KlingTrajectoryPoint {
  /** Whole pixels from the left edge. */
  x: number;
  /** Whole pixels from the bottom edge. */
  y: number;
}

/** One area of the motion brush: a mask image and the path it moves along (2 points or more). [D] */
export interface KlingDynamicMask {
  /** The mask: what `image` takes (URL, base64, `data:` URL, bytes, Blob); same aspect ratio as the image. */
  mask: ImageInput;
  /** The path, 2 points or more (Kling: at most 77 for a 5 s video), whole numbers. */
  trajectories: readonly KlingTrajectoryPoint[];
}

/**
 * Kling's own controls, which the gateway reads from `metadata` only. Each is checked before a
 * byte is sent (see `KLING_CONTROL_RULES` and docs/kling-controls.md); images are sent as bare base64.
 */
export interface KlingControls {
  /** What the video must not show: at most 2,500 characters. */
  negative_prompt?: string;
  /** How closely Kling follows the prompt: more than 0, at most 1 (the relay cannot send 0; kling-v2.x ignore it). Kling's default 0.5. */
  cfg_scale?: number;
  /** `std` or `pro` (also taken at the top level). Default `std`. */
  mode?: KlingMode;
  /** text2video only: `16:9` (sent when none is given, Kling's default), `9:16` or `1:1`. */
  aspect_ratio?: KlingAspectRatio;
  /** The last frame (image2video only, so with a top-level `image`): what `image` takes, checked by the same rules. */
  image_tail?: ImageInput;
  /** A camera move; not with `image_tail` or the motion brush. */
  camera_control?: KlingCameraControl;
  /** Motion brush: the area that stays still (image2video only); same aspect ratio as the image. */
  static_mask?: ImageInput;
  /** Motion brush: at most 6 moving areas (image2video only). */
  dynamic_masks?: readonly KlingDynamicMask[];
  /** An http(s) URL Kling calls when the task changes, with Kling's own task id, not the relay's. */
  callback_url?: string;
  /** Your own id for the task at Kling; the relay shares Kling accounts, so it may not be unique there. */
  external_task_id?: string;
  /** Refused: Kling would run another model than the one the relay bills. Use the top-level `model`. */
  model_name?: never;
  /** Refused: use the top-level `duration` (a whole number of seconds), which the relay checks and converts. */
  duration?: never;
  /** Refused: it would replace the top-level `prompt`. */
  prompt?: never;
  /** Refused: it would replace the top-level `image`. */
  image?: never;
}

/** A create's `metadata`: Kling's controls, typed and checked, plus any other key, sent untouched (a patched gateway may pass it). */
export type KlingMetadata = KlingControls & { readonly [key: string]: unknown };

/** A rule of one field: the rule in words (as a message ends: "must be ..."), where it comes from, and the test. */
export interface ControlRule {
  /** What the value must be, in words. */
  readonly rule: string;
  /** Where the rule comes from: [S] the gateway's source, [D] Kling's docs, [I] inferred. */
  readonly source: string;
  /** Whether the value keeps the rule. */
  readonly test: (value: unknown) => boolean;
}

/** A finite number (Number.isFinite is false for anything but a number). */
const isNumber = Number.isFinite as (v: unknown) => v is number;
const isString = (v: unknown): v is string => typeof v == "string";
/** A plain object (not an array, bytes or a class instance), from any realm (a vm context, a worker's structured clone). */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  // Its prototype is null, or some realm's Object.prototype: the one object whose own prototype is
  // null (when v's is null, v stands in for it).
  !!v && typeof v == "object" && !Object.getPrototypeOf(Object.getPrototypeOf(v) ?? v);
/** An array of `min` to `max` items that each pass `test`. */
const listOf = (min: number, max: number, test: (item: unknown) => boolean) => (v: unknown) =>
  Array.isArray(v) && v.length >= min && v.length <= max && v.every(test);
/** A plain object whose own keys are all among `keys`. */
const objectOf = (v: unknown, keys: readonly string[]): v is Record<string, unknown> => isPlainObject(v) && Object.keys(v).every((k) => keys.includes(k));
const oneOf = (values: readonly string[]) => (v: unknown) => values.includes(v as string);
const isPoint = (p: unknown): boolean => objectOf(p, ["x", "y"]) && [p.x, p.y].every((c) => Number.isInteger(c) && (c as number) >= 0);
/** A camera move: a preset without a config, or `simple` whose config has axes only, each from -10 to 10, exactly one non-zero. */
const isCamera = (v: unknown): boolean =>
  objectOf(v, ["type", "config"]) &&
  KLING_CAMERA_TYPES.includes(v.type as KlingCameraType) &&
  (v.type == "simple"
    ? objectOf(v.config, KLING_CAMERA_AXES) &&
      Object.values(v.config).every((n) => isNumber(n) && n >= -10 && n <= 10) &&
      Object.values(v.config).filter((n) => n != 0).length == 1
    : v.config === undefined);
/** A rule: what the value must be, in words; its source; its test. */
const rule = (words: string, source: string, test: (value: unknown) => boolean): ControlRule => ({ rule: words, source, test });
/** Images: what `image` takes; the image rules are checked when they are prepared. */
const IMAGE = rule("an image, as request.image takes", "[D]", () => true);

/**
 * The rules of Kling's controls in `metadata`, checked before a byte is sent; images (`image_tail`,
 * `static_mask`, each `dynamic_masks[].mask`) are checked by the image rules (IMAGE_RULES) as well.
 * Per-model limits, where the sources disagree, are left to Kling: a refused task is refunded.
 * Sources: cfg_scale [D] 0-1, [S] omitempty drops 0; mode [S] default std; dynamic_masks [D] at
 * most 6, [S] integer x and y (500 otherwise); image_tail [D] same rules as image.
 */
export const KLING_CONTROL_RULES: Readonly<Record<string, ControlRule>> = {
  negative_prompt: rule("a string of at most 2,500 characters", "[D]", (v) => isString(v) && [...v].length <= 2_500),
  cfg_scale: rule("a number more than 0 and at most 1 (the relay drops 0)", "[D][S]", (v) => isNumber(v) && v > 0 && v <= 1),
  mode: rule(`one of ${KLING_MODES.join(", ")}`, "[D][S]", oneOf(KLING_MODES)),
  aspect_ratio: rule(`one of ${KLING_ASPECT_RATIOS.join(", ")}`, "[D]", oneOf(KLING_ASPECT_RATIOS)),
  camera_control: rule(
    `{ type, config? }: type one of ${KLING_CAMERA_TYPES.join(", ")}; config only with simple: exactly one non-zero of ${KLING_CAMERA_AXES.join(", ")}, from -10 to 10`,
    "[D]",
    isCamera,
  ),
  dynamic_masks: rule(
    "1 to 6 { mask, trajectories }, each trajectory 2 or more { x, y } in whole pixels",
    "[D][S]",
    listOf(1, 6, (m) => objectOf(m, ["mask", "trajectories"]) && "mask" in m && listOf(2, Infinity, isPoint)(m.trajectories)),
  ),
  callback_url: rule("an http(s) URL", "[D]", (v) => isString(v) && /^https?:\/\/\S+$/i.test(v)),
  external_task_id: rule("a non-empty string", "[D]", (v) => isString(v) && !!v),
  image_tail: IMAGE,
  static_mask: IMAGE,
};

/**
 * Keys the gateway reads from `metadata` over the top-level fields, refused there with the reason
 * (the gateway matches keys without regard to case, so `Model_Name` is refused too). [S]
 */
export const KLING_REFUSED_METADATA: Readonly<Record<string, string>> = {
  model_name: "the relay bills the top-level model; use request.model",
  duration: "the relay would skip its checks; use request.duration",
  model: "it would replace the model Kling runs; use request.model",
  prompt: "it would replace request.prompt",
  image: "it would replace request.image",
};

/** The three groups of which a create may use one: the end frame, the motion brush, the camera. [D] */
export const KLING_EXCLUSIVE_GROUPS: readonly (readonly string[])[] = [["image_tail"], ["static_mask", "dynamic_masks"], ["camera_control"]];

/** Controls that need a top-level image (an image2video create): without it the gateway makes a text2video task and drops them. [S] */
export const KLING_IMAGE2VIDEO_ONLY: readonly string[] = ["image_tail", "static_mask", "dynamic_masks"];

/**
 * The spec's top-level fields the gateway does not pass to Kling [S]: each is refused before sending
 * unless its value is harmless. `width`/`height` are translated on text2video instead (create.ts).
 */
export const GATEWAY_DROPPED_FIELDS: Readonly<Record<string, ControlRule>> = {
  seed: rule("left out: the relay drops it, so the video could not be reproduced", "[S]", () => false),
  fps: rule("left out: the relay drops it; Kling picks the frame rate", "[S]", () => false),
  n: rule("1: the relay makes one video", "[S]", (v) => v === 1),
  response_format: rule('"url": the video is always a URL', "[S]", (v) => v === "url"),
  user: rule("a string (the relay drops it)", "[S]", isString),
};
