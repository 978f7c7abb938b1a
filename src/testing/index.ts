// xiexus-kling/testing: a fake xiexus relay on loopback, for tests, demos and offline work.
// It speaks the one route of the spec with real HTTP (node:http), so everything between the
// client and the wire (fetch, retries, timeouts, validation) runs exactly as against the relay.
// Kept out of src/index.ts so node:http never reaches a browser bundle.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopbackHost } from "../options.js";
import type { Image2VideoTask } from "../types.js";
import { checkHeader, startVideoHost, type FakeVideoHost, type FakeVideoOptions } from "./video-host.js";
import {
  COMPLETED_TASK,
  DEMO_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  taskNotFoundBody,
} from "./fixtures.js";

export {
  COMPLETED_TASK,
  DEMO_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  taskNotFoundBody,
} from "./fixtures.js";
export {
  DEFAULT_VIDEO_SIZE,
  FAKE_VIDEO_PATH,
  FAKE_VIDEO_QUERY,
  fakeVideoBytes,
  fakeVideoSha256,
} from "./video-host.js";
export type { FakeVideoHost, FakeVideoOptions, RecordedVideoRequest, VideoFault } from "./video-host.js";

/** The API key the fake relay accepts unless `options.apiKey` says otherwise. Not a secret. */
export const FAKE_RELAY_API_KEY = "sk-fake-relay";

/** One scripted HTTP answer: any status, any body (objects as JSON, strings as text/HTML), extra headers, a delay. */
export interface ScriptedResponse {
  /** HTTP status code, 200-599 (a final answer: an informational 1xx cannot end a request). */
  status: number;
  /** The body: a string or bytes are sent as they are, anything else as JSON; absent means an empty body. */
  body?: unknown;
  /** Headers to add or override (e.g. `{ "retry-after": "1" }`). */
  headers?: Record<string, string>;
  /** Wait this long (ms) before answering, to exercise timeouts. */
  delayMs?: number;
}

/** One answer of a task's script: a spec-shaped task body (served as a 200) or a ScriptedResponse. */
export type Step = Image2VideoTask | ScriptedResponse;

/** Scripts by task id: each task answers its steps one per request, and the last step repeats. */
export type TaskScripts = Readonly<Record<string, readonly Step[]>>;

/** The default scripts: DEMO_TASK_ID goes queued -> in_progress -> completed, FAILED_TASK_ID is failed. */
export const DEFAULT_TASKS: TaskScripts = Object.freeze({
  [DEMO_TASK_ID]: Object.freeze([QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]),
  [FAILED_TASK_ID]: Object.freeze([FAILED_TASK]),
});

/** Options of `createFakeRelay`; every one is optional. */
export interface FakeRelayOptions {
  /** The task scripts. Default: DEFAULT_TASKS. */
  tasks?: TaskScripts;
  /** The key accepted as `Authorization: Bearer <key>`. Default: FAKE_RELAY_API_KEY. */
  apiKey?: string;
  /** Port to listen on. Default: 0 (any free port; read `url`). */
  port?: number;
  /** Loopback address to listen on: `127.0.0.1` (default), another `127.x.x.x`, `::1` or `localhost`. */
  host?: string;
  /**
   * Also serve the demo video from a second loopback origin (`relay.video`), and point the `url`
   * of served completed tasks that carry COMPLETED_TASK's url at it. `true` for the defaults
   * (256 KiB, ranges, ETag, Last-Modified, no faults). Default: off (no second server; tasks as recorded).
   */
  video?: boolean | FakeVideoOptions;
}

/** What the relay recorded of one request. Never the key nor the Authorization header's value. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path of the request, without the query string. */
  path: string;
  /** The (decoded) task id when the path is the task route, else undefined. */
  taskId: string | undefined;
  /** Whether the request carried `Authorization: Bearer <the relay's key>`. */
  authorized: boolean;
  /** Whether the request carried an Authorization header at all. */
  hadAuthorization: boolean;
  /** The HTTP status the relay answered with. */
  status: number;
  /** When the request arrived, ms since the epoch. */
  time: number;
  /** Request headers, lower-case names; `authorization`, `proxy-authorization` and `cookie` values are `[redacted]`. */
  headers: Record<string, string>;
}

/** A running fake relay. */
export interface FakeRelay {
  /** Base URL to give the client, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The key it accepts. */
  readonly apiKey: string;
  /** Every request so far, oldest first (the same array throughout; `reset()` empties it). */
  readonly requests: readonly RecordedRequest[];
  /** Whether the server is still listening (false once `close()` resolved). */
  readonly listening: boolean;
  /** The video host (another origin, like a CDN), when started with the `video` option; else undefined. */
  readonly video: FakeVideoHost | undefined;
  /** Adds or replaces the script of one task; it starts again from its first step. */
  setTask(taskId: string, steps: readonly Step[]): void;
  /** Removes a task: it then answers the spec's 404. */
  deleteTask(taskId: string): void;
  /** Back to the scripts given at start, every task at its first step, no recorded requests. */
  reset(): void;
  /** Stops listening and destroys every connection (keep-alive ones too); resolves when closed. */
  close(): Promise<void>;
}

const TASK_ROUTE = /^\/kling\/v1\/videos\/image2video\/([^/]+)$/;

/** True when a step is a ScriptedResponse rather than a task body (a task's status is a word). */
export function isScriptedResponse(step: Step): step is ScriptedResponse {
  return typeof (step as { status?: unknown }).status === "number";
}

function checkSteps(taskId: string, steps: readonly Step[]): Step[] {
  const where = `fake relay: task ${JSON.stringify(taskId)}`;
  if (typeof taskId !== "string" || taskId === "") throw new TypeError("fake relay: a task id must be a non-empty string");
  if (!Array.isArray(steps) || steps.length === 0) throw new TypeError(`${where}: steps must be a non-empty array`);
  for (const step of steps as unknown[]) {
    if (step === null || typeof step !== "object" || Array.isArray(step)) {
      throw new TypeError(`${where}: every step must be a task body or { status, body?, headers?, delayMs? }`);
    }
    if (!isScriptedResponse(step as Step)) {
      checkJson(where, step);
      continue;
    }
    const { status, delayMs, headers, body } = step as ScriptedResponse;
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(`${where}: status must be an integer from 200 to 599, got ${status}`);
    }
    if (delayMs !== undefined && !(typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0)) {
      throw new RangeError(`${where}: delayMs must be a finite number >= 0`);
    }
    for (const [name, value] of Object.entries(headers ?? {})) checkHeader(where, name, value);
    if (typeof body !== "string" && !(body instanceof Uint8Array)) checkJson(where, body);
  }
  return [...steps];
}

/** Refuses a body JSON.stringify cannot send (a BigInt, a cycle) before any request needs it. */
function checkJson(where: string, body: unknown): void {
  try {
    JSON.stringify(body);
  } catch (error) {
    throw new TypeError(`${where}: a body must be a string, bytes or JSON data (${(error as Error).message})`);
  }
}

function errorBody(message: string, type: string, code: string | null, param: string | null = null): object {
  return { error: { message, type, param, code } };
}

/** Starts a fake relay on loopback; resolves once it listens. */
export async function createFakeRelay(options: FakeRelayOptions = {}): Promise<FakeRelay> {
  const apiKey = options.apiKey ?? FAKE_RELAY_API_KEY;
  if (typeof apiKey !== "string" || apiKey === "" || /\s/.test(apiKey)) {
    throw new TypeError("fake relay: apiKey must be a non-empty string without whitespace");
  }
  const host = options.host ?? "127.0.0.1";
  // Loopback only: the relay accepts a key and serves whatever it is scripted to, to anyone who can reach it.
  if (!isLoopbackHost(host)) throw new RangeError(`fake relay: host must be a loopback address, got ${host}`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`fake relay: port must be an integer from 0 to 65535, got ${port}`);
  }
  const videoOptions = options.video === true ? {} : options.video === false ? undefined : options.video;
  if (videoOptions !== undefined && (videoOptions === null || typeof videoOptions !== "object")) {
    throw new TypeError("fake relay: video must be a boolean or an options object");
  }
  const initial = Object.entries(options.tasks ?? DEFAULT_TASKS).map(([id, steps]) => [id, checkSteps(id, steps)] as const);

  const scripts = new Map<string, Step[]>();
  const served = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;

  function reset(): void {
    scripts.clear();
    served.clear();
    for (const [id, steps] of initial) scripts.set(id, steps);
    requests.length = 0;
  }
  reset();

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    try {
      write(res, status, body, headers);
    } catch (error) {
      // A step edited after it was checked: answer 500 saying why, rather than throw into the test run.
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      res.statusCode = 500;
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.end(`fake relay: cannot send this step: ${(error as Error).message}`);
    }
  }

  function write(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    let payload: string | Uint8Array | undefined;
    let type: string | undefined;
    if (typeof body === "string") {
      payload = body;
      type = /^\s*</.test(body) ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
    } else if (body instanceof Uint8Array) {
      payload = body;
      type = "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      type = "application/json; charset=utf-8";
    }
    if (status === 204 || status === 304) payload = undefined;
    res.statusCode = status;
    if (type !== undefined && payload !== undefined) res.setHeader("content-type", type);
    res.setHeader("x-request-id", `fake-relay-${++counter}`);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(payload);
  }

  let video: FakeVideoHost | undefined = undefined;
  const server = http.createServer((req, res) => {
    req.resume();
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const header = req.headers.authorization;
    const token = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    const authorized = token === apiKey;
    const match = TASK_ROUTE.exec(path);
    let taskId: string | undefined;
    try {
      taskId = match ? decodeURIComponent(match[1]!) : undefined;
    } catch {
      taskId = undefined;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = /^(authorization|proxy-authorization|cookie)$/.test(name) ? "[redacted]" : String(value);
    }
    const record = (status: number): void => {
      requests.push({ method, path, taskId, authorized, hadAuthorization: header !== undefined, status, time: Date.now(), headers });
    };

    // The order of a real gateway: route, then method, then the key, then the task.
    if (taskId === undefined) {
      record(404);
      send(res, 404, errorBody(`no route for ${method} ${path}`, "invalid_request_error", "not_found"));
      return;
    }
    if (method !== "GET") {
      record(405);
      send(res, 405, errorBody(`method ${method} is not allowed; use GET`, "invalid_request_error", "method_not_allowed"), {
        allow: "GET",
      });
      return;
    }
    if (!authorized) {
      record(401);
      // The message says what is wrong, never what was sent.
      const message = header === undefined ? "missing Authorization: Bearer <key> header" : "invalid API key";
      send(res, 401, errorBody(message, "authentication_error", "invalid_api_key"));
      return;
    }
    const steps = scripts.get(taskId);
    if (steps === undefined) {
      record(404);
      send(res, 404, taskNotFoundBody(taskId));
      return;
    }
    const count = served.get(taskId) ?? 0;
    served.set(taskId, count + 1);
    const step = steps[Math.min(count, steps.length - 1)]!;
    if (!isScriptedResponse(step)) {
      record(200);
      // The recorded video URL is not reachable offline: with a video host, the task points at it.
      const served = video && step.status === "completed" && step.url === COMPLETED_TASK.url ? { ...step, url: video.url } : step;
      send(res, 200, served);
      return;
    }
    record(step.status);
    if (!step.delayMs) {
      send(res, step.status, step.body, step.headers);
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) send(res, step.status, step.body, step.headers);
    }, step.delayMs);
    timers.add(timer);
    res.on("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  });

  const listenHost = host === "[::1]" ? "::1" : host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let videoHost: Awaited<ReturnType<typeof startVideoHost>> | undefined;
  try {
    videoHost = videoOptions === undefined ? undefined : await startVideoHost(host, videoOptions);
  } catch (error) {
    server.close();
    throw error;
  }
  video = videoHost?.host;
  const address = server.address() as AddressInfo;
  const urlHost = listenHost === "::1" ? "[::1]" : host;
  const url = `http://${urlHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    apiKey,
    requests,
    get listening() {
      return server.listening;
    },
    video,
    setTask(taskId, steps) {
      scripts.set(taskId, checkSteps(taskId, steps));
      served.delete(taskId);
    },
    deleteTask(taskId) {
      scripts.delete(taskId);
      served.delete(taskId);
    },
    reset,
    close() {
        for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const stop = (target: http.Server): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          target.close((error) => (error ? reject(error) : resolve()));
          // Keep-alive sockets would otherwise hold the process open for keepAliveTimeout.
          target.closeAllConnections();
        });
      closing ??= Promise.all([
        stop(server),
        ...(videoHost ? [stop(videoHost.server)] : []),
      ]).then(() => undefined);
      return closing;
    },
  };
}
