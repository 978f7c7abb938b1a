// The loopback relay every runtime cell talks to: the task route of the spec, answering from the
// recorded fixtures by task id, the two create routes, plus static files, so a browser page can
// load from the same origin. Task ids say what to do (see `answer`); every task request is
// recorded with its headers, every create with how its body came and what its image decoded to.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { ROOT } from "../consumer/exec.js";

/** The key the relay accepts. Not a secret. */
export const RELAY_API_KEY = "sk-runtime-matrix";
/** The route prefix of the spec's image2video task. */
export const TASK_PATH = "/kling/v1/videos/image2video/";
/** The create routes the relay serves. */
export const CREATE_PATHS = ["/kling/v1/videos/image2video", "/kling/v1/videos/text2video"] as const;

interface Fixture {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}
const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(resolve(ROOT, "test/fixtures", name), "utf8")) as Fixture;
const QUEUED = fixture("task-queued.json");
const IN_PROGRESS = fixture("task-in-progress.json");
const COMPLETED = fixture("task-completed.json");
const NOT_FOUND = fixture("task-not-found.json");
const CANCELLED = fixture("task-cancelled.json");

/** One task request the relay received. */
export interface RelayRequest {
  taskId: string;
  authorization: string | undefined;
  origin: string | undefined;
}

/** One create the relay received (whatever its answer). */
export interface RelayCreate {
  path: (typeof CREATE_PATHS)[number];
  /** The body's `prompt`: the cells name themselves in it (`<cell> ...`). */
  prompt: string | undefined;
  authorization: string | undefined;
  /** Which framing the body came with: a streamed body is chunked, a string one has a length. */
  contentLength: boolean;
  chunked: boolean;
  /** Bytes of the body as received. */
  bodyBytes: number;
  /** Length of `image` once decoded from base64; undefined when the body had no image. */
  imageBytes: number | undefined;
  /** HTTP status of the answer. */
  status: number;
  /** The task id answered (200 only). */
  taskId: string | undefined;
}

/** The task id a create of `image` (decoded bytes; none for text2video) is answered with. */
export function createdTaskId(image: Uint8Array | undefined): string {
  return `created-${image ? createHash("sha256").update(image).digest("hex").slice(0, 16) : "none"}`;
}

/** A running relay. */
export interface Relay {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  requests: RelayRequest[];
  creates: RelayCreate[];
  /** Serves `body` at `path` (for pages and bundles). */
  serve(path: string, body: string, type: string): void;
  close(): Promise<void>;
}

/**
 * Starts the relay. Task ids: `*-stall` never answer (timeouts, aborts); `*-missing` is the spec's
 * 404; `*-wait` answers queued, in_progress, then completed (counted per id); `*-pending` stays
 * queued; `*-cancelled` is cancelled; anything else is completed. A wrong or absent Bearer key is a
 * 401 first. Creates (`CREATE_PATHS`): see `create`.
 */
export async function startRelay(): Promise<Relay> {
  const requests: RelayRequest[] = [];
  const creates: RelayCreate[] = [];
  const seen = new Map<string, number>();
  const files = new Map<string, { body: string; type: string }>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const file = files.get(path);
    if (file) {
      res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
      return;
    }
    const createPath = CREATE_PATHS.find((p) => p === path);
    if (createPath && req.method === "POST") {
      // A body cut short (a cell that gave up) ends that one connection, not the relay.
      create(req, res, createPath, creates).catch(() => res.destroy());
      return;
    }
    if (!path.startsWith(TASK_PATH) || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("no such route");
      return;
    }
    const taskId = decodeURIComponent(path.slice(TASK_PATH.length));
    const authorization = req.headers.authorization;
    requests.push({ taskId, authorization, origin: req.headers.origin });
    if (taskId.endsWith("-stall")) return; // never answered: closed by close()
    if (authorization !== `Bearer ${RELAY_API_KEY}`) {
      send(res, { status: 401, headers: {}, body: { error: { message: "invalid api key", type: "invalid_request_error", code: "invalid_api_key" } } });
      return;
    }
    const count = (seen.get(taskId) ?? 0) + 1;
    seen.set(taskId, count);
    const answer = taskId.endsWith("-missing")
      ? NOT_FOUND
      : taskId.endsWith("-pending")
        ? QUEUED
        : taskId.endsWith("-cancelled")
          ? CANCELLED
          : taskId.endsWith("-wait")
            ? ([QUEUED, IN_PROGRESS, COMPLETED][Math.min(count, 3) - 1] ?? COMPLETED)
            : COMPLETED;
    send(res, { ...answer, body: "task_id" in answer.body ? { ...answer.body, task_id: taskId } : answer.body });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    creates,
    serve: (path, body, type) => void files.set(path, { body, type }),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function send(res: http.ServerResponse, answer: Fixture): void {
  res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
}

/** The gateway's own error shape (relay-create.md): a refused create costs nothing and makes no task. */
function gatewayError(res: http.ServerResponse, status: number, code: string, message: string): void {
  send(res, { status, headers: { "content-type": "application/json; charset=utf-8" }, body: { code, message, data: null } });
}

/** Standard padded base64 and nothing else: pieces joined with padding inside would not pass. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A create: the Bearer key as for GETs, then the whole body (chunked or not) read and parsed. No
 * prompt is the gateway's 400 `invalid_request`; a prompt containing "no quota" its 403
 * `insufficient_user_quota`; an image that is not base64 a 400 too. Otherwise 200 with a queued
 * task whose id is `createdTaskId` of the decoded image, so a cell can tell its bytes arrived intact.
 */
async function create(req: http.IncomingMessage, res: http.ServerResponse, path: RelayCreate["path"], creates: RelayCreate[]): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const record: RelayCreate = {
    path,
    prompt: undefined,
    authorization: req.headers.authorization,
    contentLength: req.headers["content-length"] !== undefined,
    chunked: /\bchunked\b/i.test(req.headers["transfer-encoding"] ?? ""),
    bodyBytes: raw.byteLength,
    imageBytes: undefined,
    status: 0,
    taskId: undefined,
  };
  creates.push(record);
  const answer = (status: number, code: string, message: string) => {
    record.status = status;
    gatewayError(res, status, code, message);
  };
  if (record.authorization !== `Bearer ${RELAY_API_KEY}`) {
    record.status = 401;
    send(res, { status: 401, headers: {}, body: { error: { message: "invalid api key", type: "invalid_request_error", code: "invalid_api_key" } } });
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    return answer(400, "invalid_request", "the body is not JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) return answer(400, "invalid_request", "the body is not a JSON object");
  const { prompt, image } = body as { prompt?: unknown; image?: unknown };
  record.prompt = typeof prompt === "string" ? prompt : undefined;
  if (typeof prompt !== "string" || prompt.trim() === "") return answer(400, "invalid_request", "prompt is required");
  if (prompt.includes("no quota")) return answer(403, "insufficient_user_quota", "user quota is not enough");
  let decoded: Uint8Array | undefined;
  if (image !== undefined) {
    if (typeof image !== "string" || !BASE64.test(image)) return answer(400, "invalid_request", "image is not base64");
    decoded = Buffer.from(image, "base64");
    record.imageBytes = decoded.byteLength;
  }
  record.status = 200;
  record.taskId = createdTaskId(decoded);
  send(res, { status: 200, headers: { "content-type": "application/json; charset=utf-8" }, body: { task_id: record.taskId, status: "queued" } });
}
