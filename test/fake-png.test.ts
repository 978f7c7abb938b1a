// fakePng (xiexus-kling/testing): the PNG the demo and the tests start from is a real one: its
// chunks' CRCs hold, its pixels inflate back to what was drawn, the image rules read its size; and
// it refuses sizes it cannot draw.
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { inspectImage } from "../src/image.js";
import { fakePng } from "../src/testing/index.js";
import { crc32 } from "../src/testing/png.js";

/** The chunks of a PNG: type, data, and whether the stored CRC matches. */
function chunks(png: Buffer): Array<{ type: string; data: Buffer; crcOk: boolean }> {
  const out = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    out.push({ type, data, crcOk: crc32(png.subarray(at + 4, at + 8 + length)) === png.readUInt32BE(at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

describe("fakePng", () => {
  it("is a PNG the image rules read, whose chunks check and whose pixels inflate to the gradient drawn", () => {
    const png = fakePng(640, 360);
    expect(inspectImage(png)).toEqual({ format: "png", width: 640, height: 360, bytes: png.length });
    const parts = chunks(png);
    expect(parts.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
    expect(parts.every((c) => c.crcOk)).toBe(true);
    const raw = inflateSync(parts[1]!.data);
    expect(raw.length).toBe((640 + 1) * 360);
    // Row 2: filter byte 0, then (x + 2) & 0xff.
    expect([...raw.subarray(2 * 641, 2 * 641 + 4)]).toEqual([0, 2, 3, 4]);
  });

  it("pads to an exact size with a tEXt chunk", () => {
    const png = fakePng(300, 300, { size: 50_000 });
    expect(png.length).toBe(50_000);
    expect(chunks(png).map((c) => c.type)).toEqual(["IHDR", "tEXt", "IDAT", "IEND"]);
    expect(inspectImage(png)).toMatchObject({ width: 300, height: 300 });
  });

  it("refuses sizes it cannot draw", () => {
    expect(() => fakePng(0, 10)).toThrow(/width must be a whole number of pixels from 1 to 16384, got 0/);
    expect(() => fakePng(10, 1.5)).toThrow(/height must be a whole number/);
    expect(() => fakePng(20_000, 10)).toThrow(RangeError);
    expect(() => fakePng(300, 300, { size: 10 })).toThrow(/does not fit in 10 bytes/);
  });
});
