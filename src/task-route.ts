// The helpers of one task route, derived from its description (src/routes.ts): create, get, wait,
// batch wait and generate; the client builds one set per route (src/client.ts), so image2video and
// text2video run the same code. Every helper request takes one path, `call`: built as openapi-fetch
// would build it, through the middlewares the user added with `use` (each sees it once, whatever
// they are), then the transport; its answer is read once, here and in src/_validate.ts.
import type { Middleware } from "openapi-fetch";
import { buildCreateBody, checkCreateRequest } from "./create.js";
import { APIError, isGatewayError, KlingError, markMayHaveCreatedTask, ResponseValidationError, TaskNotFoundError } from "./errors.js";
import { invalid } from "./_messages.js";
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
import { helperNames, ROUTES, type CompletedVideoTask, type RouteDescription, type VideoTaskResult } from "./routes.js";
import { decoder, isOk, redirectMode, responseOf, type Answer, type CreateBodyPart, type RequestPolicy, type Send, type SendInit } from "./_transport.js";
import type { CreatedTask, CreateVideoRequest } from "./types.js";
import { NOT_FOUND, parseCreatedBody, parseTaskBody } from "./_validate.js";
import { checkWaitOptions, waitForTask, type WaitOptions } from "./wait.js";
import { waitForMany, type WaitManyOptions, type WaitOutcome } from "./wait-many.js";

/** Per-call options of a get or a create; each overrides the client's setting for this call. */
export interface GetTaskOptions {
  /** Aborts the call; it then rejects with `signal.reason` (a create already on its way: with an APIUserAbortError, see there). */
  signal?: AbortSignal;
  /** Time limit of one attempt, ms. Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default: the client's `maxRetries` (a create is only retried when the relay surely did not take it). */
  maxRetries?: number;
  /** How the body is checked. Default: the client's `validation`. */
  validation?: ValidationMode;
  /**
   * Whether a 429 is retried within the call, after its Retry-After, as other passing failures are.
   * `false`: the RateLimitError comes straight back, for a caller pacing many requests itself (a
   * batch pauses them all on it). Default: true.
   */
  retryRateLimit?: boolean;
}

/** Per-call options of a create (the same as a get's). */
export type CreateTaskOptions = GetTaskOptions;

/** Options of `generateImage2Video` / `generateText2Video`: the wait's options, plus `onCreated`. */
export interface GenerateOptions extends WaitOptions {
  /** Called with the task id as soon as the create answers, before the first poll: store it to resume a wait later. */
  onCreated?: (taskId: string) => void;
}

/**
 * What the route helpers share with the client that builds them: its options (which are its
 * request policy too: timeoutMs, maxRetries, maxResponseBytes), and the following.
 */
export interface RouteContext extends ResolvedOptions {
  /** Scrubs the API key out of anything that reaches the caller. */
  redact: <T>(value: T) => T;
  /** The client's transport. */
  send: Send;
  /** Middlewares the user added with `use`, in order (the list itself: `use` and `eject` change it). */
  middlewares: readonly Middleware[];
  /** Headers of every helper request: the client's, plus Authorization (in place of the options' own). */
  headers: Record<string, string>;
}

/** The helpers of one route, by role (`routeHelpersOf` in src/client.ts hands them out by route). */
export interface RouteHelpers {
  create(request: CreateVideoRequest, options?: CreateTaskOptions): Promise<CreatedTask>;
  get(taskId: string, options?: GetTaskOptions): Promise<VideoTaskResult>;
  wait(taskId: string, options?: WaitOptions): Promise<CompletedVideoTask>;
  waitMany(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
  generate(request: CreateVideoRequest, options?: GenerateOptions): Promise<CompletedVideoTask>;
}

/** A helper request's answer: its status line and headers, its body as scrubbed text, and the URL asked. */
interface Reply {
  status: number;
  headers: Headers;
  /** The URL that answered, else the one asked. */
  url: string;
  text: string;
}

let requestIds = 0;

/**
 * Sends one helper request: through the user's middlewares as openapi-fetch runs them (onRequest in
 * order, then onError and onResponse last-added first), then the transport. Hooks get the Request
 * and Response objects openapi-fetch would give them, made when there are hooks to take them
 * (without any, the request stays fetch's own arguments, a URL and its init, and the answer the
 * bytes read). `remake` makes a create's body again for a resend, while the request is the one
 * made here. Nothing is built once the caller has aborted.
 */
async function call(
  ctx: RouteContext,
  init: SendInit,
  schemaPath: string,
  id: string,
  policy: RequestPolicy,
  signal: AbortSignal | undefined,
  remake?: () => CreateBodyPart,
): Promise<Reply> {
  if (signal?.aborted) throw signal.reason;
  const url = ctx.baseUrl + schemaPath.replace("{task_id}", encodeURIComponent(id));
  const middlewares = [...ctx.middlewares];
  // The request: fetch's own arguments, or the Request the hooks are given (and may replace).
  const made = middlewares.length ? new Request(url, init as RequestInit) : url;
  let input = made;
  let answer: Answer | undefined;
  // What a hook answered with (a Response from onRequest or onError, or a replacement from
  // onResponse): it is what is read. `shown`: the answer rebuilt for the hooks to read.
  let given: Response | undefined;
  let shown: Response | undefined;
  let error: unknown;
  const params = { schemaPath, params: id ? { path: { task_id: id } } : {}, id: `xk${++requestIds}`, options: { baseUrl: ctx.baseUrl, parseAs: "text" } };
  /** Runs one kind of hook, in the list's order (see below). */
  const hooks = async (kind: "onRequest" | "onError" | "onResponse", more?: () => object): Promise<void> => {
    for (const m of middlewares) {
      if (!m[kind]) continue;
      const result: unknown = await m[kind]({ ...params, request: input as Request, ...more?.() } as never);
      if (result instanceof Request) input = result;
      if (result instanceof Error) error = result;
      if (result instanceof Response) given = result;
      if (given && kind !== "onResponse") return;
    }
  };
  await hooks("onRequest");
  // As openapi-fetch runs them: onRequest in order, the others last-added first.
  middlewares.reverse();
  if (!given) {
    try {
      answer = await ctx.send(input, input === url ? init : {}, policy, signal, { remake: input === made ? remake : undefined, httpGet: true });
    } catch (thrown) {
      error = thrown;
      await hooks("onError", () => ({ error }));
      if (!given) throw error;
    }
    await hooks("onResponse", () => ({ response: (given ??= shown ??= responseOf(answer!)) }));
  }
  // What a hook gave, unless it is only the answer shown to the hooks.
  const head = given && given !== shown ? given : answer!;
  return {
    status: head.status,
    headers: head.headers,
    url: head.url || url,
    // Scrubbed before anything parses it, so no error built from the body can carry the key back out.
    text: ctx.redact(head === given ? await given.text() : decoder.decode(answer!.body)),
  };
}

/** The per-call options that change the request policy, each with its check (called when it is set), in checking order. */
const POLICY_CHECKS: Record<string, (value: unknown) => unknown> = {
  validation: checkValidation,
  retryRateLimit: (value) => typeof value !== "boolean" && invalid("retryRateLimit", `must be a boolean, got ${typeof value}`),
  timeoutMs: (value) => checkDuration("timeoutMs", value, true),
  maxRetries: checkRetries,
};

/** A call's policy: the client's (or a create's), with the call's own validation mode. */
type CallPolicy = RequestPolicy & { validation: ValidationMode };

/**
 * Checks a call's options (its signal too, which the caller reads off them) and merges them into
 * the client's policy; returns the call's policy (the base one itself unless an option changes it).
 */
function callPolicy(base: CallPolicy, given: GetTaskOptions | undefined): CallPolicy {
  const call = checkOptionsObject(given) as Record<string, unknown>;
  checkSignal(call.signal);
  let policy = base;
  for (const name in POLICY_CHECKS) {
    const value = call[name];
    if (value === undefined) continue;
    POLICY_CHECKS[name]!(value);
    // The common case keeps the base policy itself; an option set makes one copy to change.
    if (policy === base) policy = { ...base };
    (policy as unknown as Record<string, unknown>)[name] = value;
  }
  return policy;
}

/** Builds the helpers of `route` over the client's context. */
export function routeHelpers(route: RouteDescription, ctx: RouteContext): RouteHelpers {
  const createPolicy: CallPolicy = { ...ctx, create: true };
  // A task id is only found on the route that made it: a not-found names the other routes' getter.
  const elsewhere = Object.values(ROUTES).filter((other) => other !== route);
  const notFoundHint = `; not found on ${route.name} (${elsewhere.map((other) => `for a task made on ${other.name}, use ${helperNames(other).get}`).join("; ")})`;

  /**
   * The APIError an answer stands for (TaskNotFoundError when `notFound` says so), its headers
   * scrubbed, its body as openapi-fetch hands one over: parsed JSON when it is JSON, else the text.
   */
  function apiError({ status, headers, url, text }: Reply, method: string, notFound?: boolean): APIError {
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    const init = { status, headers: ctx.redact(headers), method, path: new URL(url).pathname, body };
    return notFound ? new TaskNotFoundError(init) : APIError.generate(init);
  }

  async function getTask(id: string, given: GetTaskOptions | undefined): Promise<VideoTaskResult> {
    const policy = callPolicy(ctx, given);
    const reply = await call(ctx, { headers: ctx.headers }, route.task, id, policy, given?.signal);
    const { status, text } = reply;
    const ok = isOk(reply);
    if (ok) {
      const task = parseTaskBody(text, status, policy.validation, route.task);
      if (task !== NOT_FOUND) return task;
    }
    // An error status, or a 2xx carrying the relay's task_not_exist (a not-found, whatever its status).
    const error = apiError(reply, "GET", ok);
    // A not-found names the other routes' getters.
    if (error instanceof TaskNotFoundError) error.message += notFoundHint;
    throw error;
  }

  async function createTask(request: CreateVideoRequest, given: CreateTaskOptions | undefined): Promise<CreatedTask> {
    const policy = callPolicy(createPolicy, given);
    // Everything is checked, and the image read, before a byte is sent.
    const body = buildCreateBody(await checkCreateRequest(route, request));
    const init: SendInit = { method: "POST", headers: { ...ctx.headers, "Content-Type": "application/json" }, body: await body.make(), duplex: "half", redirect: redirectMode() };
    const reply = await call(ctx, init, route.create, "", policy, given?.signal, body.make);
    const { status, text } = reply;
    if (!isOk(reply)) {
      const error = apiError(reply, "POST");
      // The gateway's own error answers come with a refund and no task; a proxy's 5xx page (or a
      // 408) in front of it proves nothing either way.
      const unknownFate = !isGatewayError(error.body) && (status === 408 || status >= 500);
      throw unknownFate ? markMayHaveCreatedTask(error) : error;
    }
    try {
      const created = parseCreatedBody(text, status, policy.validation, route.create);
      try {
        checkTaskId(created.task_id);
      } catch (refused) {
        // Made, but its id could never be polled (a control character, 300 characters, ...).
        throw new ResponseValidationError(`the relay's task id cannot be polled: ${(refused as Error).message}`, { body: created, status });
      }
      return created;
    } catch (error) {
      // A 2xx means the relay took the create: without an id in it, the task may well exist.
      throw error instanceof KlingError ? markMayHaveCreatedTask(error) : error;
    }
  }

  // A single wait's polls (a 429 is retried within the call, as other passing failures are).
  const poll = (id: string, signal: AbortSignal): Promise<VideoTaskResult> => getTask(id, { signal });
  return {
    create: createTask,
    get: async (taskId, options) => getTask(checkTaskId(taskId), options),
    wait: async (taskId, options) => waitForTask(checkTaskId(taskId), poll, options),
    // A batch pauses every poll on a 429 itself, so its requests hand the 429 straight back.
    waitMany: (taskIds, options) => waitForMany(taskIds, (id, signal) => getTask(id, { signal, retryRateLimit: false }), options),
    generate: async (request, given) => {
      const { onCreated, ...wait } = checkWaitOptions(given) as GenerateOptions;
      checkFunction("onCreated", onCreated);
      const created = await createTask(request, { signal: wait.signal });
      onCreated?.(created.task_id);
      // (The id was checked as the create answered.)
      return waitForTask(created.task_id, poll, wait);
    },
  };
}
