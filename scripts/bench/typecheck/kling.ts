// The client used as the README shows it; type-checked by the bench against openapi-fetch.ts,
// which makes the same calls with bare openapi-fetch.
import {
  createKlingClient,
  TaskFailedError,
  type Image2VideoTask,
} from "../../../src/index.js";

const kling = createKlingClient({ apiKey: "sk-example", baseUrl: "https://relay.example.com" });

/** One look at a task, narrowed on its status. */
export async function describeTask(taskId: string): Promise<string> {
  const task = await kling.getImage2VideoTask(taskId);
  switch (task.status) {
    case "completed":
      return `done: ${task.url ?? "(no url)"} (${task.metadata?.duration ?? 0} s)`;
    case "failed":
      return "failed";
    case "queued":
    case "in_progress":
      return task.status;
    default:
      return "unknown";
  }
}

/** Waits for the video and returns its URL. */
export async function waitForVideo(taskId: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const task = await kling.waitForImage2VideoTask(taskId, {
      signal,
      pollIntervalMs: 2_000,
      timeoutMs: 10 * 60_000,
      onUpdate: (update: Image2VideoTask) => console.log(update.status),
    });
    return task.url;
  } catch (error) {
    if (error instanceof TaskFailedError) return undefined;
    throw error;
  }
}

/** The raw openapi-fetch call, with path params. */
export async function rawGet(taskId: string): Promise<string | undefined> {
  const { data, error, response } = await kling.GET("/kling/v1/videos/image2video/{task_id}", {
    params: { path: { task_id: taskId } },
  });
  if (error !== undefined) throw new Error(`HTTP ${response.status}: ${error.error?.message ?? "unknown error"}`);
  return data.status === "completed" ? data.url : undefined;
}
