// The video host's server: what it answers to each request (a 404 or 405, a scripted fault, the
// head of the video, whole or a range) and how the body goes out (throttled, cut by a fault).
// video-host.ts says what the host is; this file serves it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listen, recordedHeaders } from "./_servers.js";
import {
  applyOptions,
  CHUNK,
  DEFAULT_VIDEO_SIZE,
  FAKE_VIDEO_PATH,
  FAKE_VIDEO_QUERY,
  fakeVideoBytes,
  fakeVideoPath,
  fakeVideoSha256,
  window,
  type FakeVideoHost,
  type FakeVideoOptions,
  type RecordedVideoRequest,
  type VideoFault,
  type VideoState,
} from "./video-host.js";

/** Every `/kling/videos/<name>.mp4` serves the same video, so each created task can have its own URL. */
const VIDEO_PATH = /^\/kling\/videos\/[^/]+\.mp4$/;

/** A fault that strikes in the body, after some bytes. */
type BodyFault = Extract<VideoFault, { afterBytes: number }>;

/** Starts the video host on `host` (loopback, checked by the caller). */
export async function startVideoHost(host: string, options: FakeVideoOptions): Promise<{ host: FakeVideoHost; server: Server }> {
  const state: VideoState = { size: DEFAULT_VIDEO_SIZE, ranges: true, etag: true, lastModified: true, version: 1, bytesPerSecond: 0, faults: [] };
  applyOptions(state, options);
  const requests: RecordedVideoRequest[] = [];
  const server = createServer((req, res) => serveVideo(req, res, state, requests));
  const { origin } = await listen(server, 0, host);
  return { server, host: videoHost(origin, state, requests) };
}

/** The handle a test holds (`relay.video`) on a running host's state. */
function videoHost(origin: string, state: VideoState, requests: readonly RecordedVideoRequest[]): FakeVideoHost {
  const hashes = new Map<string, string>();
  return {
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
  };
}

/** One request: recorded, then answered with a 404 or 405, the next scripted fault, or the video. */
function serveVideo(req: IncomingMessage, res: ServerResponse, state: VideoState, requests: RecordedVideoRequest[]): void {
  req.resume();
  const method = req.method ?? "GET";
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const record: RecordedVideoRequest = { method, path, headers: recordedHeaders(req.headers), status: 0, bytesSent: 0, time: Date.now() };
  requests.push(record);
  const answer = (status: number, head: Record<string, string | number>, body?: string): void => {
    record.status = status;
    res.writeHead(status, head);
    if (body !== undefined && method !== "HEAD") record.bytesSent = Buffer.byteLength(body);
    res.end(method === "HEAD" ? undefined : body);
  };

  if (!VIDEO_PATH.test(path)) return answer(404, { "content-type": "text/plain" }, "not found");
  if (method !== "GET" && method !== "HEAD") return answer(405, { allow: "GET, HEAD", "content-type": "text/plain" }, "method not allowed");
  const fault = state.faults.shift();
  if (fault?.kind === "status") return answer(fault.status, { "content-type": "text/plain", ...fault.headers }, fault.body ?? `fault ${fault.status}`);
  if (fault?.kind === "redirect") return answer(fault.status ?? 302, { location: fault.location });

  const head = videoHead(req, state);
  if (head.status === 416) return answer(416, head.headers);
  record.status = head.status;
  res.writeHead(head.status, head.headers);
  if (method === "HEAD") {
    res.end();
    return;
  }
  sendBody(res, record, { start: head.start, end: head.end, version: state.version, rate: state.bytesPerSecond, fault });
}

/** The answer's status and headers (200 whole, 206 a range, 416 a range past the end) and its bytes [start, end). */
function videoHead(req: IncomingMessage, state: VideoState): { status: number; headers: Record<string, string | number>; start: number; end: number } {
  const { size } = state;
  const etag = `"kling-video-${size}-v${state.version}"`;
  // A fixed date per version: deterministic, and a new version is newer.
  const lastModified = new Date(Date.UTC(2024, 0, 1) + state.version * 86_400_000).toUTCString();
  const validators: Record<string, string> = {};
  if (state.etag) validators.etag = etag;
  if (state.lastModified) validators["last-modified"] = lastModified;
  const ifRange = req.headers["if-range"];
  // If-Range: the range only if the validator still names this version, else the whole file.
  const stillSame = ifRange === undefined || (state.etag && ifRange === etag) || (state.lastModified && ifRange === lastModified);
  const range = state.ranges && stillSame ? parseRange(req.headers.range, size) : undefined;
  const base = { "content-type": "video/mp4", "accept-ranges": state.ranges ? "bytes" : "none", ...validators };
  if (range === "unsatisfiable") return { status: 416, headers: { ...base, "content-range": `bytes */${size}` }, start: 0, end: 0 };
  const [start, end] = range ?? [0, size];
  const headers = { ...base, "content-length": end - start, ...(range ? { "content-range": `bytes ${start}-${end - 1}/${size}` } : {}) };
  return { status: range ? 206 : 200, headers, start, end };
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

/** What a body sends: bytes [start, end) of `version`, at `rate` bytes/s (0: as fast as the socket takes them), cut by `fault`. */
interface BodyPlan {
  start: number;
  end: number;
  version: number;
  rate: number;
  fault: BodyFault | undefined;
}

/** Streams the body after the headers; a fault strikes once its bytes are flushed, so the client sees exactly afterBytes. */
function sendBody(res: ServerResponse, record: RecordedVideoRequest, plan: BodyPlan): void {
  const { fault, rate, version } = plan;
  // Headers go out now, so a fault after 0 bytes still reaches the body stage.
  res.flushHeaders();
  // Bytes to send before the fault strikes (all of them without one).
  const limit = fault ? Math.min(plan.end, plan.start + fault.afterBytes) : plan.end;
  let at = plan.start;
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
}
