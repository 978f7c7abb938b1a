// The fake relay's second origin: a stand-in for the CDN that serves a completed task's video.
// It generates the video's bytes on the fly from a fixed pattern (any size, no file on disk),
// answers Range / If-Range with ETag and Last-Modified, plays scripted faults, and records every
// request it receives (headers included) so tests can prove no key ever reached it.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HTTP_TOKEN } from "../options.js";

/** Default size of the fake video: 256 KiB. */
export const DEFAULT_VIDEO_SIZE = 256 * 1024;

/** Path of the fake video on the video host (the recorded task's file name). */
export const FAKE_VIDEO_PATH = "/kling/videos/8f3a2c1e.mp4";

/** Every `/kling/videos/<name>.mp4` serves the same video, so each created task can have its own URL. */
const VIDEO_PATH = /^\/kling\/videos\/[^/]+\.mp4$/;

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
const CHUNK = 64 * 1024;
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
function window(start: number, length: number, version: number): Buffer {
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

const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

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

interface VideoState {
  size: number;
  ranges: boolean;
  etag: boolean;
  lastModified: boolean;
  version: number;
  bytesPerSecond: number;
  faults: VideoFault[];
}

function applyOptions(state: VideoState, options: FakeVideoOptions): void {
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

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` -> [start, end) within size; "unsatisfiable"; undefined when ignored. */
function parseRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    return suffix === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1);
  if (start >= size || end <= start) return "unsatisfiable";
  return [start, end];
}

/** Starts the video host on `host` (loopback, checked by the caller). */
export async function startVideoHost(
  host: string,
  options: FakeVideoOptions,
): Promise<{ host: FakeVideoHost; server: Server }> {
  const state: VideoState = { size: DEFAULT_VIDEO_SIZE, ranges: true, etag: true, lastModified: true, version: 1, bytesPerSecond: 0, faults: [] };
  applyOptions(state, options);
  const requests: RecordedVideoRequest[] = [];
  const hashes = new Map<string, string>();

  const etagOf = (): string => `"kling-video-${state.size}-v${state.version}"`;
  // A fixed date per version: deterministic, and a new version is newer.
  const lastModifiedOf = (): string => new Date(Date.UTC(2024, 0, 1) + state.version * 86_400_000).toUTCString();

  const server = createServer((req, res) => {
    req.resume();
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = CREDENTIAL_HEADERS.has(name) ? "[redacted]" : Array.isArray(value) ? value.join(", ") : value;
    }
    const record: RecordedVideoRequest = { method, path, headers, status: 0, bytesSent: 0, time: Date.now() };
    requests.push(record);
    const answer = (status: number, head: Record<string, string | number>, body?: string): void => {
      record.status = status;
      res.writeHead(status, head);
      if (body !== undefined && method !== "HEAD") record.bytesSent = Buffer.byteLength(body);
      res.end(method === "HEAD" ? undefined : body);
    };

    if (!VIDEO_PATH.test(path)) {
      answer(404, { "content-type": "text/plain" }, "not found");
      return;
    }
    if (method !== "GET" && method !== "HEAD") {
      answer(405, { allow: "GET, HEAD", "content-type": "text/plain" }, "method not allowed");
      return;
    }
    const fault = state.faults.shift();
    if (fault?.kind === "status") {
      answer(fault.status, { "content-type": "text/plain", ...fault.headers }, fault.body ?? `fault ${fault.status}`);
      return;
    }
    if (fault?.kind === "redirect") {
      answer(fault.status ?? 302, { location: fault.location });
      return;
    }

    const size = state.size;
    const version = state.version;
    const etag = etagOf();
    const lastModified = lastModifiedOf();
    const validators: Record<string, string> = {};
    if (state.etag) validators.etag = etag;
    if (state.lastModified) validators["last-modified"] = lastModified;
    const ifRange = req.headers["if-range"];
    // If-Range: the range only if the validator still names this version, else the whole file.
    const stillSame = ifRange === undefined || (state.etag && ifRange === etag) || (state.lastModified && ifRange === lastModified);
    const range = state.ranges && stillSame ? parseRange(req.headers.range, size) : undefined;
    const base = { "content-type": "video/mp4", "accept-ranges": state.ranges ? "bytes" : "none", ...validators };
    if (range === "unsatisfiable") {
      answer(416, { ...base, "content-range": `bytes */${size}` });
      return;
    }
    const [start, end] = range ?? [0, size];
    record.status = range ? 206 : 200;
    res.writeHead(record.status, {
      ...base,
      "content-length": end - start,
      ...(range ? { "content-range": `bytes ${start}-${end - 1}/${size}` } : {}),
    });
    if (method === "HEAD") {
      res.end();
      return;
    }
    // Headers go out now, so a fault after 0 bytes still reaches the body stage.
    res.flushHeaders();
    // Bytes to send before the fault strikes (all of them without one).
    const limit = fault ? Math.min(end, start + fault.afterBytes) : end;
    let at = start;
    const finish = (): void => {
      if (!fault) {
        res.end();
      } else if (fault.kind === "drop") {
        res.socket?.resetAndDestroy();
      } else if (fault.kind === "short") {
        res.socket?.end();
      }
      // "stall": nothing more; the open socket holds the client until it (or close()) gives up.
    };
    // Throttled: small chunks, one every `pause` ms, so the rate holds for small files too.
    const rate = state.bytesPerSecond;
    const step = rate > 0 ? Math.max(1, Math.min(CHUNK, Math.floor(rate / 20))) : CHUNK;
    let timer: NodeJS.Timeout | undefined;
    let pause = 0;
    const later = (): void => {
      timer = setTimeout(pump, pause);
    };
    const pump = (): void => {
      timer = undefined;
      while (at < limit) {
        const length = Math.min(step, limit - at);
        const chunk = window(at, length, version);
        at += length;
        record.bytesSent += length;
        const last = at >= limit;
        // The fault strikes only once its bytes are flushed, so the client sees exactly afterBytes.
        const ok = res.write(chunk, last ? finish : undefined);
        if (last) return;
        if (rate > 0) {
          pause = (length / rate) * 1000;
          if (ok) later();
          else res.once("drain", later);
          return;
        }
        if (!ok) {
          res.once("drain", pump);
          return;
        }
      }
      finish();
    };
    res.on("close", () => {
      res.off("drain", pump);
      res.off("drain", later);
      clearTimeout(timer);
    });
    pump();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host === "[::1]" ? "::1" : host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host === "::1" ? "[::1]" : host}:${port}`;
  return {
    server,
    host: {
      origin,
      url: `${origin}${FAKE_VIDEO_PATH}${FAKE_VIDEO_QUERY}`,
      urlFor: (taskId) => `${origin}${fakeVideoPath(taskId)}${FAKE_VIDEO_QUERY}`,
      get size() {
        return state.size;
      },
      get sha256() {
        const key = `${state.size}/${state.version}`;
        let hash = hashes.get(key);
        if (hash === undefined) hashes.set(key, (hash = fakeVideoSha256(state.size, state.version)));
        return hash;
      },
      requests,
      update(next) {
        applyOptions(state, next);
      },
      bytes(start = 0, end = state.size) {
        return fakeVideoBytes(start, Math.min(end, state.size), state.version);
      },
    },
  };
}
