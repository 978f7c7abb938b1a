// Image input for creates: what a caller may pass, the upstream's rules that can be read from the
// bytes (format by magic bytes, size, dimensions from the header), and standard base64 made in
// pieces so a 10 MB image can be streamed into a request body. Universal: no `node:` import, no
// Buffer (btoa/atob exist in Node, Bun, Deno, workerd and browsers); the file reader is in
// `xiexus-kling/node` (readImageFile).
import { invalid, show } from "./_messages.js";

/** An image for a create: an http(s) URL, base64 (no `data:` prefix), a `data:image/...;base64,` URL, or its bytes. */
export type ImageInput = string | Uint8Array | ArrayBuffer | Blob;

/** Kling's image rules, as republished copies of its API reference state them (see README "Images"). */
export const IMAGE_RULES = {
  /** Accepted formats, judged by the bytes, not the name. */
  formats: ["png", "jpeg"],
  /** Largest file: Kling says "10MB"; read as 10 MiB (10485760 bytes). */
  maxBytes: 10_485_760,
  /** Smallest width, in px. */
  minWidth: 300,
  /** Smallest height, in px. */
  minHeight: 300,
  /** Smallest width/height (1:2.5). */
  minAspectRatio: 0.4,
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

/**
 * Formats by their magic bytes, matched on the first bytes read as latin1 (one character per byte):
 * the two accepted ones, then those people send by mistake (HEIC/AVIF: phone photos) and text,
 * named in the error; any other is "not PNG or JPEG".
 */
const FORMATS: [string, RegExp][] = [
  ["png", /^\x89PNG\r\n\x1a\n/],
  ["jpeg", /^\xff\xd8\xff/],
  ["GIF", /^GIF8/],
  ["WebP", /^RIFF[^]{4}WEBP/],
  ["HEIC", /^[^]{4}ftyp(hei|mif1)/],
  ["AVIF", /^[^]{4}ftypavi/],
  // Text, not an image: no control character other than tab and line breaks in the first bytes.
  ["text, not an image", /^[\t\n\r -\xff]+$/],
];
const ACCEPTS = "; the relay accepts PNG or JPEG";

/** Fails when a byte length is over the limit; shared by bytes, Blobs (before reading) and files (before reading). */
export function checkImageSize(byteLength: number, argument: string): void {
  if (byteLength > IMAGE_RULES.maxBytes) {
    invalid(
      argument,
      `is ${(byteLength / 1048576).toFixed(1)} MB (${byteLength} bytes); the relay accepts at most 10 MB (10485760 bytes)`,
    );
  }
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/** A JPEG's size from its first bytes; undefined when `partial` (more of the file exists) and the frame header lies further on. */
function jpegSize(bytes: Uint8Array, argument: string, partial?: boolean): [number, number] | undefined {
  const n = bytes.length;
  const damaged = (why: string): undefined => (partial ? undefined : invalid(argument, `is a damaged JPEG (${why})`));
  // Every step moves forward by at least one byte, so a hostile file ends the loop at n.
  for (let i = 2; ; ) {
    // Bytes between segments are skipped as libjpeg does ("extraneous bytes before marker").
    while (i < n && bytes[i] != 0xff) i++;
    // 0xFF fill bytes may precede any marker.
    while (i < n && bytes[i] == 0xff) i++;
    // A marker and a length field, at least (a standalone marker that close to the end leads nowhere either).
    if (i + 3 > n) return damaged("it ends before its frame header");
    const marker = bytes[i++]!;
    // Stuffed zero, TEM, RSTn, SOI: no length field.
    if (marker < 2 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker == 0xd9 || marker == 0xda) return damaged("no frame header before its image data");
    const length = u16(bytes, i);
    // Start of frame (baseline, progressive, lossless, arithmetic...): not C4 (DHT), C8, CC (DAC).
    const sof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    // A frame header holds its length (2), precision (1), height (2) and width (2).
    if (length < (sof ? 8 : 2)) return damaged(`segment length ${length}`);
    if (sof) return i + 7 > n ? damaged("it ends before its frame header") : [u16(bytes, i + 5), u16(bytes, i + 3)];
    i += length;
  }
}

/**
 * Reads an image's format and dimensions from its bytes and checks them against `IMAGE_RULES`.
 * Throws an `InvalidArgumentError` (its `argument` is the one given) naming the rule and the value.
 */
export function inspectImage(bytes: Uint8Array, argument?: string): ImageInfo;
/**
 * `inspectImage` over the first bytes of a file of `size` bytes; undefined when `partial` (more of
 * the file exists) and the header lies past them.
 */
export function inspectImage(bytes: Uint8Array, argument: string, size: number, partial: boolean): ImageInfo | undefined;
export function inspectImage(bytes: Uint8Array, argument = "image", size = bytes.length, partial?: boolean): ImageInfo | undefined {
  checkImageSize(size, argument);
  if (!size) invalid(argument, `is empty (0 bytes)${ACCEPTS}`);
  const head = String.fromCharCode(...bytes.subarray(0, 512));
  const format = FORMATS.find(([, magic]) => magic.test(head))?.[0];
  let dimensions: [number, number] | undefined;
  if (format == "png") {
    // Signature (8), then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4), ...
    // (a head is never shorter than inspectBlob's first read, so a short PNG here is the whole file)
    if (!/^[^]{12}IHDR[^]{8}/.test(head)) invalid(argument, "is a damaged PNG (no IHDR header after the signature)");
    dimensions = [u16(bytes, 16) * 65536 + u16(bytes, 18), u16(bytes, 20) * 65536 + u16(bytes, 22)];
  } else if (format == "jpeg") {
    dimensions = jpegSize(bytes, argument, partial);
    if (!dimensions) return undefined;
  } else {
    return invalid(
      argument,
      // (its first 4 bytes in hex, two digits each: 256 + b has three)
      format
        ? `is ${format} (by its bytes)${ACCEPTS}`
        : `is not PNG or JPEG (by its bytes: it starts ${[...bytes.subarray(0, 4)].map((b) => (b + 256).toString(16).slice(1)).join(" ")})${ACCEPTS}`,
    );
  }
  const [width, height] = dimensions;
  const short = Math.min(width, height);
  // IMAGE_RULES.minWidth and minHeight are the same 300 px.
  if (short < IMAGE_RULES.minWidth) invalid(argument, `is ${width}x${height} px; each side must be at least 300 px`);
  // Both sides are at least 300 px here; the longer over the shorter is past 2.5 exactly when
  // width/height is outside [IMAGE_RULES.minAspectRatio, IMAGE_RULES.maxAspectRatio] (sides are
  // whole numbers under 2^32, so no rounding lands a ratio on the other side of 2.5 or 0.4).
  const long = Math.max(width, height) / short;
  if (long > IMAGE_RULES.maxAspectRatio) {
    // A ratio just past the limit must not print as the limit itself: as many digits as that takes, 2 at least.
    let text;
    for (let digits = 2; (text = +long.toFixed(digits)) == IMAGE_RULES.maxAspectRatio; digits++);
    invalid(argument, `aspect ratio is ${width < height ? `1:${text}` : `${text}:1`} (${width}x${height} px); it must be between 1:2.5 and 2.5:1`);
  }
  return { format: format as ImageInfo["format"], width, height, bytes: size };
}

/** What inspectBlob read from each Blob that passed. */
const inspected = new WeakMap<Blob, ImageInfo>();

/**
 * `inspectImage` for a Blob (a file on Node: `openImageFile`) without reading it whole: its size,
 * then only as many of its first bytes as the header needs.
 */
export async function inspectBlob(blob: Blob, argument = "image"): Promise<ImageInfo> {
  // A Blob's bytes cannot change (a file-backed one fails to read instead), so one look serves
  // every check of it: openImageFile's, a batch's before its intent, and the create's own.
  let info = inspected.get(blob);
  if (info) return info;
  checkImageSize(blob.size, argument);
  // 64 KiB, then 1 MiB (a JPEG's frame header may follow large EXIF or ICC segments), then 16 MiB:
  // past the size limit, so the whole Blob, which always decides.
  for (let n = 65_536; !info; n *= 16) {
    let head: Uint8Array;
    try {
      head = new Uint8Array(await blob.slice(0, n).arrayBuffer());
    } catch (error) {
      return invalid(argument, `cannot be read (${String((error as Error)?.message ?? error)})`);
    }
    info = inspectImage(head, argument, blob.size, n < blob.size);
  }
  inspected.set(blob, info);
  return info;
}

/** A `Uint8Array` itself, or a view over an `ArrayBuffer`; undefined for anything else. */
function viewOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  // toString, not instanceof: an ArrayBuffer from another realm (a worker, a vm context) counts too.
  if (Object.prototype.toString.call(value) == "[object ArrayBuffer]") return new Uint8Array(value as ArrayBuffer);
}

function isBlob(value: unknown): value is Blob {
  return typeof value === "object" && typeof (value as Blob)?.arrayBuffer === "function" && typeof (value as Blob).size === "number";
}

function describe(value: unknown): string {
  const name =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "an array"
        : typeof value != "object"
          ? typeof value
          : ((value as object).constructor?.name ?? "Object");
  return name == "Object" ? "an object" : name;
}

/** The bytes of a `Uint8Array` (itself, no copy), an `ArrayBuffer` (a view over it) or a `Blob` (read). */
export async function imageBytes(input: Uint8Array | ArrayBuffer | Blob, argument = "image"): Promise<Uint8Array> {
  const view = viewOf(input);
  if (view) return view;
  if (isBlob(input)) return new Uint8Array(await input.arrayBuffer());
  return invalid(argument, `must be a Uint8Array, ArrayBuffer or Blob, got ${describe(input)}`);
}

/** Length of the base64 (with padding) of `byteLength` bytes. */
export function base64Length(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4;
}

/**
 * The standard base64 (padded, no `data:` prefix) of `bytes`, in pieces whose concatenation is the
 * base64 of the whole: each piece encodes `chunkBytes` bytes (a multiple of 3; default 48 KiB).
 */
export function base64Chunks(bytes: Uint8Array, chunkBytes = 48 * 1024): Generator<string> {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % 3 !== 0) {
    invalid("chunkBytes", `must be a positive multiple of 3, got ${String(chunkBytes)}`);
  }
  return (function* () {
    for (let i = 0; i < bytes.length; i += chunkBytes) yield base64Piece(bytes.subarray(i, i + chunkBytes));
  })();
}

/** Node's Buffer, where there is one (Node, Bun, Deno): its native base64 makes one string, where btoa needs a binary string first. */
const NodeBuffer = (globalThis as { Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): { toString(encoding: "base64"): string } } }).Buffer;

/** The base64 of one piece. */
export function base64Piece(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64");
  let binary = "";
  // 8 KiB of arguments to String.fromCharCode at a time: well under every engine's limit.
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(binary);
}

/**
 * A Blob's own reader of its bytes, when it has one (Node's `openImageFile`): pieces that are views
 * of one reused buffer, each valid until the next is asked for. Reading a Blob (its `stream()` or
 * its slices) makes a new buffer for every chunk, which pile up until a full GC (about the file's
 * size for a 10 MB image).
 * `Symbol.for`, so the main entry and the node entry (bundled apart) agree on it.
 */
export const READ_PIECES: unique symbol = Symbol.for("xiexus-kling.readPieces") as never;

/** A Blob that can read itself in pieces through a reused buffer (see READ_PIECES), each of at most `size()` bytes. */
export type PieceReadingBlob = Blob & { [READ_PIECES]?: (size: () => number) => AsyncGenerator<Uint8Array> };

/** Creates whose images are on their way in this process, which share the piece budget. */
let sending = 0;

/** The largest piece, in bytes: 48 KiB, a multiple of 3 (a literal: a bundler keeps `3 * 16 * 1024` even where it is unused). */
export const MAX_PIECE_BYTES = 49_152;

/**
 * Bytes per piece of an image being sent, now: 48 KiB for a create alone, less as more are sent at
 * once, down to 12 KiB, so that the pieces of every create in flight share about 96 KiB. Larger
 * pieces, or more of them at once, outlive V8's minor GCs and grow its young generation
 * (BENCHMARKS.md: 8 creates of 10 MiB at once peak 20 MB lower). A multiple of 3.
 */
export function pieceBytes(): number {
  // 3 KiB times 4 to 16. None in flight: 32 / 0 is Infinity, so 16 (48 KiB) as for one.
  return 3_072 * Math.max(4, Math.floor(Math.min(16, 32 / sending)));
}

/** Counts one more create whose image is on its way; the function returned ends it (once). */
export function startSending(): () => void {
  sending++;
  let ended: true | undefined;
  return () => {
    if (!ended) sending--;
    ended = true;
  };
}

/**
 * The standard base64 of bytes or a Blob, in pieces, read as they are asked for: a file-backed Blob
 * (Node's `openImageFile`) is never held whole. A Blob with its own reader (READ_PIECES) gives
 * pieces that may be views of one reused buffer; bytes are cut into views and any other Blob into
 * slices, each of `pieceBytes()` as it is at that moment, each read when asked for. Each piece is
 * encoded before the next is read (a reused buffer may be overwritten), and up to 2 bytes left
 * over from a piece (not a multiple of 3) wait for the next.
 */
export async function* base64FromBlob(source: Uint8Array | PieceReadingBlob): AsyncGenerator<string> {
  const own = (source as PieceReadingBlob)[READ_PIECES];
  if (typeof own != "function") {
    const view = source instanceof Uint8Array;
    for (let at = 0, n = 0; at < (view ? source.length : source.size); at += n) {
      n = pieceBytes();
      yield base64Piece(view ? source.subarray(at, at + n) : new Uint8Array(await source.slice(at, at + n).arrayBuffer()));
    }
    return;
  }
  let carry = new Uint8Array(0);
  for await (const piece of own.call(source, pieceBytes)) {
    let bytes = piece;
    if (carry.length) {
      bytes = new Uint8Array(carry.length + piece.length);
      bytes.set(carry);
      bytes.set(piece, carry.length);
    }
    const whole = bytes.length - (bytes.length % 3);
    if (whole) yield base64Piece(bytes.subarray(0, whole));
    carry = bytes.slice(whole);
  }
  if (carry.length) yield base64Piece(carry);
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
  if (!DATA_URL.test(text)) return undefined;
  let binary: string;
  try {
    binary = atob(text.replace(DATA_URL, ""));
  } catch {
    return invalid(argument, "is a data: URL whose payload is not valid base64");
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const NODE_HINT = 'on Node, read it with readImageFile from "xiexus-kling/node", or pass its bytes';
const SCHEME = /^([a-z][a-z\d+.-]*):/i;

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
  if (isBlob(input)) return { kind: "bytes", bytes: input, info: await inspectBlob(input, argument) };
  const text = typeof input == "string";
  if (text) {
    if (!input.trim()) invalid(argument, "is an empty string; pass a URL, base64 or bytes");
    if (/^https?:\/\//i.test(input)) return { kind: "url", value: input };
  }
  // A string's bytes when it is a data:image URL (undefined otherwise); any other input's.
  const bytes = text ? parseDataUrl(input, argument) : viewOf(input) ?? invalid(argument, `must be a URL or base64 string, a Uint8Array, an ArrayBuffer or a Blob, got ${describe(input)}`);
  if (bytes) return { kind: "bytes", bytes, info: inspectImage(bytes, argument) };
  // A local file path, not a URL or base64. Base64 starting with "/" is a JPEG's ("/9j/"), so
  // other "/" starts are paths. (A data: URL never looks like one: it is refused below.)
  const scheme = SCHEME.exec(input as string)?.[1];
  if (/^(\.{1,2}[\\/]|~|[a-zA-Z]:[\\/]|\\\\|\/(?!9j\/))/.test(input as string) || (!scheme && /\.(png|jpe?g)$/i.test(input as string))) {
    invalid(argument, `looks like a file path (${show(input)}), not a URL or base64; ${NODE_HINT}`);
  }
  if (scheme) {
    invalid(argument, /^data$/i.test(scheme)
      ? "is a data: URL but not data:image/<type>;base64,<payload>"
      : `is a ${scheme}: URL; pass an http(s) URL or base64 (${NODE_HINT})`);
  }
  const bad = /[^a-z\d+/=\r\n]/i.exec(input as string);
  if (bad) invalid(argument, `is not an http(s) URL, a data:image URL or base64 (it has ${show(bad[0])} at index ${bad.index})`);
  return { kind: "base64", value: input as string };
}
