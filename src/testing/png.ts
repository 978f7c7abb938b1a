// fakePng: a complete, decodable PNG (signature, IHDR, zlib IDAT, IEND, each chunk with its CRC-32)
// for tests and demos that start from an image file: it passes the image rules a create checks
// (format by its bytes, dimensions from its header) without a picture checked into the repository.
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (ISO-HDLC), as PNG chunks carry it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The longest side fakePng draws: enough for any image rule, small enough to stay a test helper. */
const MAX_SIDE = 16_384;

/** Options of fakePng. */
export interface FakePngOptions {
  /** Pad the file (a tEXt chunk before the pixels) to exactly this many bytes, e.g. to test a size limit. */
  size?: number;
}

/**
 * A valid 8-bit grayscale PNG of `width` x `height` pixels (a diagonal gradient). Kling takes
 * images of at least 300 px a side with an aspect ratio between 1:2.5 and 2.5:1, e.g. `fakePng(640, 360)`.
 */
export function fakePng(width: number, height: number, options: FakePngOptions = {}): Buffer {
  for (const [name, side] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(side) || side < 1 || side > MAX_SIDE) {
      throw new RangeError(`fakePng: ${name} must be a whole number of pixels from 1 to ${MAX_SIDE}, got ${side}`);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, grayscale, deflate, adaptive filters, no interlace
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = (x + y) & 0xff; // filter byte 0 (None) first
  }
  const parts = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  if (options.size !== undefined) {
    const keyword = Buffer.from("Comment\0", "latin1");
    const missing = options.size - Buffer.concat(parts).length - 12 - keyword.length;
    if (!Number.isInteger(options.size) || missing < 0) throw new RangeError(`fakePng: ${width}x${height} does not fit in ${options.size} bytes`);
    parts.splice(2, 0, chunk("tEXt", Buffer.concat([keyword, Buffer.alloc(missing, 0x20)])));
  }
  return Buffer.concat(parts);
}
