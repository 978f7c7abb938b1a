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
import { invalid, show } from "./errors.js";
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
  type KlingDynamicMask,
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

/** Fails naming the field, what it must be (`words`) and the value, unless `ok`. */
function check(argument: string, ok: boolean, words: string, value: unknown): void {
  if (!ok) invalid(argument, `${words} (got ${show(value)})`);
}

/** Fails naming the field, the rule and the value when `value` breaks `rule`. */
function checkRule(argument: string, rule: Pick<ControlRule, "rule" | "test">, value: unknown): void {
  check(argument, rule.test(value), `must be ${rule.rule}`, value);
}

/** Whether a value survives JSON as it is: no bytes, Blob, Date, function, NaN or class instance hiding in it. */
function isJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value == "string" || typeof value == "boolean") return true;
  if (typeof value == "number") return Number.isFinite(value);
  if (depth > 64 || typeof value != "object") return false;
  return (Array.isArray(value) || isPlainObject(value)) && Object.values(value).every((v) => isJson(v, depth + 1));
}

/** The rule of a metadata key that is not one of Kling's controls: sent untouched, so it must be JSON. */
const PLAIN_JSON = { rule: "plain JSON; image bytes go only in image_tail, static_mask or dynamic_masks[].mask", test: (v: unknown) => isJson(v) };

/** Why width/height or aspect_ratio is refused on image2video. */
const FOLLOWS_IMAGE = "is for text2video: an image2video video follows its image's aspect ratio";

/** Own keys whose value is not undefined (JSON leaves those out). */
const present = (o: Record<string, unknown>): string[] => Object.keys(o).filter((k) => o[k] !== undefined);

/** A non-blank string. */
const isText = (v: unknown): v is string => typeof v == "string" && v.trim() != "";

/** Checks the fields every create needs: model, prompt, duration, the image as the route takes it, metadata an object. */
function checkBasics(route: RouteDescription, top: Record<string, unknown>, image: unknown, metadata: unknown): void {
  const { model, prompt, duration } = top;
  check("request.model", isText(model), 'is required, e.g. "kling-v1"', model);
  check("request.prompt", isText(prompt) && [...prompt].length <= MAX_PROMPT_LENGTH, `is required even for image2video: not blank, at most ${MAX_PROMPT_LENGTH} characters`, prompt);
  check(
    "request.duration",
    duration === undefined || (Number.isInteger(duration) && (duration as number) >= 0 && (duration as number) <= MAX_DURATION_S),
    `must be a whole number of seconds from 0 to ${MAX_DURATION_S}`,
    duration,
  );
  const needed = route.image == "required";
  if (needed == (image === undefined)) {
    invalid("request.image", needed ? `is required for ${route.name}: a URL, base64, bytes or a Blob` : `is not taken by ${route.name}: use createImage2VideoTask`);
  }
  check("request.metadata", metadata === undefined || isPlainObject(metadata), "must be an object of Kling's controls", metadata);
}

/** Checks the top-level fields: the spec's own, plus `mode`; the dropped ones by their rule. */
function checkTopLevel(route: RouteDescription, top: Record<string, unknown>): void {
  const known = requestProperties(route.create, "post");
  for (const key of present(top)) {
    const argument = `request.${key}`;
    if (key != "mode" && known && !known.includes(key)) {
      invalid(argument, `is not a field the relay reads${key in KLING_CONTROL_RULES ? `: it goes in request.metadata.${key}` : ""}`);
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
    if (refused) invalid(argument, `is refused: ${refused}`);
    if (folded != key && known.includes(folded)) invalid(argument, `is the relay's ${folded} (keys match in any case): write it as ${folded}`);
    checkRule(argument, KLING_CONTROL_RULES[key] ?? PLAIN_JSON, meta[key]);
  }
}

/**
 * The cross-field rules: one group of three, image2video-only controls, one mode, the aspect ratio.
 * Then `width`/`height`, which the gateway drops: on text2video they become the aspect ratio they
 * state (16:9, 9:16 or 1:1), written in `meta`; anything else is refused.
 */
function checkCombinations(route: RouteDescription, top: Record<string, unknown>, meta: Record<string, unknown>): void {
  const has = (key: string): boolean => meta[key] !== undefined;
  if (KLING_EXCLUSIVE_GROUPS.filter((group) => group.some(has)).length > 1) {
    invalid("request.metadata", `has ${KLING_EXCLUSIVE_GROUPS.flat().filter(has).join(", ")}: Kling takes one of the end frame, the motion brush and camera_control`);
  }
  const i2v = route.image == "required";
  for (const key of KLING_IMAGE2VIDEO_ONLY) {
    if (!i2v && has(key)) invalid(`request.metadata.${key}`, "needs a top-level image, else the relay drops it: use createImage2VideoTask");
  }
  if (top.mode !== undefined && has("mode") && top.mode !== meta.mode) {
    invalid("request.mode", `is ${show(top.mode)} but request.metadata.mode is ${show(meta.mode)}: give one (the relay takes metadata's)`);
  }
  if (i2v && has("aspect_ratio")) invalid("request.metadata.aspect_ratio", FOLLOWS_IMAGE);
  const { width, height } = top;
  if (width === undefined && height === undefined) return;
  const argument = `request.${width === undefined ? "height" : "width"}`;
  if (i2v) invalid(argument, FOLLOWS_IMAGE);
  const w = width as number;
  const h = height as number;
  const ratio = KLING_ASPECT_RATIOS.find((r) => {
    const [a, b] = r.split(":").map(Number) as [number, number];
    return w > 0 && h > 0 && w * b == h * a;
  });
  if (!ratio) {
    invalid(argument, `(width x height: ${show(width)} x ${show(height)}) must state one of ${KLING_ASPECT_RATIOS.join(", ")}, or use request.metadata.aspect_ratio`);
  }
  if (has("aspect_ratio") && meta.aspect_ratio != ratio) {
    invalid(argument, `and request.height state ${ratio} but request.metadata.aspect_ratio is ${show(meta.aspect_ratio)}`);
  }
  meta.aspect_ratio = ratio;
  delete top.width;
  delete top.height;
}

/** Checks a create request for `route` and prepares its images; throws InvalidArgumentError naming the field, the rule and the value. */
export async function checkCreateRequest(route: RouteDescription, request: CreateVideoRequest): Promise<CheckedCreate> {
  if (!isPlainObject(request)) invalid("request", `must be an object such as { model, prompt${route.image == "required" ? ", image" : ""} }`);
  const { image, metadata, ...top } = request as CreateVideoRequest & Record<string, unknown>;
  checkBasics(route, top, image, metadata);
  checkTopLevel(route, top);
  // The spec's own schema, with the images as the strings they will be sent as.
  const issues = requestIssues(route.create, "post", { ...top, ...(image === undefined ? {} : { image: "" }) });
  if (issues?.length) {
    invalid("request", `does not match the spec: ${issues.slice(0, 3).map((i) => `request${i.instancePath.replace(/\//g, ".")} ${i.message ?? i.keyword}`).join("; ")}`);
  }
  const meta: Record<string, unknown> = { ...metadata };
  checkMetadataKeys(meta);
  checkCombinations(route, top, meta);
  if (route.image == "refused") meta.aspect_ratio ??= DEFAULT_TEXT2VIDEO_ASPECT_RATIO;
  return prepareImages(top, image, meta);
}

/**
 * Prepares every image of a create; those sent from bytes become markers in the fields, each a
 * random nonce per create that no caller's text can hold. Masks must have the image's aspect ratio.
 */
async function prepareImages(top: Record<string, unknown>, image: ImageInput | undefined, meta: Record<string, unknown>): Promise<CheckedCreate> {
  const images = new Map<string, ImageSource>();
  const prefix = `xk-image-${crypto.getRandomValues(new Uint32Array(2)).join("-")}-`;
  let main: ImageInfo | undefined;
  const prepare = async (input: unknown, argument: string): Promise<string> => {
    const prepared = await prepareImage(input as ImageInput, argument);
    if (prepared.kind !== "bytes") return prepared.value;
    const { width, height } = prepared.info;
    if (argument == "request.image") main = prepared.info;
    else if (argument.endsWith("mask") && main && width * main.height != main.width * height) {
      invalid(argument, `is ${width}x${height} px, not the aspect ratio of request.image (${main.width}x${main.height} px)`);
    }
    const marker = prefix + images.size;
    images.set(marker, prepared.bytes);
    return marker;
  };
  const fields: Record<string, unknown> = { ...top };
  if (image !== undefined) fields.image = await prepare(image, "request.image");
  for (const key of ["image_tail", "static_mask"]) {
    if (meta[key] !== undefined) meta[key] = await prepare(meta[key], `request.metadata.${key}`);
  }
  const masks = meta.dynamic_masks as KlingDynamicMask[] | undefined;
  if (masks) {
    const sent: unknown[] = [];
    for (const [i, m] of masks.entries()) sent.push({ mask: await prepare(m.mask, `request.metadata.dynamic_masks[${i}].mask`), trajectories: m.trajectories });
    meta.dynamic_masks = sent;
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

