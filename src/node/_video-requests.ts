// What a batch sends for a job: the create and the get of the job's route, looked up by the route
// (routeHelpersOf), under the client's own retry rules (src/retry.ts) with one difference: a 429
// comes straight back, because the batch pauses every job on it instead of one request sitting out
// its wait in a slot (a create refused with 429 was not taken: it is journaled and sent again).
import { routeHelpersOf, type KlingClient } from "../client.js";
import { APIConnectionError, APIError } from "../errors.js";
import { retryDelay, type RetryRule } from "../retry.js";
import type { RouteDescription, VideoTaskResult } from "../routes.js";
import type { CreatedTask, CreateVideoRequest } from "../types.js";
import { sleep } from "../_sleep.js";

/** A route's requests as a batch sends them. */
export interface JobRequests {
  /** Sends a create; `stop` keeps one that never connected from being sent again. Never cut half-way: its fate would be unknown. */
  create(request: CreateVideoRequest, stop: AbortSignal): Promise<CreatedTask>;
  /** Fetches a task once, honouring `signal`. */
  get(taskId: string, signal: AbortSignal): Promise<VideoTaskResult>;
}

/** The rules of the first attempt: the client's, a 429 handed back. */
const POLL_RULE: RetryRule = { maxRetries: 1, retryRateLimit: false };
const CREATE_RULE: RetryRule = { ...POLL_RULE, create: true };

/**
 * One request: sent once without the client's retries, so a 429 reaches the batch; when retry.ts's
 * ladder would try the failure again, sent once more under the client's own rules (after the
 * ladder's pause, cut by `signal`: then the first failure is the answer). Two calls, because the
 * route helpers take no "hand a 429 back" of their own.
 */
async function firstThenClient<T>(send: (maxRetries?: number) => Promise<T>, rule: RetryRule, method: string, signal: AbortSignal): Promise<T> {
  try {
    return await send(0);
  } catch (error) {
    const answer = error instanceof APIError ? error : undefined;
    if (signal.aborted || (!answer && !(error instanceof APIConnectionError))) throw error;
    const delay = retryDelay(0, rule, method, answer, error);
    if (delay === undefined) throw error;
    await sleep(delay, signal).catch(() => {
      throw error;
    });
  }
  return send();
}

/** The requests of `route` on `kling`. */
export function jobRequests(kling: KlingClient, route: RouteDescription): JobRequests {
  const helpers = routeHelpersOf(kling, route);
  return {
    create: (request, stop) => firstThenClient((maxRetries) => helpers.create(request, { maxRetries }), CREATE_RULE, "POST", stop),
    get: (taskId, signal) => firstThenClient((maxRetries) => helpers.get(taskId, { signal, maxRetries }), POLL_RULE, "GET", signal),
  };
}
