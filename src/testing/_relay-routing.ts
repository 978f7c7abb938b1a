// The fake relay's front door, in the order of a real gateway: the route, then the method, then the
// key, then the task or the create body. Every request is recorded with the status it got.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ROUTES, type RouteName } from "../routes.js";
import type { RelayAnswers } from "./_relay-answers.js";
import type { CreateRoutes, RecordStatus } from "./_relay-creates.js";
import type { TaskStore } from "./_relay-tasks.js";
import { recordedHeaders } from "./_servers.js";
import { taskNotFoundBody } from "./fixtures.js";
import type { RecordedRequest } from "./relay.js";
import { isScriptedResponse } from "./steps.js";

/** What the requests of one relay go through: its key, its answers, its tasks and creates, its record. */
export interface RelayParts {
  apiKey: string;
  answers: RelayAnswers;
  tasks: TaskStore;
  creates: CreateRoutes;
  requests: RecordedRequest[];
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

/** Serves one request to the relay. */
export function serveRelayRequest(parts: RelayParts, req: IncomingMessage, res: ServerResponse): void {
  const { answers } = parts;
  const method = req.method ?? "GET";
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const header = req.headers.authorization;
  const token = typeof header === "string" ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
  const authorized = token === parts.apiKey;
  const match = matchRoute(path);
  const taskId = match?.kind === "task" ? match.taskId : undefined;
  const headers = recordedHeaders(req.headers);
  const hadAuthorization = header !== undefined;
  const record: RecordStatus = (status) => {
    parts.requests.push({ method, path, route: match?.route, taskId, authorized, hadAuthorization, status, time: Date.now(), headers });
  };

  if (match === undefined || (match.kind === "task" && taskId === undefined)) {
    req.resume();
    record(404);
    answers.send(res, 404, errorBody(`no route for ${method} ${path}`, "invalid_request_error", "not_found"));
    return;
  }
  const allowed = match.kind === "task" ? "GET" : "POST";
  if (method !== allowed) {
    req.resume();
    record(405);
    const body = errorBody(`method ${method} is not allowed; use ${allowed}`, "invalid_request_error", "method_not_allowed");
    answers.send(res, 405, body, { allow: allowed });
    return;
  }
  if (!authorized) {
    req.resume();
    record(401);
    // The message says what is wrong, never what was sent.
    const message = header === undefined ? "missing Authorization: Bearer <key> header" : "invalid API key";
    answers.send(res, 401, errorBody(message, "authentication_error", "invalid_api_key"));
    return;
  }
  if (match.kind === "create") {
    parts.creates.read(req, res, match.route, record);
    return;
  }
  req.resume();
  serveTask(parts, res, match.route, taskId!, record);
}

/** One GET of a task route, the same for both routes: the task's next step, or the spec's 404. */
function serveTask(parts: RelayParts, res: ServerResponse, route: RouteName, taskId: string, record: RecordStatus): void {
  const step = parts.tasks.nextStep(route, taskId);
  if (step === undefined) {
    record(404);
    parts.answers.send(res, 404, taskNotFoundBody(taskId));
  } else if (isScriptedResponse(step)) {
    record(step.status);
    parts.answers.play(res, step);
  } else {
    record(200);
    parts.answers.send(res, 200, step);
  }
}
