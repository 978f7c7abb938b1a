// The recorded task bodies the fake relay serves by default. They are copies of the `body` of
// test/fixtures/*.json (test/ is not published); test/fake-relay.test.ts fails if they drift apart.
import type { Image2VideoTask, TaskNotFoundResponse } from "../types.js";
import type { TaskScripts } from "./steps.js";

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** A task body with no more than its id and status (keys in the recorded order); also a created task's while it runs. */
export function statusOnly(taskId: string, status: "queued" | "in_progress" | "cancelled"): Readonly<Image2VideoTask> {
  return deepFreeze({ task_id: taskId, status, format: "mp4" });
}

/** A recorded failed body (keys in the recorded order). */
function failed(taskId: string, code: number | string, message: string): Readonly<Image2VideoTask> {
  return deepFreeze({ task_id: taskId, status: "failed", format: "mp4", error: { code, message } });
}

/** Id of the default task that goes queued -> in_progress -> completed (test/fixtures/task-*.json). */
export const DEMO_TASK_ID = "kling-8f3a2c1e-5b7d-4e90-a6c2-1d4f9e0b7a35";

/** Id of the default task that is failed from the first request (test/fixtures/task-failed.json). */
export const FAILED_TASK_ID = "kling-0c9d8e7f-1a2b-4c3d-9e8f-7a6b5c4d3e2f";

/** The recorded `queued` body of DEMO_TASK_ID (test/fixtures/task-queued.json). */
export const QUEUED_TASK = statusOnly(DEMO_TASK_ID, "queued");

/** The recorded `in_progress` body of DEMO_TASK_ID (test/fixtures/task-in-progress.json). */
export const IN_PROGRESS_TASK = statusOnly(DEMO_TASK_ID, "in_progress");

/** The recorded `completed` body of DEMO_TASK_ID, with its URL and metadata (test/fixtures/task-completed.json). */
export const COMPLETED_TASK: Readonly<Image2VideoTask> = deepFreeze({
  task_id: DEMO_TASK_ID,
  status: "completed",
  url: "https://cdn.xiexus.cn/kling/videos/8f3a2c1e.mp4",
  format: "mp4",
  metadata: {
    duration: 5.04,
    fps: 30,
    width: 1280,
    height: 720,
    seed: 20231234,
  },
});

/** The recorded `failed` body of FAILED_TASK_ID (test/fixtures/task-failed.json). */
export const FAILED_TASK = failed(FAILED_TASK_ID, 1301, "内容审核未通过 (content moderation failed)");

/** Id of the default task that is cancelled from the first request (refunded; no recorded fixture: the 2026-08 spec's status). */
export const CANCELLED_TASK_ID = "kling-5e4d3c2b-7a69-4f1e-8d0c-b9a8f7e6d5c4";

/** Id of the default task that ran past its deadline: failed with error code `"TaskExpired"` (refunded). */
export const EXPIRED_TASK_ID = "kling-3b2a1f0e-9d8c-4b7a-a6f5-e4d3c2b1a0f9";

/** The `cancelled` body of CANCELLED_TASK_ID, as the 2026-08 spec describes a cancelled task. */
export const CANCELLED_TASK = statusOnly(CANCELLED_TASK_ID, "cancelled");

/** The `failed` body of EXPIRED_TASK_ID: error code `"TaskExpired"`, the spec's word for a task past its deadline. */
export const EXPIRED_TASK = failed(EXPIRED_TASK_ID, "TaskExpired", "任务超时 (task expired)");

/** The spec's 404 body for an unknown task id, as recorded in test/fixtures/task-not-found.json. */
export function taskNotFoundBody(taskId: string): TaskNotFoundResponse {
  return {
    error: {
      message: `task not found: ${taskId}`,
      type: "invalid_request_error",
      param: "task_id",
      code: "task_not_exist",
    },
  };
}

/**
 * The default scripts: DEMO_TASK_ID goes queued -> in_progress -> completed, FAILED_TASK_ID is
 * failed, CANCELLED_TASK_ID cancelled, EXPIRED_TASK_ID failed with `"TaskExpired"`. Scripted
 * tasks answer on both task routes (image2video and text2video).
 */
export const DEFAULT_TASKS: TaskScripts = Object.freeze({
  [DEMO_TASK_ID]: Object.freeze([QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]),
  [FAILED_TASK_ID]: Object.freeze([FAILED_TASK]),
  [CANCELLED_TASK_ID]: Object.freeze([CANCELLED_TASK]),
  [EXPIRED_TASK_ID]: Object.freeze([EXPIRED_TASK]),
});
