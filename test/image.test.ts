// Image input (src/image.ts, readImageFile from xiexus-kling/node): format by magic bytes,
// dimensions from PNG and JPEG headers (also on real files from other encoders), Kling's rules as
// InvalidArgumentErrors naming rule and value, hostile headers refused without a RangeError or a
// hang, chunked base64 equal to Buffer's, strings sorted into URL / data: URL / base64 / path.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../src/errors.js";
import {
  base64Chunks,
  base64FromBlob,
  inspectBlob,
  pieceBytes,
  startSending,
  READ_PIECES,
  base64Length,
  IMAGE_RULES,
  imageBytes,
  inspectImage,
  parseDataUrl,
  prepareImage,
  toBase64,
  type ImageInfo,
} from "../src/image.js";
import { readImageFile } from "../src/node/index.js";
import { crc32, makeJpeg, makePng, SAMPLES } from "./helpers/images.js";

/** The InvalidArgumentError `fn` throws (fails the test if it throws anything else or nothing). */
function refusal(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error("expected an InvalidArgumentError, nothing was thrown");
}

async function refusalOf(promise: Promise<unknown>): Promise<InvalidArgumentError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe("test helpers", () => {
  it("crc32 matches the check value and a real PNG encoder's chunk CRCs", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    const ihdr = SAMPLES.png.subarray(12, 12 + 4 + 13);
    expect(crc32(ihdr)).toBe(SAMPLES.png.readUInt32BE(12 + 4 + 13));
  });

  it("makePng writes IHDR, an IDAT that inflates to every row, and IEND", () => {
    const png = makePng(301, 302);
    expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
    const idatLength = png.readUInt32BE(33);
    expect(png.subarray(37, 41).toString("latin1")).toBe("IDAT");
    const raw = inflateSync(png.subarray(41, 41 + idatLength));
    expect(raw.length).toBe((301 + 1) * 302);
    expect(crc32(png.subarray(37, 41 + idatLength))).toBe(png.readUInt32BE(41 + idatLength));
    expect(png.subarray(-12).toString("latin1", 4, 8)).toBe("IEND");
  });

  it("pad to an exact size", () => {
    expect(makePng(300, 300, { size: 50_000 }).length).toBe(50_000);
    for (const size of [41, 1_000, 65_541, 65_580, 200_003]) expect(makeJpeg(640, 480, { size }).length).toBe(size);
  });
});

describe("inspectImage", () => {
  it("reads PNG dimensions from IHDR", () => {
    const png = makePng(640, 300);
    expect(inspectImage(png)).toEqual<ImageInfo>({ format: "png", width: 640, height: 300, bytes: png.length });
  });

  it("reads JPEG dimensions from SOF0 (width and height not swapped)", () => {
    const jpeg = makeJpeg(1280, 720);
    expect(inspectImage(jpeg)).toEqual<ImageInfo>({ format: "jpeg", width: 1280, height: 720, bytes: jpeg.length });
    expect(inspectImage(makeJpeg(720, 1280))).toMatchObject({ width: 720, height: 1280 });
  });

  it("reads every SOFn and skips DHT, DAC and JPG markers", () => {
    for (const sof of [0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]) {
      expect(inspectImage(makeJpeg(800, 600, { sof })), sof.toString(16)).toMatchObject({ width: 800, height: 600 });
    }
    for (const notSof of [0xc4, 0xc8, 0xcc]) {
      // A DHT/JPG/DAC segment shaped like a frame header with other numbers, then the real SOF0.
      const decoy = Buffer.from([0xff, notSof, 0x00, 0x11, 8, 0x00, 0x10, 0x00, 0x10, ...new Array<number>(10).fill(0)]);
      const jpeg = makeJpeg(800, 600);
      const withDecoy = Buffer.concat([jpeg.subarray(0, 20), decoy, jpeg.subarray(20)]);
      expect(inspectImage(withDecoy), notSof.toString(16)).toMatchObject({ width: 800, height: 600 });
    }
  });

  it("walks past fill bytes, standalone markers, and big APP/COM segments", () => {
    const jpeg = makeJpeg(1024, 768, { size: 3 * 65_537 + 500 });
    const fill = Buffer.concat([jpeg.subarray(0, 20), Buffer.from([0xff, 0xff, 0xff, 0xd0, 0xff, 0x01]), jpeg.subarray(20)]);
    expect(inspectImage(jpeg)).toMatchObject({ width: 1024, height: 768 });
    expect(inspectImage(fill)).toMatchObject({ width: 1024, height: 768 });
  });

  it("reads real files made by other encoders (CPython's 16x16 test images)", () => {
    // 16x16 is under Kling's minimum: the message carries the dimensions the header walk found.
    expect(refusal(() => inspectImage(SAMPLES.jpeg)).message).toBe("image is 16x16 px; each side must be at least 300 px");
    expect(refusal(() => inspectImage(SAMPLES.png)).message).toBe("image is 16x16 px; each side must be at least 300 px");
    // The same JPEG's frame header rewritten to 1600x900: its walk over JFIF and two DQTs lands on SOF0.
    const big = Buffer.from(SAMPLES.jpeg);
    const sof = big.indexOf(Buffer.from([0xff, 0xc0]));
    big.writeUInt16BE(900, sof + 5);
    big.writeUInt16BE(1600, sof + 7);
    expect(inspectImage(big)).toEqual({ format: "jpeg", width: 1600, height: 900, bytes: SAMPLES.jpeg.length });
  });

  it("accepts the limits themselves: 10 MiB, 300 px, 2.5:1 and 1:2.5", () => {
    expect(inspectImage(makeJpeg(300, 300, { size: IMAGE_RULES.maxBytes })).bytes).toBe(10 * 1024 * 1024);
    expect(inspectImage(makeJpeg(750, 300))).toMatchObject({ width: 750, height: 300 });
    expect(inspectImage(makePng(300, 750))).toMatchObject({ width: 300, height: 750 });
  });

  it("refuses an image over 10 MB, naming its size", () => {
    const error = refusal(() => inspectImage(makeJpeg(1920, 1080, { size: 13_002_342 }), "image_tail"));
    expect(error.argument).toBe("image_tail");
    expect(error.message).toBe("image_tail is 12.4 MB (13002342 bytes); the relay accepts at most 10 MB (10485760 bytes)");
    expect(refusal(() => inspectImage(makePng(300, 300, { size: IMAGE_RULES.maxBytes + 1 }))).message).toMatch(
      /^image is 10\.0 MB \(10485761 bytes\); the relay accepts at most 10 MB/,
    );
  });

  it("refuses a side under 300 px", () => {
    expect(refusal(() => inspectImage(makePng(200, 800))).message).toBe(
      "image is 200x800 px; each side must be at least 300 px",
    );
    expect(refusal(() => inspectImage(makeJpeg(1000, 299))).message).toBe(
      "image is 1000x299 px; each side must be at least 300 px",
    );
    expect(refusal(() => inspectImage(makeJpeg(640, 0))).message).toMatch(/640x0 px/);
  });

  it("refuses an aspect ratio past 2.5:1 either way", () => {
    expect(refusal(() => inspectImage(makeJpeg(960, 300))).message).toBe(
      "image aspect ratio is 3.2:1 (960x300 px); it must be between 1:2.5 and 2.5:1",
    );
    expect(refusal(() => inspectImage(makePng(300, 751))).message).toBe(
      "image aspect ratio is 1:2.503 (300x751 px); it must be between 1:2.5 and 2.5:1",
    );
    expect(refusal(() => inspectImage(makeJpeg(2501, 1000))).message).toMatch(/2501x1000 px/);
  });

  it("judges the format by the bytes and names what it is", () => {
    expect(refusal(() => inspectImage(SAMPLES.gif)).message).toBe(
      "image is GIF (by its bytes); the relay accepts PNG or JPEG",
    );
    expect(refusal(() => inspectImage(SAMPLES.webp)).message).toBe(
      "image is WebP (by its bytes); the relay accepts PNG or JPEG",
    );
    const heic = Buffer.from("\0\0\0\x18ftypheic\0\0\0\0mif1heic", "latin1");
    expect(refusal(() => inspectImage(heic)).message).toMatch(/^image is HEIC \(by its bytes\)/);
    const avif = Buffer.from("\0\0\0\x1cftypavif\0\0\0\0avifmif1", "latin1");
    expect(refusal(() => inspectImage(avif)).message).toMatch(/^image is AVIF \(by its bytes\)/);
    expect(refusal(() => inspectImage(Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>"))).message).toMatch(
      /^image is text, not an image/,
    );
    expect(refusal(() => inspectImage(Buffer.from("hello, I am a text file\n"))).message).toBe(
      "image is text, not an image (by its bytes); the relay accepts PNG or JPEG",
    );
    expect(refusal(() => inspectImage(new Uint8Array([0, 1, 2, 3, 4, 5]))).message).toBe(
      "image is not PNG or JPEG (by its bytes: it starts 00 01 02 03); the relay accepts PNG or JPEG",
    );
    expect(refusal(() => inspectImage(new Uint8Array(0))).message).toMatch(/^image is empty \(0 bytes\)/);
  });

  it("refuses every truncation of a PNG and a JPEG header with an InvalidArgumentError, not a RangeError", () => {
    const png = makePng(640, 480);
    const jpeg = makeJpeg(640, 480);
    // [file, bytes it needs to hold its whole size]: signature + IHDR up to the height; up to SOF0's width.
    const cases: [Uint8Array, number][] = [
      [png.subarray(0, 33), 24],
      [jpeg.subarray(0, jpeg.length - 2), jpeg.length - 2 - 19 + 9],
    ];
    for (const [file, complete] of cases) {
      for (let end = 0; end <= file.length; end++) {
        const cut = file.subarray(0, end);
        if (end >= complete) expect(inspectImage(cut).width).toBe(640);
        else refusal(() => inspectImage(cut));
      }
    }
    expect(refusal(() => inspectImage(png.subarray(0, 20))).message).toMatch(/^image is a damaged PNG/);
    expect(refusal(() => inspectImage(jpeg.subarray(0, 10))).message).toMatch(/^image is a damaged JPEG/);
  });

  it("refuses hostile JPEGs quickly: lengths past the end, zero lengths, endless fill, no frame header", () => {
    const soi = [0xff, 0xd8];
    const cases: [string, number[]][] = [
      ["length past the end", [...soi, 0xff, 0xe1, 0xff, 0xff, 1, 2, 3]],
      ["length 0", [...soi, 0xff, 0xe0, 0x00, 0x00, 0xff, 0xc0]],
      ["length 1", [...soi, 0xff, 0xe0, 0x00, 0x01]],
      ["marker then nothing", [...soi, 0xff, 0xe0]],
      ["SOF cut short", [...soi, 0xff, 0xc0, 0x00, 0x11, 8, 0x01]],
      ["SOF length under 8", [...soi, 0xff, 0xc0, 0x00, 0x05, 8, 0x01, 0x00, 0x02, 0x00, 0, 0, 0, 0]],
      ["EOI before SOF", [...soi, 0xff, 0xd9, 0xff, 0xc0, 0x00, 0x11, 8, 1, 0, 1, 0]],
      ["SOS before SOF", [...soi, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 0x3f, 0]],
      ["only restart markers", [...soi, ...new Array<number>(1000).fill(0).flatMap(() => [0xff, 0xd0])]],
    ];
    for (const [name, bytes] of cases) {
      expect(refusal(() => inspectImage(new Uint8Array(bytes))).message, name).toMatch(/^image is a damaged JPEG/);
    }
    // 10 MiB of fill bytes, and 10 MiB of garbage with no marker: one linear pass, then a refusal.
    const fill = new Uint8Array(IMAGE_RULES.maxBytes).fill(0xff);
    fill[1] = 0xd8;
    expect(refusal(() => inspectImage(fill)).message).toMatch(/damaged JPEG \(it ends before its frame header\)/);
    const garbage = new Uint8Array(IMAGE_RULES.maxBytes);
    garbage.set([0xff, 0xd8, 0xff, 0x00]);
    expect(refusal(() => inspectImage(garbage)).message).toMatch(/damaged JPEG/);
    // Segment lengths chained to land exactly at the end.
    const chain = [...soi, 0xff, 0xfe, 0x00, 0x02, 0xff, 0xfe, 0x00, 0x02];
    expect(refusal(() => inspectImage(new Uint8Array(chain))).message).toMatch(/damaged JPEG/);
  });

  it("refuses a PNG without IHDR", () => {
    const png = Buffer.from(makePng(640, 480));
    png.write("IHDX", 12, "latin1");
    expect(refusal(() => inspectImage(png)).message).toBe("image is a damaged PNG (no IHDR header after the signature)");
  });
});

describe("base64", () => {
  it("base64Chunks concatenates to Buffer's base64 for lengths 0..100 and every small chunk size", () => {
    const bytes = new Uint8Array(100).map((_, i) => (i * 37 + 11) & 0xff);
    for (let length = 0; length <= 100; length++) {
      const part = bytes.subarray(0, length);
      const expected = Buffer.from(part).toString("base64");
      expect(toBase64(part)).toBe(expected);
      expect(base64Length(length)).toBe(expected.length);
      for (const chunkBytes of [3, 6, 9, 33, 48, 99, 102]) {
        const pieces = [...base64Chunks(part, chunkBytes)];
        expect(pieces.join(""), `${length}/${chunkBytes}`).toBe(expected);
        expect(pieces.length).toBe(Math.ceil(length / chunkBytes));
        // Only the last piece may carry padding, so pieces can be written one after another.
        for (const piece of pieces.slice(0, -1)) expect(piece).not.toContain("=");
      }
    }
  });

  it("matches Buffer on large random inputs, across the 8 KiB sub-slices and the default chunk size", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (const length of [8191, 8192, 8193, 49_151, 49_152, 49_153, 123_457, 1_000_003]) {
      const bytes = new Uint8Array(length).map(random);
      const expected = Buffer.from(bytes).toString("base64");
      expect(toBase64(bytes)).toBe(expected);
      expect([...base64Chunks(bytes, 3 * 10_000)].join("")).toBe(expected);
      expect(base64Length(length)).toBe(expected.length);
    }
  });

  it("the creates in flight share one piece budget: 48 KiB alone, 12 KiB from 8 at once, whole 3-byte groups; an end counts once", () => {
    const alone = pieceBytes();
    const ends = Array.from({ length: 8 }, () => startSending());
    expect(pieceBytes()).toBe(12 * 1024);
    ends.slice(1).forEach((end) => end());
    ends[0]!();
    ends[0]!();
    expect(pieceBytes()).toBe(alone);
    expect(alone).toBe(48 * 1024);
    const two = [startSending(), startSending(), startSending()];
    expect(pieceBytes() % 3).toBe(0);
    expect(pieceBytes()).toBeLessThan(alone);
    two.forEach((end) => end());
  });

  it("inspectBlob reads a Blob's head once, whatever number of checks ask", async () => {
    const png = makePng(640, 360);
    const blob = new Blob([new Uint8Array(png)]);
    let reads = 0;
    const slice = blob.slice.bind(blob);
    blob.slice = (...args: Parameters<Blob["slice"]>) => {
      reads++;
      return slice(...args);
    };
    const first = await inspectBlob(blob);
    expect(await inspectBlob(blob, "request.metadata.image_tail")).toBe(first);
    expect(first).toMatchObject({ format: "png", width: 640, height: 360 });
    expect(reads).toBe(1);
    // A refused Blob is refused again on every look (only what passed is kept).
    const text = new Blob(["not an image"]);
    await expect(inspectBlob(text)).rejects.toThrow(/is text/);
    await expect(inspectBlob(text)).rejects.toThrow(/is text/);
  });

  it("base64FromBlob: a Blob's stream, and a reader of pieces through one reused buffer, of any sizes, encode as Buffer does", async () => {
    const bytes = new Uint8Array(1_000).map((_, i) => (i * 53 + 7) & 0xff);
    const expected = Buffer.from(bytes).toString("base64");
    const join = async (blob: Blob): Promise<string> => {
      let text = "";
      for await (const piece of base64FromBlob(blob)) text += piece;
      return text;
    };
    expect(await join(new Blob([bytes]))).toBe(expected);
    for (const sizes of [[1], [2], [3], [1, 2, 5, 3, 7, 11], [4, 4, 4, 998]]) {
      const blob = new Blob([bytes]) as Blob & { [READ_PIECES]?: () => AsyncGenerator<Uint8Array> };
      // One buffer for every piece, overwritten by the next read: a piece must be used before the next is asked for.
      blob[READ_PIECES] = async function* () {
        const buffer = new Uint8Array(1_000);
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const n = Math.min(sizes[i % sizes.length]!, bytes.length - at);
          buffer.set(bytes.subarray(at, at + n));
          yield buffer.subarray(0, n);
          buffer.fill(0);
          at += n;
        }
      };
      expect(await join(blob), sizes.join(",")).toBe(expected);
    }
  });

  it("encodes a 10 MB image in pieces of at most 64 KiB of base64 by default", () => {
    const jpeg = makeJpeg(1920, 1080, { size: IMAGE_RULES.maxBytes });
    let total = 0;
    let longest = 0;
    for (const piece of base64Chunks(jpeg)) {
      total += piece.length;
      longest = Math.max(longest, piece.length);
    }
    expect(total).toBe(base64Length(jpeg.length));
    expect(longest).toBe(64 * 1024);
  });

  it("refuses a chunk size that is not a positive multiple of 3, at the call", () => {
    for (const chunkBytes of [0, -3, 4, 1.5, Number.NaN, Infinity]) {
      const error = refusal(() => base64Chunks(new Uint8Array(3), chunkBytes));
      expect(error.argument).toBe("chunkBytes");
    }
  });
});

describe("imageBytes", () => {
  it("returns a Uint8Array itself, a view over an ArrayBuffer, and a Blob's bytes", async () => {
    const png = makePng(300, 300);
    expect(await imageBytes(png)).toBe(png);
    const buffer = new Uint8Array(png).buffer; // a copy: its own ArrayBuffer, not Node's pool
    const view = await imageBytes(buffer);
    expect(view.buffer).toBe(buffer);
    expect(Buffer.from(view).equals(png)).toBe(true);
    expect(Buffer.from(await imageBytes(new Blob([new Uint8Array(png)]))).equals(png)).toBe(true);
  });

  it("refuses anything else", async () => {
    const input = new Uint16Array(4) as unknown as Uint8Array;
    expect((await refusalOf(imageBytes(input))).message).toBe("image must be a Uint8Array, ArrayBuffer or Blob, got Uint16Array");
  });
});

describe("parseDataUrl", () => {
  it("decodes data:image/...;base64, payloads", () => {
    const png = makePng(320, 320);
    expect(Buffer.from(parseDataUrl(`data:image/png;base64,${png.toString("base64")}`)!).equals(png)).toBe(true);
    expect(Buffer.from(parseDataUrl(`DATA:image/jpeg;name=cat.jpg;base64,${SAMPLES.jpeg.toString("base64")}`)!)).toEqual(
      SAMPLES.jpeg,
    );
  });

  it("returns undefined for other strings and refuses an invalid payload", () => {
    for (const text of ["https://x/a.png", "data:text/plain;base64,aGk=", "data:image/png,raw", "iVBORw0KGgo="]) {
      expect(parseDataUrl(text), text).toBeUndefined();
    }
    expect(refusal(() => parseDataUrl("data:image/png;base64,@@@@")).message).toBe(
      "image is a data: URL whose payload is not valid base64",
    );
  });
});

describe("prepareImage", () => {
  it("passes http(s) URLs through untouched, without a request", async () => {
    for (const url of ["https://cdn.example.com/cat.png?sig=a%20b", "http://example.com/x.jpeg", "HTTPS://EXAMPLE.COM/A"]) {
      expect(await prepareImage(url)).toEqual({ kind: "url", value: url });
    }
  });

  it("passes base64 through untouched, a JPEG's ('/9j/') too", async () => {
    for (const value of [makePng(300, 300).toString("base64"), SAMPLES.jpeg.toString("base64"), "aGVsbG8=\r\naGk="]) {
      const prepared = await prepareImage(value);
      expect(prepared).toEqual({ kind: "base64", value });
      if (prepared.kind === "base64") expect(prepared.value).toBe(value);
    }
  });

  it("decodes and checks a data: URL", async () => {
    const jpeg = makeJpeg(1280, 720);
    const prepared = await prepareImage(`data:image/jpeg;base64,${jpeg.toString("base64")}`);
    expect(prepared).toEqual({ kind: "bytes", bytes: new Uint8Array(jpeg), info: inspectImage(jpeg) });
    const gif = `data:image/gif;base64,${SAMPLES.gif.toString("base64")}`;
    expect((await refusalOf(prepareImage(gif))).message).toMatch(/^image is GIF \(by its bytes\)/);
    expect((await refusalOf(prepareImage("data:text/plain,hi"))).message).toBe(
      "image is a data: URL but not data:image/<type>;base64,<payload>",
    );
  });

  it("checks bytes, ArrayBuffers and Blobs", async () => {
    const png = makePng(400, 300);
    const info = { format: "png", width: 400, height: 300, bytes: png.length };
    expect(await prepareImage(png)).toEqual({ kind: "bytes", bytes: png, info });
    const buffer = new Uint8Array(png).buffer; // a copy: its own ArrayBuffer, not Node's pool
    expect(await prepareImage(buffer)).toMatchObject({ kind: "bytes", info });
    expect(await prepareImage(new Blob([new Uint8Array(png)]))).toMatchObject({ kind: "bytes", info });
    expect((await refusalOf(prepareImage(Buffer.from("not an image\n"), "image_tail"))).message).toBe(
      "image_tail is text, not an image (by its bytes); the relay accepts PNG or JPEG",
    );
  });

  it("refuses an oversized Blob before reading it", async () => {
    let read = false;
    const huge = { size: 2 ** 31, type: "image/png", arrayBuffer: () => ((read = true), Promise.resolve(new ArrayBuffer(16))) };
    expect((await refusalOf(prepareImage(huge as unknown as Blob))).message).toMatch(/^image is 2048\.0 MB \(2147483648 bytes\)/);
    expect(read).toBe(false);
  });

  it("refuses file paths, pointing to readImageFile", async () => {
    const paths = [
      "/home/me/cat.png",
      "/tmp/cat",
      "./cat.png",
      "../images/cat.jpg",
      "~/cat.jpeg",
      "C:\\Users\\me\\cat.png",
      "c:/cat",
      "\\\\server\\share\\cat.png",
      "cat.png",
      "photos/cat.JPG",
    ];
    for (const path of paths) {
      const error = await refusalOf(prepareImage(path));
      expect(error.message, path).toBe(
        `image looks like a file path (${JSON.stringify(path)}), not a URL or base64; ` +
          'on Node, read it with readImageFile from "xiexus-kling/node", or pass its bytes',
      );
      expect(error.argument).toBe("image");
    }
  });

  it("refuses empty strings, other schemes, non-base64 text, and non-image values", async () => {
    expect((await refusalOf(prepareImage(""))).message).toMatch(/^image is an empty string/);
    expect((await refusalOf(prepareImage("  "))).message).toMatch(/^image is an empty string/);
    expect((await refusalOf(prepareImage("file:///tmp/cat.png"))).message).toMatch(/^image is a file: URL;.*readImageFile/);
    expect((await refusalOf(prepareImage("ftp://example.com/cat"))).message).toMatch(/^image is a ftp: URL/);
    expect((await refusalOf(prepareImage("a cat on a sofa"))).message).toBe(
      'image is not an http(s) URL, a data:image URL or base64 (it has " " at index 1)',
    );
    expect((await refusalOf(prepareImage("aGVsbG8-_w=="))).message).toMatch(/it has "-" at index 7/);
    for (const [value, got] of [
      [42, "number"],
      [null, "null"],
      [{}, "an object"],
      [[1, 2], "an array"],
      [new Date(0), "Date"],
    ] as const) {
      expect((await refusalOf(prepareImage(value as unknown as string))).message).toBe(
        `image must be a URL or base64 string, a Uint8Array, an ArrayBuffer or a Blob, got ${got}`,
      );
    }
  });
});

describe("readImageFile", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kling-image-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a PNG and a JPEG file", async () => {
    const png = makePng(512, 512);
    const jpeg = makeJpeg(1024, 576);
    await writeFile(join(dir, "cat.png"), png);
    await writeFile(join(dir, "cat.jpg"), jpeg);
    expect(Buffer.from(await readImageFile(join(dir, "cat.png"))).equals(png)).toBe(true);
    expect(Buffer.from(await readImageFile(join(dir, "cat.jpg"))).equals(jpeg)).toBe(true);
  });

  it("judges by the bytes: a JPEG named .png is read, a text file named .png is refused naming it", async () => {
    await writeFile(join(dir, "really-a-jpeg.png"), makeJpeg(640, 480));
    expect((await readImageFile(join(dir, "really-a-jpeg.png"))).length).toBeGreaterThan(0);
    const path = join(dir, "notes.png");
    await writeFile(path, "just some notes\n");
    const error = await refusalOf(readImageFile(path));
    expect(error.argument).toBe("path");
    expect(error.message).toBe(
      `image file ${JSON.stringify(path)} is text, not an image (by its bytes); the relay accepts PNG or JPEG`,
    );
  });

  it("refuses an oversized file from its size alone (an 11 MB sparse file, and a 3 GB one)", async () => {
    const path = join(dir, "huge.jpg");
    await writeFile(path, makeJpeg(1920, 1080));
    await truncate(path, 11 * 1024 * 1024);
    expect((await refusalOf(readImageFile(path))).message).toBe(
      `image file ${JSON.stringify(path)} is 11.0 MB (11534336 bytes); the relay accepts at most 10 MB (10485760 bytes)`,
    );
    // 3 GB cannot even be read into one Buffer: a refusal here proves nothing was read.
    await truncate(path, 3 * 1024 ** 3);
    expect((await refusalOf(readImageFile(path))).message).toMatch(/is 3072\.0 MB \(3221225472 bytes\)/);
  });

  it("refuses a missing file, a directory, and a non-string path", async () => {
    const missing = join(dir, "nope.png");
    expect((await refusalOf(readImageFile(missing))).message).toBe(`image file ${JSON.stringify(missing)}: no such file`);
    expect((await refusalOf(readImageFile(join(dir, "nope", "x.png")))).message).toMatch(/: no such file$/);
    expect((await refusalOf(readImageFile(dir))).message).toBe(`image file ${JSON.stringify(dir)} is not a file`);
    if (process.platform !== "win32") {
      // A named pipe with no writer: refused at once, not waited on.
      const fifo = join(dir, "pipe.png");
      execFileSync("mkfifo", [fifo]);
      expect((await refusalOf(readImageFile(fifo))).message).toBe(`image file ${JSON.stringify(fifo)} is not a file`);
    }
    expect((await refusalOf(readImageFile(""))).argument).toBe("path");
    expect((await refusalOf(readImageFile(7 as unknown as string))).message).toBe("path must be a non-empty string, got number");
  });
});
