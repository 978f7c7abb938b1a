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

  // Kling's controls in metadata: a wrong type on a known key does not compile.
  // @ts-expect-error -- cfg_scale is a number
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", metadata: { cfg_scale: "high" } });
  // @ts-expect-error -- aspect_ratio is 16:9, 9:16 or 1:1
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", metadata: { aspect_ratio: "4:3" } });
  // @ts-expect-error -- not a camera move
  await kling.createImage2VideoTask({ model: "kling-v1", prompt: "p", image: "https://img.example/cat.png", metadata: { camera_control: { type: "spin" } } });
  // @ts-expect-error -- mode is std or pro
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", metadata: { mode: "ultra" } });
  // @ts-expect-error -- mode is std or pro at the top level too
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", mode: "ultra" });
  // @ts-expect-error -- a simple camera move needs its config
  await kling.createImage2VideoTask({ model: "kling-v1", prompt: "p", image: "https://img.example/cat.png", metadata: { camera_control: { type: "simple" } } });
  // @ts-expect-error -- model_name would make Kling run another model than the one billed
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", metadata: { model_name: "kling-v2-master" } });
  // @ts-expect-error -- the relay drops seed: refused
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", seed: 42 });
  // @ts-expect-error -- the relay makes one video
  await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", n: 2 });
}
