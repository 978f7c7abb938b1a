// The calls of kling.ts written with bare openapi-fetch on the same generated `paths`.
import createClient from "openapi-fetch";
import type { paths } from "../../../generated/relay.js";

const TASK_PATH = "/kling/v1/videos/image2video/{task_id}";
type Task = paths[typeof TASK_PATH]["get"]["responses"][200]["content"]["application/json"];

const client = createClient<paths>({ baseUrl: "https://relay.example.com" });
client.use({
  onRequest({ request }) {
    request.headers.set("Authorization", "Bearer sk-example");
  },
});

async function getTask(taskId: string, signal?: AbortSignal): Promise<Task> {
  const { data, error, response } = await client.GET(TASK_PATH, { params: { path: { task_id: taskId } }, signal });
  if (error !== undefined) throw new Error(`HTTP ${response.status}: ${error.error?.message ?? "unknown error"}`);
  return data;
}

/** One look at a task, narrowed on its status. */
export async function describeTask(taskId: string): Promise<string> {
  const task = await getTask(taskId);
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
  const deadline = Date.now() + 10 * 60_000;
  let last: Task["status"];
  for (;;) {
    const task = await getTask(taskId, signal);
    if (task.status !== last) console.log(task.status);
    last = task.status;
    if (task.status === "completed") return task.url;
    if (task.status === "failed") return undefined;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

/** The raw openapi-fetch call, with path params. */
export async function rawGet(taskId: string): Promise<string | undefined> {
  const { data, error, response } = await client.GET(TASK_PATH, {
    params: { path: { task_id: taskId } },
  });
  if (error !== undefined) throw new Error(`HTTP ${response.status}: ${error.error?.message ?? "unknown error"}`);
  return data.status === "completed" ? data.url : undefined;
}
