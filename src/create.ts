// A create request, checked before a byte is sent, and its body. The spec's `VideoRequest` is the
// gateway's generic document; the gateway reads it with rules of its own (relay-create.md,
// kling-controls.md), checked here so that a create is either refused before any request or makes
// the video that was asked for:
// - `model` is required; `prompt` is required and not blank, even for image2video, at most 2,500 characters;
// - `duration` is a whole number of seconds, 0-3600 (the gateway makes a fractional one 5);
// - image2video needs `image`; text2video must not have one (the gateway would switch to image2video);
// - Kling's controls live in `metadata`, checked by the rules of src/kling-controls.ts;
// - a field the gateway drops is refused, unless harmless; `width`/`height` on text2video become
//   the aspect ratio they state, and a text2video create without one gets Kling's default, 16:9.
// Images (`image`, and `image_tail`, `static_mask`, each dynamic `mask` in metadata) given as bytes,
// a Blob or a `data:` URL are checked against Kling's rules and sent as bare base64, streamed.
import { requestIssues, requestProperties } from "./_spec.js";
import { InvalidArgumentError, show } from "./errors.js";
import { base64FromBlob, base64Piece, pieceBytes, prepareImage, startSending, type ImageInfo, type ImageInput } from "./image.js";
import {
  DEFAULT_TEXT2VIDEO_ASPECT_RATIO,
  GATEWAY_DROPPED_FIELDS,
  isPlainObject,
  KLING_ASPECT_RATIOS,
  KLING_CONTROL_RULES,
  KLING_EXCLUSIVE_GROUPS,
  KLING_IMAGE2VIDEO_ONLY,
  KLING_REFUSED_METADATA,
  type ControlRule,
} from "./kling-controls.js";
import type { RouteDescription } from "./routes.js";
import type { CreateVideoRequest } from "./types.js";

/** Kling's longest prompt, in characters. */
export const MAX_PROMPT_LENGTH = 2_500;

/** The longest duration the gateway accepts, in seconds. */
const MAX_DURATION_S = 3_600;

/** Image bytes to write as base64 where their marker stands in the JSON. */
type ImageSource = Uint8Array | Blob;

/** A checked create: the JSON fields to send (an image sent from bytes stands as a marker string), and those images by marker. */
export interface CheckedCreate {
  fields: Record<string, unknown>;
  images: Map<string, ImageSource>;
}

function fail(argument: string, message: string): never {
  throw new InvalidArgumentError(argument, message);
}

/** Fails naming the field, the rule and the value when `value` breaks `rule`. */
function checkRule(argument: string, rule: ControlRule, value: unknown): void {
  if (!rule.test(value)) fail(argument, `${argument} must be ${rule.rule} (got ${show(value)})`);
}

/** Whether a value survives JSON as it is: no bytes, Blob, Date, function, NaN or class instance hiding in it. */
function isJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value == "string" || typeof value == "boolean") return true;
  if (typeof value == "number") return Number.isFinite(value);
  if (depth > 64 || typeof value != "object") return false;
  return (Array.isArray(value) || isPlainObject(value)) && Object.values(value).every((v) => isJson(v, depth + 1));
}

/** Own keys whose value is not undefined (JSON leaves those out). */
const present = (o: Record<string, unknown>): string[] => Object.keys(o).filter((k) => o[k] !== undefined);

/** Checks the top-level fields: the spec's own, plus `mode`; the dropped ones by their rule. */
function checkTopLevel(route: RouteDescription, top: Record<string, unknown>): void {
  const known = requestProperties(route.create, "post");
  for (const key of present(top)) {
    const argument = `request.${key}`;
    if (key != "mode" && known && !known.includes(key)) {
      const hint = key in KLING_CONTROL_RULES ? `: Kling's ${key} goes in request.metadata.${key}` : " (the relay would drop it)";
      fail(argument, `${argument} is not a field of the relay's create request${hint}`);
    }
    const dropped = GATEWAY_DROPPED_FIELDS[key];
    if (dropped) checkRule(argument, dropped, top[key]);
  }
  if (top.mode !== undefined) checkRule("request.mode", KLING_CONTROL_RULES.mode!, top.mode);
}

/** Checks `metadata`'s keys: refused ones, the rules of known ones, JSON for the others. */
function checkMetadataKeys(meta: Record<string, unknown>): void {
  const known = [...Object.keys(KLING_CONTROL_RULES), ...Object.keys(KLING_REFUSED_METADATA)];
  for (const key of present(meta)) {
    const argument = `request.metadata.${key}`;
    // The gateway matches keys as Go does, without regard to case (and the long s as s): `CFG_Scale` is its cfg_scale, unchecked.
    const folded = key.toLowerCase().replace(/\u017f/g, "s");
    const refused = KLING_REFUSED_METADATA[folded];
    if (refused) fail(argument, `${argument} is refused: ${refused}`);
    const spelled = known.find((k) => k == folded);
    if (spelled && spelled != key) fail(argument, `${argument} is read by the relay as ${spelled} (keys match without regard to case): write it as ${spelled}`);
    const rule = KLING_CONTROL_RULES[key];
    if (rule) checkRule(argument, rule, meta[key]);
    else if (!isJson(meta[key])) {
      fail(argument, `${argument} must be plain JSON (got ${show(meta[key])}); image bytes go in image_tail, static_mask or dynamic_masks[].mask only`);
    }
  }
}

/** The cross-field rules: one group of three, image2video-only controls, one mode, the aspect ratio. */
function checkCombinations(route: RouteDescription, top: Record<string, unknown>, meta: Record<string, unknown>): void {
  const used = KLING_EXCLUSIVE_GROUPS.filter((group) => group.some((k) => meta[k] !== undefined));
  if (used.length > 1) {
    fail("request.metadata", `request.metadata has ${used.map((g) => g.filter((k) => meta[k] !== undefined).join(" and ")).join(", ")}: Kling takes one of the end frame (image_tail), the motion brush (static_mask, dynamic_masks) and camera_control`);
  }
  const imageless = route.image != "required";
  for (const key of KLING_IMAGE2VIDEO_ONLY) {
    if (imageless && meta[key] !== undefined) {
      fail(`request.metadata.${key}`, `request.metadata.${key} needs a top-level image: without one the relay makes a text2video task and drops it (use createImage2VideoTask)`);
    }
  }
  if (top.mode !== undefined && meta.mode !== undefined && top.mode !== meta.mode) {
    fail("request.mode", `request.mode is ${show(top.mode)} but request.metadata.mode is ${show(meta.mode)}: the relay would use metadata's; give one`);
  }
  if (!imageless && meta.aspect_ratio !== undefined) {
    fail("request.metadata.aspect_ratio", "request.metadata.aspect_ratio is for text2video: an image2video video follows its image's aspect ratio, and Kling ignores it");
  }
}

/**
 * `width`/`height`, which the gateway drops: on text2video they become the aspect ratio they state
 * (16:9, 9:16 or 1:1), written in `meta`; anything else is refused.
 */
function translateSize(route: RouteDescription, top: Record<string, unknown>, meta: Record<string, unknown>): void {
  const { width, height } = top;
  if (width === undefined && height === undefined) return;
  const argument = width === undefined ? "request.height" : "request.width";
  if (route.image == "required") fail(argument, `${argument} is dropped by the relay: an image2video video follows its image's aspect ratio`);
  const w = width as number;
  const h = height as number;
  const ratio = KLING_ASPECT_RATIOS.find((r) => {
    const [a, b] = r.split(":").map(Number) as [number, number];
    return w > 0 && h > 0 && w * b == h * a;
  });
  if (!ratio) {
    fail(argument, `request.width and request.height (${show(width)} x ${show(height)}) must state one of ${KLING_ASPECT_RATIOS.join(", ")}: the relay drops them and Kling takes only these aspect ratios (or set request.metadata.aspect_ratio)`);
  }
  if (meta.aspect_ratio !== undefined && meta.aspect_ratio != ratio) {
    fail(argument, `request.width and request.height state ${ratio} but request.metadata.aspect_ratio is ${show(meta.aspect_ratio)}`);
  }
  meta.aspect_ratio = ratio;
  delete top.width;
  delete top.height;
}

/** Checks a create request for `route` and prepares its images; throws InvalidArgumentError naming the field, the rule and the value. */
export async function checkCreateRequest(route: RouteDescription, request: CreateVideoRequest): Promise<CheckedCreate> {
  if (!isPlainObject(request)) {
    fail("request", `request must be an object such as { model, prompt${route.image === "required" ? ", image" : ""} }`);
  }
  const { image, metadata, ...top } = request as CreateVideoRequest & Record<string, unknown>;
  if (typeof top.model !== "string" || top.model.trim() === "") {
    fail("request.model", 'request.model is required (e.g. "kling-v1"): the relay refuses a create without it');
  }
  if (typeof top.prompt !== "string" || top.prompt.trim() === "") {
    fail("request.prompt", "request.prompt is required and must not be blank (the relay asks for one even for image2video)");
  }
  const promptLength = [...top.prompt].length;
  if (promptLength > MAX_PROMPT_LENGTH) {
    fail("request.prompt", `request.prompt is ${promptLength} characters; Kling takes at most ${MAX_PROMPT_LENGTH}`);
  }
  const duration = top.duration;
  if (duration !== undefined && (typeof duration !== "number" || !Number.isInteger(duration) || duration < 0 || duration > MAX_DURATION_S)) {
    fail("request.duration", `request.duration must be a whole number of seconds from 0 to ${MAX_DURATION_S} (got ${String(duration)})`);
  }
  if (route.image === "required" && image === undefined) {
    fail("request.image", `request.image is required for ${route.name}: a URL, base64, bytes or a Blob (on Node: openImageFile)`);
  }
  if (route.image === "refused" && image !== undefined) {
    fail("request.image", `request.image is not taken by ${route.name}: the relay would make an image2video task; use createImage2VideoTask`);
  }
  if (metadata !== undefined && !isPlainObject(metadata)) {
    fail("request.metadata", `request.metadata must be an object of Kling's controls (got ${show(metadata)})`);
  }
  checkTopLevel(route, top);
  // The spec's own schema, with the images as the strings they will be sent as.
  const issues = requestIssues(route.create, "post", { ...top, ...(image === undefined ? {} : { image: "" }) });
  if (issues && issues.length) {
    const where = issues.slice(0, 3).map((i) => `request${i.instancePath.replace(/\//g, ".")} ${i.message ?? i.keyword}`);
    fail("request", `the request does not match the spec: ${where.join("; ")}`);
  }
  const meta: Record<string, unknown> = { ...metadata };
  checkMetadataKeys(meta);
  checkCombinations(route, top, meta);
  translateSize(route, top, meta);
  if (route.image === "refused") meta.aspect_ratio ??= DEFAULT_TEXT2VIDEO_ASPECT_RATIO;
  return prepareImages(top, image, meta);
}

/** A marker no caller's text can hold: a random nonce per create. */
function markerPrefix(): string {
  const nonce = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `xk-image-${nonce}-`;
}

/** Prepares every image of a create; those sent from bytes become markers in the fields. Masks must have the image's aspect ratio. */
async function prepareImages(top: Record<string, unknown>, image: ImageInput | undefined, meta: Record<string, unknown>): Promise<CheckedCreate> {
  const images = new Map<string, ImageSource>();
  const prefix = markerPrefix();
  let main: ImageInfo | undefined;
  const prepare = async (input: ImageInput, argument: string, mask: boolean): Promise<string> => {
    const prepared = await prepareImage(input, argument);
    if (prepared.kind !== "bytes") return prepared.value;
    const { width, height } = prepared.info;
    if (mask && main && width * main.height != main.width * height) {
      fail(argument, `${argument} is ${width}x${height} px, not the aspect ratio of request.image (${main.width}x${main.height} px): a mask must match its image`);
    }
    if (!mask && argument == "request.image") main = prepared.info;
    const marker = prefix + images.size;
    images.set(marker, prepared.bytes);
    return marker;
  };
  const fields: Record<string, unknown> = { ...top };
  if (image !== undefined) fields.image = await prepare(image, "request.image", false);
  if (meta.image_tail !== undefined) meta.image_tail = await prepare(meta.image_tail as ImageInput, "request.metadata.image_tail", false);
  if (meta.static_mask !== undefined) meta.static_mask = await prepare(meta.static_mask as ImageInput, "request.metadata.static_mask", true);
  if (meta.dynamic_masks !== undefined) {
    const masks: unknown[] = [];
    for (const [i, m] of (meta.dynamic_masks as { mask: ImageInput; trajectories: unknown }[]).entries()) {
      masks.push({ mask: await prepare(m.mask, `request.metadata.dynamic_masks[${i}].mask`, true), trajectories: m.trajectories });
    }
    meta.dynamic_masks = masks;
  }
  if (present(meta).length) fields.metadata = meta;
  return { fields, images };
}


/** Whether request bodies can be streams here: Node, Bun and Deno send them over HTTP/1.1; browsers need HTTP/2. */
const canStreamBodies = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

/** The body of a checked create: `make` builds it afresh for each attempt (a stream, or the text where bodies cannot stream), `text` as one JSON string. */
export interface CreateBody {
  make(): string | ReadableStream<Uint8Array> | Promise<string>;
  text(): Promise<string>;
}

/**
 * The JSON body of a create. Its images go out as base64 in pieces, read from their bytes or their
 * Blob (a file on Node) as the body is sent, so a 10 MB image is never held as base64, a JSON
 * string and its encoding at once; a file-backed Blob is not held at all, and is read again if
 * the create is resent.
 */
export function buildCreateBody({ fields, images }: CheckedCreate): CreateBody {
  const json = JSON.stringify(fields);
  if (images.size === 0) return { make: () => json, text: async () => json };
  // Literal JSON and image markers alternate: [json, marker, json, marker, ..., json].
  // Split at this create's own markers only (letters, digits and dashes: safe in a pattern), so a
  // caller's string that merely looks like one stays text.
  const parts = json.split(new RegExp(`"(${[...images.keys()].join("|")})"`));
  async function* pieces(): AsyncGenerator<string> {
    for (const [i, part] of parts.entries()) {
      if (i % 2 === 0) {
        yield part;
        continue;
      }
      const source = images.get(part)!;
      yield '"';
      if (source instanceof Uint8Array) {
        // Pieces of the size the creates in flight share now (pieceBytes), so the whole string never exists at once.
        for (let at = 0, n = 0; at < source.length; at += n) yield base64Piece(source.subarray(at, at + (n = pieceBytes())));
      } else yield* base64FromBlob(source);
      yield '"';
    }
  }
  const text = async (): Promise<string> => {
    let all = "";
    for await (const piece of pieces()) all += piece;
    return all;
  };
  return {
    text,
    make: () => {
      if (!canStreamBodies) return text();
      const encoder = new TextEncoder();
      const source = pieces();
      let end: (() => void) | undefined;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          end ??= startSending();
          try {
            const next = await source.next();
            if (next.done) {
              end();
              controller.close();
            } else controller.enqueue(encoder.encode(next.value));
          } catch (error) {
            end();
            throw error;
          }
        },
        async cancel() {
          end?.();
          await source.return(undefined);
        },
      });
    },
  };
}

