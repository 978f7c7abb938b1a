// createKlingClient: openapi-fetch's client over the generated `paths`, with the base URL, a Bearer
// middleware and the transport (timeouts, retries), plus the two task helpers.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./_spec.js";
import { APIError, TaskNotFoundError } from "./errors.js";
import {
  checkDuration,
  checkRetries,
  checkTaskId,
  resolveOptions,
  type KlingClientOptions,
  type ValidationMode,
} from "./options.js";
import { createTransport, type RequestPolicy } from "./transport.js";
import { IMAGE2VIDEO_TASK_PATH, type CompletedImage2VideoTask, type Image2VideoTaskResult } from "./types.js";
import { NOT_FOUND, parseTaskBody } from "./validate.js";
import { waitForTask, type WaitOptions } from "./wait.js";
import { createRedactor } from "./_redact.js";

/** Per-call options of `getImage2VideoTask`; each overrides the client's setting for this call. */
export interface GetTaskOptions {
  /** Aborts the call; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Time limit of one attempt, ms. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default: the client's `maxRetries`. */
  maxRetries?: number;
  /** How the body is checked. Default: the client's `validation`. */
  validation?: ValidationMode;
}

/** The client: openapi-fetch's typed surface (`GET`, `use`, `eject`, ...) plus the task helpers. */
export interface KlingClient extends Client<paths> {
  /** Fetches a task once; resolves with it or rejects with a KlingError subclass. */
  getImage2VideoTask(taskId: string, options?: GetTaskOptions): Promise<Image2VideoTaskResult>;
  /** Polls a task until it completes (resolves) or fails, times out or is aborted (rejects). */
  waitForImage2VideoTask(taskId: string, options?: WaitOptions): Promise<CompletedImage2VideoTask>;
  /** A new client with some options changed; middlewares added with `use` carry over. */
  withOptions(options: KlingClientOptions): KlingClient;
}

/** Creates a client; reads XIEXUS_API_KEY / XIEXUS_BASE_URL when the options do not say. Throws InvalidArgumentError on bad options. */
export function createKlingClient(options: KlingClientOptions = {}): KlingClient {
  return build(options, []);
}

function build(options: KlingClientOptions, middlewares: Middleware[]): KlingClient {
  const resolved = resolveOptions(options);
  const redact = createRedactor(resolved.apiKey);
  const deps = { fetch: resolved.fetch, redact };
  const clientPolicy: RequestPolicy = { timeoutMs: resolved.timeoutMs, maxRetries: resolved.maxRetries };
  const transport = createTransport(clientPolicy, deps);
  const authorization = `Bearer ${resolved.apiKey}`;

  const client = createClient<paths>({ baseUrl: resolved.baseUrl, fetch: transport, headers: resolved.headers });
  client.use({
    onRequest({ request }) {
      request.headers.set("Authorization", authorization);
    },
  });
  const added = [...middlewares];
  if (added.length) client.use(...added);

  async function getImage2VideoTask(taskId: string, call: GetTaskOptions = {}): Promise<Image2VideoTaskResult> {
    const id = checkTaskId(taskId);
    const policy: RequestPolicy = {
      timeoutMs: call.timeoutMs === undefined ? clientPolicy.timeoutMs : checkDuration("timeoutMs", call.timeoutMs, true),
      maxRetries: call.maxRetries === undefined ? clientPolicy.maxRetries : checkRetries(call.maxRetries),
    };
    const sameAsClient = policy.timeoutMs === clientPolicy.timeoutMs && policy.maxRetries === clientPolicy.maxRetries;
    let result;
    try {
      result = await client.GET(IMAGE2VIDEO_TASK_PATH, {
        params: { path: { task_id: id } },
        parseAs: "text",
        signal: call.signal,
        fetch: sameAsClient ? transport : createTransport(policy, deps),
      });
    } catch (error) {
      // openapi-fetch rethrows only truthy errors, so an abort with a falsy reason (0, "", false)
      // surfaces as a TypeError from inside it: report the caller's own reason instead.
      if (call.signal?.aborted) throw call.signal.reason;
      throw error;
    }
    const { data, error, response } = result;
    // What an APIError is built from; only computed on the error paths.
    const errorInit = (body: unknown) => ({
      status: response.status,
      headers: redact(response.headers),
      method: "GET",
      path: response.url ? new URL(response.url).pathname : IMAGE2VIDEO_TASK_PATH,
      body: redact(body),
    });
    if (!response.ok) throw APIError.generate(errorInit(error ?? ""));
    // Scrubbed before parsing, so no error built from the body can carry the key back out.
    const text = redact(data);
    const task = parseTaskBody(text, response.status, call.validation ?? resolved.validation);
    if (task === NOT_FOUND) throw new TaskNotFoundError(errorInit(JSON.parse(text!)));
    return task;
  }

  return {
    ...client,
    use(...more: Middleware[]) {
      added.push(...more);
      client.use(...more);
    },
    eject(...less: Middleware[]) {
      for (const m of less) {
        const i = added.indexOf(m);
        if (i >= 0) added.splice(i, 1);
      }
      client.eject(...less);
    },
    getImage2VideoTask,
    async waitForImage2VideoTask(taskId: string, wait: WaitOptions = {}) {
      const id = checkTaskId(taskId);
      return waitForTask(id, (signal) => getImage2VideoTask(id, { signal }), wait);
    },
    withOptions(overrides: KlingClientOptions) {
      return build({ ...options, ...overrides }, added);
    },
  };
}
