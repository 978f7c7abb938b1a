// The helpers of one task route, derived from its description (src/routes.ts): create, get, wait,
// batch wait and generate. The client builds one set per route over its shared transports, so
// image2video and text2video run the same code.
import type { Client, Middleware } from "openapi-fetch";
import type { paths } from "./_spec.js";
import { buildCreateBody, checkCreateRequest } from "./create.js";
import { APIError, isGatewayError, KlingError, markMayHaveCreatedTask, ResponseValidationError, TaskNotFoundError } from "./errors.js";
import {
  checkDuration,
  checkFunction,
  checkOptionsObject,
  checkRetries,
  checkSignal,
  checkTaskId,
  checkValidation,
  type ResolvedOptions,
  type ValidationMode,
} from "./options.js";
import type { RouteDescription } from "./routes.js";
import { neverConnected, readBody, type RequestPolicy, type Transport, type TransportDeps } from "./transport.js";
import type { CompletedVideoTask, CreatedTask, CreateVideoRequest, VideoTaskResult } from "./types.js";
import { NOT_FOUND, parseCreatedBody, parseTaskBody } from "./validate.js";
import { checkWaitOptions, waitForTask, type WaitOptions } from "./wait.js";
import { waitForMany, type WaitManyOptions, type WaitOutcome } from "./wait-many.js";

/** Per-call options of a get or a create; each overrides the client's setting for this call. */
export interface GetTaskOptions {
  /** Aborts the call; it then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Time limit of one attempt, ms. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default: the client's `maxRetries` (a create is only retried when the relay surely did not take it). */
  maxRetries?: number;
  /** How the body is checked. Default: the client's `validation`. */
  validation?: ValidationMode;
}

/** Per-call options of a create (the same as a get's). */
export type CreateTaskOptions = GetTaskOptions;

/** Options of `generateImage2Video` / `generateText2Video`: the wait's options, plus `onCreated`. */
export interface GenerateOptions extends WaitOptions {
  /** Called with the task id as soon as the create answers, before the first poll: store it to resume a wait later. */
  onCreated?: (taskId: string) => void;
}

/** What the route helpers share with the client that builds them. */
export interface RouteContext {
  resolved: ResolvedOptions;
  deps: TransportDeps;
  clientPolicy: RequestPolicy;
  /** openapi-fetch's client, with the Bearer and response middlewares (used when the user added middlewares). */
  client: Client<paths>;
  /** Middlewares the user added with `use`. */
  added: readonly Middleware[];
  /** Headers of a direct request: the client's, plus Authorization. */
  headers: Record<string, string>;
  /** A transport for the task helpers under `policy`; `side`: the body is left in readBody. Shared when the policy is the client's. */
  transport(policy: RequestPolicy, side: boolean): Transport;
}

/** The helpers of one route. */
export interface RouteHelpers {
  create(request: CreateVideoRequest, options?: CreateTaskOptions): Promise<CreatedTask>;
  get(taskId: string, options?: GetTaskOptions): Promise<VideoTaskResult>;
  wait(taskId: string, options?: WaitOptions): Promise<CompletedVideoTask>;
  waitMany(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
  generate(request: CreateVideoRequest, options?: GenerateOptions): Promise<CompletedVideoTask>;
}

/** An error body as openapi-fetch hands it over: parsed JSON when it is JSON, else the text. */
function parseErrorText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Checks a call's options and merges them into the client's policy. */
function callPolicy(base: RequestPolicy, given: GetTaskOptions | undefined): { call: GetTaskOptions; policy: RequestPolicy } {
  const call = checkOptionsObject(given);
  checkSignal(call.signal);
  if (call.validation !== undefined) checkValidation(call.validation);
  // The common case keeps the base policy itself, so the client finds its transport without building a key.
  if (call.timeoutMs === undefined && call.maxRetries === undefined) return { call, policy: base };
  const policy: RequestPolicy = {
    ...base,
    timeoutMs: call.timeoutMs === undefined ? base.timeoutMs : checkDuration("timeoutMs", call.timeoutMs, true),
    maxRetries: call.maxRetries === undefined ? base.maxRetries : checkRetries(call.maxRetries),
  };
  return { call, policy };
}

/** Builds the helpers of `route` over the client's context. */
export function routeHelpers(route: RouteDescription, ctx: RouteContext): RouteHelpers {
  const { resolved, deps } = ctx;
  const redact = deps.redact;
  // A batch pauses every poll on a 429 itself, so its requests hand the 429 straight back.
  const batchPolicy: RequestPolicy = { ...ctx.clientPolicy, retryRateLimit: false };
  const createPolicy: RequestPolicy = { ...ctx.clientPolicy, create: true };

  /** What an APIError is built from; only computed on the error paths. */
  const errorInit = (response: Response, method: string, fallbackPath: string, body: unknown) => ({
    status: response.status,
    headers: redact(response.headers),
    method,
    path: new URL(response.url || `${resolved.baseUrl}${fallbackPath}`).pathname,
    body: redact(body),
  });

  /** Rethrows what a call threw, as the caller's own abort reason when it aborted. */
  function rethrow(thrown: unknown, signal: AbortSignal | undefined): never {
    // openapi-fetch rethrows only truthy errors, so an abort with a falsy reason (0, "", false)
    // surfaces as a TypeError from inside it: report the caller's own reason instead.
    if (signal?.aborted) throw signal.reason;
    throw thrown;
  }

  async function getTask(id: string, given: GetTaskOptions | undefined, batch = false): Promise<VideoTaskResult> {
    const { call, policy } = callPolicy(batch ? batchPolicy : ctx.clientPolicy, given);
    // Without a user onResponse middleware nobody else reads the Response: the transport hands the
    // text over directly instead of rebuilding a Response around it.
    const side = !ctx.added.some((m) => m.onResponse);
    const fetch = ctx.transport(policy, side);
    let response: Response;
    let data: unknown;
    let error: unknown;
    try {
      if (ctx.added.length === 0) {
        // No middleware of the user's to run: the request openapi-fetch would build, built here
        // (the hot path of every poll; openapi-fetch's own machinery would be pure overhead).
        const url = resolved.baseUrl + route.task.replace("{task_id}", encodeURIComponent(id));
        response = await fetch.get(url, ctx.headers, call.signal);
        if (!response.ok) error = parseErrorText(await response.text());
      } else {
        ({ data, error, response } = await (ctx.client.GET as unknown as RawCall)(route.task, {
          params: { path: { task_id: id } },
          parseAs: side ? "stream" : "text",
          signal: call.signal,
          fetch,
        }));
      }
    } catch (thrown) {
      rethrow(thrown, call.signal);
    }
    if (!response.ok) throw APIError.generate(errorInit(response, "GET", route.task, error ?? ""));
    // Scrubbed before parsing, so no error built from the body can carry the key back out.
    const text = redact(side ? readBody(response) : (data as string | undefined));
    const task = parseTaskBody(text, response.status, call.validation ?? resolved.validation, route.task);
    if (task === NOT_FOUND) throw new TaskNotFoundError(errorInit(response, "GET", route.task, JSON.parse(text!)));
    return task;
  }

  async function createTask(request: CreateVideoRequest, given: CreateTaskOptions | undefined): Promise<CreatedTask> {
    const { call, policy } = callPolicy(createPolicy, given);
    // Everything is checked, and the image read, before a byte is sent.
    const body = buildCreateBody(await checkCreateRequest(route, request));
    const fetch = ctx.transport(policy, false);
    let response: Response;
    let text: string | undefined;
    try {
      if (ctx.added.length === 0) {
        const headers = { ...ctx.headers, "Content-Type": "application/json" };
        response = await fetch.post(resolved.baseUrl + route.create, headers, body.make, call.signal);
      } else {
        // Middlewares may read the body: they get it as one JSON string.
        const json = await body.text();
        const answer = await (ctx.client.POST as unknown as RawCall)(route.create, {
          body: {},
          bodySerializer: () => json,
          parseAs: "text",
          signal: call.signal,
          fetch,
        });
        response = answer.response;
        const got = response.ok ? answer.data : answer.error;
        text = redact(typeof got === "string" ? got : got === undefined ? "" : JSON.stringify(got));
      }
      text ??= redact(await response.text());
    } catch (thrown) {
      // A timeout or a connection lost once the request was on its way: the relay may have
      // made the task. The transport never resent it; say so.
      if (thrown instanceof KlingError && !(call.signal?.aborted ?? false) && !neverConnected(thrown)) markMayHaveCreatedTask(thrown);
      rethrow(thrown, call.signal);
    }
    if (!response.ok) {
      const parsed = parseErrorText(text);
      const error = APIError.generate(errorInit(response, "POST", route.create, parsed));
      // The gateway's own error answers come with a refund and no task; a proxy's 5xx page (or a
      // 408) in front of it proves nothing either way.
      const unknownFate = !isGatewayError(parsed) && (response.status === 408 || response.status >= 500);
      throw unknownFate ? markMayHaveCreatedTask(error) : error;
    }
    try {
      const created = parseCreatedBody(text, response.status, call.validation ?? resolved.validation, route.create);
      try {
        checkTaskId(created.task_id);
      } catch (refused) {
        // Made, but its id could never be polled (a control character, 300 characters, ...).
        throw new ResponseValidationError(`the relay's task id cannot be polled: ${(refused as Error).message}`, { body: created, status: response.status });
      }
      return created;
    } catch (error) {
      // A 2xx means the relay took the create: without an id in it, the task may well exist.
      throw error instanceof KlingError ? markMayHaveCreatedTask(error) : error;
    }
  }

  const helpers: RouteHelpers = {
    create: (request, options) => createTask(request, options),
    get: async (taskId, options) => getTask(checkTaskId(taskId), options),
    wait: async (taskId, options) => {
      const id = checkTaskId(taskId);
      return waitForTask(id, (signal) => getTask(id, { signal }), options);
    },
    waitMany: (taskIds, options) => waitForMany(taskIds, (id, signal) => getTask(id, { signal }, true), options),
    generate: async (request, given) => {
      const options = checkWaitOptions(given) as GenerateOptions;
      const { onCreated, ...wait } = options;
      checkFunction("onCreated", onCreated);
      const created = await createTask(request, { signal: options.signal });
      onCreated?.(created.task_id);
      return helpers.wait(created.task_id, wait);
    },
  };
  return helpers;
}

/** openapi-fetch's GET / POST seen through a loose signature: the route's path is a union of two. */
type RawCall = (
  url: string,
  init: Record<string, unknown>,
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
