// The fake relay behaves like the relay's gateway (new-api): for each create it records the request
// Kling would get (`relay.creates[i].kling`), which endpoint it goes to, and which keys never
// reached Kling. Creates go through the client's raw `POST`, which sends the body as given (the
// create helpers check and translate it first), or plain fetch where the spec's types would refuse
// the body client-side. Facts: ../shared research: kling-controls.md, relay-create.md.
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKlingClient, type KlingClient } from "../src/index.js";
import { createFakeRelay, FAKE_RELAY_API_KEY, fakePng, type FakeRelay, type RecordedCreate } from "../src/testing/index.js";

type Route = "image2video" | "text2video";

let relay: FakeRelay;
let kling: KlingClient;
beforeEach(async () => {
  relay = await createFakeRelay();
  kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url });
});
afterEach(async () => {
  await relay.close();
});

const MODEL = "kling-v1";
const PROMPT = "a lighthouse at dusk";
const T2V = { model: MODEL, prompt: PROMPT };
const URL_IMAGE = "https://example.com/cat.png";

/** A raw create through the client: the body goes out as given, whatever the spec's type says. */
async function raw(route: Route, body: Record<string, unknown>): Promise<{ status: number; create: RecordedCreate }> {
  const before = relay.creates.length;
  const { response } = await kling.POST(`/kling/v1/videos/${route}`, { body: body as never });
  expect(relay.creates).toHaveLength(before + 1);
  return { status: response.status, create: relay.creates[before]! };
}

/** A create with plain fetch, for bodies the client's own checks would stop (metadata as a string). */
async function post(route: Route, body: unknown): Promise<{ status: number; answer: unknown; create: RecordedCreate }> {
  const response = await fetch(`${relay.url}/kling/v1/videos/${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${FAKE_RELAY_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, answer: await response.json(), create: relay.creates.at(-1)! };
}

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

describe("the defaults the gateway sends", () => {
  it("a raw text2video create with model and prompt: square (1:1), std, 5 s, cfg_scale 0.5, in the gateway's key order", async () => {
    const { status, create } = await raw("text2video", T2V);
    expect(status).toBe(200);
    expect(create.kling).toEqual({
      prompt: PROMPT,
      mode: "std",
      duration: "5",
      aspect_ratio: "1:1",
      model_name: MODEL,
      model: MODEL,
      cfg_scale: 0.5,
    });
    // Go marshals the struct's fields in declaration order.
    expect(Object.keys(create.kling!)).toEqual(["prompt", "mode", "duration", "aspect_ratio", "model_name", "model", "cfg_scale"]);
    expect(create.klingEndpoint).toBe("text2video");
    expect(create.dropped).toEqual([]);
    expect(create.taskId).toMatch(/^task_/);
  });

  it.each([
    ["1280x720", "16:9", []],
    ["1920x1080", "16:9", []],
    ["720x1280", "9:16", []],
    ["1080x1920", "9:16", []],
    ["1024x1024", "1:1", []],
    ["1280X720", "1:1", ["size"]],
    ["640x480", "1:1", ["size"]],
  ])("size %s gives aspect_ratio %s", async (size, aspect, dropped) => {
    const { create } = await raw("text2video", { ...T2V, size });
    expect(create.kling!.aspect_ratio).toBe(aspect);
    expect(create.dropped).toEqual(dropped);
  });

  it("top-level mode and duration (an int or a numeric string) are read; a fraction or words become 5", async () => {
    expect((await raw("text2video", { ...T2V, mode: "pro", duration: 10 })).create.kling).toMatchObject({ mode: "pro", duration: "10" });
    expect((await raw("text2video", { ...T2V, duration: "10" })).create.kling!.duration).toBe("10");
    for (const duration of [5.5, "five", 0]) {
      const { status, create } = await raw("text2video", { ...T2V, duration });
      expect([status, create.kling!.duration, create.dropped], String(duration)).toEqual([200, "5", ["duration"]]);
    }
    expect((await raw("text2video", { ...T2V, duration: 3601 })).status).toBe(400);
  });

  it("drops width, height, fps, seed, n, response_format and user, in the body's order", async () => {
    const extras = { width: 720, height: 1280, fps: 30, seed: 42, n: 2, response_format: "url", user: "u1" };
    const { status, create } = await raw("text2video", { ...T2V, ...extras });
    expect(status).toBe(200);
    expect(create.dropped).toEqual(["width", "height", "fps", "seed", "n", "response_format", "user"]);
    expect(create.kling).toEqual((await raw("text2video", T2V)).create.kling);
  });
});

describe("metadata decoded over the defaults", () => {
  it("its keys win: mode pro over the top-level std, prompt, aspect_ratio over size", async () => {
    const metadata = { mode: "pro", aspect_ratio: "9:16", prompt: "another prompt", negative_prompt: "blur" };
    const { create } = await raw("text2video", { ...T2V, mode: "std", size: "1280x720", metadata });
    expect(create.kling).toMatchObject({ mode: "pro", aspect_ratio: "9:16", prompt: "another prompt", negative_prompt: "blur" });
    expect(create.dropped).toEqual(["prompt", "mode", "size"]);
  });

  it("matches keys without regard to case; of two spellings, the later in Go's sorted order wins", async () => {
    const { create } = await raw("text2video", { ...T2V, metadata: { CFG_SCALE: 0.8, Negative_Prompt: "blur" } });
    expect(create.kling).toMatchObject({ cfg_scale: 0.8, negative_prompt: "blur" });
    expect(create.dropped).toEqual([]);
    // "CFG_SCALE" sorts before "cfg_scale": the lower-case one is decoded last.
    const both = await raw("text2video", { ...T2V, metadata: { cfg_scale: 0.8, CFG_SCALE: 0.2 } });
    expect(both.create.kling!.cfg_scale).toBe(0.8);
    expect(both.create.dropped).toEqual(["metadata.CFG_SCALE"]);
    // Go also folds the long s (U+017F) onto s; a null changes nothing and is not listed.
    const folded = await raw("text2video", { ...T2V, metadata: { "cfg_\u017fcale": 0.3, mode: null } });
    expect([folded.create.kling!.cfg_scale, folded.create.kling!.mode, folded.create.dropped]).toEqual([0.3, "std", []]);
  });

  it("drops keys Kling's request does not have, silently: the create goes through", async () => {
    const { status, create } = await raw("text2video", { ...T2V, metadata: { foo: 1, sound: "on", cfg_scale: 0.7 } });
    expect(status).toBe(200);
    expect(create.dropped).toEqual(["metadata.foo", "metadata.sound"]);
    expect(create.kling).not.toHaveProperty("foo");
    expect(create.kling).not.toHaveProperty("sound");
    expect(create.kling!.cfg_scale).toBe(0.7);
  });

  it("leaves zero values out (omitempty): cfg_scale 0 is not sent, nor a zero camera axis", async () => {
    const { create } = await raw("text2video", {
      ...T2V,
      metadata: { cfg_scale: 0, camera_control: { type: "simple", config: { pan: 0, zoom: 5 } }, callback_url: "" },
    });
    expect(create.kling).not.toHaveProperty("cfg_scale");
    expect(create.kling!.camera_control).toEqual({ type: "simple", config: { zoom: 5 } });
    expect(create.dropped).toEqual(["metadata.cfg_scale", "metadata.camera_control.config.pan", "metadata.callback_url"]);
  });

  it("metadata.model_name replaces the model Kling runs (the relay bills the top-level one); metadata.model is deleted", async () => {
    const metadata = { model_name: "kling-v2-master", model: "kling-v2-6" };
    const { status, answer, create } = await post("text2video", { ...T2V, metadata });
    expect(status).toBe(200);
    expect((answer as { model: string }).model).toBe(MODEL);
    expect(create.kling).toMatchObject({ model_name: "kling-v2-master", model: MODEL });
    expect(create.dropped).toEqual(["metadata.model"]);
    // Only the exact key "model" is deleted: another spelling reaches the field.
    const spelled = await raw("text2video", { ...T2V, metadata: { Model: "kling-v2-6" } });
    expect(spelled.create.kling).toMatchObject({ model_name: MODEL, model: "kling-v2-6" });
  });

  it("takes metadata as a JSON string too; anything else that is not an object is ignored whole", async () => {
    const encoded = await post("text2video", { ...T2V, metadata: JSON.stringify({ mode: "pro", foo: 1 }) });
    expect([encoded.status, encoded.create.kling!.mode, encoded.create.dropped]).toEqual([200, "pro", ["metadata.foo"]]);
    for (const metadata of [[{ mode: "pro" }], "not json", 7]) {
      const ignored = await post("text2video", { ...T2V, metadata });
      const seen = [ignored.status, ignored.create.kling!.mode, ignored.create.dropped];
      expect(seen, JSON.stringify(metadata)).toEqual([200, "std", ["metadata"]]);
    }
  });

  it("a string metadata.duration is sent as it is, unchecked", async () => {
    const { status, create } = await raw("text2video", { ...T2V, duration: 5, metadata: { duration: "10" } });
    expect([status, create.kling!.duration, create.dropped]).toEqual([200, "10", ["duration"]]);
  });

  it("a trajectory point at 0 is sent (x and y have no omitempty), with the masks in order", async () => {
    const masks = [{ mask: URL_IMAGE, trajectories: [{ x: 0, y: 0 }, { x: 10, y: 20 }], extra: true }];
    const { create } = await raw("image2video", { ...T2V, image: URL_IMAGE, metadata: { dynamic_masks: masks } });
    expect(create.kling!.dynamic_masks).toEqual([{ mask: URL_IMAGE, trajectories: [{ x: 0, y: 0 }, { x: 10, y: 20 }] }]);
    expect(create.dropped).toEqual(["metadata.dynamic_masks[0].extra"]);
  });
});

describe("a metadata value of the wrong type: 500 build_request_failed, no task (refunded)", () => {
  const failed = (field: string, kind: string, type: string, struct = "requestPayload") => ({
    code: "build_request_failed",
    message:
      "unmarshal metadata failed: unmarshal metadata failed: " +
      `json: cannot unmarshal ${kind} into Go struct field ${struct}.${field} of type ${type}`,
    data: null,
  });

  it.each([
    ["duration as a number", { duration: 5 }, failed("duration", "number", "string")],
    ["cfg_scale as a word", { cfg_scale: "high" }, failed("cfg_scale", "string", "float64")],
    ["camera_control as a string", { camera_control: "spin" }, failed("camera_control", "string", "kling.CameraControl")],
    [
      "a camera axis as a string",
      { camera_control: { type: "simple", config: { pan: "5" } } },
      failed("camera_control.config.pan", "string", "float64", "CameraConfig"),
    ],
    ["dynamic_masks as an object", { dynamic_masks: { mask: "x" } }, failed("dynamic_masks", "object", "[]kling.DynamicMask")],
    [
      "a fractional trajectory point",
      { dynamic_masks: [{ mask: URL_IMAGE, trajectories: [{ x: 1.5, y: 2 }] }] },
      failed("dynamic_masks.trajectories.x", "number 1.5", "int", "TrajectoryPoint"),
    ],
    ["MODE (any spelling) as a number", { MODE: 1 }, failed("mode", "number", "string")],
  ])("%s", async (_name, metadata, expected) => {
    const { status, answer, create } = await post("image2video", { ...T2V, image: URL_IMAGE, metadata });
    expect([status, answer]).toEqual([500, expected]);
    expect(create).toMatchObject({ answeredStatus: 500, taskId: undefined, kling: undefined, klingEndpoint: undefined });
    expect([create.dropped, create.klingImages]).toEqual([undefined, undefined]);
    expect(relay.createCount).toBe(0);
  });

  it("a top-level field of the wrong type is the gateway's 400 invalid_request", async () => {
    const { status, answer } = await post("text2video", { ...T2V, mode: 5 });
    expect([status, answer]).toEqual([
      400,
      { code: "invalid_request", message: "json: cannot unmarshal number into Go struct field .mode of type string", data: null },
    ]);
    expect(relay.createCount).toBe(0);
  });
});

describe("the endpoint: image2video only with a top-level image", () => {
  it("image_tail without image is a text2video task (the end frame is ignored), whichever route", async () => {
    for (const route of ["image2video", "text2video"] as const) {
      const { status, create } = await raw(route, { ...T2V, metadata: { image_tail: URL_IMAGE } });
      expect([status, create.klingEndpoint, create.kling!.image_tail], route).toEqual([200, "text2video", URL_IMAGE]);
    }
  });

  it("a top-level image makes it image2video, on the text2video route too", async () => {
    const { create } = await raw("text2video", { ...T2V, image: URL_IMAGE, metadata: { image_tail: URL_IMAGE } });
    expect([create.klingEndpoint, create.kling!.image]).toEqual(["image2video", URL_IMAGE]);
    // metadata.image alone does not: the gateway's middleware looks at the top-level key only.
    expect((await raw("image2video", { ...T2V, metadata: { image: URL_IMAGE } })).create.klingEndpoint).toBe("text2video");
    expect((await raw("image2video", { ...T2V, image: "", metadata: { image_tail: URL_IMAGE } })).create.klingEndpoint).toBe("text2video");
  });

  it("with a top-level image, the request built decides: text2video when it ends with neither image nor end frame", async () => {
    const emptied = await raw("image2video", { ...T2V, image: URL_IMAGE, metadata: { image: "" } });
    const { klingEndpoint, kling: sent, dropped } = emptied.create;
    expect([klingEndpoint, sent!.image, dropped]).toEqual(["text2video", undefined, ["image", "metadata.image"]]);
    const tailOnly = await raw("image2video", { ...T2V, image: URL_IMAGE, metadata: { image: "", image_tail: URL_IMAGE } });
    expect(tailOnly.create.klingEndpoint).toBe("image2video");
  });
});

describe("the images Kling gets, by Kling's rules", () => {
  const image = fakePng(640, 360);
  const tail = fakePng(1280, 720);

  it("records an end frame given as base64 by its hash, and accepts it", async () => {
    const { status, create } = await raw("image2video", { ...T2V, image: base64(image), metadata: { image_tail: base64(tail) } });
    expect(status).toBe(200);
    expect(create.klingImages!.image_tail).toMatchObject({ form: "base64", bytesSha256: sha256(tail), info: { width: 1280, height: 720 } });
    expect(create.kling!.image_tail).toBe(`[image: ${base64(tail).length} characters]`);
    expect(JSON.stringify(create)).not.toContain(base64(tail).slice(0, 64));
  });

  it.each([
    ["text", Buffer.from("this is not an image at all").toString("base64"), /^image_tail is text/],
    ["a data: URL", `data:image/png;base64,${base64(tail)}`, /^image_tail must be base64 without a data: prefix$/],
    ["too small", base64(fakePng(200, 200)), /^image_tail is 200x200 px/],
  ])("refuses an end frame that is %s (400 task_failed, no task)", async (_name, imageTail, message) => {
    const { status, answer, create } = await post("image2video", { ...T2V, image: URL_IMAGE, metadata: { image_tail: imageTail } });
    expect(status).toBe(400);
    expect(answer).toEqual({ code: "task_failed", message: expect.stringMatching(message), data: null });
    expect(create.klingImages!.image_tail!.refused).toBe((answer as { message: string }).message);
    expect(relay.createCount).toBe(0);
  });

  it("refuses a mask whose aspect ratio is not the image's; accepts one that is", async () => {
    const refused = await post("image2video", { ...T2V, image: base64(image), metadata: { static_mask: base64(fakePng(400, 400)) } });
    expect([refused.status, (refused.answer as { message: string }).message]).toEqual([
      400,
      "static_mask is 400x400 px; its aspect ratio must be the image's (640x360 px)",
    ]);
    const masks = [{ mask: base64(tail), trajectories: [{ x: 1, y: 1 }, { x: 2, y: 2 }] }];
    expect((await raw("image2video", { ...T2V, image: base64(image), metadata: { dynamic_masks: masks } })).status).toBe(200);
  });

  it("judges no image on text2video: Kling's text2video takes none", async () => {
    const { status, create } = await raw("text2video", { ...T2V, metadata: { image_tail: "not base64!" } });
    const seen = [status, create.klingEndpoint, create.klingImages!.image_tail!.refused];
    expect(seen).toEqual([200, "text2video", "image_tail is neither a URL nor base64"]);
  });
});
