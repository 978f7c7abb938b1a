// Which task route a command talks to. A task created with an image lives on image2video, one
// created from a prompt alone on text2video, and the relay answers for a task on its own route
// only: `--route text2video` points status, wait and download at the second.
import type {
  CompletedVideoTask,
  CreatedTask,
  CreateImage2VideoRequest,
  CreateTaskOptions,
  CreateText2VideoRequest,
  GetTaskOptions,
  KlingClient,
  VideoTaskResult,
  WaitManyOptions,
  WaitOptions,
  WaitOutcome,
} from "../index.js";
import { TaskNotFoundError } from "../index.js";
import { ROUTES, type RouteName } from "../routes.js";
import type { CommandLine, Flag } from "./args.js";
import { TaskOnOtherRoute, UsageError } from "./errors.js";

/** `--route`: the route of the tasks a command polls (default image2video). */
export const ROUTE_FLAG = {
  name: "route",
  type: "string",
  usage: "--route <route>",
  help: ["status, wait, download: the task's route: image2video (default) or", "text2video (a task created without --image)"],
} as const satisfies Flag;

/** The route --route names (refused if it names none), image2video when not given. */
export function readRoute(line: CommandLine): RouteName {
  const given = line.string(ROUTE_FLAG);
  if (given === undefined) return "image2video";
  if (!Object.hasOwn(ROUTES, given)) {
    throw new UsageError(`--route must be ${Object.keys(ROUTES).join(" or ")}, got ${JSON.stringify(given)}`);
  }
  return given as RouteName;
}

/** The client's helpers for one route, under one set of names. */
export interface TaskCalls {
  readonly route: RouteName;
  /** The same client's helpers for another route. */
  on(route: RouteName): TaskCalls;
  create(request: CreateImage2VideoRequest | CreateText2VideoRequest, options?: CreateTaskOptions): Promise<CreatedTask>;
  get(taskId: string, options?: GetTaskOptions): Promise<VideoTaskResult>;
  wait(taskId: string, options?: WaitOptions): Promise<CompletedVideoTask>;
  waitMany(taskIds: Iterable<string>, options?: WaitManyOptions): AsyncIterable<WaitOutcome>;
}

/** The helpers of `route` on `client`. */
export function taskCalls(client: KlingClient, route: RouteName): TaskCalls {
  const on = (other: RouteName): TaskCalls => taskCalls(client, other);
  if (route === "text2video") {
    return {
      route,
      on,
      create: (request, options) => client.createText2VideoTask(request as CreateText2VideoRequest, options),
      get: (taskId, options) => client.getText2VideoTask(taskId, options),
      wait: (taskId, options) => client.waitForText2VideoTask(taskId, options),
      waitMany: (taskIds, options) => client.waitForText2VideoTasks(taskIds, options),
    };
  }
  return {
    route,
    on,
    create: (request, options) => client.createImage2VideoTask(request as CreateImage2VideoRequest, options),
    get: (taskId, options) => client.getImage2VideoTask(taskId, options),
    wait: (taskId, options) => client.waitForImage2VideoTask(taskId, options),
    waitMany: (taskIds, options) => client.waitForImage2VideoTasks(taskIds, options),
  };
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
