// xiexus-kling/testing: a fake xiexus relay on loopback, for tests, demos and offline work.
// It speaks the spec's Kling routes with real HTTP (node:http), so everything between the client
// and the wire (fetch, retries, timeouts, validation) runs exactly as against the relay, from this
// process or from another one (a batch in a child process that a test kills).
// Kept out of src/index.ts so node:http never reaches a browser bundle.
import http from "node:http";
import { isLoopbackHost } from "../options.js";
import { RelayAnswers } from "./_relay-answers.js";
import { CreateRoutes } from "./_relay-creates.js";
import { serveRelayRequest, type RelayParts } from "./_relay-routing.js";
import { TaskStore } from "./_relay-tasks.js";
import { listen, stop } from "./_servers.js";
import { startVideoHost } from "./_video-server.js";
import { CreateScript, DEFAULT_MAX_BODY_BYTES } from "./creates.js";
import { DEFAULT_TASKS } from "./fixtures.js";
import type { FakeRelay, FakeRelayOptions } from "./relay.js";
import type { FakeVideoOptions } from "./video-host.js";

export {
  CANCELLED_TASK,
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  DEFAULT_TASKS,
  DEMO_TASK_ID,
  EXPIRED_TASK,
  EXPIRED_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  taskNotFoundBody,
} from "./fixtures.js";
export { DEFAULT_VIDEO_SIZE, FAKE_VIDEO_PATH, FAKE_VIDEO_QUERY, fakeVideoBytes, fakeVideoPath, fakeVideoSha256 } from "./video-host.js";
export { isScriptedResponse } from "./steps.js";
export { fakePng } from "./png.js";
export { DEFAULT_MAX_BODY_BYTES } from "./creates.js";
export type { FakeRelay, FakeRelayOptions, RecordedRequest } from "./relay.js";
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

/** The options that say where and how the relay listens, checked. */
interface Listening {
  apiKey: string;
  host: string;
  port: number;
  video: FakeVideoOptions | undefined;
  maxBodyBytes: number;
}

/** Checks the options about listening; a bad one throws before anything starts. */
function checkListening(options: FakeRelayOptions): Listening {
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
  const video = options.video === true ? {} : options.video === false ? undefined : options.video;
  if (video !== undefined && (video === null || typeof video !== "object")) {
    throw new TypeError("fake relay: video must be a boolean or an options object");
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) throw new RangeError("fake relay: maxBodyBytes must be a whole number >= 0");
  return { apiKey, host, port, video, maxBodyBytes };
}

/** Starts a fake relay on loopback; resolves once it listens. */
export async function createFakeRelay(options: FakeRelayOptions = {}): Promise<FakeRelay> {
  const { apiKey, host, port, video: videoOptions, maxBodyBytes } = checkListening(options);
  const script = new CreateScript(options);
  const answers = new RelayAnswers();
  const tasks = new TaskStore(options.tasks ?? DEFAULT_TASKS);
  const routes = new CreateRoutes(answers, tasks, script, maxBodyBytes);
  const parts: RelayParts = { apiKey, answers, tasks, creates: routes, requests: [] };
  const reset = (): void => {
    tasks.reset();
    parts.requests.length = 0;
    routes.reset();
    script.reset();
  };

  const server = http.createServer((req, res) => serveRelayRequest(parts, req, res));
  const { origin: url, port: boundPort } = await listen(server, port, host);
  let videoHost: Awaited<ReturnType<typeof startVideoHost>> | undefined;
  try {
    videoHost = videoOptions === undefined ? undefined : await startVideoHost(host, videoOptions);
  } catch (error) {
    server.close();
    throw error;
  }
  tasks.video = videoHost?.host;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: boundPort,
    apiKey,
    requests: parts.requests,
    creates: routes.creates,
    get createCount() {
      return tasks.createdCount;
    },
    get listening() {
      return server.listening;
    },
    video: videoHost?.host,
    setTask: (taskId, steps) => tasks.setTask(taskId, steps),
    deleteTask: (taskId) => tasks.deleteTask(taskId),
    scriptCreates: (faults, route) => script.queue(faults, route),
    setCreatedTasks: (next) => script.setCreatedTasks(next),
    reset,
    close() {
      answers.clearTimers();
      closing ??= Promise.all([stop(server), ...(videoHost ? [stop(videoHost.server)] : [])]).then(() => undefined);
      return closing;
    },
  };
}
