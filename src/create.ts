// A create request, checked before a byte is sent, and its body. The spec's `VideoRequest` is the
// gateway's generic document; the gateway reads it with rules of its own (relay-create.md), which
// are checked here too so a refused create never costs a round trip and an upload:
// - `model` is required (the gateway answers "Model name not specified" without it);
// - `prompt` is required and not blank, even for image2video, and Kling takes at most 2,500 characters;
// - `duration` is a whole number of seconds, 0-3600 (`invalid_seconds` otherwise);
// - image2video needs `image`; text2video must not have one (the gateway would switch to image2video).
// The image (bytes, Blob, a `data:` URL) is checked against Kling's rules and sent as bare base64;
// a URL or a string of base64 is sent untouched.
import { requestIssues } from "./_spec.js";
import { InvalidArgumentError } from "./errors.js";
import { base64Chunks, base64Length, prepareImage } from "./image.js";
import type { RouteDescription } from "./routes.js";
import type { CreateVideoRequest } from "./types.js";

/** Kling's longest prompt, in characters. */
export const MAX_PROMPT_LENGTH = 2_500;

/** The longest duration the gateway accepts, in seconds. */
const MAX_DURATION_S = 3_600;

/** A checked create: the fields to send as JSON, and the image as a string or as bytes to stream in base64. */
export interface CheckedCreate {
  fields: Record<string, unknown>;
  image: string | Uint8Array | undefined;
}

function fail(message: string, argument = "request"): never {
  throw new InvalidArgumentError(argument, message);
}

/** Checks a create request for `route` and prepares its image; throws InvalidArgumentError naming the rule. */
export async function checkCreateRequest(route: RouteDescription, request: CreateVideoRequest): Promise<CheckedCreate> {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    fail(`request must be an object such as { model, prompt${route.image === "required" ? ", image" : ""} }`);
  }
  const { image, ...fields } = request as CreateVideoRequest & Record<string, unknown>;
  if (typeof fields.model !== "string" || fields.model.trim() === "") {
    fail('request.model is required (e.g. "kling-v1"): the relay refuses a create without it', "request.model");
  }
  if (typeof fields.prompt !== "string" || fields.prompt.trim() === "") {
    fail("request.prompt is required and must not be blank (the relay asks for one even for image2video)", "request.prompt");
  }
  const promptLength = [...fields.prompt].length;
  if (promptLength > MAX_PROMPT_LENGTH) {
    fail(`request.prompt is ${promptLength} characters; Kling takes at most ${MAX_PROMPT_LENGTH}`, "request.prompt");
  }
  const duration = fields.duration;
  if (duration !== undefined && (typeof duration !== "number" || !Number.isInteger(duration) || duration < 0 || duration > MAX_DURATION_S)) {
    fail(`request.duration must be a whole number of seconds from 0 to ${MAX_DURATION_S} (got ${String(duration)})`, "request.duration");
  }
  if (route.image === "required" && image === undefined) {
    fail(`request.image is required for ${route.name}: a URL, base64, bytes or a Blob (on Node: readImageFile)`, "request.image");
  }
  if (route.image === "refused" && image !== undefined) {
    fail(`request.image is not taken by ${route.name}: the relay would make an image2video task; use createImage2VideoTask`, "request.image");
  }
  // The spec's own schema, with the image as the string it will be sent as.
  const issues = requestIssues(route.create, "post", image === undefined ? fields : { ...fields, image: "" });
  if (issues && issues.length) {
    const where = issues.slice(0, 3).map((i) => `request${i.instancePath.replace(/\//g, ".")} ${i.message ?? i.keyword}`);
    fail(`the request does not match the spec: ${where.join("; ")}`);
  }
  if (image === undefined) return { fields, image: undefined };
  const prepared = await prepareImage(image, "request.image");
  return { fields, image: prepared.kind === "bytes" ? prepared.bytes : prepared.value };
}

/** Base64 is streamed in pieces of this many source bytes (a multiple of 3), so the whole string never exists at once. */
const STREAM_CHUNK_BYTES = 3 * 64 * 1024;

/** Whether request bodies can be streams here: Node, Bun and Deno send them over HTTP/1.1; browsers need HTTP/2. */
const canStreamBodies = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

/** The body of a checked create: `make` builds it afresh for each attempt, `text` as one JSON string. */
export interface CreateBody {
  make(): string | ReadableStream<Uint8Array>;
  text(): string;
  /** Its length in bytes. */
  length: number;
}

/**
 * The JSON body of a create. With image bytes it is written as `{"image":"<base64>", ...fields}`:
 * the base64 goes out in pieces from the bytes, so a 10 MB image is held once, not as bytes,
 * base64, a JSON string and its encoding (four copies, ~50 MB).
 */
export function buildCreateBody({ fields, image }: CheckedCreate): CreateBody {
  if (!(image instanceof Uint8Array)) {
    const text = JSON.stringify(image === undefined ? fields : { image, ...fields });
    return { make: () => text, text: () => text, length: new TextEncoder().encode(text).byteLength };
  }
  const rest = JSON.stringify(fields);
  const head = '{"image":"';
  const tail = rest === "{}" ? '"}' : `",${rest.slice(1)}`;
  const encoder = new TextEncoder();
  const text = (): string => head + [...base64Chunks(image, STREAM_CHUNK_BYTES)].join("") + tail;
  return {
    length: head.length + base64Length(image.byteLength) + encoder.encode(tail).byteLength,
    text,
    make: () => {
      if (!canStreamBodies) return text();
      const pieces = base64Chunks(image, STREAM_CHUNK_BYTES);
      let started = false;
      let ended = false;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (!started) {
            started = true;
            controller.enqueue(encoder.encode(head));
            return;
          }
          const next = pieces.next();
          if (!next.done) {
            controller.enqueue(encoder.encode(next.value));
          } else if (!ended) {
            ended = true;
            controller.enqueue(encoder.encode(tail));
            controller.close();
          }
        },
      });
    },
  };
}
