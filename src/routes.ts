// The task routes this package drives, described once: each has a create path, a task path and the
// title its helpers are named by. Every helper on the client (create, get, wait, batch wait,
// generate) is derived from one of these descriptions (src/task-route.ts, src/client.ts), so a new
// route is one more entry here, not another copy. The task types the routes answer with live here
// too: everything that handles a task (errors, statuses, relay variants) reads them without
// reaching the request types, which import the image rules.
import type { paths } from "./_spec.js";

/** The image-to-video task route: create with an image, poll by id. */
export const IMAGE2VIDEO = {
  name: "image2video",
  title: "Image2Video",
  create: "/kling/v1/videos/image2video",
  task: "/kling/v1/videos/image2video/{task_id}",
  image: "required",
} as const satisfies RouteDescription;

/** The text-to-video task route: create from a prompt alone, poll by id. */
export const TEXT2VIDEO = {
  name: "text2video",
  title: "Text2Video",
  create: "/kling/v1/videos/text2video",
  task: "/kling/v1/videos/text2video/{task_id}",
  image: "refused",
} as const satisfies RouteDescription;

/** What a task route is: its create path, its task path, and whether a create takes an image. */
export interface RouteDescription {
  /** A short name for messages and the CLI (`image2video`, `text2video`). */
  readonly name: string;
  /** What its helpers are named by: `create<title>Task`, `get<title>Task`, `waitFor<title>Task(s)`, `generate<title>`. */
  readonly title: string;
  /** The POST that creates a task. */
  readonly create: keyof paths;
  /** The GET that reads a task, with `{task_id}`. */
  readonly task: keyof paths;
  /** `required`: a create needs `image`; `refused`: a create must not have one (the gateway would switch to image2video). */
  readonly image: "required" | "refused";
}

/** Both routes, by name. */
export const ROUTES = { image2video: IMAGE2VIDEO, text2video: TEXT2VIDEO } as const;

/** A route's name. */
export type RouteName = keyof typeof ROUTES;

/**
 * The route a create goes to, by whether it has an image (each route's `image` rule): the gateway
 * itself picks Kling's endpoint by the image, so a create with one is image2video.
 */
export function routeOfCreate(hasImage: boolean): RouteDescription {
  return Object.values(ROUTES).find((route) => (route.image === "required") === hasImage)!;
}

/** Every task path, for the checks that hold a task answer to the task rules (_validate.ts). */
export const TASK_PATHS: ReadonlySet<string> = new Set(Object.values(ROUTES).map((route) => route.task));

/** The helpers of a route, by role. */
export type HelperRole = "create" | "get" | "wait" | "waitMany" | "generate";

/** The client's name of each helper of `route` (`createImage2VideoTask`, `waitForText2VideoTasks`, ...). */
export function helperNames(route: RouteDescription): Record<HelperRole, string> {
  const t = route.title;
  return { create: `create${t}Task`, get: `get${t}Task`, wait: `waitFor${t}Task`, waitMany: `waitFor${t}Tasks`, generate: `generate${t}` };
}

type TaskOperation<P extends keyof paths> = paths[P] extends { get: infer G } ? G : never;
type TaskBody<P extends keyof paths> = TaskOperation<P> extends { responses: { 200: { content: { "application/json": infer B } } } } ? B : never;

/** A Kling image-to-video task as the spec's 200 response describes it. */
export type Image2VideoTask = TaskBody<typeof IMAGE2VIDEO.task>;

/** A Kling text-to-video task as the spec's 200 response describes it (the same schema as image-to-video). */
export type Text2VideoTask = TaskBody<typeof TEXT2VIDEO.task>;

/** A task of either route: what the wait machinery, the errors and the CLI handle. */
export type VideoTask = Image2VideoTask | Text2VideoTask;

/** The spec's task statuses: `queued` | `in_progress` | `completed` | `failed` | `cancelled`. */
export type Image2VideoTaskStatus = NonNullable<Image2VideoTask["status"]>;

/** The statuses of a text-to-video task (the same union as image-to-video). */
export type Text2VideoTaskStatus = NonNullable<Text2VideoTask["status"]>;

/** A task status of either route. */
export type VideoTaskStatus = Image2VideoTaskStatus | Text2VideoTaskStatus;

/** The spec's 404 body. */
export type TaskNotFoundResponse = TaskOperation<typeof IMAGE2VIDEO.task> extends {
  responses: { 404: { content: { "application/json": infer B } } };
}
  ? B
  : never;

/** A task that finished with a video: `status` is `completed` and `url` is present. */
export type CompletedImage2VideoTask = Image2VideoTask & { status: "completed"; url: string };

/** A text-to-video task that finished with a video. */
export type CompletedText2VideoTask = Text2VideoTask & { status: "completed"; url: string };

/** A task of either route that finished with a video. */
export type CompletedVideoTask = CompletedImage2VideoTask | CompletedText2VideoTask;

/** A task that finished without a video. */
export type FailedImage2VideoTask = Image2VideoTask & { status: "failed" };

/**
 * What `getImage2VideoTask` resolves with: the task, plus `raw`, the body exactly as the relay sent
 * it, present (and not enumerable, so it stays out of JSON and spreads) only when compat mode
 * rewrote a relay variant into the spec's shape.
 */
export type Image2VideoTaskResult = Image2VideoTask & { readonly raw?: unknown };

/** What `getText2VideoTask` resolves with (see Image2VideoTaskResult). */
export type Text2VideoTaskResult = Text2VideoTask & { readonly raw?: unknown };

/** A task of either route as a get resolves with it (see Image2VideoTaskResult). */
export type VideoTaskResult = Image2VideoTaskResult | Text2VideoTaskResult;
