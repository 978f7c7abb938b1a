// createKlingClient: openapi-fetch's client over the generated `paths`, with the base URL, a Bearer
// middleware, response checks for every operation and the transport (timeouts, retries, byte
// cap), plus the task helpers.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./_spec.js";
import { checkOptionsObject, resolveOptions, type KlingClientOptions } from "./options.js";
import { IMAGE2VIDEO, TEXT2VIDEO } from "./routes.js";
import { routeHelpers, type CreateTaskOptions, type GenerateOptions, type GetTaskOptions, type RouteContext } from "./task-route.js";
import { bufferedBody, createTransport, type RequestPolicy, type Transport } from "./transport.js";
import type {
  CompletedImage2VideoTask,
  CompletedText2VideoTask,
  CreatedTask,
  CreateImage2VideoRequest,
  CreateText2VideoRequest,
  Image2VideoTaskResult,
  Text2VideoTaskResult,
} from "./types.js";
import { checkAnswer } from "./validate.js";
import type { WaitOptions } from "./wait.js";
import type { WaitManyOptions, WaitOutcome } from "./wait-many.js";
import { createRedactor, secretForms } from "./_redact.js";

export type { CreateTaskOptions, GenerateOptions, GetTaskOptions } from "./task-route.js";

/** The client: openapi-fetch's typed surface (`GET`, `POST`, `use`, ...) plus the task helpers of both routes. */
export interface KlingClient extends Client<paths> {
  /** Creates an image-to-video task (never sent twice unless the relay surely did not take it); resolves with its id. */
  createImage2VideoTask(request: CreateImage2VideoRequest, options?: CreateTaskOptions): Promise<CreatedTask>;
  /** Fetches a task once; resolves with it or rejects with a KlingError subclass. */
  getImage2VideoTask(taskId: string, options?: GetTaskOptions): Promise<Image2VideoTaskResult>;
  /** Polls a task until it completes (resolves) or fails, is cancelled, times out or is aborted (rejects). */
  waitForImage2VideoTask(taskId: string, options?: WaitOptions): Promise<CompletedImage2VideoTask>;
  /** Polls many tasks, at most `concurrency` requests at once; yields each outcome as its task settles. */
  waitForImage2VideoTasks(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
  /** Creates an image-to-video task, then waits for it: resolves with the completed task, rejects as the wait does. */
  generateImage2Video(request: CreateImage2VideoRequest, options?: GenerateOptions): Promise<CompletedImage2VideoTask>;
  /** Creates a text-to-video task (never sent twice unless the relay surely did not take it); resolves with its id. */
  createText2VideoTask(request: CreateText2VideoRequest, options?: CreateTaskOptions): Promise<CreatedTask>;
  /** Fetches a text-to-video task once. */
  getText2VideoTask(taskId: string, options?: GetTaskOptions): Promise<Text2VideoTaskResult>;
  /** Polls a text-to-video task until it completes (resolves) or ends otherwise (rejects). */
  waitForText2VideoTask(taskId: string, options?: WaitOptions): Promise<CompletedText2VideoTask>;
  /** Polls many text-to-video tasks; yields each outcome as its task settles. */
  waitForText2VideoTasks(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
  /** Creates a text-to-video task, then waits for it. */
  generateText2Video(request: CreateText2VideoRequest, options?: GenerateOptions): Promise<CompletedText2VideoTask>;
  /** A new client with some options changed; middlewares added with `use` carry over. */
  withOptions(options: KlingClientOptions): KlingClient;
}

const METHODS = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"] as const;

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
  // One transport per distinct policy, made once: a poll must not build one each time. The route
  // helpers' own policies (client, batch, create) are found by identity; a per-call one by its values.
  const byPolicy = new WeakMap<RequestPolicy, [buffer?: Transport, side?: Transport]>();
  const byValues = new Map<string, Transport>();
  const taskTransport = (policy: RequestPolicy, side: boolean): Transport => {
    const pair = byPolicy.get(policy) ?? [];
    const known = pair[side ? 1 : 0];
    if (known) return known;
    const key = `${policy.timeoutMs}|${policy.maxRetries}|${policy.retryRateLimit}|${policy.create}|${side}`;
    let fetch = byValues.get(key);
    if (!fetch) {
      if (byValues.size >= 32) byValues.clear();
      fetch = createTransport(policy, deps, side ? "side" : "buffer");
      taskFetches.add(fetch);
      byValues.set(key, fetch);
    }
    pair[side ? 1 : 0] = fetch;
    byPolicy.set(policy, pair);
    return fetch;
  };
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

  const context: RouteContext = { resolved, deps, clientPolicy, client, added, headers: taskHeaders, transport: taskTransport };
  const image2video = routeHelpers(IMAGE2VIDEO, context);
  const text2video = routeHelpers(TEXT2VIDEO, context);

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
    createImage2VideoTask: image2video.create,
    getImage2VideoTask: image2video.get,
    waitForImage2VideoTask: image2video.wait,
    waitForImage2VideoTasks: image2video.waitMany,
    generateImage2Video: image2video.generate,
    createText2VideoTask: text2video.create,
    getText2VideoTask: text2video.get,
    waitForText2VideoTask: text2video.wait,
    waitForText2VideoTasks: text2video.waitMany,
    generateText2Video: text2video.generate,
    withOptions(overrides: KlingClientOptions) {
      return build({ ...options, ...checkOptionsObject(overrides) }, added);
    },
  };
}
