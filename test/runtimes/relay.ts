// The loopback relay every runtime cell talks to: the one task route of the spec, answering from
// the recorded fixtures by task id, plus static files, so a browser page can load from the same
// origin. Task ids say what to do (see `answer`); every task request is recorded with its headers.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { ROOT } from "../consumer/exec.js";

/** The key the relay accepts. Not a secret. */
export const RELAY_API_KEY = "sk-runtime-matrix";
/** The route prefix of the spec's one operation. */
export const TASK_PATH = "/kling/v1/videos/image2video/";

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

/** One task request the relay received. */
export interface RelayRequest {
  taskId: string;
  authorization: string | undefined;
  origin: string | undefined;
}

/** A running relay. */
export interface Relay {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  requests: RelayRequest[];
  /** Serves `body` at `path` (for pages and bundles). */
  serve(path: string, body: string, type: string): void;
  close(): Promise<void>;
}

/**
 * Starts the relay. Task ids: `*-stall` never answer (timeouts, aborts); `*-missing` is the spec's
 * 404; `*-wait` answers queued, in_progress, then completed (counted per id); `*-pending` stays
 * queued; anything else is completed. A wrong or absent Bearer key is a 401 first.
 */
export async function startRelay(): Promise<Relay> {
  const requests: RelayRequest[] = [];
  const seen = new Map<string, number>();
  const files = new Map<string, { body: string; type: string }>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const file = files.get(path);
    if (file) {
      res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body);
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
