// The fake relay's second origin: a stand-in for the CDN that serves a completed task's video.
// It generates the video's bytes on the fly from a fixed pattern (any size, no file on disk),
// answers Range / If-Range with ETag and Last-Modified, plays scripted faults, and records every
// request it receives (headers included) so tests can prove no key ever reached it.
import { createHash } from "node:crypto";
import { HTTP_TOKEN } from "../options.js";

/** Default size of the fake video: 256 KiB. */
export const DEFAULT_VIDEO_SIZE = 256 * 1024;

/** Path of the fake video on the video host (the recorded task's file name). */
export const FAKE_VIDEO_PATH = "/kling/videos/8f3a2c1e.mp4";

/** Path of the video of a task the fake relay created: its id in the file name, so `requests` show whose video was fetched. */
export function fakeVideoPath(taskId: string): string {
  return `/kling/videos/${encodeURIComponent(taskId)}.mp4`;
}

/** The query string of the fake video's URL: a stand-in for a signed URL's token (not a secret). */
export const FAKE_VIDEO_QUERY = "?Expires=4102444800&Signature=fake-video-signature";

/** Largest fake video: 1 TiB (the bytes are generated, never stored). */
const MAX_VIDEO_SIZE = 2 ** 40;

/** The pattern repeats every PERIOD bytes: a prime, so no chunk or range size lines up with it. */
const PERIOD = 65_521;
/** The most bytes of the video handled at once (a window of the pattern). */
export const CHUNK = 64 * 1024;
/** PERIOD bytes of a fixed xorshift sequence, then its first CHUNK bytes again so any window is one slice. */
const PATTERN: Buffer = (() => {
  const buffer = Buffer.alloc(PERIOD + CHUNK);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  buffer.copy(buffer, PERIOD, 0, CHUNK);
  return buffer;
})();

/** Where version `version` of the video starts in the pattern: a new version is other bytes. */
const shift = (version: number): number => (version * 7_919) % PERIOD;

/** `length` bytes of the fake video (version `version`) from byte `start`, as one slice (length <= 64 KiB). */
export function window(start: number, length: number, version: number): Buffer {
  const at = (start + shift(version)) % PERIOD;
  return PATTERN.subarray(at, at + length);
}

/** The bytes of the fake video from `start` to `end` (exclusive), in a new buffer; for checking small files. */
export function fakeVideoBytes(start: number, end: number, version = 1): Buffer {
  const out = Buffer.alloc(Math.max(0, end - start));
  for (let at = 0; at < out.length; at += CHUNK) {
    window(start + at, Math.min(CHUNK, out.length - at), version).copy(out, at);
  }
  return out;
}

/** sha256 (hex) of a fake video of `size` bytes, computed chunk by chunk (no buffer of the whole file). */
export function fakeVideoSha256(size: number, version = 1): string {
  const hash = createHash("sha256");
  for (let at = 0; at < size; at += CHUNK) hash.update(window(at, Math.min(CHUNK, size - at), version));
  return hash.digest("hex");
}

/** A scripted misbehaviour of the video host; each request consumes the next one, then answers are normal. */
export type VideoFault =
  /** Send the headers and `afterBytes` bytes of the body, then reset the connection (RST). */
  | { kind: "drop"; afterBytes: number }
  /** Send the headers (the full Content-Length) and `afterBytes` bytes, then close the connection cleanly (FIN). */
  | { kind: "short"; afterBytes: number }
  /** Send the headers and `afterBytes` bytes, then nothing until the client gives up. */
  | { kind: "stall"; afterBytes: number }
  /** Answer with this status (and headers / body) instead of the video, e.g. a 503 with Retry-After. */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** Redirect (302 unless `status` says otherwise) to `location`. */
  | { kind: "redirect"; location: string; status?: number };

/** Options of the fake video host (the `video` option of `createFakeRelay`); every one is optional. */
export interface FakeVideoOptions {
  /** Size of the video in bytes. Default: DEFAULT_VIDEO_SIZE (256 KiB). */
  size?: number;
  /** Answer `Range` requests with 206. Default: true (false: always the whole file, 200). */
  ranges?: boolean;
  /** Send an `ETag`. Default: true (a strong ETag naming the size and version). */
  etag?: boolean;
  /** Send a `Last-Modified`. Default: true. */
  lastModified?: boolean;
  /** Faults played in order, one per request. Default: none. */
  faults?: readonly VideoFault[];
  /** Content version: changing it changes the bytes, the ETag and Last-Modified (the file "changed"). Default: 1. */
  version?: number;
  /**
   * Send at most this many body bytes per second (a slow CDN), so a test can stop or kill a
   * download half-way. 0 or absent: as fast as the socket takes them.
   */
  bytesPerSecond?: number;
}

/** What the video host recorded of one request; credential headers are recorded with their value `[redacted]`. */
export interface RecordedVideoRequest {
  /** HTTP method. */
  method: string;
  /** Path, without the query string. */
  path: string;
  /** Request headers, lower-case names (`authorization`, `cookie`, `proxy-authorization` values redacted). */
  headers: Record<string, string>;
  /** The status answered (0 when a fault cut the connection before any answer). */
  status: number;
  /** Body bytes sent. */
  bytesSent: number;
  /** When the request arrived, ms since the epoch. */
  time: number;
}

/** The running video host, reachable as `relay.video`. */
export interface FakeVideoHost {
  /** Origin of the host, e.g. `http://127.0.0.1:41235` (a different port than the relay: another origin). */
  readonly origin: string;
  /** Full URL of the video, with a signed-URL-like query string. */
  readonly url: string;
  /** URL of the video as served for task `taskId` (same bytes, its own path); what created tasks point at. */
  urlFor(taskId: string): string;
  /** Current size of the video in bytes. */
  readonly size: number;
  /** sha256 (hex) of the current video. */
  readonly sha256: string;
  /** Every request so far, oldest first (the same array throughout). */
  readonly requests: readonly RecordedVideoRequest[];
  /** Changes options (size, ranges, etag, lastModified, version, faults); faults given here replace the queue. */
  update(options: FakeVideoOptions): void;
  /** Bytes `start` to `end` (exclusive) of the current video. */
  bytes(start?: number, end?: number): Buffer;
}

/**
 * Refuses a header node:http would refuse: checked when a script or fault is set, because at
 * request time node:http's throw would land in the test run as an uncaught exception.
 */
export function checkHeader(where: string, name: string, value: unknown): void {
  if (!HTTP_TOKEN.test(name)) throw new TypeError(`${where}: header name ${JSON.stringify(name)} is not an HTTP token`);
  if (typeof value !== "string" || !/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
    throw new TypeError(`${where}: header ${name} must be a string without line breaks or control characters`);
  }
}

/** Refuses a video fault the host could not play, when it is set. */
function checkFault(fault: VideoFault): VideoFault {
  const where = "fake relay: video fault";
  if (fault === null || typeof fault !== "object") throw new TypeError(`${where} must be an object`);
  switch (fault.kind) {
    case "drop":
    case "short":
    case "stall":
      if (!Number.isInteger(fault.afterBytes) || fault.afterBytes < 0) {
        throw new RangeError(`${where} ${fault.kind}: afterBytes must be a whole number >= 0`);
      }
      return fault;
    case "status":
      if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
        throw new RangeError(`${where} status: status must be an integer from 200 to 599`);
      }
      return fault;
    case "redirect":
      if (typeof fault.location !== "string" || fault.location === "") throw new TypeError(`${where} redirect: location must be a URL`);
      checkHeader(`${where} redirect`, "location", fault.location);
      return fault;
    default:
      throw new TypeError(`${where}: kind must be drop, short, stall, status or redirect`);
  }
}

/** The video host's current options, all of them set. */
export interface VideoState {
  size: number;
  ranges: boolean;
  etag: boolean;
  lastModified: boolean;
  version: number;
  bytesPerSecond: number;
  faults: VideoFault[];
}

/** Checks `options` whole, then changes `state` by them (faults given replace the queue). */
export function applyOptions(state: VideoState, options: FakeVideoOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("fake relay: video options must be an object");
  const { size, version, faults, bytesPerSecond } = options;
  if (size !== undefined && !(Number.isInteger(size) && size >= 0 && size <= MAX_VIDEO_SIZE)) {
    throw new RangeError(`fake relay: video size must be a whole number of bytes from 0 to ${MAX_VIDEO_SIZE}`);
  }
  if (version !== undefined && !(Number.isInteger(version) && version >= 0)) {
    throw new RangeError("fake relay: video version must be a whole number >= 0");
  }
  if (bytesPerSecond !== undefined && !(typeof bytesPerSecond === "number" && Number.isFinite(bytesPerSecond) && bytesPerSecond >= 0)) {
    throw new RangeError("fake relay: video bytesPerSecond must be a finite number >= 0");
  }
  if (faults !== undefined && !Array.isArray(faults)) throw new TypeError("fake relay: video faults must be an array");
  const checked = faults?.map(checkFault);
  state.size = size ?? state.size;
  state.version = version ?? state.version;
  state.bytesPerSecond = bytesPerSecond ?? state.bytesPerSecond;
  state.ranges = options.ranges ?? state.ranges;
  state.etag = options.etag ?? state.etag;
  state.lastModified = options.lastModified ?? state.lastModified;
  if (checked) state.faults = [...checked];
}
