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
import { invalid, show } from "./_messages.js";
import { nonEmpty } from "./_compat.js";
import { base64FromBlob, prepareImage, startSending, type ImageInfo, type ImageInput } from "./image.js";
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

/** Fails naming `request.<field>` as the argument and, after it, `rest`. */
function fail(field: string, rest: string): never {
  return invalid(`request.${field}`, rest);
}

/** Fails naming `request.<field>`, what it must be (`words`) and the value, unless `test` passes the value (returns a truthy value). */
function check(field: string, test: (value: unknown) => unknown, value: unknown, words: string): void {
  if (!test(value)) fail(field, `${words} (got ${show(value)})`);
}

/** Fails naming `request.<field>`, the rule and the value when `value` breaks `rule`. */
function checkRule(field: string, rule: Pick<ControlRule, "rule" | "test">, value: unknown): void {
  check(field, rule.test, value, `must be ${rule.rule}`);
}

/** Whether a value survives JSON as it is: no bytes, Blob, Date, function, NaN or class instance hiding in it. */
function isJson(value: unknown, depth = 0): boolean {
  return (
    value === null || typeof value == "string" || typeof value == "boolean" || Number.isFinite(value) ||
    (depth <= 64 && (Array.isArray(value) || isPlainObject(value)) && Object.values(value).every((v) => isJson(v, depth + 1)))
  );
}

/** Why width/height or aspect_ratio is refused on image2video. */
const FOLLOWS_IMAGE = "is for text2video: image2video follows its image";

/** Own keys whose value is not undefined (JSON leaves those out). */
const present = (o: Record<string, unknown>): string[] => Object.keys(o).filter((k) => o[k] !== undefined);


/** The fields every create checks first: each with what it must be, in words (MAX_PROMPT_LENGTH and MAX_DURATION_S written out), and its test. */
const REQUIRED: [string, string, (v: unknown) => unknown][] = [
  // (nonEmpty: a string that is not blank)
  ["model", "is required", nonEmpty],
  ["prompt", "is required: not blank, at most 2,500 characters", (v) => nonEmpty(v) && [...(v as string)].length <= MAX_PROMPT_LENGTH],
  ["duration", "must be whole seconds from 0 to 3600", (v) => v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_DURATION_S)],
];

/**
 * The cross-field rules: one group of three, image2video-only controls, one mode, the aspect ratio.
 * Then `width`/`height`, which the gateway drops: on text2video they become the aspect ratio they
 * state (16:9, 9:16 or 1:1), written in `meta`; anything else is refused.
 */
function checkCombinations(i2v: boolean, top: Record<string, unknown>, meta: Record<string, unknown>): void {
  const has = (key: string): boolean => meta[key] !== undefined;
  if (KLING_EXCLUSIVE_GROUPS.filter((group) => group.some(has)).length > 1) {
    fail("metadata", `has ${KLING_EXCLUSIVE_GROUPS.flat().filter(has).join(", ")}: Kling takes one of the end frame (image_tail), the masks and camera_control`);
  }
  const only = !i2v && KLING_IMAGE2VIDEO_ONLY.find(has);
  if (only) fail(`metadata.${only}`, "needs a top-level image: use createImage2VideoTask");
  if (top.mode !== undefined && has("mode") && top.mode !== meta.mode) {
    fail("mode", "must match metadata's mode");
  }
  if (i2v && has("aspect_ratio")) fail("metadata.aspect_ratio", FOLLOWS_IMAGE);
  const { width, height } = top;
  if (width === undefined && height === undefined) return;
  const field = width === undefined ? "height" : "width";
  if (i2v) fail(field, FOLLOWS_IMAGE);
  const ratio = KLING_ASPECT_RATIOS.find((r) => {
    const [a, b] = r.split(":");
    return (width as number) > 0 && (height as number) > 0 && (width as number) * +b! == (height as number) * +a!;
  });
  if (!ratio) {
    fail(field, `(${show(width)} x ${show(height)}) must state one of ${KLING_ASPECT_RATIOS.join(", ")}`);
  }
  if (has("aspect_ratio") && meta.aspect_ratio != ratio) {
    fail(field, `and height state ${ratio} but metadata.aspect_ratio is ${show(meta.aspect_ratio)}`);
  }
  meta.aspect_ratio = ratio;
  delete top.width;
  delete top.height;
}

/** Checks a create request for `route` and prepares its images; throws InvalidArgumentError naming the field, the rule and the value. */
export async function checkCreateRequest(route: RouteDescription, request: CreateVideoRequest): Promise<CheckedCreate> {
  const i2v = route.image == "required";
  if (!isPlainObject(request)) invalid("request", "must be an object");
  const { image, metadata, ...top } = request as CreateVideoRequest & Record<string, unknown>;
  // The top-level fields: the ones every create needs, the spec's own plus `mode`, the dropped ones by their rule.
  for (const [field, words, test] of REQUIRED) check(field, test, top[field], words);
  // (route.image is "required" only on image2video)
  if (i2v == (image === undefined)) {
    fail("image", i2v ? "is required for image2video" : "is for image2video: use createImage2VideoTask");
  }
  check("metadata", (v) => v === undefined || isPlainObject(v), metadata, "must be an object");
  const known = requestProperties(route.create, "post");
  for (const key of present(top)) {
    if (key != "mode" && known && !known.includes(key)) {
      fail(key, `is not a field of a create${key in KLING_CONTROL_RULES ? `: it goes in request.metadata.${key}` : ""}`);
    }
    const dropped = GATEWAY_DROPPED_FIELDS[key];
    if (dropped) checkRule(key, dropped, top[key]);
  }
  if (top.mode !== undefined) checkRule("mode", KLING_CONTROL_RULES.mode!, top.mode);
  // The spec's own schema, with the images as the strings they will be sent as. Its first issues
  // read as a ResponseValidationError's do: a JSON pointer into the request, then what is wrong.
  const issues = requestIssues(route.create, "post", image === undefined ? top : { ...top, image: "" });
  if (issues?.length) {
    invalid("request", `does not match the spec: ${issues.slice(0, 3).map((i) => `${i.instancePath || "(root)"} ${i.message ?? i.keyword}`).join("; ")}`);
  }
  const meta: Record<string, unknown> = { ...metadata };
  // metadata's keys: refused ones, the rules of known ones, JSON for the others.
  for (const key of present(meta)) {
    const field = `metadata.${key}`;
    // The gateway matches keys as Go does, without regard to case (and the long s as s): `CFG_Scale` is its cfg_scale, unchecked.
    const folded = key.toLowerCase().replace(/\u017f/g, "s");
    const refused = KLING_REFUSED_METADATA[folded];
    if (refused) fail(field, `is refused: ${refused}`);
    // A refused key, or a name of Object.prototype's that is all lower case, was refused just above.
    if (folded != key && folded in KLING_CONTROL_RULES) fail(field, `is read by the relay as ${folded}: write it as ${folded}`);
    // A key that is not one of Kling's controls is sent untouched, so it must be JSON.
    checkRule(field, KLING_CONTROL_RULES[key] ?? { rule: "plain JSON", test: isJson }, meta[key]);
  }
  checkCombinations(i2v, top, meta);
  if (!i2v) meta.aspect_ratio ??= DEFAULT_TEXT2VIDEO_ASPECT_RATIO;
  return prepareImages(top, image, meta);
}

/**
 * Prepares every image of a create; those sent from bytes become markers in the fields, each a
 * random nonce per create that no caller's text can hold, in `fields` (checkCreateRequest's own copy of the
 * top-level fields) and `meta`. Masks must have the image's aspect ratio.
 */
async function prepareImages(fields: Record<string, unknown>, image: ImageInput | undefined, meta: Record<string, unknown>): Promise<CheckedCreate> {
  const images = new Map<string, ImageSource>();
  const prefix = `xk-image-${crypto.getRandomValues(new Uint32Array(2)).join("-")}-`;
  let main: ImageInfo | undefined;
  const prepare = async (input: unknown, argument: string): Promise<string> => {
    const prepared = await prepareImage(input as ImageInput, argument);
    if (prepared.kind != "bytes") return prepared.value;
    const { info } = prepared;
    if (argument == "request.image") main = info;
    else if (argument.endsWith("mask") && main && info.width * main.height != main.width * info.height) {
      invalid(argument, `is ${info.width}x${info.height}, not the aspect ratio of request.image (${main.width}x${main.height})`);
    }
    const marker = prefix + images.size;
    images.set(marker, prepared.bytes);
    return marker;
  };
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

/** The body of a checked create: `make` builds it afresh for each attempt (a stream, or the text where bodies cannot stream). */
export interface CreateBody {
  make(): string | ReadableStream<Uint8Array> | Promise<string>;
}

/**
 * The JSON body of a create. Its images go out as base64 in pieces, read from their bytes or their
 * Blob (a file on Node) as the body is sent, so a 10 MB image is never held as base64, a JSON
 * string and its encoding at once; a file-backed Blob is not held at all, and is read again if
 * the create is resent. Where bodies cannot stream (browsers), that same stream is read whole into
 * the body's text.
 */
export function buildCreateBody({ fields, images }: CheckedCreate): CreateBody {
  const json = JSON.stringify(fields);
  if (!images.size) return { make: () => json };
  // Literal JSON and image markers alternate: [json, marker, json, marker, ..., json], the quotes
  // around each marker left in the JSON beside it. Split at this create's own markers only (letters,
  // digits and dashes: safe in a pattern), each a whole JSON string (between quotes), so a caller's
  // string that merely looks like one stays text, and marker 1 is not the start of marker 10.
  const parts = json.split(new RegExp(`(?<=")(${[...images.keys()].join("|")})(?=")`));
  async function* pieces(): AsyncGenerator<string> {
    // Counted among the creates sending an image from the first piece asked for until the last is
    // given, the body fails, or the stream is cancelled (return() runs the finally).
    const end = startSending();
    try {
      for (const part of parts) {
        // The JSON between two markers is never one: it holds a comma or a colon, the first part a brace.
        const source = images.get(part);
        // Pieces of the size the creates in flight share now (pieceBytes), so the whole string never exists at once.
        if (source) yield* base64FromBlob(source);
        else yield part;
      }
    } finally {
      end();
    }
  }
  return {
    make: () => {
      const source = pieces();
      const encoder = new TextEncoder();
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await source.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        },
        async cancel() {
          await source.return(undefined);
        },
      });
      // Where bodies cannot stream, the same pieces read whole into the body's text.
      return canStreamBodies ? stream : new Response(stream).text();
    },
  };
}
