// xiexus-kling/testing: a fake xiexus relay on loopback, for tests, demos and offline work.
// It speaks the spec's Kling routes with real HTTP (node:http), so everything between the client
// and the wire (fetch, retries, timeouts, validation) runs exactly as against the relay, from this
// process or from another one (a batch in a child process that a test kills).
// Kept out of src/index.ts so node:http never reaches a browser bundle.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopbackHost } from "../options.js";
import { ROUTES, type RouteName } from "../routes.js";
import {
  createdTaskScript,
  CreateScript,
  DEFAULT_MAX_BODY_BYTES,
  gatewayError,
  judgeCreate,
  newTaskId,
  type CreatedTaskOptions,
  type CreateFault,
  type CreateRequestInfo,
  type FakeCreateAnswer,
  type RecordedCreate,
} from "./creates.js";
import {
  CANCELLED_TASK,
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  DEMO_TASK_ID,
  EXPIRED_TASK,
  EXPIRED_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  taskNotFoundBody,
} from "./fixtures.js";
import { checkSteps, isScriptedResponse, type ScriptedResponse, type Step, type TaskScripts } from "./steps.js";
import { startVideoHost, type FakeVideoHost, type FakeVideoOptions } from "./video-host.js";

export {
  CANCELLED_TASK,
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  DEMO_TASK_ID,
  EXPIRED_TASK,
  EXPIRED_TASK_ID,
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
  fakeVideoPath,
  fakeVideoSha256,
} from "./video-host.js";
export { isScriptedResponse } from "./steps.js";
export { fakePng } from "./png.js";
export { DEFAULT_MAX_BODY_BYTES } from "./creates.js";
export type { FakeVideoHost, FakeVideoOptions, RecordedVideoRequest, VideoFault } from "./video-host.js";
export type { ScriptedResponse, Step, TaskScripts } from "./steps.js";
export type { FakePngOptions } from "./png.js";
export type {
  CreatedTaskOptions,
  CreatedTaskOutcome,
  CreateFault,
  CreateFaultResponse,
  CreateRequestInfo,
  FakeCreateAnswer,
  GatewayRecord,
  RecordedCreate,
  RecordedImage,
} from "./creates.js";
export type { KlingEndpoint, RecordedKlingCameraControl, RecordedKlingDynamicMask, RecordedKlingRequest } from "./gateway.js";

/** The API key the fake relay accepts unless `options.apiKey` says otherwise. Not a secret. */
export const FAKE_RELAY_API_KEY = "sk-fake-relay";

/**
 * The default scripts: DEMO_TASK_ID goes queued -> in_progress -> completed, FAILED_TASK_ID is
 * failed, CANCELLED_TASK_ID cancelled, EXPIRED_TASK_ID failed with `"TaskExpired"`. Scripted
 * tasks answer on both task routes (image2video and text2video).
 */
export const DEFAULT_TASKS: TaskScripts = Object.freeze({
  [DEMO_TASK_ID]: Object.freeze([QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]),
  [FAILED_TASK_ID]: Object.freeze([FAILED_TASK]),
  [CANCELLED_TASK_ID]: Object.freeze([CANCELLED_TASK]),
  [EXPIRED_TASK_ID]: Object.freeze([EXPIRED_TASK]),
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
   * of served completed tasks that carry COMPLETED_TASK's url at it (a created task at its own
   * path there). `true` for the defaults (256 KiB, ranges, ETag, Last-Modified, no faults).
   * Default: off (no second server; tasks as recorded).
   */
  video?: boolean | FakeVideoOptions;
  /**
   * How the tasks the relay creates run: options for all, or a function of each create request.
   * Default: `{}` (queued -> in_progress -> completed, one step per GET).
   */
  createdTasks?: CreatedTaskOptions | ((create: CreateRequestInfo) => CreatedTaskOptions);
  /** Create faults played in order by the creates the relay would accept, any route (see `scriptCreates`). Default: none. */
  createFaults?: readonly CreateFault[];
  /**
   * Consulted for each create the relay would accept once the scripted faults are used up: a fault
   * to play, or undefined for the normal answer (e.g. a reset at random in a kill test). An
   * invalid fault it returns is answered 500, saying why, and creates nothing.
   */
  createFault?: (create: CreateRequestInfo) => CreateFault | undefined;
  /** Largest create body read (the gateway's cap), in bytes; a larger one is answered 413. Default: 128 MiB. */
  maxBodyBytes?: number;
}

/** What the relay recorded of one request. Never the key nor the Authorization header's value. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path of the request, without the query string. */
  path: string;
  /** The route of the path (`image2video` or `text2video`, create or task path), else undefined. */
  route: RouteName | undefined;
  /** The (decoded) task id when the path is a task route, else undefined. */
  taskId: string | undefined;
  /** Whether the request carried `Authorization: Bearer <the relay's key>`. */
  authorized: boolean;
  /** Whether the request carried an Authorization header at all. */
  hadAuthorization: boolean;
  /** The HTTP status the relay answered with; 0 when it sent none (a reset, a stall, a client that left mid-body). */
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
  /** Every create received (authorized, body read), oldest first, with the task it created if any (the same array throughout). */
  readonly creates: readonly RecordedCreate[];
  /** How many tasks the relay created: what a real relay would have billed (a refused or faulted create without a task does not count). */
  readonly createCount: number;
  /** Whether the server is still listening (false once `close()` resolved). */
  readonly listening: boolean;
  /** The video host (another origin, like a CDN), when started with the `video` option; else undefined. */
  readonly video: FakeVideoHost | undefined;
  /** Adds or replaces the script of one task; it starts again from its first step (a created task keeps its route). */
  setTask(taskId: string, steps: readonly Step[]): void;
  /** Removes a task: it then answers the spec's 404. */
  deleteTask(taskId: string): void;
  /** Queues create faults, played in order: for one route's creates, else for any route (a route's own queue goes first). */
  scriptCreates(faults: readonly CreateFault[], route?: RouteName): void;
  /** Changes how the tasks created from now on run (the `createdTasks` option). */
  setCreatedTasks(options: CreatedTaskOptions | ((create: CreateRequestInfo) => CreatedTaskOptions)): void;
  /** Back to the start: the given scripts, options and fault queue, no created task, nothing recorded. */
  reset(): void;
  /** Stops listening and destroys every connection (keep-alive and stalled ones too); resolves when closed. */
  close(): Promise<void>;
}

/** A task the relay serves: its next answer, the route it belongs to (undefined: both), its own video path if created. */
interface TaskEntry {
  route: RouteName | undefined;
  next: () => Step;
  videoUrl: string | undefined;
}

type Match = { kind: "task"; route: RouteName; taskId: string | undefined } | { kind: "create"; route: RouteName };

/** Which route a path is: a create path, or a task path with its decoded id (undefined if it does not decode). */
function matchRoute(path: string): Match | undefined {
  for (const route of Object.values(ROUTES)) {
    if (path === route.create) return { kind: "create", route: route.name };
    const prefix = route.create + "/";
    if (path.startsWith(prefix) && path.length > prefix.length && !path.includes("/", prefix.length)) {
      try {
        return { kind: "task", route: route.name, taskId: decodeURIComponent(path.slice(prefix.length)) };
      } catch {
        return { kind: "task", route: route.name, taskId: undefined };
      }
    }
  }
  return undefined;
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
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) throw new RangeError("fake relay: maxBodyBytes must be a whole number >= 0");
  const script = new CreateScript(options);
  const initial = Object.entries(options.tasks ?? DEFAULT_TASKS).map(([id, steps]) => [id, checkSteps(id, steps)] as const);

  const tasks = new Map<string, TaskEntry>();
  const requests: RecordedRequest[] = [];
  const creates: RecordedCreate[] = [];
  let createCount = 0;
  const timers = new Set<NodeJS.Timeout>();
  let counter = 0;
  let video: FakeVideoHost | undefined = undefined;

  function scripted(steps: Step[], route: RouteName | undefined, videoUrl: string | undefined): TaskEntry {
    let served = 0;
    return { route, videoUrl, next: () => steps[Math.min(served++, steps.length - 1)]! };
  }

  function reset(): void {
    tasks.clear();
    for (const [id, steps] of initial) tasks.set(id, scripted(steps, undefined, undefined));
    requests.length = 0;
    creates.length = 0;
    createCount = 0;
    script.reset();
  }
  reset();

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    try {
      write(res, status, body, headers);
    } catch (error) {
      // A step edited after it was checked: answer 500 saying why, rather than throw into the test run.
      fail(res, `fake relay: cannot send this step: ${(error as Error).message}`);
    }
  }

  /** A 500 in plain text: the relay was given something it cannot play (never an exception in the test run). */
  function fail(res: http.ServerResponse, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 500;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(message);
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

  /** Runs `action` after `delayMs` (now when 0), unless the connection closed first or the relay closes. */
  function later(res: http.ServerResponse, delayMs: number | undefined, action: () => void): void {
    if (!delayMs) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) action();
    }, delayMs);
    timers.add(timer);
    res.on("close", () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  /** Sends a scripted answer after its delay. */
  function play(res: http.ServerResponse, step: ScriptedResponse, body: unknown = step.body): void {
    later(res, step.delayMs, () => send(res, step.status, body, step.headers));
  }

  /** One GET of a task route, the same for both routes: a created task answers only on its own route. */
  function serveTask(res: http.ServerResponse, route: RouteName, taskId: string, record: (status: number) => void): void {
    const entry = tasks.get(taskId);
    if (entry === undefined || (entry.route !== undefined && entry.route !== route)) {
      record(404);
      send(res, 404, taskNotFoundBody(taskId));
      return;
    }
    const step = entry.next();
    if (isScriptedResponse(step)) {
      record(step.status);
      play(res, step);
      return;
    }
    record(200);
    // The recorded video URL is not reachable offline: with a video host, the task points at it.
    const videoUrl = entry.videoUrl ?? video?.url;
    const served = videoUrl && step.status === "completed" && step.url === COMPLETED_TASK.url ? { ...step, url: videoUrl } : step;
    send(res, 200, served);
  }

  /** Creates a task for an accepted create: an id, its lifecycle, its video URL; counted as billed. */
  function createTask(info: CreateRequestInfo, model: string): FakeCreateAnswer | Error {
    const plan = script.plan(info);
    if (plan instanceof Error) return plan;
    const taskId = newTaskId();
    const now = Date.now();
    tasks.set(taskId, { route: info.route, next: createdTaskScript(taskId, plan, now), videoUrl: video?.urlFor(taskId) });
    createCount++;
    return { id: taskId, task_id: taskId, object: "video", model, status: "queued", progress: 0, created_at: Math.floor(now / 1000) };
  }

  function serveCreate(res: http.ServerResponse, route: RouteName, text: string, record: (status: number) => void): void {
    const verdict = judgeCreate(route, text);
    const info: CreateRequestInfo = { route, body: verdict.parsed, image: verdict.image, index: creates.length, ...verdict.gateway };
    const create: RecordedCreate = { ...info, taskId: undefined, answeredStatus: 0, fault: undefined, time: Date.now() };
    creates.push(create);
    const answered = (status: number): void => {
      create.answeredStatus = status;
      record(status);
    };
    if (!verdict.accepted) {
      answered(verdict.status);
      send(res, verdict.status, verdict.body);
      return;
    }
    const fault = script.nextFault(info);
    if (fault instanceof Error) {
      answered(500);
      fail(res, `fake relay: cannot play this create fault: ${fault.message}`);
      return;
    }
    const makesTask = fault === undefined || "fault" in fault || fault.created === true;
    const answer = makesTask ? createTask(info, verdict.model) : undefined;
    if (answer instanceof Error) {
      answered(500);
      fail(res, `fake relay: cannot plan the created task: ${answer.message}`);
      return;
    }
    create.taskId = answer?.task_id;
    if (fault === undefined) {
      answered(200);
      send(res, 200, answer);
      return;
    }
    if ("fault" in fault) {
      create.fault = fault.fault;
      answered(0);
      // reset-after-body: the body was read and the task created; the client gets a reset, no answer.
      if (fault.fault === "reset-after-body") later(res, fault.delayMs, () => res.socket?.resetAndDestroy());
      // stall: nothing more; the open socket holds the client until it (or close()) gives up.
      return;
    }
    create.fault = "response";
    let body = fault.body;
    if (fault.bodyFrom && answer) {
      try {
        body = fault.bodyFrom(answer);
      } catch (error) {
        answered(500);
        fail(res, `fake relay: bodyFrom failed: ${(error as Error).message}`);
        return;
      }
    }
    answered(fault.status);
    play(res, fault, body);
  }

  /** Reads a create's body (up to the cap), then serves it; a client that leaves mid-body created nothing. */
  function readCreate(req: http.IncomingMessage, res: http.ServerResponse, route: RouteName, record: (status: number) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    req.on("end", () => {
      ended = true;
      if (size > maxBodyBytes) {
        record(413);
        send(res, 413, gatewayError("read_request_body_failed", `request body is larger than ${maxBodyBytes} bytes`), {
          connection: "close",
        });
        return;
      }
      serveCreate(res, route, Buffer.concat(chunks).toString("utf8"), record);
    });
    req.on("close", () => {
      if (!ended) record(0);
    });
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const header = req.headers.authorization;
    const token = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    const authorized = token === apiKey;
    const match = matchRoute(path);
    const taskId = match?.kind === "task" ? match.taskId : undefined;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = /^(authorization|proxy-authorization|cookie)$/.test(name) ? "[redacted]" : String(value);
    }
    const record = (status: number): void => {
      requests.push({
        method,
        path,
        route: match?.route,
        taskId,
        authorized,
        hadAuthorization: header !== undefined,
        status,
        time: Date.now(),
        headers,
      });
    };

    // The order of a real gateway: route, then method, then the key, then the task or the body.
    if (match === undefined || (match.kind === "task" && taskId === undefined)) {
      req.resume();
      record(404);
      send(res, 404, errorBody(`no route for ${method} ${path}`, "invalid_request_error", "not_found"));
      return;
    }
    const allowed = match.kind === "task" ? "GET" : "POST";
    if (method !== allowed) {
      req.resume();
      record(405);
      send(res, 405, errorBody(`method ${method} is not allowed; use ${allowed}`, "invalid_request_error", "method_not_allowed"), {
        allow: allowed,
      });
      return;
    }
    if (!authorized) {
      req.resume();
      record(401);
      // The message says what is wrong, never what was sent.
      const message = header === undefined ? "missing Authorization: Bearer <key> header" : "invalid API key";
      send(res, 401, errorBody(message, "authentication_error", "invalid_api_key"));
      return;
    }
    if (match.kind === "create") {
      readCreate(req, res, match.route, record);
      return;
    }
    req.resume();
    serveTask(res, match.route, taskId!, record);
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
    creates,
    get createCount() {
      return createCount;
    },
    get listening() {
      return server.listening;
    },
    video,
    setTask(taskId, steps) {
      const checked = checkSteps(taskId, steps);
      const current = tasks.get(taskId);
      tasks.set(taskId, scripted(checked, current?.route, current?.videoUrl));
    },
    deleteTask(taskId) {
      tasks.delete(taskId);
    },
    scriptCreates: (faults, route) => script.queue(faults, route),
    setCreatedTasks: (next) => script.setCreatedTasks(next),
    reset,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const stop = (target: http.Server): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          target.close((error) => (error ? reject(error) : resolve()));
          // Keep-alive and stalled sockets would otherwise hold the process open.
          target.closeAllConnections();
        });
      closing ??= Promise.all([stop(server), ...(videoHost ? [stop(videoHost.server)] : [])]).then(() => undefined);
      return closing;
    },
  };
}
