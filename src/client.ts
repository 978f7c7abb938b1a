// createKlingClient: openapi-fetch's client over the generated `paths`, with the base URL, a Bearer
// middleware, response checks for every raw call and the transport (timeouts, retries, byte cap),
// plus the task helpers of every route in src/routes.ts, named after it (src/task-route.ts).
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { paths } from "./_spec.js";
import { checkOptionsObject, resolveOptions, type KlingClientOptions } from "./options.js";
import { helperNames, ROUTES, type HelperRole, type RouteDescription, type RouteName } from "./routes.js";
import { routeHelpers, type CreateTaskOptions, type GenerateOptions, type GetTaskOptions, type RouteContext, type RouteHelpers } from "./task-route.js";
import { bufferedBody, bufferedResponse, createTransport, decoder, responseOf } from "./_transport.js";
import type {
  CompletedImage2VideoTask,
  CompletedText2VideoTask,
  CreatedTask,
  CreateImage2VideoRequest,
  CreateText2VideoRequest,
  Image2VideoTaskResult,
  Text2VideoTaskResult,
} from "./types.js";
import { checkAnswer } from "./_validate.js";
import type { WaitOptions } from "./wait.js";
import type { WaitManyOptions, WaitOutcome } from "./wait-many.js";
import { createRedactor, secretForms } from "./_redact.js";

export type { CreateTaskOptions, GenerateOptions, GetTaskOptions, RouteHelpers } from "./task-route.js";

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

/** Creates a client; reads XIEXUS_API_KEY / XIEXUS_BASE_URL when the options do not say. Throws InvalidArgumentError on bad options. */
export function createKlingClient(options?: KlingClientOptions): KlingClient {
  // (resolveOptions refuses options that are not an object.)
  return build(options, []);
}

/**
 * The helpers of one route on `client`, by role (`create`, `get`, `wait`, `waitMany`, `generate`):
 * for code that is handed a route (the CLI's `--route`, a batch job's route) rather than a name.
 */
export function routeHelpersOf(client: KlingClient, route: RouteDescription | RouteName): RouteHelpers {
  const names = helperNames(typeof route === "string" ? ROUTES[route] : route);
  const methods = client as unknown as Record<string, (...args: never[]) => unknown>;
  return Object.fromEntries(Object.entries(names).map(([role, name]) => [role, methods[name]!.bind(client)])) as unknown as RouteHelpers;
}

function build(options: KlingClientOptions | undefined, middlewares: Middleware[]): KlingClient {
  const resolved = resolveOptions(options);
  const key = resolved.apiKey;
  const redact = createRedactor(key);
  const keyForms = key ? secretForms(key) : [];
  // The options are the client's request policy too (timeoutMs, maxRetries, maxResponseBytes).
  const send = createTransport(resolved, redact);
  // openapi-fetch's fetch: a raw call asking for a stream gets the body unread (the transport must know before it reads).
  const rawFetch = (stream: boolean) => (request: Request) => send(request, {}, resolved, request.signal, { stream }).then(responseOf);
  const streamFetch = rawFetch(true);
  // The key is null (a proxy adds it) or a non-empty string.
  const authorization = key && `Bearer ${key}`;
  const added = [...middlewares];

  const client = createClient<paths>({ baseUrl: resolved.baseUrl, fetch: rawFetch(false), headers: resolved.headers });
  client.use({
    onRequest({ request }) {
      if (authorization) request.headers.set("Authorization", authorization);
    },
    // Runs after every middleware added with `use` (openapi-fetch runs onResponse last-added first).
    async onResponse({ request, response, schemaPath, options }) {
      if (options.parseAs === "stream") return undefined;
      const check = response.ok && resolved.validation !== "off";
      // Text a relay may have echoed the key into; binary answers are handed on untouched.
      const textual = /json|text|xml|html|^$/i.test(response.headers.get("content-type") ?? "");
      if (!check && !(key && textual)) return undefined;
      // The transport's answer carries its body; another (a hook's) is read once and handed on
      // rebuilt: a clone would tee the stream, several times dearer. Bytes are read as UTF-8, as
      // Response.text() reads them.
      const own = bufferedBody(response);
      const body = own ?? (await response.arrayBuffer());
      const raw = typeof body === "string" ? body : decoder.decode(body);
      const text = redact(raw);
      if (check) checkAnswer(schemaPath, request.method, response.status, text, resolved.validation);
      // An answer echoing the key reaches a raw caller scrubbed (data, error and headers), as the
      // task helpers' answers and every thrown error do.
      let echoed = text !== raw;
      response.headers.forEach((value) => (echoed ||= keyForms.some((form) => value.includes(form))));
      if (own !== undefined && !echoed) return undefined;
      return bufferedResponse(response, textual ? text : body, echoed ? redact(response.headers) : response.headers);
    },
  }, ...added);

  type Call = (url: never, init?: { parseAs?: string; fetch?: unknown }) => Promise<unknown>;
  const kling: Record<string, unknown> = {
    ...client,
    use(...more: Middleware[]) {
      // openapi-fetch refuses what is not a middleware and skips a null one: the helpers' list too.
      for (const m of more) {
        client.use(m);
        if (m) added.push(m);
      }
    },
    eject(...less: Middleware[]) {
      for (const m of less) if (added.includes(m)) added.splice(added.indexOf(m), 1);
      client.eject(...less);
    },
    withOptions(overrides: KlingClientOptions) {
      return build({ ...options, ...checkOptionsObject(overrides) }, added);
    },
  };
  // The HTTP methods (GET, POST, ...: openapi-fetch's upper-case keys): a raw call asking for a
  // stream, with no fetch of its own, gets the transport's streaming fetch.
  for (const method in client) {
    if (/^[A-Z]+$/.test(method)) {
      kling[method] = (url: never, init?: { parseAs?: string; fetch?: unknown }) =>
        (client as unknown as Record<string, Call>)[method]!(url, init?.parseAs === "stream" && !init.fetch ? { ...init, fetch: streamFetch } : init);
    }
  }
  // Each route's helpers, under the names its description gives them (createImage2VideoTask, ...).
  const headers = authorization ? { ...resolved.headers, Authorization: authorization } : resolved.headers;
  const context: RouteContext = { ...resolved, redact, send, middlewares: added, headers };
  for (const route of Object.values(ROUTES)) {
    const helpers = routeHelpers(route, context);
    for (const [role, name] of Object.entries(helperNames(route))) kling[name] = helpers[role as HelperRole];
  }
  return kling as unknown as KlingClient;
}
