// The tasks a fake relay serves: the scripted ones (on both routes) and the ones its creates made
// (on their own route, with their own video path), each answering its next step per GET.
import type { RouteName } from "../routes.js";
import { COMPLETED_TASK } from "./fixtures.js";
import { checkSteps, stepper, type Step, type TaskScripts } from "./steps.js";
import type { FakeVideoHost } from "./video-host.js";

/** A task the relay serves: its next answer, the route it belongs to (undefined: both), its own video URL if created. */
interface TaskEntry {
  route: RouteName | undefined;
  next: () => Step;
  videoUrl: string | undefined;
}

/** The relay's tasks by id, and how many of them its creates made (what a real relay would bill). */
export class TaskStore {
  readonly #initial: ReadonlyArray<readonly [string, Step[]]>;
  readonly #tasks = new Map<string, TaskEntry>();
  #created = 0;
  /** The video host, once started: completed tasks point at it. */
  video: FakeVideoHost | undefined;

  /** Checks every script now, so that a bad one fails in the test that wrote it. */
  constructor(scripts: TaskScripts) {
    this.#initial = Object.entries(scripts).map(([id, steps]) => [id, checkSteps(id, steps)] as const);
    this.reset();
  }

  /** How many tasks creates made since the start or `reset()`. */
  get createdCount(): number {
    return this.#created;
  }

  /** Back to the given scripts, no created task. */
  reset(): void {
    this.#tasks.clear();
    for (const [id, steps] of this.#initial) this.#tasks.set(id, { route: undefined, next: stepper(steps), videoUrl: undefined });
    this.#created = 0;
  }

  /** Adds or replaces the script of one task; it starts again from its first step (a created task keeps its route and video). */
  setTask(taskId: string, steps: readonly Step[]): void {
    const checked = checkSteps(taskId, steps);
    const current = this.#tasks.get(taskId);
    this.#tasks.set(taskId, { route: current?.route, next: stepper(checked), videoUrl: current?.videoUrl });
  }

  /** Removes a task: it then answers the spec's 404. */
  deleteTask(taskId: string): void {
    this.#tasks.delete(taskId);
  }

  /** Adds a task a create made, on its route, with its own path on the video host; counted as billed. */
  addCreated(taskId: string, route: RouteName, next: () => Step): void {
    this.#tasks.set(taskId, { route, next, videoUrl: this.video?.urlFor(taskId) });
    this.#created++;
  }

  /**
   * The next answer of `taskId` to a GET on `route`, or undefined when the relay has no such task
   * there (a created task answers only on its own route).
   */
  nextStep(route: RouteName, taskId: string): Step | undefined {
    const entry = this.#tasks.get(taskId);
    if (entry === undefined || (entry.route !== undefined && entry.route !== route)) return undefined;
    const step = entry.next();
    // The recorded video URL is not reachable offline: with a video host, the task points at it.
    const videoUrl = entry.videoUrl ?? this.video?.url;
    return videoUrl && "url" in step && step.status === "completed" && step.url === COMPLETED_TASK.url ? { ...step, url: videoUrl } : step;
  }
}
