// The fake relay's create routes over HTTP: the body read up to the gateway's cap, the verdict of
// creates.ts, the scripted fault played, the task made and counted. creates.ts decides; this file
// answers.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RouteName } from "../routes.js";
import type { RelayAnswers } from "./_relay-answers.js";
import type { TaskStore } from "./_relay-tasks.js";
import {
  createdTaskScript,
  gatewayError,
  judgeCreate,
  newTaskId,
  type CreateFault,
  type CreateRequestInfo,
  type CreateScript,
  type FakeCreateAnswer,
  type RecordedCreate,
} from "./creates.js";

/** Records the status the relay answered a request with (0: none). */
export type RecordStatus = (status: number) => void;

/** The creates of one fake relay: what it received (`creates`) and how it answers each. */
export class CreateRoutes {
  /** Every create received (authorized, body read), oldest first; the same array throughout. */
  readonly creates: RecordedCreate[] = [];

  constructor(
    private readonly answers: RelayAnswers,
    private readonly tasks: TaskStore,
    private readonly script: CreateScript,
    private readonly maxBodyBytes: number,
  ) {}

  /** Forgets every create received. */
  reset(): void {
    this.creates.length = 0;
  }

  /** Reads a create's body (up to the cap), then serves it; a client that leaves mid-body created nothing. */
  read(req: IncomingMessage, res: ServerResponse, route: RouteName, record: RecordStatus): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= this.maxBodyBytes) chunks.push(chunk);
    });
    req.on("end", () => {
      ended = true;
      if (size > this.maxBodyBytes) {
        record(413);
        const error = gatewayError("read_request_body_failed", `request body is larger than ${this.maxBodyBytes} bytes`);
        this.answers.send(res, 413, error, { connection: "close" });
        return;
      }
      this.#serve(res, route, Buffer.concat(chunks).toString("utf8"), record);
    });
    req.on("close", () => {
      if (!ended) record(0);
    });
  }

  /** Judges a create body, then answers it: refused, created, or the next scripted fault. */
  #serve(res: ServerResponse, route: RouteName, text: string, record: RecordStatus): void {
    const verdict = judgeCreate(route, text);
    const info: CreateRequestInfo = { route, body: verdict.parsed, image: verdict.image, index: this.creates.length, ...verdict.gateway };
    const create: RecordedCreate = { ...info, taskId: undefined, answeredStatus: 0, fault: undefined, time: Date.now() };
    this.creates.push(create);
    const answered = (status: number): void => {
      create.answeredStatus = status;
      record(status);
    };
    const fail = (message: string): void => {
      answered(500);
      this.answers.fail(res, message);
    };
    if (!verdict.accepted) {
      answered(verdict.status);
      this.answers.send(res, verdict.status, verdict.body);
      return;
    }
    const fault = this.script.nextFault(info);
    if (fault instanceof Error) return fail(`fake relay: cannot play this create fault: ${fault.message}`);
    const makesTask = fault === undefined || "fault" in fault || fault.created === true;
    const answer = makesTask ? this.#createTask(info, verdict.model) : undefined;
    if (answer instanceof Error) return fail(`fake relay: cannot plan the created task: ${answer.message}`);
    create.taskId = answer?.task_id;
    if (fault === undefined) {
      answered(200);
      this.answers.send(res, 200, answer);
      return;
    }
    this.#playFault(res, fault, answer, create, answered, fail);
  }

  /** Plays a scripted fault in place of the success answer `answer` (undefined when no task was made). */
  #playFault(
    res: ServerResponse,
    fault: CreateFault,
    answer: FakeCreateAnswer | undefined,
    create: RecordedCreate,
    answered: RecordStatus,
    fail: (message: string) => void,
  ): void {
    if ("fault" in fault) {
      create.fault = fault.fault;
      answered(0);
      // reset-after-body: the body was read and the task created; the client gets a reset, no answer.
      if (fault.fault === "reset-after-body") this.answers.later(res, fault.delayMs, () => res.socket?.resetAndDestroy());
      // stall: nothing more; the open socket holds the client until it (or close()) gives up.
      return;
    }
    create.fault = "response";
    let body = fault.body;
    if (fault.bodyFrom && answer) {
      try {
        body = fault.bodyFrom(answer);
      } catch (error) {
        fail(`fake relay: bodyFrom failed: ${(error as Error).message}`);
        return;
      }
    }
    answered(fault.status);
    this.answers.play(res, fault, body);
  }

  /** Makes the task of an accepted create: an id, its lifecycle, its video URL; counted as billed. */
  #createTask(info: CreateRequestInfo, model: string): FakeCreateAnswer | Error {
    const plan = this.script.plan(info);
    if (plan instanceof Error) return plan;
    const taskId = newTaskId();
    const now = Date.now();
    this.tasks.addCreated(taskId, info.route, createdTaskScript(taskId, plan, now));
    return { id: taskId, task_id: taskId, object: "video", model, status: "queued", progress: 0, created_at: Math.floor(now / 1000) };
  }
}
