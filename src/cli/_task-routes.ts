// Which task route a command talks to. A task created with an image lives on image2video, one
// created from a prompt alone on text2video, and the relay answers for a task on its own route
// only: `--route text2video` points status, wait and download at the second.
import { routeHelpersOf, type KlingClient, type RouteHelpers } from "../client.js";
import { TaskNotFoundError } from "../index.js";
import { ROUTES, type RouteName } from "../routes.js";
import { valueFlag } from "./_flag.js";
import type { CommandLine } from "./_args.js";
import { TaskOnOtherRoute, UsageError } from "./_errors.js";

/** `--route`: the route of the tasks a command polls (default image2video). */
export const ROUTE_FLAG = valueFlag("route", "<route>", [
  "status, wait, download: the task's route: image2video (default) or",
  "text2video (a task created without --image)",
]);

/** The route of a task command without --route. */
export const DEFAULT_ROUTE: RouteName = "image2video";

/** The route --route names (refused if it names none), DEFAULT_ROUTE when not given. */
export function readRoute(line: CommandLine): RouteName {
  const given = line.string(ROUTE_FLAG);
  if (given === undefined) return DEFAULT_ROUTE;
  if (!Object.hasOwn(ROUTES, given)) {
    throw new UsageError(`--route must be ${Object.keys(ROUTES).join(" or ")}, got ${JSON.stringify(given)}`);
  }
  return given as RouteName;
}

/** The words that point a task command at `route`: `--route <route>`, none for DEFAULT_ROUTE. */
export function routeArgs(route: RouteName): string[] {
  return route === DEFAULT_ROUTE ? [] : ["--route", route];
}

/** The client's helpers for one route, by role, and the same client's helpers for the others. */
export interface TaskCalls extends RouteHelpers {
  readonly route: RouteName;
  /** The same client's helpers for another route. */
  on(route: RouteName): TaskCalls;
}

/** The helpers of `route` on `client`. */
export function taskCalls(client: KlingClient, route: RouteName): TaskCalls {
  return { ...routeHelpersOf(client, route), route, on: (other) => taskCalls(client, other) };
}

/**
 * Runs `work`, a call about `taskId` on `calls.route`. When the relay answers that the task does not
 * exist there, it is looked for once on each other route (one GET, no retry): a task created without
 * --image lives on text2video, and the relay answers for a task on its own route only. Found, the
 * not-found error is rethrown as TaskOnOtherRoute, whose message names the --route to give; the exit
 * code stays "not found". Any other error, or a task found nowhere, is rethrown as it is.
 */
export async function hintOtherRoute<T>(calls: TaskCalls, taskId: string, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof TaskNotFoundError) || signal.aborted) throw error;
    for (const other of Object.keys(ROUTES) as RouteName[]) {
      if (other === calls.route) continue;
      try {
        await calls.on(other).get(taskId, { signal, maxRetries: 0 });
      } catch {
        // Not there either, or no answer to tell: the error about the route asked stands.
        continue;
      }
      throw new TaskOnOtherRoute(error, calls.route, other);
    }
    throw error;
  }
}
