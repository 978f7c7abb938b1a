// What you ask for is what you get: Kling's controls checked before a byte is sent, images in
// metadata sent as bare base64, and nothing the gateway would drop or default silently. Every case
// runs against the fake relay on loopback: a refusal shows no request reached it, a create shows the
// body it received.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createKlingClient,
  GATEWAY_DROPPED_FIELDS,
  InvalidArgumentError,
  KLING_CONTROL_RULES,
  KLING_EXCLUSIVE_GROUPS,
  KLING_REFUSED_METADATA,
  type CreateImage2VideoRequest,
  type CreateText2VideoRequest,
  type KlingClient,
} from "../src/index.js";
import { generateVideos, openImageFile } from "../src/node/index.js";
import { createFakeRelay, FAKE_RELAY_API_KEY, type FakeRelay } from "../src/testing/index.js";
import { makeJpeg, makePng } from "./helpers/images.js";

let relay: FakeRelay;
let kling: KlingClient;
beforeEach(async () => {
  relay = await createFakeRelay();
  kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url, maxRetries: 0 });
});
afterEach(async () => {
  await relay.close();
});

const PNG = makePng(640, 360);
const IMAGE = { model: "kling-v1", prompt: "the cat turns its head", image: PNG } as const;
const TEXT = { model: "kling-v1", prompt: "a lighthouse at dusk" } as const;
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The body the relay received for its only create. */
function sentBody(): Record<string, unknown> {
  expect(relay.creates).toHaveLength(1);
  return relay.creates[0]!.body as Record<string, unknown>;
}

/** Runs a create that must be refused before any request; returns the error. */
async function refusal(create: Promise<unknown>): Promise<InvalidArgumentError> {
  const error = await create.then(
    () => {
      throw new Error("the create was not refused");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect(relay.requests).toHaveLength(0);
  return error as InvalidArgumentError;
}

const i2v = (extra: Record<string, unknown>, metadata?: Record<string, unknown>) =>
  kling.createImage2VideoTask({ ...IMAGE, ...extra, ...(metadata ? { metadata } : {}) } as CreateImage2VideoRequest);
const t2v = (extra: Record<string, unknown>, metadata?: Record<string, unknown>) =>
  kling.createText2VideoTask({ ...TEXT, ...extra, ...(metadata ? { metadata } : {}) } as CreateText2VideoRequest);

describe("refused before a byte is sent, naming the field, the rule and the value", () => {
  const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
    ["cfg_scale above 1", () => t2v({}, { cfg_scale: 1.5 }), "request.metadata.cfg_scale", /more than 0 and at most 1.*\(got 1\.5\)/],
    ["cfg_scale 0, which the relay drops", () => t2v({}, { cfg_scale: 0 }), "request.metadata.cfg_scale", /relay drops 0.*\(got 0\)/],
    ["cfg_scale as a word", () => t2v({}, { cfg_scale: "high" }), "request.metadata.cfg_scale", /\(got "high"\)/],
    ["negative_prompt over 2,500 characters", () => t2v({}, { negative_prompt: "x".repeat(2_501) }), "request.metadata.negative_prompt", /at most 2,500/],
    ["mode outside its enum", () => t2v({}, { mode: "ultra" }), "request.metadata.mode", /one of std, pro \(got "ultra"\)/],
    ["top-level mode outside its enum", () => t2v({ mode: "ultra" }), "request.mode", /one of std, pro/],
    ["aspect_ratio outside its enum", () => t2v({}, { aspect_ratio: "4:3" }), "request.metadata.aspect_ratio", /16:9, 9:16, 1:1 \(got "4:3"\)/],
    ["a camera move of another type", () => i2v({}, { camera_control: { type: "spin" } }), "request.metadata.camera_control", /type one of simple/],
    ["a simple move on two axes", () => i2v({}, { camera_control: { type: "simple", config: { zoom: 5, pan: 2 } } }), "request.metadata.camera_control", /exactly one non-zero/],
    ["a simple move past 10", () => i2v({}, { camera_control: { type: "simple", config: { zoom: 11 } } }), "request.metadata.camera_control", /-10 to 10/],
    ["a preset move with a config", () => i2v({}, { camera_control: { type: "down_back", config: { zoom: 5 } } }), "request.metadata.camera_control", /config only with simple/],
    ["seven dynamic masks", () => i2v({}, { dynamic_masks: Array.from({ length: 7 }, () => ({ mask: PNG, trajectories: [{ x: 1, y: 1 }, { x: 2, y: 2 }] })) }), "request.metadata.dynamic_masks", /1 to 6/],
    ["a fractional trajectory point", () => i2v({}, { dynamic_masks: [{ mask: PNG, trajectories: [{ x: 1.5, y: 1 }, { x: 2, y: 2 }] }] }), "request.metadata.dynamic_masks", /whole pixels/],
    ["a trajectory of one point", () => i2v({}, { dynamic_masks: [{ mask: PNG, trajectories: [{ x: 1, y: 1 }] }] }), "request.metadata.dynamic_masks", /2 or more/],
    ["an end frame with a camera move", () => i2v({}, { image_tail: PNG, camera_control: { type: "down_back" } }), "request.metadata", /image_tail, camera_control: Kling takes one of/],
    ["a motion brush with an end frame", () => i2v({}, { static_mask: PNG, image_tail: PNG }), "request.metadata", /one of the end frame/],
    ["an end frame without a top-level image", () => t2v({}, { image_tail: PNG }), "request.metadata.image_tail", /needs a top-level image/],
    ["metadata.model_name", () => t2v({}, { model_name: "kling-v2-master" }), "request.metadata.model_name", /bills the top-level model/],
    ["metadata.Model_Name, read by the relay as model_name", () => t2v({}, { Model_Name: "kling-v2-master" }), "request.metadata.Model_Name", /bills the top-level model/],
    ["metadata.CFG_SCALE, unchecked under another case", () => t2v({}, { CFG_SCALE: 7 }), "request.metadata.CFG_SCALE", /write it as cfg_scale/],
    ["metadata.duration", () => t2v({}, { duration: 10 }), "request.metadata.duration", /use request.duration/],
    ["metadata.prompt", () => t2v({}, { prompt: "other" }), "request.metadata.prompt", /replace request.prompt/],
    ["metadata.Model, which replaces the model Kling gets", () => t2v({}, { Model: "kling-v2-master" }), "request.metadata.Model", /model Kling runs/],
    ["a key folded as Go does (ſ as s): cfg_ſcale", () => t2v({}, { "cfg_ſcale": 9 }), "request.metadata.cfg_ſcale", /as cfg_scale/],
    ["metadata that is a string", () => t2v({ metadata: '{"cfg_scale":0.5}' }), "request.metadata", /must be an object/],
    ["metadata that is an array", () => t2v({ metadata: [1] }), "request.metadata", /must be an object/],
    ["bytes under a key of the relay's own", () => t2v({}, { reference: new Uint8Array([1, 2, 3]) }), "request.metadata.reference", /plain JSON/],
    ["seed, which the relay drops", () => t2v({ seed: 42 }), "request.seed", /could not be reproduced \(got 42\)/],
    ["fps, which the relay drops", () => t2v({ fps: 30 }), "request.fps", /frame rate/],
    ["n: 2, which the relay drops", () => t2v({ n: 2 }), "request.n", /makes one video \(got 2\)/],
    ["response_format other than url", () => t2v({ response_format: "b64_json" }), "request.response_format", /always a URL/],
    ["a Kling control at the top level", () => t2v({ negative_prompt: "blur" }), "request.negative_prompt", /goes in request.metadata.negative_prompt/],
    ["a key the relay does not read", () => t2v({ size: "1280x720" }), "request.size", /not a field/],
    ["width and height on image2video", () => i2v({ width: 720, height: 1280 }), "request.width", /follows its image/],
    ["width and height of no Kling ratio", () => t2v({ width: 1000, height: 700 }), "request.width", /16:9, 9:16, 1:1/],
    ["width and height against aspect_ratio", () => t2v({ width: 1280, height: 720 }, { aspect_ratio: "1:1" }), "request.width", /state 16:9 but/],
    ["aspect_ratio on image2video", () => i2v({}, { aspect_ratio: "16:9" }), "request.metadata.aspect_ratio", /follows its image/],
    ["two modes that disagree", () => t2v({ mode: "std" }, { mode: "pro" }), "request.mode", /metadata's/],
    ["a callback that is not an http(s) URL", () => t2v({}, { callback_url: "ftp://x" }), "request.metadata.callback_url", /http\(s\) URL/],
    ["an end frame that is not an image", () => i2v({}, { image_tail: new TextEncoder().encode("not an image at all") }), "request.metadata.image_tail", /is text, not an image/],
    ["an end frame of 20 MB", () => i2v({}, { image_tail: new Uint8Array(20 * 1024 * 1024) }), "request.metadata.image_tail", /at most 10 MB/],
    ["an end frame of 20 MB as a Blob", () => i2v({}, { image_tail: new Blob([new Uint8Array(20 * 1024 * 1024)]) }), "request.metadata.image_tail", /at most 10 MB/],
    ["a mask of another aspect ratio", () => i2v({}, { static_mask: makePng(640, 640) }), "request.metadata.static_mask", /not the aspect ratio of request.image \(640x360/],
    ["a dynamic mask of another aspect ratio", () => i2v({}, { dynamic_masks: [{ mask: makePng(360, 640), trajectories: [{ x: 1, y: 1 }, { x: 2, y: 2 }] }] }), "request.metadata.dynamic_masks[0].mask", /not the aspect ratio/],
  ];
  it.each(cases)("%s", async (_name, create, argument, message) => {
    const error = await refusal(create());
    expect(error.argument).toBe(argument);
    expect(error.message).toMatch(message);
  });
});

describe("sent so that Kling gets what was asked (the fake relay's gateway: relay.creates[i].kling)", () => {
  /** What the relay's gateway would send Kling for the only create. */
  function klingGot(): NonNullable<FakeRelay["creates"][number]["kling"]> {
    expect(relay.creates).toHaveLength(1);
    expect(relay.creates[0]!.kling).toBeDefined();
    return relay.creates[0]!.kling!;
  }

  it("a raw POST shows the gateway's own default: a square video", async () => {
    await kling.POST("/kling/v1/videos/text2video", { body: { ...TEXT } });
    expect(klingGot().aspect_ratio).toBe("1:1");
  });

  it("text2video without an aspect ratio gets Kling's default, 16:9, sent explicitly", async () => {
    await t2v({});
    expect(sentBody().metadata).toEqual({ aspect_ratio: "16:9" });
    expect(klingGot()).toMatchObject({ aspect_ratio: "16:9", prompt: TEXT.prompt, model_name: "kling-v1", mode: "std" });
    expect(relay.creates[0]!.klingEndpoint).toBe("text2video");
  });

  it("1:1 is what Kling gets when asked for", async () => {
    await t2v({}, { aspect_ratio: "1:1" });
    expect(klingGot().aspect_ratio).toBe("1:1");
  });

  it("width and height on text2video become the aspect ratio they state, and are not sent", async () => {
    await t2v({ width: 720, height: 1280 });
    const body = sentBody();
    expect(body).not.toHaveProperty("width");
    expect(body).not.toHaveProperty("height");
    expect(klingGot().aspect_ratio).toBe("9:16");
    expect(relay.creates[0]!.dropped).toEqual([]);
  });

  it("an end frame given as bytes reaches Kling as the image's base64, with the other controls", async () => {
    const tail = makePng(640, 360, { size: 5_000 });
    await i2v({ duration: 10, mode: "pro" }, { image_tail: tail, negative_prompt: "blur", cfg_scale: 0.25 });
    expect(klingGot()).toMatchObject({ negative_prompt: "blur", cfg_scale: 0.25, mode: "pro", duration: "10", model_name: "kling-v1" });
    const images = relay.creates[0]!.klingImages!;
    expect(images.image_tail).toMatchObject({ form: "base64", bytesSha256: sha256(tail) });
    expect(images.image).toMatchObject({ form: "base64", bytesSha256: sha256(PNG) });
    expect(relay.creates[0]!.klingEndpoint).toBe("image2video");
    expect(relay.creates[0]!.dropped).toEqual([]);
  });

  it("a static mask and dynamic masks (bytes, a data: URL) reach Kling as bare base64, trajectories whole", async () => {
    const mask = makePng(1280, 720);
    const trajectories = [{ x: 10, y: 20 }, { x: 30, y: 40 }];
    await i2v({}, { static_mask: mask, dynamic_masks: [{ mask: `data:image/png;base64,${b64(mask)}`, trajectories }] });
    expect(klingGot().dynamic_masks).toEqual([{ mask: expect.stringMatching(/^\[image: \d+ characters\]$/), trajectories }]);
    const images = relay.creates[0]!.klingImages!;
    expect(images.static_mask).toMatchObject({ form: "base64", bytesSha256: sha256(mask) });
    expect(images["dynamic_masks[0].mask"]).toMatchObject({ form: "base64", bytesSha256: sha256(mask) });
  });

  it("a camera move reaches Kling with its one axis (zeros on the others are the gateway's to drop)", async () => {
    await i2v({}, { camera_control: { type: "simple", config: { zoom: -3, pan: 0 } } });
    expect(klingGot().camera_control).toEqual({ type: "simple", config: { zoom: -3 } });
  });

  it("an unknown metadata key goes through untouched; user and response_format are harmless", async () => {
    const extra = { watermark_info: { enabled: false }, sound: "on" };
    await t2v({ user: "u-1", response_format: "url", n: 1 }, extra);
    expect(sentBody()).toMatchObject({ user: "u-1", response_format: "url", n: 1, metadata: { ...extra, aspect_ratio: "16:9" } });
    // Upstream's gateway drops them (a patched one may pass them): the video is the one asked for either way.
    expect([...relay.creates[0]!.dropped!].sort()).toEqual(["metadata.sound", "metadata.watermark_info", "n", "response_format", "user"]);
  });

  it("mode is taken at the top level, where the gateway reads it", async () => {
    await i2v({ mode: "pro" });
    expect(klingGot().mode).toBe("pro");
  });
});

describe("images streamed from a file (openImageFile)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kling-controls-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a JPEG whose frame header lies past the first 64 KiB is read from its header, and sent byte for byte", async () => {
    const jpeg = makeJpeg(800, 600, { size: 300_000 });
    const path = join(dir, "big.jpg");
    await writeFile(path, jpeg);
    const blob = await openImageFile(path);
    expect(blob.size).toBe(jpeg.length);
    const tail = join(dir, "tail.png");
    const tailBytes = makePng(800, 600);
    await writeFile(tail, tailBytes);
    await kling.createImage2VideoTask({ ...IMAGE, image: blob, metadata: { image_tail: await openImageFile(tail) } });
    expect(relay.creates).toHaveLength(1);
    expect(relay.creates[0]!.klingImages).toMatchObject({
      image: { form: "base64", bytesSha256: sha256(jpeg) },
      image_tail: { form: "base64", bytesSha256: sha256(tailBytes) },
    });
  });

  it("generateVideos opens a job's image files, the end frame and masks in metadata too, relative to baseDir", async () => {
    const first = makePng(640, 360, { size: 50_000 });
    const last = makePng(1280, 720, { size: 60_000 });
    await writeFile(join(dir, "first.png"), first);
    await writeFile(join(dir, "last.png"), last);
    // A relay with its own video host, so the videos download over loopback.
    await relay.close();
    relay = await createFakeRelay({ video: true });
    kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url, maxRetries: 0 });
    const jobs = [{ key: "tail", model: "kling-v1", prompt: "p", image: "first.png", metadata: { image_tail: "last.png" } }];
    const outcomes = [];
    for await (const outcome of generateVideos(kling, jobs, { outputDir: join(dir, "out"), baseDir: dir, pollIntervalMs: 5 })) outcomes.push(outcome);
    expect(outcomes.map((o) => o.error?.message ?? "saved")).toEqual(["saved"]);
    expect(relay.creates[0]!.klingImages).toMatchObject({
      image: { form: "base64", bytesSha256: sha256(first) },
      image_tail: { form: "base64", bytesSha256: sha256(last) },
    });
    // A missing end-frame file fails that job before its create: nothing is sent.
    const missing = [{ key: "gone", model: "kling-v1", prompt: "p", image: "first.png", metadata: { image_tail: "nope.png" } }];
    const failed = [];
    for await (const outcome of generateVideos(kling, missing, { outputDir: join(dir, "out2"), baseDir: dir })) failed.push(outcome);
    expect(failed[0]!.error?.message).toMatch(/nope\.png": no such file/);
    expect(relay.creates).toHaveLength(1);
  });

  it("a file changed after it was checked is not sent as something else", async () => {
    const path = join(dir, "changing.png");
    await writeFile(path, makePng(640, 360, { size: 100_000 }));
    const blob = await openImageFile(path);
    await writeFile(path, makePng(640, 360, { size: 120_000 }));
    const error = await kling.createImage2VideoTask({ ...IMAGE, image: blob }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(relay.creates.filter((c) => c.taskId !== undefined)).toHaveLength(0);
  });

  it("a file refused by the image rules is refused before any request", async () => {
    const path = join(dir, "small.png");
    await writeFile(path, makePng(200, 200));
    const error = await openImageFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/small\.png" is 200x200 px; each side must be at least 300 px/);
  });

  it("a file resent after a 429 is read again: both attempts carry the whole image", async () => {
    const path = join(dir, "again.png");
    const png = makePng(640, 360, { size: 200_000 });
    await writeFile(path, png);
    relay.scriptCreates([{ status: 429, body: { error: { message: "slow down", type: "new_api_error", code: "" } } }]);
    const client = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url, maxRetries: 1 });
    await client.createImage2VideoTask({ ...IMAGE, image: await openImageFile(path) });
    expect(relay.creates).toHaveLength(2);
    for (const create of relay.creates) expect(create.image).toMatchObject({ form: "base64", bytesSha256: sha256(png) });
  });
});

describe("a caller's text that looks like an image marker", () => {
  it("stays text in the body, beside a real image", async () => {
    const lookalike = "xk-image-0123456789abcdef-0";
    await i2v({ prompt: lookalike }, { external_task_id: lookalike });
    expect(sentBody()).toMatchObject({ prompt: lookalike, metadata: { external_task_id: lookalike } });
    expect(relay.creates[0]!.klingImages!.image).toMatchObject({ form: "base64", bytesSha256: sha256(PNG) });
  });
});

describe("requests from another realm", () => {
  it("a request and its metadata made in a vm context are plain objects too; bytes under an unknown key are still refused", async () => {
    const { runInNewContext } = await import("node:vm");
    const request = runInNewContext('({ model: "kling-v1", prompt: "waves", metadata: { negative_prompt: "boats", extra: { a: [1] } } })') as CreateText2VideoRequest;
    await kling.createText2VideoTask(request);
    expect(relay.creates[0]!.kling).toMatchObject({ negative_prompt: "boats", aspect_ratio: "16:9" });
    const bytes = runInNewContext("({ model: 'kling-v1', prompt: 'p', metadata: { extra: new Uint8Array(3) } })") as CreateText2VideoRequest;
    expect((await kling.createText2VideoTask(bytes).catch((e: unknown) => e)) as InvalidArgumentError).toMatchObject({ argument: "request.metadata.extra" });
    expect(relay.creates).toHaveLength(1);
  });
});

describe("the docs' table", () => {
  /** The backticked names in the first column of the tables of docs/kling-controls.md. */
  const documented = (text: string): Set<string> =>
    new Set([...text.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((n) => n[1]!)));
  /** Every key a rule of src/kling-controls.ts is about. */
  const ruled = [KLING_CONTROL_RULES, KLING_REFUSED_METADATA, GATEWAY_DROPPED_FIELDS].flatMap(Object.keys).concat(KLING_EXCLUSIVE_GROUPS.flat());

  it("names every field that has a rule", async () => {
    const names = documented(await readFile(new URL("../docs/kling-controls.md", import.meta.url), "utf8"));
    expect(ruled.filter((key) => !names.has(key))).toEqual([]);
  });

  it("would notice a field left out", () => {
    expect(ruled.filter((key) => !documented("| `cfg_scale` | x |\n| `mode` | y |").has(key))).toContain("negative_prompt");
  });
});
