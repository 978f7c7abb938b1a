// Mistakes the types must reject. Each marked line has to be a compile error: if one starts to
// compile, `@ts-expect-error` becomes unused (TS2578) and the consumer cell fails.
import { createKlingClient } from "xiexus-kling";

export async function mistakes(): Promise<void> {
  const kling = createKlingClient({ apiKey: "sk-example" });

  // @ts-expect-error -- a path no spec in openapi/ has
  await kling.GET("/kling/v1/videos/image2video/{task_id}/no-such-thing", { params: { path: { task_id: "id" } } });

  // @ts-expect-error -- task_id is required
  await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: {} } });

  // @ts-expect-error -- the params are required
  await kling.GET("/kling/v1/videos/image2video/{task_id}");

  const task = await kling.getImage2VideoTask("id");

  // @ts-expect-error -- "succeeded" is not a status of the spec
  if (task.status === "succeeded") return;

  // @ts-expect-error -- url may be undefined until the task is known to be completed
  const url: string = task.url;
  console.log(url);

  // @ts-expect-error -- the option is pollIntervalMs
  await kling.waitForImage2VideoTask("id", { pollInterval: 1_000 });

  // @ts-expect-error -- the option is timeoutMs
  createKlingClient({ apiKey: "sk-example", timeout: 5_000 });

  // @ts-expect-error -- not a validation mode
  createKlingClient({ validation: "loose" });

  // @ts-expect-error -- a task id is a string
  await kling.getImage2VideoTask(42);

  // @ts-expect-error -- duration is a number in the spec's VideoRequest
  await kling.POST("/kling/v1/videos/image2video", { body: { model: "kling-v1", prompt: "p", duration: "5" } });

  // @ts-expect-error -- the relay's other operations are not selected into the client
  await kling.POST("/v1/chat/completions", { body: {} });

  // @ts-expect-error -- text2video takes no image
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", image: "https://img.example/cat.png" });

  // @ts-expect-error -- prompt is required by the create helpers
  await kling.createImage2VideoTask({ model: "kling-v1", image: "https://img.example/cat.png" });
}
