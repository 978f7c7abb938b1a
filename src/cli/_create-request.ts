// A create request from the command line, for `create` and `generate`: the request flags (Kling's
// controls among them, put where the relay reads them), the image and the end frame (a local file
// opened and checked here, before any request; a URL passed on), the create itself (a Ctrl-C while it
// is on its way says a task may exist), and the command that resumes the wait for a task once its id
// is known. The controls' values are only parsed here: their rules (ranges, enums, which go
// together) are the library's, which refuses a bad one before any request (exit 2).
import { InvalidArgumentError, type CreatedTask, type CreateImage2VideoRequest, type CreateText2VideoRequest } from "../index.js";
import { KLING_CAMERA_AXES, KLING_CAMERA_TYPES } from "../kling-controls.js";
import { openImageFile } from "../node/index.js";
import { routeOfCreate, type RouteName } from "../routes.js";
import { valueFlag } from "./_flag.js";
import { FLAGS, type CommandLine, type Flag } from "./_args.js";
import { Interrupted, UsageError } from "./_errors.js";
import type { Session } from "./_session.js";
import { routeArgs, type TaskCalls } from "./_task-routes.js";
import { clean } from "./_terminal.js";

/**
 * The model a create uses when --model (or a jobs line's `model`) is not given: the spec's own
 * example. The relay's gateway refuses a create without a model, so there has to be one.
 */
export const DEFAULT_MODEL = "kling-v1";

/** The camera presets (every camera type but `simple`, which is written as `<axis>=<n>`). */
const CAMERA_PRESETS = KLING_CAMERA_TYPES.filter((type) => type !== "simple");

/** The flags of a create request, in --help order. */
export const CREATE_FLAGS = {
  image: valueFlag("image", "<file|url>", ["create, generate: the start image: a PNG or JPEG file (checked before any", "request) or an http(s) URL; without it, a text2video task"]),
  imageTail: valueFlag("image-tail", "<file|url>", ["create, generate: the end frame (with --image): a PNG or JPEG file or an", "http(s) URL (metadata.image_tail)"]),
  prompt: valueFlag("prompt", "<text>", ["create, generate: what the video shows (required)"]),
  negativePrompt: valueFlag("negative-prompt", "<text>", ["create, generate: what the video must not show (metadata.negative_prompt)"]),
  model: valueFlag("model", "<id>", [`create, generate: the model (default ${DEFAULT_MODEL})`]),
  duration: valueFlag("duration", "<seconds>", ["create, generate: the video's length, whole seconds (e.g. 5 or 10)"]),
  mode: valueFlag("mode", "<std|pro>", ["create, generate: Kling's mode: std (default) or pro"]),
  aspectRatio: valueFlag("aspect-ratio", "<ratio>", ["create, generate (text2video): 16:9 (default), 9:16 or 1:1", "(metadata.aspect_ratio; with --image, the video follows the image)"]),
  width: valueFlag("width", "<px>", ["create, generate (text2video): with --height, the aspect ratio they state", "(16:9, 9:16 or 1:1) is sent; the relay drops the sizes themselves"]),
  height: valueFlag("height", "<px>", ["create, generate (text2video): see --width"]),
  cfgScale: valueFlag("cfg-scale", "<number>", ["create, generate: how closely Kling follows the prompt, over 0 up to 1", "(Kling's default 0.5; metadata.cfg_scale)"]),
  camera: valueFlag("camera", "<move>", [
    "create, generate: a camera move (metadata.camera_control): <axis>=<n>, one",
    `axis of ${KLING_CAMERA_AXES.join(", ")}, n from -10 to 10`,
    `(e.g. --camera zoom=5), or a preset: ${CAMERA_PRESETS.slice(0, 2).join(", ")},`,
    `${CAMERA_PRESETS.slice(2).join(", ")}`,
  ]),
  metadata: valueFlag("metadata", "<json>", [
    "create, generate: more of Kling's controls, a JSON object merged into the",
    `request's metadata (e.g. '{"external_task_id": "shot-1"}'); a key also`,
    "given by its own flag (--cfg-scale and cfg_scale, ...) is refused",
  ]),
} as const satisfies Record<string, Flag>;

/** An image the command line names: a URL to pass on, or a file to open. */
export type ImageSource = { url: string } | { file: string };

/** A create request as the command line gave it; its images not opened yet. */
export interface CreateSpec {
  route: RouteName;
  /** The request's fields (model, prompt, duration, mode, metadata, ...), without the image and the end frame. */
  fields: Record<string, unknown>;
  /** --image. */
  image: ImageSource | undefined;
  /** --image-tail: the end frame, for metadata.image_tail. */
  imageTail: ImageSource | undefined;
}

/** A string image the library takes as it is: an http(s) URL, or a `data:` URL it decodes and checks. */
export const IMAGE_URL = /^(https?:\/\/|data:)/i;

/** A whole number from `min` given as `flag`, or undefined when not given. */
function wholeNumber(line: CommandLine, flag: Flag, min: number, what: string): number | undefined {
  const value = line.string(flag);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag.name} must be ${what}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** A decimal number, as JSON or a shell user writes one (`0.5`, `.5`, `5e-1`). */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A number given as `flag` (any number: its range is the library's to check), or undefined when not given. */
function decimal(line: CommandLine, flag: Flag): number | undefined {
  const value = line.string(flag);
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value.trim())) throw new UsageError(`--${flag.name} must be a number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The --image or --image-tail source, or undefined when not given. */
function imageSource(line: CommandLine, flag: Flag): ImageSource | undefined {
  const value = line.string(flag);
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`--${flag.name} needs a file or an http(s) URL`);
  return IMAGE_URL.test(value) ? { url: value } : { file: value };
}

const CAMERA_SYNTAX =
  `--camera takes one axis of a simple move, <axis>=<n> (axes: ${KLING_CAMERA_AXES.join(", ")}), ` +
  `e.g. --camera zoom=5, or a preset move: ${CAMERA_PRESETS.join(", ")}`;

/**
 * `camera_control` from --camera: a bare word is the move's type (a preset); `<axis>=<n>[,...]`
 * (optionally after `simple:`) is a simple move. Only the syntax is checked here: the type, the
 * axes and their values are the library's to check (one non-zero axis, -10 to 10).
 */
export function parseCamera(value: string): Record<string, unknown> {
  const text = value.trim();
  if (/^[A-Za-z_]+$/.test(text)) {
    if (text === "simple") throw new UsageError(`--camera simple needs its axis: ${CAMERA_SYNTAX}`);
    return { type: text };
  }
  const config = new Map<string, number>();
  for (const pair of text.replace(/^simple:/, "").split(",")) {
    const match = /^\s*([A-Za-z_]+)\s*=\s*(\S+)\s*$/.exec(pair);
    if (match === null || !DECIMAL.test(match[2]!)) throw new UsageError(`${CAMERA_SYNTAX}; got ${JSON.stringify(value)}`);
    if (config.has(match[1]!)) throw new UsageError(`--camera names ${match[1]!} twice`);
    config.set(match[1]!, Number(match[2]));
  }
  // fromEntries makes own properties, so even an axis called __proto__ reaches the library's check.
  return { type: "simple", config: Object.fromEntries(config) };
}

/** --metadata's JSON object; anything else (not JSON, an array, a string, null) is a usage error. */
export function parseMetadataJson(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new UsageError(`--metadata must be a JSON object, e.g. '{"external_task_id": "shot-1"}' (${clean((error as Error).message)})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    const kind = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : `a ${typeof parsed}`;
    throw new UsageError(`--metadata must be a JSON object, e.g. '{"external_task_id": "shot-1"}', got ${kind}`);
  }
  return parsed as Record<string, unknown>;
}

/** The key of `metadata` that is `key` in some letter case (the gateway matches them so), if any. */
export function findKey(metadata: Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  return Object.keys(metadata ?? {}).find((k) => k.toLowerCase() === key.toLowerCase());
}

/**
 * `metadata` with the defined `controls` added. A control whose key `metadata` already has (in any
 * letter case) would be sent twice with one silently winning: refused, with `conflict`'s message.
 */
export function addControls(
  metadata: Readonly<Record<string, unknown>> | undefined,
  controls: Readonly<Record<string, unknown>>,
  conflict: (key: string, existing: string) => string,
): Record<string, unknown> | undefined {
  const keys = Object.keys(controls).filter((key) => controls[key] !== undefined);
  for (const key of keys) {
    const existing = findKey(metadata, key);
    if (existing !== undefined) throw new UsageError(conflict(key, existing));
  }
  if (keys.length === 0) return metadata === undefined ? undefined : { ...metadata };
  return { ...metadata, ...Object.fromEntries(keys.map((key) => [key, controls[key]])) };
}

/** Each control flag with the key of metadata it sets. */
const CONTROL_KEYS = [
  ["negative_prompt", CREATE_FLAGS.negativePrompt],
  ["cfg_scale", CREATE_FLAGS.cfgScale],
  ["aspect_ratio", CREATE_FLAGS.aspectRatio],
  ["camera_control", CREATE_FLAGS.camera],
  ["image_tail", CREATE_FLAGS.imageTail],
  ["mode", CREATE_FLAGS.mode],
] as const;

/** The message refusing a control given both as its flag and in --metadata. */
function conflict(key: string, existing: string): string {
  const flag = CONTROL_KEYS.find(([k]) => k === key)?.[1];
  return `--${flag?.name ?? key} and --metadata's "${existing}" set the same control: give it once`;
}

/** The request's `metadata` from --metadata and the control flags; a control given both ways is refused. */
function readMetadata(line: CommandLine): Record<string, unknown> | undefined {
  const json = line.string(CREATE_FLAGS.metadata);
  const given = json === undefined ? undefined : parseMetadataJson(json);
  // --mode (sent at the top level) and --image-tail (added once its file is open) are not added
  // below, but they clash with metadata's key all the same: the gateway reads metadata's first.
  for (const [key, flag] of [["mode", CREATE_FLAGS.mode], ["image_tail", CREATE_FLAGS.imageTail]] as const) {
    const existing = line.given(flag) ? findKey(given, key) : undefined;
    if (existing !== undefined) throw new UsageError(conflict(key, existing));
  }
  const camera = line.string(CREATE_FLAGS.camera);
  const controls = {
    negative_prompt: line.string(CREATE_FLAGS.negativePrompt),
    cfg_scale: decimal(line, CREATE_FLAGS.cfgScale),
    aspect_ratio: line.string(CREATE_FLAGS.aspectRatio),
    camera_control: camera === undefined ? undefined : parseCamera(camera),
  };
  return addControls(given, controls, conflict);
}

/** Reads and checks the request flags of `create` or `generate` (no operands; --prompt required). */
export function readCreateSpec(line: CommandLine): CreateSpec {
  if (line.operands.length > 0) {
    throw new UsageError(`${line.command} takes no task id (got ${JSON.stringify(line.operands[0])}): it creates the task`);
  }
  const prompt = line.string(CREATE_FLAGS.prompt);
  if (prompt === undefined || prompt.trim() === "") {
    throw new UsageError(`${line.command} needs --prompt <text> (the relay asks for a prompt even with an image)`);
  }
  const model = line.string(CREATE_FLAGS.model) ?? DEFAULT_MODEL;
  if (model.trim() === "") throw new UsageError("--model needs a model id");
  const mode = line.string(CREATE_FLAGS.mode);
  if (mode !== undefined && mode.trim() === "") throw new UsageError("--mode needs a value");
  const duration = wholeNumber(line, CREATE_FLAGS.duration, 0, "a whole number of seconds");
  const width = wholeNumber(line, CREATE_FLAGS.width, 1, "a whole number of pixels");
  const height = wholeNumber(line, CREATE_FLAGS.height, 1, "a whole number of pixels");
  const metadata = readMetadata(line);
  const fields: Record<string, unknown> = {
    model,
    prompt,
    ...(duration !== undefined && { duration }),
    ...(mode !== undefined && { mode }),
    ...(width !== undefined && { width }),
    ...(height !== undefined && { height }),
    ...(metadata !== undefined && { metadata }),
  };
  const image = imageSource(line, CREATE_FLAGS.image);
  const imageTail = imageSource(line, CREATE_FLAGS.imageTail);
  return { route: routeOfCreate(image !== undefined).name as RouteName, fields, image, imageTail };
}

/** An image the command line names, as the request takes it: a URL as it is, a file opened and checked now. */
async function openImage(source: ImageSource, flag: Flag): Promise<string | Uint8Array | Blob> {
  if ("url" in source) return source.url;
  try {
    return await openImageFile(source.file);
  } catch (error) {
    throw error instanceof InvalidArgumentError ? new InvalidArgumentError(flag.name.replace("-", "_"), `--${flag.name}: ${error.message}`) : error;
  }
}

/**
 * The request to send: a file given as --image or --image-tail is opened and checked against the
 * image rules now, before any request (a text file renamed .png is refused here, naming the rule:
 * exit 2). The other checks of the request are the library's, when it is sent.
 */
export async function loadCreateRequest(spec: CreateSpec): Promise<CreateImage2VideoRequest | CreateText2VideoRequest> {
  const image = spec.image === undefined ? undefined : await openImage(spec.image, CREATE_FLAGS.image);
  const imageTail = spec.imageTail === undefined ? undefined : await openImage(spec.imageTail, CREATE_FLAGS.imageTail);
  const metadata = spec.fields.metadata as Record<string, unknown> | undefined;
  return {
    ...spec.fields,
    ...(imageTail !== undefined && { metadata: { ...metadata, image_tail: imageTail } }),
    ...(image !== undefined && { image }),
  } as CreateImage2VideoRequest | CreateText2VideoRequest;
}

/**
 * Sends the create. Interrupted while it is on its way, the run says a task may have been created
 * (the request may have reached the relay; its answer never came back) and exits with the signal's code.
 */
export async function sendCreate(
  calls: TaskCalls,
  request: CreateImage2VideoRequest | CreateText2VideoRequest,
  session: Session,
): Promise<CreatedTask> {
  const note =
    "the create request was on its way and no answer came back: a task MAY have been created (and paid for). " +
    "Check the relay's tasks before creating it again.";
  return Interrupted.during(session.signal, { note, mayHaveCreatedTask: true }, () => calls.create(request, { signal: session.signal }));
}

/** `arg` as one shell word: as it is when plainly safe, else in single quotes. */
export function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that waits for (and with `output`, downloads) a created task: what an interrupted run is resumed with. */
export function resumeCommand(line: CommandLine, taskId: string, route: RouteName, output?: string, force = false): string {
  const words = ["xiexus-kling", "wait", taskId, ...routeArgs(route)];
  if (output !== undefined) words.push("--output", output);
  if (force) words.push("--force");
  // The same relay: a base URL given as a flag is not in the environment of the next run.
  const baseUrl = line.string(FLAGS.baseUrl);
  if (baseUrl !== undefined) words.push("--base-url", baseUrl);
  return words.map(shellWord).join(" ");
}
