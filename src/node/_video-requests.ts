// What a batch sends for a job: the create and the get of the job's route, looked up by the route
// (routeHelpersOf), under the client's own retry rules (src/_retry.ts) but for one: a 429 comes
// straight back, because the batch pauses every job on it instead of one request sitting out its
// wait in a slot (a create refused with 429 was not taken: it is journaled and sent again).
import { routeHelpersOf, type KlingClient } from "../client.js";
import type { RouteDescription, VideoTaskResult } from "../routes.js";
import type { CreatedTask, CreateVideoRequest } from "../types.js";

/** A route's requests as a batch sends them. */
export interface JobRequests {
  /** Sends a create. Never cut half-way by the batch's stop: its fate would be unknown; it ends by the client's `timeoutMs`. */
  create(request: CreateVideoRequest): Promise<CreatedTask>;
  /** Fetches a task once, honouring `signal`. */
  get(taskId: string, signal: AbortSignal): Promise<VideoTaskResult>;
}

/** The requests of `route` on `kling`. */
export function jobRequests(kling: KlingClient, route: RouteDescription): JobRequests {
  const helpers = routeHelpersOf(kling, route);
  return {
    create: (request) => helpers.create(request, { retryRateLimit: false }),
    get: (taskId, signal) => helpers.get(taskId, { signal, retryRateLimit: false }),
  };
}
