// The README's examples as a consumer writes them; every cell of the consumer matrix
// (test/consumer.test.ts) must compile this with strict and skipLibCheck off.
import {
  createKlingClient,
  KlingError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotFoundError,
  WaitTimeoutError,
  type CompletedImage2VideoTask,
  type CompletedText2VideoTask,
  type CreatedTask,
  type Image2VideoTask,
  type Image2VideoTaskStatus,
  type KlingClient,
  type KlingClientOptions,
} from "xiexus-kling";

const options: KlingClientOptions = { apiKey: "sk-example", timeoutMs: 30_000, maxRetries: 1, validation: "strict" };
export const kling: KlingClient = createKlingClient(options);

/** Describes a task the way an app would, narrowing on `status`. */
export function describe(task: Image2VideoTask): string {
  switch (task.status) {
    case "completed":
      return `done: ${task.url ?? "(no url)"}`;
    case "failed":
      return `failed: ${task.error?.code ?? "?"} ${task.error?.message ?? ""}`;
    case "cancelled":
      return "cancelled (refunded)";
    case "queued":
    case "in_progress":
      return `running (${task.status})`;
    case undefined:
      return "no status";
  }
}

export async function main(taskId: string): Promise<string> {
  const task = await kling.getImage2VideoTask(taskId);
  const status: Image2VideoTaskStatus | undefined = task.status;
  console.log(status, describe(task), task.metadata?.duration);

  try {
    const controller = new AbortController();
    const done: CompletedImage2VideoTask = await kling.waitForImage2VideoTask(taskId, {
      onUpdate: (update) => console.log(update.task_id, update.status),
      pollIntervalMs: 2_000,
      timeoutMs: 600_000,
      signal: controller.signal,
    });
    // A completed task's url is a string: no narrowing needed.
    const url: string = done.url;
    return url;
  } catch (error) {
    if (error instanceof TaskFailedError) return `failed: ${error.code ?? ""} ${error.errorMessage ?? ""} ${describe(error.task)}`;
    if (error instanceof TaskNotFoundError) return `missing: ${error.status} ${error.requestId ?? ""}`;
    if (error instanceof WaitTimeoutError) return `still ${error.lastTask?.status ?? "unknown"} after ${error.timeoutMs} ms`;
    if (error instanceof KlingError) return error.message;
    throw error;
  }
}

/** The raw openapi-fetch call, typed by the spec's paths. */
export async function raw(task_id: string): Promise<Image2VideoTask | undefined> {
  const { data, error, response } = await kling.GET("/kling/v1/videos/image2video/{task_id}", {
    params: { path: { task_id } },
  });
  if (error) console.log(response.status, error.error?.message);
  return data;
}

/** Kling's controls, typed: an end frame given as bytes, a negative prompt, cfg_scale, pro mode, and a key of the relay's own. */
export async function controls(first: Uint8Array, last: Uint8Array): Promise<string> {
  const { task_id } = await kling.createImage2VideoTask({
    model: "kling-v1-6",
    prompt: "the cat turns its head",
    image: first,
    duration: 10,
    mode: "pro",
    metadata: {
      image_tail: last,
      negative_prompt: "blur",
      cfg_scale: 0.7,
      callback_url: "https://hooks.example/kling",
      external_task_id: "order-17",
      watermark_info: { enabled: false },
    },
  });
  const text = await kling.createText2VideoTask({
    model: "kling-v1",
    prompt: "a lighthouse at dusk",
    metadata: { aspect_ratio: "9:16", camera_control: { type: "simple", config: { zoom: 5 } } },
  });
  return `${task_id} ${text.task_id}`;
}

/** The four Kling operations, raw and through the helpers. */
export async function create(image: Uint8Array): Promise<string> {
  const { data } = await kling.POST("/kling/v1/videos/image2video", {
    body: { model: "kling-v1", prompt: "a cat", image: "https://img.example/cat.png", duration: 5 },
  });
  const { data: t2v } = await kling.POST("/kling/v1/videos/text2video", { body: { model: "kling-v1", prompt: "waves" } });
  const { data: task } = await kling.GET("/kling/v1/videos/text2video/{task_id}", { params: { path: { task_id: t2v?.task_id ?? "" } } });
  const created: CreatedTask = await kling.createImage2VideoTask({ model: "kling-v1", prompt: "a cat", image });
  try {
    const done: CompletedText2VideoTask = await kling.generateText2Video(
      { model: "kling-v1", prompt: "waves", duration: 5 },
      { onCreated: (id) => console.log(id), timeoutMs: 600_000 },
    );
    return `${data?.task_id ?? ""} ${task?.status ?? ""} ${created.task_id} ${done.url}`;
  } catch (error) {
    if (error instanceof TaskCancelledError) return `cancelled: ${error.task.task_id ?? ""}`;
    if (error instanceof KlingError && error.mayHaveCreatedTask) return "a task may exist";
    throw error;
  }
}
