// The relay's two refunded endings, as the spec of 2026-08 documents them: a `cancelled` task and a
// `failed` one whose error.code is "TaskExpired". Each ends a wait with its own error under every
// validation mode, on both routes, alone and in a batch; and the wait does not poll on.
import { describe, expect, it } from "vitest";
import {
  createKlingClient,
  ResponseValidationError,
  TaskCancelledError,
  TaskFailedError,
  type ValidationMode,
  type VideoTask,
} from "../src/index.js";
import { scriptedFetch } from "./helpers/scripted-fetch.js";

const CANCELLED = { task_id: "t-cancel", status: "cancelled" };
const EXPIRED = { task_id: "t-expired", status: "failed", error: { code: "TaskExpired", message: "任务超时" } };
const MODES: ValidationMode[] = ["strict", "compat", "off"];

function client(steps: object[], validation: ValidationMode) {
  const relay = scriptedFetch(steps);
  return { kling: createKlingClient({ apiKey: "sk-terminal", baseUrl: "http://127.0.0.1:9", fetch: relay.fetch, validation }), calls: relay.calls };
}

describe.each(MODES)("validation %s", (mode) => {
  it("a cancelled task rejects the wait with TaskCancelledError carrying the task, after one poll", async () => {
    for (const route of ["image2video", "text2video"] as const) {
      const { kling, calls } = client([{ task_id: "t-cancel", status: "queued" }, CANCELLED], mode);
      const wait = route === "image2video" ? kling.waitForImage2VideoTask("t-cancel", { pollIntervalMs: 1 }) : kling.waitForText2VideoTask("t-cancel", { pollIntervalMs: 1 });
      const error = await wait.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskCancelledError);
      expect((error as TaskCancelledError).task).toEqual(CANCELLED);
      expect((error as Error).message).toMatch(/cancelled.*refunded/);
      expect(calls).toHaveLength(2);
      expect(new URL(calls[1]!.url).pathname).toBe(`/kling/v1/videos/${route}/t-cancel`);
    }
  });

  it("an expired task rejects with TaskFailedError whose code is the word TaskExpired", async () => {
    const { kling } = client([EXPIRED], mode);
    const error = await kling.waitForImage2VideoTask("t-expired").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).code).toBe("TaskExpired");
    expect((error as TaskFailedError).errorMessage).toBe("任务超时");
    expect((error as TaskFailedError).task).toEqual(EXPIRED);
  });

  it("in a batch, each is its own outcome", async () => {
    const relay = scriptedFetch([]);
    const bodies: Record<string, VideoTask> = { "t-cancel": CANCELLED as VideoTask, "t-expired": EXPIRED as VideoTask };
    const kling = createKlingClient({
      apiKey: "sk-terminal",
      baseUrl: "http://127.0.0.1:9",
      validation: mode,
      fetch: async (request) => {
        relay.calls.push(request);
        return Response.json(bodies[request.url.split("/").pop()!]);
      },
    });
    const outcomes = new Map<string, unknown>();
    for await (const outcome of kling.waitForText2VideoTasks(["t-cancel", "t-expired"])) outcomes.set(outcome.taskId, outcome.error);
    expect(outcomes.get("t-cancel")).toBeInstanceOf(TaskCancelledError);
    expect((outcomes.get("t-expired") as TaskFailedError).code).toBe("TaskExpired");
  });
});

it("strict still refuses a status the spec does not name (the check that would have caught a missing cancelled)", async () => {
  const { kling } = client([{ task_id: "t", status: "paused" }], "strict");
  await expect(kling.waitForImage2VideoTask("t")).rejects.toBeInstanceOf(ResponseValidationError);
});
