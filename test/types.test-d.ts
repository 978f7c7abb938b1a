// Type-level tests, run by vitest's typecheck in `npm test`: the named types are the generated
// ones, the public surface has no `any`, and mistakes do not compile.
import { describe, expectTypeOf, it } from "vitest";
import type { components, operations, paths } from "../generated/relay.js";
import {
  createKlingClient,
  type APIError,
  type RateLimitError,
  type TaskFailedError,
  type WaitTimeoutError,
  type CompletedImage2VideoTask,
  type CompletedText2VideoTask,
  type CreatedTask,
  type CreateImage2VideoRequest,
  type CreateText2VideoRequest,
  type GetTaskOptions,
  type TaskCancelledError,
  type Text2VideoTask,
  type Text2VideoTaskResult,
  type VideoRequest,
  type VideoTask,
  type Image2VideoTask,
  type Image2VideoTaskResult,
  type Image2VideoTaskStatus,
  type KlingClient,
  type KlingClientOptions,
  type TaskNotFoundResponse,
  type WaitOptions,
} from "../src/index.js";

type Generated200 = paths["/kling/v1/videos/image2video/{task_id}"]["get"]["responses"][200]["content"]["application/json"];
type Generated404 = operations["getKlingImage2Video"]["responses"][404]["content"]["application/json"];
type GeneratedText2Video200 = operations["getKlingText2Video"]["responses"][200]["content"]["application/json"];
type GeneratedRequest = operations["createKlingImage2Video"]["requestBody"] extends { content: { "application/json": infer B } } | undefined ? B : never;

describe("named types are the generated ones", () => {
  it("Image2VideoTask, its status and the 404 body", () => {
    expectTypeOf<Image2VideoTask>().toEqualTypeOf<Generated200>();
    expectTypeOf<TaskNotFoundResponse>().toEqualTypeOf<Generated404>();
    expectTypeOf<Image2VideoTaskStatus>().toEqualTypeOf<"queued" | "in_progress" | "completed" | "failed" | "cancelled">();
    expectTypeOf<Text2VideoTask>().toEqualTypeOf<GeneratedText2Video200>();
    expectTypeOf<VideoRequest>().toEqualTypeOf<GeneratedRequest>();
    // The project's overlay: a task's error code is an integer or a word such as "TaskExpired".
    expectTypeOf<NonNullable<Image2VideoTask["error"]>["code"]>().toEqualTypeOf<number | string | undefined>();
    expectTypeOf<components>().not.toBeAny();
  });

  it("a completed task has a string url", () => {
    expectTypeOf<CompletedImage2VideoTask["url"]>().toEqualTypeOf<string>();
    expectTypeOf<CompletedImage2VideoTask["status"]>().toEqualTypeOf<"completed">();
    expectTypeOf<CompletedImage2VideoTask>().toMatchTypeOf<Image2VideoTask>();
  });
});

describe("the client", () => {
  const kling = createKlingClient({ apiKey: "sk" });

  it("helpers resolve with the spec's types", () => {
    expectTypeOf(kling).toEqualTypeOf<KlingClient>();
    expectTypeOf(kling.getImage2VideoTask).parameter(1).toEqualTypeOf<GetTaskOptions | undefined>();
    expectTypeOf(kling.getImage2VideoTask("t")).resolves.toEqualTypeOf<Image2VideoTaskResult>();
    expectTypeOf(kling.waitForImage2VideoTask("t")).resolves.toEqualTypeOf<CompletedImage2VideoTask>();
    expectTypeOf(kling.getText2VideoTask("t")).resolves.toEqualTypeOf<Text2VideoTaskResult>();
    expectTypeOf(kling.waitForText2VideoTask("t")).resolves.toEqualTypeOf<CompletedText2VideoTask>();
    expectTypeOf(kling.createImage2VideoTask).parameter(0).toEqualTypeOf<CreateImage2VideoRequest>();
    expectTypeOf(kling.createText2VideoTask).parameter(0).toEqualTypeOf<CreateText2VideoRequest>();
    expectTypeOf(kling.createImage2VideoTask({ model: "m", prompt: "p", image: "https://x/y.png" })).resolves.toEqualTypeOf<CreatedTask>();
    expectTypeOf<CreatedTask["task_id"]>().toEqualTypeOf<string>();
    expectTypeOf(kling.generateImage2Video({ model: "m", prompt: "p", image: new Uint8Array() })).resolves.toEqualTypeOf<CompletedImage2VideoTask>();
  });

  it("the raw GET is openapi-fetch's, typed by path", async () => {
    const { data, error } = await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "t" } } });
    expectTypeOf(data).toEqualTypeOf<Image2VideoTask | undefined>();
    expectTypeOf(error).toEqualTypeOf<TaskNotFoundResponse | undefined>();
    expectTypeOf(kling.use).toBeFunction();
    expectTypeOf(kling.eject).toBeFunction();
  });

  it("errors expose typed fields", () => {
    expectTypeOf<APIError["status"]>().toEqualTypeOf<number>();
    expectTypeOf<APIError["body"]>().toEqualTypeOf<unknown>();
    expectTypeOf<RateLimitError["retryAfterMs"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<TaskFailedError["task"]>().toEqualTypeOf<VideoTask>();
    expectTypeOf<TaskFailedError["code"]>().toEqualTypeOf<number | string | undefined>();
    expectTypeOf<TaskCancelledError["task"]>().toEqualTypeOf<VideoTask>();
    expectTypeOf<WaitTimeoutError["lastTask"]>().toEqualTypeOf<VideoTask | undefined>();
  });

  it("no any in the public surface", () => {
    expectTypeOf<KlingClientOptions[keyof KlingClientOptions]>().not.toBeAny();
    expectTypeOf<GetTaskOptions[keyof GetTaskOptions]>().not.toBeAny();
    expectTypeOf<WaitOptions[keyof WaitOptions]>().not.toBeAny();
    expectTypeOf<Image2VideoTask[keyof Image2VideoTask]>().not.toBeAny();
    expectTypeOf<KlingClient[keyof KlingClient]>().not.toBeAny();
  });
});

describe("mistakes do not compile", () => {
  const kling = createKlingClient();

  it("wrong path, missing task_id, unknown status, unnarrowed url, wrong option", async () => {
    // @ts-expect-error not a path of the spec
    await kling.GET("/kling/v1/videos/image2video/{id}", { params: { path: { id: "t" } } });
    // @ts-expect-error task_id is required
    await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: {} } });
    const task = await kling.getImage2VideoTask("t");
    // @ts-expect-error "succeeded" is not one of the spec's statuses
    if (task.status === "succeeded") return;
    // @ts-expect-error url may be undefined until the task is completed
    const url: string = task.url;
    // @ts-expect-error no such option
    createKlingClient({ apiKey: "sk", retries: 3 });
    // @ts-expect-error validation is "strict" | "compat" | "off"
    createKlingClient({ validation: "loose" });
    // @ts-expect-error task ids are strings
    await kling.getImage2VideoTask(42);
    void url;
  });

  it("the four Kling operations, typed: a wrong body and an unknown path do not compile", async () => {
    await kling.POST("/kling/v1/videos/image2video", { body: { model: "kling-v1", prompt: "p", image: "https://x/y.png", duration: 5 } });
    await kling.POST("/kling/v1/videos/text2video", { body: { model: "kling-v1", prompt: "p" } });
    await kling.GET("/kling/v1/videos/text2video/{task_id}", { params: { path: { task_id: "t" } } });
    // @ts-expect-error duration is a number in the spec
    await kling.POST("/kling/v1/videos/image2video", { body: { model: "kling-v1", duration: "5" } });
    // @ts-expect-error width is an integer, not a string
    await kling.POST("/kling/v1/videos/text2video", { body: { width: "1280" } });
    // @ts-expect-error no such path: the relay's other operations are not selected
    await kling.POST("/v1/chat/completions", { body: {} });
    // @ts-expect-error the create helpers need a prompt (the gateway refuses a create without one)
    await kling.createImage2VideoTask({ model: "kling-v1", image: "https://x/y.png" });
    // @ts-expect-error text2video takes no image
    await kling.createText2VideoTask({ model: "kling-v1", prompt: "p", image: "https://x/y.png" });
    // @ts-expect-error an image is bytes or a string, not a number
    await kling.createImage2VideoTask({ model: "kling-v1", prompt: "p", image: 42 });
  });
});
