// Image input for creates: what a caller may pass, the upstream's rules that can be read from the
// bytes (format by magic bytes, size, dimensions from the header), and standard base64 made in
// pieces so a 10 MB image can be streamed into a request body. Universal: no `node:` import, no
// Buffer (btoa/atob exist in Node, Bun, Deno, workerd and browsers); the file reader is in
// `xiexus-kling/node` (readImageFile).
import { InvalidArgumentError } from "./errors.js";

/** An image for a create: an http(s) URL, base64 (no `data:` prefix), a `data:image/...;base64,` URL, or its bytes. */
export type ImageInput = string | Uint8Array | ArrayBuffer | Blob;

/** Kling's image rules, as republished copies of its API reference state them (see README "Images"). */
export const IMAGE_RULES = {
  /** Accepted formats, judged by the bytes, not the name. */
  formats: ["png", "jpeg"],
  /** Largest file: Kling says "10MB"; read as 10 MiB (10485760 bytes). */
  maxBytes: 10 * 1024 * 1024,
  /** Smallest width, in px. */
  minWidth: 300,
  /** Smallest height, in px. */
  minHeight: 300,
  /** Smallest width/height (1:2.5). */
  minAspectRatio: 1 / 2.5,
  /** Largest width/height (2.5:1). */
  maxAspectRatio: 2.5,
} as const;

/** What `inspectImage` read from an image's bytes. */
export interface ImageInfo {
  /** The format, from the magic bytes. */
  format: "png" | "jpeg";
  /** Width in px, from the header. */
  width: number;
  /** Height in px, from the header. */
  height: number;
  /** Size of the file in bytes. */
  bytes: number;
}

const MIB = 1024 * 1024;

function fail(argument: string, message: string): never {
  throw new InvalidArgumentError(argument, `${argument} ${message}`);
}

function startsWith(bytes: Uint8Array, signature: readonly number[], at = 0): boolean {
  return bytes.length >= at + signature.length && signature.every((b, i) => bytes[at + i] === b);
}

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
/** Formats people send by mistake (HEIC/AVIF: phone photos), named in the error; any other is "not PNG or JPEG". */
const OTHER_FORMATS: [string, (b: Uint8Array) => boolean][] = [
  ["GIF", (b) => startsWith(b, ascii("GIF8"))],
  ["WebP", (b) => startsWith(b, ascii("RIFF")) && startsWith(b, ascii("WEBP"), 8)],
  ["HEIC", (b) => startsWith(b, ascii("ftyphei"), 4) || startsWith(b, ascii("ftypmif1"), 4)],
  ["AVIF", (b) => startsWith(b, ascii("ftypavi"), 4)],
];
const ACCEPTS = "the relay accepts PNG or JPEG";

/** Text, not an image: no control character other than tab and line breaks in the first bytes. */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 512);
  return head.length > 0 && head.every((b) => b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d);
}

function hex(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Fails when a byte length is over the limit; shared by bytes, Blobs (before reading) and files (before reading). */
export function checkImageSize(byteLength: number, argument = "image"): void {
  if (byteLength > IMAGE_RULES.maxBytes) {
    fail(
      argument,
      `is ${(byteLength / MIB).toFixed(1)} MB (${byteLength} bytes); the relay accepts at most 10 MB (${IMAGE_RULES.maxBytes} bytes)`,
    );
  }
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

function pngSize(bytes: Uint8Array, argument: string): [number, number] {
  // Signature (8), then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4), ...
  // (a head is never shorter than HEAD_BYTES[0], so a short PNG here is the whole file)
  if (bytes.length < 24 || !startsWith(bytes, ascii("IHDR"), 12)) {
    fail(argument, "is a damaged PNG (no IHDR header after the signature)");
  }
  return [u32(bytes, 16), u32(bytes, 20)];
}

/** Start-of-frame markers (baseline, progressive, lossless, arithmetic...): not C4 (DHT), C8, CC (DAC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** A JPEG's size from its first bytes; undefined when `partial` (more of the file exists) and the frame header lies further on. */
function jpegSize(bytes: Uint8Array, argument: string, partial: boolean): [number, number] | undefined {
  const n = bytes.length;
  const damaged = (why: string): undefined => (partial ? undefined : fail(argument, `is a damaged JPEG (${why})`));
  let i = 2;
  // Every step moves forward by at least one byte, so a hostile file ends the loop at n.
  for (;;) {
    // Bytes between segments are skipped as libjpeg does ("extraneous bytes before marker").
    while (i < n && bytes[i] !== 0xff) i++;
    // 0xFF fill bytes may precede any marker.
    while (i < n && bytes[i] === 0xff) i++;
    if (i >= n) return damaged("it ends before its frame header");
    const marker = bytes[i++]!;
    // Stuffed zero, TEM, RSTn, SOI: no length field.
    if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) return damaged("no frame header before its image data");
    if (i + 2 > n) return damaged("it ends inside a segment header");
    const length = u16(bytes, i);
    if (length < 2) return damaged(`segment length ${length} at byte ${i}`);
    if (isSof(marker)) {
      // Length (2), precision (1), height (2), width (2).
      if (length < 8 || i + 7 > n) return damaged("it ends inside its frame header");
      return [u16(bytes, i + 5), u16(bytes, i + 3)];
    }
    i += length;
  }
}

function ratio(width: number, height: number): string {
  const long = Math.max(width, height) / Math.min(width, height);
  let digits = 2;
  // A ratio just past the limit must not print as the limit itself.
  while (Number(long.toFixed(digits)) === IMAGE_RULES.maxAspectRatio && digits < 6) digits++;
  const text = String(Number(long.toFixed(digits)));
  return width >= height ? `${text}:1` : `1:${text}`;
}

/**
 * Reads an image's format and dimensions from its bytes and checks them against `IMAGE_RULES`.
 * Throws an `InvalidArgumentError` (its `argument` is the one given) naming the rule and the value.
 */
export function inspectImage(bytes: Uint8Array, argument = "image"): ImageInfo {
  return inspectHead(bytes, bytes.length, argument)!;
}

/** `inspectImage` over the first bytes of a file of `size` bytes; undefined when the header lies past them. */
function inspectHead(bytes: Uint8Array, size: number, argument: string): ImageInfo | undefined {
  checkImageSize(size, argument);
  if (size === 0) fail(argument, `is empty (0 bytes); ${ACCEPTS}`);
  let format: ImageInfo["format"];
  let dimensions: [number, number] | undefined;
  if (startsWith(bytes, PNG)) {
    format = "png";
    dimensions = pngSize(bytes, argument);
  } else if (startsWith(bytes, JPEG)) {
    format = "jpeg";
    dimensions = jpegSize(bytes, argument, bytes.length < size);
    if (!dimensions) return undefined;
  } else {
    const other = OTHER_FORMATS.find(([, test]) => test(bytes))?.[0];
    if (other) fail(argument, `is ${other} (by its bytes); ${ACCEPTS}`);
    if (looksLikeText(bytes)) fail(argument, `is text, not an image (by its bytes); ${ACCEPTS}`);
    return fail(argument, `is not PNG or JPEG (by its bytes: it starts ${hex(bytes)}); ${ACCEPTS}`);
  }
  const [width, height] = dimensions;
  if (width < IMAGE_RULES.minWidth || height < IMAGE_RULES.minHeight) {
    fail(argument, `is ${width}x${height} px; each side must be at least ${IMAGE_RULES.minWidth} px`);
  }
  const r = width / height;
  if (r < IMAGE_RULES.minAspectRatio || r > IMAGE_RULES.maxAspectRatio) {
    fail(argument, `aspect ratio is ${ratio(width, height)} (${width}x${height} px); it must be between 1:2.5 and 2.5:1`);
  }
  return { format, width, height, bytes: size };
}

/** What inspectBlob read from each Blob that passed. */
const inspected = new WeakMap<Blob, ImageInfo>();

/** How much of a Blob is read to find its header: a JPEG's frame header may follow large EXIF or ICC segments. */
const HEAD_BYTES = [64 * 1024, 1024 * 1024];

/**
 * `inspectImage` for a Blob (a file on Node: `openImageFile`) without reading it whole: its size,
 * then only as many of its first bytes as the header needs.
 */
export async function inspectBlob(blob: Blob, argument = "image"): Promise<ImageInfo> {
  // A Blob's bytes cannot change (a file-backed one fails to read instead), so one look serves
  // every check of it: openImageFile's, a batch's before its intent, and the create's own.
  const known = inspected.get(blob);
  if (known) return known;
  checkImageSize(blob.size, argument);
  for (const n of [...HEAD_BYTES, blob.size]) {
    let head: Uint8Array;
    try {
      head = new Uint8Array(await blob.slice(0, n).arrayBuffer());
    } catch (error) {
      return fail(argument, `cannot be read (${error instanceof Error ? error.message : String(error)})`);
    }
    const info = inspectHead(head, blob.size, argument);
    if (info) {
      inspected.set(blob, info);
      return info;
    }
  }
  // The last read was the whole Blob, which never leaves the header undecided.
  throw new Error("unreachable");
}

function isArrayBuffer(value: unknown): value is ArrayBuffer {
  // toString, not instanceof: an ArrayBuffer from another realm (a worker, a vm context) counts too.
  return Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

function isBlob(value: unknown): value is Blob {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Blob).arrayBuffer === "function" &&
    typeof (value as Blob).size === "number"
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = Array.isArray(value) ? "an array" : (value.constructor?.name ?? "Object");
  return name === "Object" ? "an object" : name;
}

/** The bytes of a `Uint8Array` (itself, no copy), an `ArrayBuffer` (a view over it) or a `Blob` (read). */
export async function imageBytes(input: Uint8Array | ArrayBuffer | Blob, argument = "image"): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  if (isArrayBuffer(input)) return new Uint8Array(input);
  if (isBlob(input)) return new Uint8Array(await input.arrayBuffer());
  return fail(argument, `must be a Uint8Array, ArrayBuffer or Blob, got ${describe(input)}`);
}

/** Length of the base64 (with padding) of `byteLength` bytes. */
export function base64Length(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4;
}

/** Bytes per `String.fromCharCode.apply`: well under every engine's argument limit. */
const APPLY_BYTES = 8 * 1024;

function binaryString(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += APPLY_BYTES) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + APPLY_BYTES) as unknown as number[]);
  }
  return text;
}

/**
 * The standard base64 (padded, no `data:` prefix) of `bytes`, in pieces whose concatenation is the
 * base64 of the whole: each piece encodes `chunkBytes` bytes (a multiple of 3; default 48 KiB).
 */
export function base64Chunks(bytes: Uint8Array, chunkBytes = 48 * 1024): Generator<string> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % 3 !== 0) {
    throw new InvalidArgumentError("chunkBytes", `chunkBytes must be a positive multiple of 3, got ${String(chunkBytes)}`);
  }
  return (function* () {
    for (let i = 0; i < bytes.length; i += chunkBytes) yield base64Piece(bytes.subarray(i, i + chunkBytes));
  })();
}

/** Node's Buffer, where there is one (Node, Bun, Deno): its native base64 makes one string, where btoa needs a binary string first. */
const NodeBuffer = (globalThis as { Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): { toString(encoding: "base64"): string } } }).Buffer;

/** The base64 of one piece. */
export function base64Piece(bytes: Uint8Array): string {
  return NodeBuffer ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64") : btoa(binaryString(bytes));
}

/**
 * A Blob's own reader of its bytes, when it has one (Node's `openImageFile`): pieces that are views
 * of one reused buffer, each valid until the next is asked for. A Blob's `stream()` makes a new
 * buffer for every chunk, which pile up until a full GC (about the file's size for a 10 MB image).
 * `Symbol.for`, so the main entry and the node entry (bundled apart) agree on it.
 */
export const READ_PIECES: unique symbol = Symbol.for("xiexus-kling.readPieces") as never;

/** A Blob that can read itself in pieces through a reused buffer (see READ_PIECES), each of at most `size()` bytes. */
export type PieceReadingBlob = Blob & { [READ_PIECES]?: (size: () => number) => AsyncGenerator<Uint8Array> };

/** Creates whose images are on their way in this process, which share the piece budget. */
let sending = 0;

/** The largest piece, in bytes (a multiple of 3). */
export const MAX_PIECE_BYTES = 3 * 16 * 1024;

/**
 * Bytes per piece of an image being sent, now: 48 KiB for a create alone, less as more are sent at
 * once, down to 12 KiB, so that the pieces of every create in flight share about 96 KiB. Larger
 * pieces, or more of them at once, outlive V8's minor GCs and grow its young generation
 * (BENCHMARKS.md: 8 creates of 10 MiB at once peak 20 MB lower). A multiple of 3.
 */
export function pieceBytes(): number {
  return 3 * 1024 * Math.max(4, Math.min(16, Math.floor(32 / Math.max(1, sending))));
}

/** Counts one more create whose image is on its way; the function returned ends it (once). */
export function startSending(): () => void {
  sending++;
  let ended = false;
  return () => {
    if (!ended) sending--;
    ended = true;
  };
}

/** A Blob's bytes in pieces: its own reader when it has one, else its stream. */
async function* blobPieces(blob: PieceReadingBlob): AsyncGenerator<Uint8Array> {
  const own = blob[READ_PIECES];
  if (typeof own === "function") return yield* own.call(blob, pieceBytes);
  const reader = blob.stream().getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if ((done = next.done)) return;
      yield next.value;
    }
  } finally {
    // Stopped early (the request failed): let go of the file.
    if (!done) await reader.cancel().catch(() => {});
  }
}

/**
 * The standard base64 of a Blob, in pieces, read as they are asked for: a file-backed Blob (Node's
 * `openImageFile`) is never held whole. Each piece is encoded before the next is read (a reused
 * buffer may be overwritten); up to 2 bytes left over from a piece (not a multiple of 3) wait for the next.
 */
export async function* base64FromBlob(blob: Blob): AsyncGenerator<string> {
  let carry: number[] = [];
  for await (const piece of blobPieces(blob)) {
    let bytes = piece;
    if (carry.length) {
      bytes = new Uint8Array(carry.length + piece.length);
      bytes.set(carry);
      bytes.set(piece, carry.length);
    }
    const whole = bytes.length - (bytes.length % 3);
    if (whole) yield base64Piece(bytes.subarray(0, whole));
    carry = [...bytes.subarray(whole)];
  }
  if (carry.length) yield base64Piece(Uint8Array.from(carry));
}

/** The standard base64 (padded, no `data:` prefix) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const piece of base64Chunks(bytes)) text += piece;
  return text;
}

const DATA_URL = /^data:image\/[\w.+-]+(?:;[\w.+-]+=[^;,]*)*;base64,/i;

/**
 * The decoded bytes of a `data:image/<type>;base64,<payload>` URL; undefined for any other string.
 * An invalid payload is an `InvalidArgumentError`.
 */
export function parseDataUrl(text: string, argument = "image"): Uint8Array | undefined {
  const prefix = DATA_URL.exec(text);
  if (!prefix) return undefined;
  let binary: string;
  try {
    binary = atob(text.slice(prefix[0].length));
  } catch {
    return fail(argument, "is a data: URL whose payload is not valid base64");
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const NODE_HINT = 'on Node, read it with readImageFile from "xiexus-kling/node", or pass its bytes';
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** A local file path, not a URL or base64. Base64 starting with "/" is a JPEG's ("/9j/"), so other "/" starts are paths. */
function looksLikePath(text: string): boolean {
  return (
    /^(\.{1,2}[\\/]|~|[a-z]:[\\/]|\\\\)/i.test(text) ||
    (text.startsWith("/") && !text.startsWith("/9j/")) ||
    (!SCHEME.test(text) && /\.(png|jpe?g)$/i.test(text))
  );
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** What `prepareImage` makes of an input: a string to send as it is, or checked bytes (or a Blob, read at send time) to send as base64. */
export type PreparedImage =
  | { kind: "url" | "base64"; value: string }
  | { kind: "bytes"; bytes: Uint8Array | Blob; info: ImageInfo };

/**
 * Turns an `ImageInput` into what a create sends. An http(s) URL or base64 string is passed
 * untouched; a `data:image/...;base64,` URL, bytes, an ArrayBuffer or a Blob are checked with
 * `inspectImage` (a Blob's size before it is read). A file path is refused (see `readImageFile`).
 */
export async function prepareImage(input: ImageInput, argument = "image"): Promise<PreparedImage> {
  if (typeof input === "string") {
    if (input.trim() === "") return fail(argument, "is an empty string; pass an http(s) URL, base64, or the image's bytes");
    if (/^https?:\/\//i.test(input)) return { kind: "url", value: input };
    const data = parseDataUrl(input, argument);
    if (data) return { kind: "bytes", bytes: data, info: inspectImage(data, argument) };
    if (/^data:/i.test(input)) fail(argument, "is a data: URL but not data:image/<type>;base64,<payload>");
    if (looksLikePath(input)) fail(argument, `looks like a file path (${quote(input)}), not a URL or base64; ${NODE_HINT}`);
    const scheme = SCHEME.exec(input)?.[1];
    if (scheme) fail(argument, `is a ${scheme}: URL; the relay takes an http(s) URL or base64 (${NODE_HINT})`);
    const bad = /[^A-Za-z0-9+/=\r\n]/.exec(input);
    if (bad) {
      fail(argument, `is not an http(s) URL, a data:image URL or base64 (it has ${quote(bad[0])} at index ${bad.index})`);
    }
    return { kind: "base64", value: input };
  }
  if (isBlob(input)) return { kind: "bytes", bytes: input, info: await inspectBlob(input, argument) };
  if (!(input instanceof Uint8Array) && !isArrayBuffer(input)) {
    fail(argument, `must be a URL or base64 string, a Uint8Array, an ArrayBuffer or a Blob, got ${describe(input)}`);
  }
  const bytes = await imageBytes(input, argument);
  return { kind: "bytes", bytes, info: inspectImage(bytes, argument) };
}
