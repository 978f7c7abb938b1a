// The fake relay's public shapes: the options of createFakeRelay, what it records of a request, and
// the handle a test holds on a running relay. index.ts builds one; the _relay-*.ts files run it.
import type { RouteName } from "../routes.js";
import type { CreatedTaskOptions, CreateFault, CreateRequestInfo, RecordedCreate } from "./creates.js";
import type { Step, TaskScripts } from "./steps.js";
import type { FakeVideoHost, FakeVideoOptions } from "./video-host.js";

/** Options of `createFakeRelay`; every one is optional. */
export interface FakeRelayOptions {
  /** The task scripts. Default: DEFAULT_TASKS. */
  tasks?: TaskScripts;
  /** The key accepted as `Authorization: Bearer <key>`. Default: FAKE_RELAY_API_KEY. */
  apiKey?: string;
  /** Port to listen on. Default: 0 (any free port; read `url`). */
  port?: number;
  /** Loopback address to listen on: `127.0.0.1` (default), another `127.x.x.x`, `::1` or `localhost`. */
  host?: string;
  /**
   * Also serve the demo video from a second loopback origin (`relay.video`), and point the `url`
   * of served completed tasks that carry COMPLETED_TASK's url at it (a created task at its own
   * path there). `true` for the defaults (256 KiB, ranges, ETag, Last-Modified, no faults).
   * Default: off (no second server; tasks as recorded).
   */
  video?: boolean | FakeVideoOptions;
  /**
   * How the tasks the relay creates run: options for all, or a function of each create request.
   * Default: `{}` (queued -> in_progress -> completed, one step per GET).
   */
  createdTasks?: CreatedTaskOptions | ((create: CreateRequestInfo) => CreatedTaskOptions);
  /** Create faults played in order by the creates the relay would accept, any route (see `scriptCreates`). Default: none. */
  createFaults?: readonly CreateFault[];
  /**
   * Consulted for each create the relay would accept once the scripted faults are used up: a fault
   * to play, or undefined for the normal answer (e.g. a reset at random in a kill test). An
   * invalid fault it returns is answered 500, saying why, and creates nothing.
   */
  createFault?: (create: CreateRequestInfo) => CreateFault | undefined;
  /** Largest create body read (the gateway's cap), in bytes; a larger one is answered 413. Default: 128 MiB. */
  maxBodyBytes?: number;
}

/** What the relay recorded of one request. Never the key nor the Authorization header's value. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** Path of the request, without the query string. */
  path: string;
  /** The route of the path (`image2video` or `text2video`, create or task path), else undefined. */
  route: RouteName | undefined;
  /** The (decoded) task id when the path is a task route, else undefined. */
  taskId: string | undefined;
  /** Whether the request carried `Authorization: Bearer <the relay's key>`. */
  authorized: boolean;
  /** Whether the request carried an Authorization header at all. */
  hadAuthorization: boolean;
  /** The HTTP status the relay answered with; 0 when it sent none (a reset, a stall, a client that left mid-body). */
  status: number;
  /** When the request arrived, ms since the epoch. */
  time: number;
  /** Request headers, lower-case names; `authorization`, `proxy-authorization` and `cookie` values are `[redacted]`. */
  headers: Record<string, string>;
}

/** A running fake relay. */
export interface FakeRelay {
  /** Base URL to give the client, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The key it accepts. */
  readonly apiKey: string;
  /** Every request so far, oldest first (the same array throughout; `reset()` empties it). */
  readonly requests: readonly RecordedRequest[];
  /** Every create received (authorized, body read), oldest first, with the task it created if any (the same array throughout). */
  readonly creates: readonly RecordedCreate[];
  /** How many tasks the relay created: what a real relay would have billed (a refused or faulted create without a task does not count). */
  readonly createCount: number;
  /** Whether the server is still listening (false once `close()` resolved). */
  readonly listening: boolean;
  /** The video host (another origin, like a CDN), when started with the `video` option; else undefined. */
  readonly video: FakeVideoHost | undefined;
  /** Adds or replaces the script of one task; it starts again from its first step (a created task keeps its route). */
  setTask(taskId: string, steps: readonly Step[]): void;
  /** Removes a task: it then answers the spec's 404. */
  deleteTask(taskId: string): void;
  /** Queues create faults, played in order: for one route's creates, else for any route (a route's own queue goes first). */
  scriptCreates(faults: readonly CreateFault[], route?: RouteName): void;
  /** Changes how the tasks created from now on run (the `createdTasks` option). */
  setCreatedTasks(options: CreatedTaskOptions | ((create: CreateRequestInfo) => CreatedTaskOptions)): void;
  /** Back to the start: the given scripts, options and fault queue, no created task, nothing recorded. */
  reset(): void;
  /** Stops listening and destroys every connection (keep-alive and stalled ones too); resolves when closed. */
  close(): Promise<void>;
}
