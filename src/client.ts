// createKlingClient: openapi-fetch's client over the generated `paths`, with the base URL, a Bearer
// middleware, response checks for every operation and the transport (timeouts, retries, byte
// cap), plus the task helpers.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./_spec.js";
import { APIError, TaskNotFoundError } from "./errors.js";
import {
  checkDuration,
  checkOptionsObject,
  checkRetries,
  checkSignal,
  checkTaskId,
  checkValidation,
  resolveOptions,
  type KlingClientOptions,
  type ValidationMode,
} from "./options.js";
import { bufferedBody, createTransport, readBody, type RequestPolicy } from "./transport.js";
import { IMAGE2VIDEO_TASK_PATH, type CompletedImage2VideoTask, type Image2VideoTaskResult } from "./types.js";
import { checkAnswer, NOT_FOUND, parseTaskBody } from "./validate.js";
import { waitForTask, type WaitOptions } from "./wait.js";
import { waitForMany, type WaitManyOptions, type WaitOutcome } from "./wait-many.js";
import { createRedactor, secretForms } from "./_redact.js";

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

/** The client: openapi-fetch's typed surface (`GET`, `POST`, `use`, ...) plus the task helpers. */
export interface KlingClient extends Client<paths> {
  /** Fetches a task once; resolves with it or rejects with a KlingError subclass. */
  getImage2VideoTask(taskId: string, options?: GetTaskOptions): Promise<Image2VideoTaskResult>;
  /** Polls a task until it completes (resolves) or fails, times out or is aborted (rejects). */
  waitForImage2VideoTask(taskId: string, options?: WaitOptions): Promise<CompletedImage2VideoTask>;
  /** Polls many tasks, at most `concurrency` requests at once; yields each outcome as its task settles. */
  waitForImage2VideoTasks(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
  /** A new client with some options changed; middlewares added with `use` carry over. */
  withOptions(options: KlingClientOptions): KlingClient;
}

const METHODS = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"] as const;

/** An error body as openapi-fetch hands it over: parsed JSON when it is JSON, else the text. */
function parseErrorText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Creates a client; reads XIEXUS_API_KEY / XIEXUS_BASE_URL when the options do not say. Throws InvalidArgumentError on bad options. */
export function createKlingClient(options?: KlingClientOptions): KlingClient {
  return build(checkOptionsObject(options), []);
}

function build(options: KlingClientOptions, middlewares: Middleware[]): KlingClient {
  const resolved = resolveOptions(options);
  const redact = createRedactor(resolved.apiKey);
  const keyForms = resolved.apiKey === null ? [] : secretForms(resolved.apiKey);
  const deps = { fetch: resolved.fetch, httpGet: resolved.httpGet, redact };
  const clientPolicy: RequestPolicy = {
    timeoutMs: resolved.timeoutMs,
    maxRetries: resolved.maxRetries,
    maxResponseBytes: resolved.maxResponseBytes,
  };
  const transport = createTransport(clientPolicy, deps);
  const streamTransport = createTransport(clientPolicy, deps, "stream");
  // The task helpers check bodies themselves: the response middleware leaves their calls alone.
  const taskFetches = new WeakSet<object>();
  const taskTransport = (policy: RequestPolicy, side: boolean) => {
    const fetch = createTransport(policy, deps, side ? "side" : "buffer");
    taskFetches.add(fetch);
    return fetch;
  };
  // A batch pauses every poll on a 429 itself, so its requests hand the 429 straight back.
  const batchPolicy: RequestPolicy = { ...clientPolicy, retryRateLimit: false };
  const taskTransports = {
    single: [taskTransport(clientPolicy, false), taskTransport(clientPolicy, true)],
    batch: [taskTransport(batchPolicy, false), taskTransport(batchPolicy, true)],
  } as const;
  const authorization = resolved.apiKey === null ? null : `Bearer ${resolved.apiKey}`;
  const taskHeaders: Record<string, string> = authorization === null ? resolved.headers : { ...resolved.headers, Authorization: authorization };

  const client = createClient<paths>({ baseUrl: resolved.baseUrl, fetch: transport, headers: resolved.headers });
  client.use({
    onRequest({ request }) {
      if (authorization !== null) request.headers.set("Authorization", authorization);
    },
    // Runs after every middleware added with `use` (openapi-fetch runs onResponse last-added first).
    async onResponse({ request, response, schemaPath, options }) {
      if (options.parseAs === "stream" || taskFetches.has(options.fetch)) return undefined;
      const check = response.ok && resolved.validation !== "off";
      // Text a relay may have echoed the key into; binary answers are handed on untouched.
      const textual = /json|text|xml|html|^$/i.test(response.headers.get("content-type") ?? "");
      if (!check && !(keyForms.length && textual)) return undefined;
      const bytes = bufferedBody(response);
      const raw = bytes ? new TextDecoder().decode(bytes) : await response.clone().text();
      const text = redact(raw);
      if (check) checkAnswer(schemaPath, request.method, response.status, text, resolved.validation);
      // An answer echoing the key reaches a raw caller scrubbed (data, error and headers), as the
      // task helpers' answers and every thrown error do.
      let echoed = text !== raw;
      response.headers.forEach((value) => (echoed ||= keyForms.some((form) => value.includes(form))));
      if (!echoed) return undefined;
      const empty = response.status === 204 || response.status === 205 || response.status === 304;
      const scrubbed = new Response(empty ? null : textual ? text : (bytes as Uint8Array<ArrayBuffer>) ?? raw, {
        status: response.status,
        statusText: response.statusText,
        headers: redact(response.headers),
      });
      Object.defineProperty(scrubbed, "url", { value: response.url });
      return scrubbed;
    },
  });
  const added = [...middlewares];
  if (added.length) client.use(...added);

  // A raw call asking for a stream gets the body unread: the transport must know before it reads.
  type Call = (url: never, init?: { parseAs?: string; fetch?: unknown }) => Promise<unknown>;
  const raw = client as unknown as Record<(typeof METHODS)[number], Call>;
  const methods = Object.fromEntries(
    METHODS.map((method) => [
      method,
      (url: never, init?: { parseAs?: string; fetch?: unknown }) =>
        raw[method](url, init?.parseAs === "stream" && !init.fetch ? { ...init, fetch: streamTransport } : init),
    ]),
  ) as unknown as Pick<Client<paths>, (typeof METHODS)[number]>;

  async function getTask(id: string, call: GetTaskOptions, kind: keyof typeof taskTransports = "single"): Promise<Image2VideoTaskResult> {
    const policy: RequestPolicy = {
      ...(kind === "batch" ? batchPolicy : clientPolicy),
      timeoutMs: call.timeoutMs === undefined ? clientPolicy.timeoutMs : checkDuration("timeoutMs", call.timeoutMs, true),
      maxRetries: call.maxRetries === undefined ? clientPolicy.maxRetries : checkRetries(call.maxRetries),
    };
    const sameAsClient = policy.timeoutMs === clientPolicy.timeoutMs && policy.maxRetries === clientPolicy.maxRetries;
    // Without a user onResponse middleware nobody else reads the Response: the transport hands the
    // text over directly instead of rebuilding a Response around it.
    const side = !added.some((m) => m.onResponse);
    const fetch = sameAsClient ? taskTransports[kind][side ? 1 : 0] : taskTransport(policy, side);
    let response: Response;
    let data: unknown;
    let error: unknown;
    try {
      if (added.length === 0) {
        // No middleware of the user's to run: the request openapi-fetch would build, built here
        // (the hot path of every poll; openapi-fetch's own machinery would be pure overhead).
        const url = resolved.baseUrl + IMAGE2VIDEO_TASK_PATH.replace("{task_id}", encodeURIComponent(id));
        response = await fetch.get(url, taskHeaders, call.signal);
        if (!response.ok) error = parseErrorText(await response.text());
      } else {
        ({ data, error, response } = await client.GET(IMAGE2VIDEO_TASK_PATH, {
          params: { path: { task_id: id } },
          parseAs: side ? "stream" : "text",
          signal: call.signal,
          fetch,
        }));
      }
    } catch (thrown) {
      // openapi-fetch rethrows only truthy errors, so an abort with a falsy reason (0, "", false)
      // surfaces as a TypeError from inside it: report the caller's own reason instead.
      if (call.signal?.aborted) throw call.signal.reason;
      throw thrown;
    }
    // What an APIError is built from; only computed on the error paths.
    const errorInit = (body: unknown) => ({
      status: response.status,
      headers: redact(response.headers),
      method: "GET",
      path: new URL(response.url || `${resolved.baseUrl}${IMAGE2VIDEO_TASK_PATH}`).pathname,
      body: redact(body),
    });
    if (!response.ok) throw APIError.generate(errorInit(error ?? ""));
    // Scrubbed before parsing, so no error built from the body can carry the key back out.
    const text = redact(side ? readBody(response) : (data as string | undefined));
    const task = parseTaskBody(text, response.status, call.validation ?? resolved.validation);
    if (task === NOT_FOUND) throw new TaskNotFoundError(errorInit(JSON.parse(text!)));
    return task;
  }

  return {
    ...client,
    ...methods,
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
    async getImage2VideoTask(taskId: string, given?: GetTaskOptions) {
      const call = checkOptionsObject(given);
      checkSignal(call.signal);
      if (call.validation !== undefined) checkValidation(call.validation);
      return getTask(checkTaskId(taskId), call);
    },
    async waitForImage2VideoTask(taskId: string, wait?: WaitOptions) {
      const id = checkTaskId(taskId);
      return waitForTask(id, (signal) => getTask(id, { signal }), wait);
    },
    waitForImage2VideoTasks(taskIds: Iterable<string>, wait?: WaitManyOptions) {
      return waitForMany(taskIds, (id, signal) => getTask(id, { signal }, "batch"), wait);
    },
    withOptions(overrides: KlingClientOptions) {
      return build({ ...options, ...checkOptionsObject(overrides) }, added);
    },
  };
}
