// The task routes this package drives, described once: each has a create path and a task path.
// Every helper on the client (create, get, wait, batch wait, generate) is derived from one of these
// descriptions by src/task-route.ts, so a new route is one more entry here, not another copy.
import type { paths } from "./_spec.js";

/** The image-to-video task route: create with an image, poll by id. */
export const IMAGE2VIDEO = {
  name: "image2video",
  create: "/kling/v1/videos/image2video",
  task: "/kling/v1/videos/image2video/{task_id}",
  image: "required",
} as const satisfies RouteDescription;

/** The text-to-video task route: create from a prompt alone, poll by id. */
export const TEXT2VIDEO = {
  name: "text2video",
  create: "/kling/v1/videos/text2video",
  task: "/kling/v1/videos/text2video/{task_id}",
  image: "refused",
} as const satisfies RouteDescription;

/** What a task route is: its create path, its task path, and whether a create takes an image. */
export interface RouteDescription {
  /** A short name for messages and the CLI (`image2video`, `text2video`). */
  readonly name: string;
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

/** Every task path, for the checks that hold a task answer to the task rules (validate.ts). */
export const TASK_PATHS: ReadonlySet<string> = new Set(Object.values(ROUTES).map((route) => route.task));
