// The fake relay's create routes (xiexus-kling/testing), with plain fetch and node:http over
// loopback: the gateway's checks and answers (relay-create.md), Kling's image rules, the recorded
// creates and their count, each scripted create fault, the lifecycle of a created task down to its
// video on the fake host, and a client in another process killed mid-create.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import { crc32, deflateSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CANCELLED_TASK,
  createFakeRelay,
  DEMO_TASK_ID,
  EXPIRED_TASK,
  FAKE_RELAY_API_KEY,
  fakeVideoPath,
  QUEUED_TASK,
  type CreateFault,
  type FakeRelay,
} from "../src/testing/index.js";
// Not public: the spec's own validator, to prove what the relay serves conforms.
import { responseIssues } from "../src/_spec.js";

type Route = "image2video" | "text2video";

let relay: FakeRelay;
beforeEach(async () => {
  relay = await createFakeRelay({ video: true });
});
afterEach(async () => {
  await relay.close();
});

const AUTH = { authorization: `Bearer ${FAKE_RELAY_API_KEY}` };
const createPath = (route: Route): string => `/kling/v1/videos/${route}`;
const post = (route: Route, body: unknown, init: RequestInit = {}): Promise<Response> =>
  fetch(relay.url + createPath(route), {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
const get = (route: Route, taskId: string): Promise<Response> =>
  fetch(`${relay.url}${createPath(route)}/${encodeURIComponent(taskId)}`, { headers: AUTH });
const json = async (response: Response): Promise<[number, unknown]> => [response.status, await response.json()];
const sha256 = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** A real PNG (grey, 8-bit), padded with a private chunk to `padTo` bytes when asked. */
function png(width: number, height: number, padTo = 0): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  const pixels = deflateSync(Buffer.alloc((width + 1) * height, 0x80));
  const parts = [Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", header), chunk("IDAT", pixels)];
  const size = parts.reduce((sum, part) => sum + part.length, 12);
  if (padTo > size) parts.push(chunk("prVt", Buffer.alloc(padTo - size - 12, 0x61)));
  parts.push(chunk("IEND", Buffer.alloc(0)));
  return Buffer.concat(parts);
}

const PNG = png(640, 480);
const BASE64 = PNG.toString("base64");
const T2V = { model: "kling-v1", prompt: "an astronaut stands up and walks away", duration: 5 };
const I2V = { ...T2V, image: "https://example.com/cat.jpg" };

/** A POST over node:http, to see exactly how the connection ended: an answer, or an error (ECONNRESET). */
function rawPost(route: Route, body: string): Promise<{ status?: number; code?: string; written: boolean }> {
  return new Promise((resolve) => {
    const request = http.request(relay.url + createPath(route), {
      method: "POST",
      agent: false,
      headers: { ...AUTH, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    request.on("response", (response) => {
      response.resume();
      resolve({ status: response.statusCode, written: request.writableFinished });
    });
    request.on("error", (error: NodeJS.ErrnoException) => resolve({ code: error.code, written: request.writableFinished }));
    request.end(body);
  });
}

describe("a valid create", () => {
  it("answers 200 in the gateway's current shape, with a fresh id per create, on both routes", async () => {
    const before = Math.floor(Date.now() / 1000);
    const [status, body] = await json(await post("text2video", T2V));
    expect(status).toBe(200);
    const answer = body as Record<string, unknown>;
    expect(answer).toEqual({
      id: answer.task_id,
      task_id: expect.stringMatching(/^task_[A-Za-z0-9]{32}$/),
      object: "video",
      model: "kling-v1",
      status: "queued",
      progress: 0,
      created_at: expect.any(Number),
    });
    expect(answer.created_at).toBeGreaterThanOrEqual(before);

    const [status2, second] = await json(await post("image2video", I2V));
    expect(status2).toBe(200);
    expect((second as { task_id: string }).task_id).not.toBe(answer.task_id);
    expect(relay.createCount).toBe(2);
    expect(relay.creates.map((c) => [c.route, c.index, c.answeredStatus, c.taskId, c.fault])).toEqual([
      ["text2video", 0, 200, answer.task_id, undefined],
      ["image2video", 1, 200, (second as { task_id: string }).task_id, undefined],
    ]);
    expect(relay.creates[0]!.body).toEqual(T2V);
    expect(relay.requests.map((r) => [r.method, r.path, r.route, r.status])).toEqual([
      ["POST", createPath("text2video"), "text2video", 200],
      ["POST", createPath("image2video"), "image2video", 200],
    ]);
  });

  it("accepts duration as a numeric string or an int from 0 to 3600, as the gateway reads it", async () => {
    for (const duration of ["5", "10", 0, 3600]) {
      expect((await post("text2video", { ...T2V, duration })).status, String(duration)).toBe(200);
    }
    expect(relay.createCount).toBe(4);
  });

  it("accepts a duration it cannot read as a whole number (a fraction, words): Kling gets the default 5", async () => {
    for (const duration of [5.5, "five", "10.0"]) {
      expect((await post("text2video", { ...T2V, duration })).status, String(duration)).toBe(200);
      expect([relay.creates.at(-1)!.kling!.duration, relay.creates.at(-1)!.dropped], String(duration)).toEqual(["5", ["duration"]]);
    }
  });

  it("accepts a URL image untouched, and records it whole", async () => {
    expect((await post("image2video", I2V)).status).toBe(200);
    expect(relay.creates[0]!.body).toEqual(I2V);
    expect(relay.creates[0]!.image).toEqual({ form: "url", length: I2V.image.length, sha256: sha256(I2V.image) });
  });

  it("accepts a base64 PNG and records its sizes and hashes instead of the base64", async () => {
    const [status, answer] = await json(await post("image2video", { ...T2V, image: BASE64 }));
    expect(status).toBe(200);
    const [create] = relay.creates;
    expect(create!.taskId).toBe((answer as { task_id: string }).task_id);
    expect(create!.image).toMatchObject({
      form: "base64",
      length: BASE64.length,
      sha256: sha256(BASE64),
      byteLength: PNG.length,
      bytesSha256: sha256(PNG),
    });
    expect(create!.image!.info).toMatchObject({ width: 640, height: 480 });
    expect(create!.image!.refused).toBeUndefined();
    expect(create!.body).toEqual({ ...T2V, image: `[image: ${BASE64.length} characters]` });
    expect(JSON.stringify(relay.creates)).not.toContain(BASE64.slice(0, 64));
  });
});

describe("a bad body: the gateway's 400, nothing created", () => {
  const refusals: Array<[string, Route, unknown, unknown]> = [
    ["not JSON", "text2video", "{model:", { error: { message: "Invalid request, invalid JSON request body", type: "new_api_error", code: "" } }],
    ["no model", "text2video", { prompt: "x" }, { error: { message: "Model name not specified", type: "new_api_error", code: "" } }],
    ["model_name alone", "image2video", { ...I2V, model: undefined, model_name: "kling-v1" }, {
      error: { message: "Model name not specified", type: "new_api_error", code: "" },
    }],
    ["a numeric model", "text2video", { ...T2V, model: 1 }, {
      error: { message: "Invalid request, field model must be a string", type: "new_api_error", code: "" },
    }],
    ["no prompt, even for image2video", "image2video", { ...I2V, prompt: undefined }, { code: "invalid_request", message: "prompt is required", data: null }],
    ["a blank prompt", "text2video", { ...T2V, prompt: " \n" }, { code: "invalid_request", message: "prompt is required", data: null }],
    ["a width of the wrong type (the spec's schema)", "text2video", { ...T2V, width: "wide" }, {
      code: "invalid_request",
      message: expect.stringMatching(/^invalid request body: \/width /),
      data: null,
    }],
    ["a duration past 3600", "text2video", { ...T2V, duration: "3601" }, {
      code: "invalid_seconds",
      message: "seconds must be between 1 and 3600",
      data: null,
    }],
    ["a negative duration", "text2video", { ...T2V, duration: -1 }, expect.objectContaining({ code: "invalid_seconds" })],
    ["a prompt over 2,500 characters (Kling)", "text2video", { ...T2V, prompt: "猫".repeat(2_501) }, {
      code: "task_failed",
      message: "prompt is longer than 2500 characters",
      data: null,
    }],
  ];

  it.each(refusals)("%s", async (_name, route, body, expected) => {
    const [status, answer] = await json(await post(route, body));
    expect(status).toBe(400);
    expect(answer).toEqual(expected);
    expect(relay.createCount).toBe(0);
    expect(relay.creates).toEqual([expect.objectContaining({ route, answeredStatus: 400, taskId: undefined })]);
  });

  it("keeps a prompt of exactly 2,500 characters", async () => {
    expect((await post("text2video", { ...T2V, prompt: "猫".repeat(2_500) })).status).toBe(200);
  });
});

describe("the image rules (Kling refuses the task: 400 task_failed, refunded)", () => {
  const failed = (message: unknown) => ({ code: "task_failed", message, data: null });

  it.each([
    ["a text file's bytes", Buffer.from("hello, this is not an image at all").toString("base64")],
    ["a PNG smaller than 300 px", png(100, 100).toString("base64")],
    ["a PNG wider than 2.5:1", png(1000, 300).toString("base64")],
    ["a PNG over 10 MB", png(640, 480, 11 * 1024 * 1024).toString("base64")],
  ])("refuses %s, naming the rule, and records the bytes' hash", async (_name, image) => {
    const [status, answer] = await json(await post("image2video", { ...T2V, image }));
    expect(status).toBe(400);
    expect(answer).toEqual(failed(expect.any(String)));
    const [create] = relay.creates;
    expect(create!.image!.refused).toBe((answer as { message: string }).message);
    expect(create!.image!.bytesSha256).toBe(sha256(Buffer.from(image, "base64")));
    expect(relay.createCount).toBe(0);
  });

  it("refuses a data: URL even around a good PNG (Kling wants base64 without the prefix)", async () => {
    const image = `data:image/png;base64,${BASE64}`;
    const [status, answer] = await json(await post("image2video", { ...T2V, image }));
    expect([status, answer]).toEqual([400, failed("image must be base64 without a data: prefix")]);
    expect(relay.creates[0]!.image).toMatchObject({ form: "data-url", bytesSha256: sha256(PNG) });
    expect(relay.createCount).toBe(0);
  });

  it("refuses what is neither a URL nor base64", async () => {
    for (const image of ["ftp://example.com/cat.png", "not base64!", `${BASE64.slice(0, -1)}`]) {
      const [status, answer] = await json(await post("image2video", { ...T2V, image }));
      expect([status, answer], image.slice(0, 30)).toEqual([400, failed("image is neither a URL nor base64")]);
    }
    expect(relay.createCount).toBe(0);
  });

  it("applies the rules on text2video too (the gateway goes by the image, not the route)", async () => {
    expect((await post("text2video", { ...T2V, image: "aGVsbG8=" })).status).toBe(400);
    expect((await post("text2video", { ...T2V, image: BASE64 })).status).toBe(200);
  });
});

describe("a created task", () => {
  it("runs queued -> in_progress -> completed on its own route, to a video on the fake host", async () => {
    const { task_id: id } = (await (await post("image2video", { ...T2V, image: BASE64 })).json()) as { task_id: string };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(((await (await get("image2video", id)).json()) as { status: string }).status);
    expect(statuses).toEqual(["queued", "in_progress", "completed"]);
    const task = (await (await get("image2video", id)).json()) as { task_id: string; url: string };
    expect(task).toMatchObject({ task_id: id, status: "completed", format: "mp4", metadata: { width: 1280, height: 720 } });
    expect(task.url).toBe(relay.video!.urlFor(id));
    expect(new URL(task.url).pathname).toBe(fakeVideoPath(id));

    const video = await fetch(task.url);
    expect(video.status).toBe(200);
    expect(sha256(new Uint8Array(await video.arrayBuffer()))).toBe(relay.video!.sha256);
    expect(relay.video!.requests.map((r) => [r.path, r.headers.authorization])).toEqual([[fakeVideoPath(id), undefined]]);

    // Another route does not know it, as another kind of task.
    expect((await get("text2video", id)).status).toBe(404);
    expect((await get("image2video", "task_unknown")).status).toBe(404);
  });

  it("a text2video task is served on the text2video route, which also serves the scripted tasks", async () => {
    const { task_id: id } = (await (await post("text2video", T2V)).json()) as { task_id: string };
    expect(await (await get("text2video", id)).json()).toEqual({ task_id: id, status: "queued", format: "mp4" });
    expect((await get("image2video", id)).status).toBe(404);
    expect(await (await get("text2video", DEMO_TASK_ID)).json()).toEqual(QUEUED_TASK);
    expect(relay.requests.at(-1)).toMatchObject({ route: "text2video", taskId: DEMO_TASK_ID, status: 200 });
  });

  it("ends as createdTasks says: failed, cancelled, expired; per request with a function", async () => {
    relay.setCreatedTasks((create) => ({
      outcome: (create.body as { prompt: string }).prompt as "failed" | "cancelled" | "expired",
      runningPolls: 0,
    }));
    const ends: unknown[] = [];
    for (const prompt of ["failed", "cancelled", "expired"]) {
      const { task_id: id } = (await (await post("text2video", { ...T2V, prompt })).json()) as { task_id: string };
      ends.push(await (await get("text2video", id)).json());
    }
    expect(ends).toEqual([
      { task_id: expect.any(String), status: "failed", format: "mp4", error: { code: 1301, message: expect.any(String) } },
      { ...CANCELLED_TASK, task_id: expect.any(String) },
      { ...EXPIRED_TASK, task_id: expect.any(String) },
    ]);
    expect((ends[2] as typeof EXPIRED_TASK).error!.code).toBe("TaskExpired");
  });

  it("stays running for runningPolls GETs, and for minRunMs however often it is polled", async () => {
    relay.setCreatedTasks({ runningPolls: 4 });
    const { task_id: id } = (await (await post("text2video", T2V)).json()) as { task_id: string };
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push(((await (await get("text2video", id)).json()) as { status: string }).status);
    expect(seen).toEqual(["queued", "in_progress", "in_progress", "in_progress", "completed"]);

    relay.setCreatedTasks({ runningPolls: 0, minRunMs: 60_000 });
    const { task_id: slow } = (await (await post("text2video", T2V)).json()) as { task_id: string };
    const slowSeen = new Set();
    for (let i = 0; i < 5; i++) slowSeen.add(((await (await get("text2video", slow)).json()) as { status: string }).status);
    expect([...slowSeen]).toEqual(["queued", "in_progress"]);
  });

  it("plays explicit steps, with the created id, and a function that throws is a 500 creating nothing", async () => {
    relay.setCreatedTasks({ steps: [{ status: 503, headers: { "retry-after": "1" } }, { ...QUEUED_TASK }] });
    const { task_id: id } = (await (await post("text2video", T2V)).json()) as { task_id: string };
    const first = await get("text2video", id);
    expect([first.status, first.headers.get("retry-after")]).toEqual([503, "1"]);
    expect(await (await get("text2video", id)).json()).toEqual({ ...QUEUED_TASK, task_id: id });

    relay.setCreatedTasks(() => {
      throw new Error("no plan");
    });
    const broken = await post("text2video", T2V);
    expect([broken.status, await broken.text()]).toEqual([500, "fake relay: cannot plan the created task: no plan"]);
    expect(relay.createCount).toBe(1);
  });

  it("refuses bad createdTasks options when they are set", async () => {
    expect(() => relay.setCreatedTasks({ outcome: "exploded" as "failed" })).toThrow(/outcome/);
    expect(() => relay.setCreatedTasks({ runningPolls: -1 })).toThrow(/runningPolls/);
    expect(() => relay.setCreatedTasks({ minRunMs: Number.NaN })).toThrow(/minRunMs/);
    expect(() => relay.setCreatedTasks({ steps: [] })).toThrow(/non-empty/);
    await expect(createFakeRelay({ createdTasks: { runningPolls: 1.5 } })).rejects.toThrow(/runningPolls/);
  });
});

describe("conformance", () => {
  it("serves only spec-conforming bodies: the create answer, and every answer of a created task to its end", async () => {
    let checked = 0;
    for (const outcome of ["completed", "failed", "cancelled", "expired"] as const) {
      relay.setCreatedTasks({ outcome });
      for (const route of ["image2video", "text2video"] as const) {
        const created = await json(await post(route, route === "image2video" ? I2V : T2V));
        expect(responseIssues(createPath(route), "post", 200, created[1])).toEqual([]);
        const id = (created[1] as { task_id: string }).task_id;
        for (let i = 0; i < 4; i++) {
          const [status, task] = await json(await get(route, id));
          expect(status).toBe(200);
          expect(responseIssues(`${createPath(route)}/{task_id}`, "get", 200, task), JSON.stringify(task)).toEqual([]);
          checked++;
        }
      }
    }
    expect(checked).toBe(4 * 2 * 4);
  });
});

describe("scripted create faults", () => {
  it("reset-after-body: reads the whole body, creates (and counts) a task, then resets without an answer", async () => {
    relay.scriptCreates([{ fault: "reset-after-body" }]);
    const body = JSON.stringify({ ...T2V, image: BASE64 });
    const outcome = await rawPost("image2video", body);
    expect(outcome).toEqual({ code: "ECONNRESET", written: true });
    const [create] = relay.creates;
    // The relay read every byte: the image it recorded is the one sent, whole.
    expect(create!.image).toMatchObject({ sha256: sha256(BASE64), bytesSha256: sha256(PNG) });
    expect(create).toMatchObject({ fault: "reset-after-body", answeredStatus: 0, taskId: expect.stringMatching(/^task_/) });
    expect(relay.createCount).toBe(1);
    // The task exists: a client that learns its id can wait for it.
    expect(await (await get("image2video", create!.taskId!)).json()).toMatchObject({ status: "queued" });
    // The fault is used up: the next create is answered.
    expect((await rawPost("image2video", body)).status).toBe(200);
    expect(relay.createCount).toBe(2);
    expect(relay.requests.map((r) => r.status)).toEqual([0, 200, 200]);
  });

  it("500 in the gateway's shape: passed through, nothing created", async () => {
    const failure = { code: "do_request_failed", message: "upstream timeout", data: null };
    relay.scriptCreates([{ status: 500, body: failure }]);
    expect(await json(await post("text2video", T2V))).toEqual([500, failure]);
    expect(relay.createCount).toBe(0);
    expect(relay.creates[0]).toMatchObject({ fault: "response", answeredStatus: 500, taskId: undefined });
  });

  it("502 proxy page: nothing created by default, a task behind it with created: true", async () => {
    const page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    relay.scriptCreates([{ status: 502, body: page }, { status: 502, body: page, created: true }]);
    const first = await post("text2video", T2V);
    expect([first.status, first.headers.get("content-type"), await first.text()]).toEqual([502, "text/html; charset=utf-8", page]);
    expect(relay.createCount).toBe(0);
    expect((await post("text2video", T2V)).status).toBe(502);
    expect(relay.createCount).toBe(1);
    const hidden = relay.creates[1]!.taskId!;
    expect((await get("text2video", hidden)).status).toBe(200);
  });

  it("429 with Retry-After: nothing created; the next create goes through", async () => {
    const busy = { code: "rate_limit", message: "当前分组上游负载已饱和，请稍后再试", data: null };
    relay.scriptCreates([{ status: 429, body: busy, headers: { "retry-after": "1" } }]);
    const limited = await post("text2video", T2V);
    expect([limited.status, limited.headers.get("retry-after"), await limited.json()]).toEqual([429, "1", busy]);
    expect(relay.createCount).toBe(0);
    expect((await post("text2video", T2V)).status).toBe(200);
    expect(relay.createCount).toBe(1);
  });

  it("403 insufficient_user_quota: nothing created", async () => {
    const quota = { code: "insufficient_user_quota", message: "用户额度不足", data: null };
    relay.scriptCreates([{ status: 403, body: quota }]);
    expect(await json(await post("image2video", I2V))).toEqual([403, quota]);
    expect(relay.createCount).toBe(0);
  });

  it("stall: reads the body, creates the task, never answers; the client gives up", async () => {
    relay.scriptCreates([{ fault: "stall" }]);
    const error = await post("text2video", T2V, { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TimeoutError");
    expect(relay.creates[0]).toMatchObject({ fault: "stall", answeredStatus: 0, taskId: expect.stringMatching(/^task_/) });
    expect(relay.createCount).toBe(1);
  });

  it("a route's queue goes first, then the shared one; a bad body consumes no fault", async () => {
    relay.scriptCreates([{ status: 500, body: { code: "a", message: "a", data: null } }]);
    relay.scriptCreates([{ status: 503, body: { code: "b", message: "b", data: null } }], "image2video");
    expect((await post("text2video", { prompt: "no model" })).status).toBe(400);
    expect((await post("image2video", I2V)).status).toBe(503);
    expect((await post("image2video", I2V)).status).toBe(500);
    expect((await post("image2video", I2V)).status).toBe(200);
  });

  it("the createFaults option and the createFault function (consulted once the queue is empty)", async () => {
    await relay.close();
    const seen: number[] = [];
    relay = await createFakeRelay({
      createFaults: [{ status: 429, headers: { "retry-after": "0" } }],
      createFault: (create) => {
        seen.push(create.index);
        if (create.index === 3) return { status: 42 } as CreateFault;
        return create.index % 2 === 0 ? { fault: "reset-after-body" } : undefined;
      },
    });
    const body = JSON.stringify(T2V);
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const { status, code } = await rawPost("text2video", body);
      outcomes.push(status ?? code);
    }
    expect(outcomes).toEqual([429, 200, "ECONNRESET", 500, "ECONNRESET"]);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(relay.createCount).toBe(3);
    relay.reset();
    expect([relay.creates.length, relay.createCount]).toEqual([0, 0]);
    expect((await rawPost("text2video", body)).status).toBe(429);
  });

  it("bodyFrom: an older answer shape for a task that does exist", async () => {
    relay.scriptCreates([
      { status: 200, created: true, bodyFrom: (answer) => ({ code: 0, message: "", data: { task_id: answer.task_id, task_status: "submitted" } }) },
    ]);
    const body = (await (await post("text2video", T2V)).json()) as { data: { task_id: string } };
    expect(body.data.task_id).toBe(relay.creates[0]!.taskId);
    expect(relay.createCount).toBe(1);
  });

  it("refuses a fault it could not play when it is scripted, not when a create meets it", () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ fault: "explode" }, /fault must be/],
      [{ status: 42 }, /200 to 599/],
      [{ status: 429, headers: { "retry-after": "1\r\nx-injected: 1" } }, /header retry-after/],
      [{ status: 500, body: { n: 1n } }, /JSON data/],
      [{ status: 200, bodyFrom: () => ({}) }, /created: true/],
      [{ status: 200, created: "yes" }, /created must be a boolean/],
      [{ fault: "reset-after-body", delayMs: -1 }, /delayMs/],
      [null, /must be/],
    ];
    for (const [fault, message] of bad) expect(() => relay.scriptCreates([fault as CreateFault]), String(message)).toThrow(message);
    expect(() => relay.scriptCreates([], "video" as Route)).toThrow(/route must be/);
    expect(() => relay.scriptCreates({} as CreateFault[])).toThrow(/array of create faults/);
  });

  it("refuses bad fault options when the relay starts", async () => {
    await expect(createFakeRelay({ createFault: "reset" as never })).rejects.toThrow(/createFault must be a function/);
    await expect(createFakeRelay({ createFaults: {} as never })).rejects.toThrow(/createFaults must be an array/);
    await expect(createFakeRelay({ createFaults: [{ status: 42 }] })).rejects.toThrow(/200 to 599/);
  });
});

describe("the create route's HTTP", () => {
  it("401 without the key (not a create), 405 for GET, 413 past maxBodyBytes", async () => {
    const anonymous = await fetch(relay.url + createPath("text2video"), { method: "POST", body: JSON.stringify(T2V) });
    expect(anonymous.status).toBe(401);
    const read = await fetch(relay.url + createPath("text2video"), { headers: AUTH });
    expect([read.status, read.headers.get("allow")]).toEqual([405, "POST"]);
    expect(relay.creates).toEqual([]);

    await relay.close();
    relay = await createFakeRelay({ maxBodyBytes: 100 });
    const big = await post("text2video", { ...T2V, prompt: "x".repeat(200) });
    expect(big.status).toBe(413);
    expect(relay.createCount).toBe(0);
    await expect(createFakeRelay({ maxBodyBytes: -1 })).rejects.toThrow(/maxBodyBytes/);
  });

  it("close() ends a stalled create at once", async () => {
    relay.scriptCreates([{ fault: "stall" }]);
    const pending = post("text2video", T2V).catch((e: unknown) => e);
    while (relay.creates.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await relay.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe("a client in another process", () => {
  it("creates over real HTTP; killed with SIGKILL mid-create, the relay has counted the task and keeps serving", async () => {
    relay.scriptCreates([{ fault: "stall" }]);
    const script = `
      const post = () => fetch(process.env.URL, {
        method: "POST",
        headers: { authorization: "Bearer " + process.env.KEY, "content-type": "application/json" },
        body: process.env.BODY,
      });
      await post();
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, URL: relay.url + createPath("text2video"), KEY: FAKE_RELAY_API_KEY, BODY: JSON.stringify(T2V) },
      stdio: "ignore",
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    for (let i = 0; i < 500 && relay.creates.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(relay.creates).toHaveLength(1);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(relay.createCount).toBe(1);
    const id = relay.creates[0]!.taskId!;
    expect(await (await get("text2video", id)).json()).toMatchObject({ task_id: id, status: "queued" });
    expect((await post("text2video", T2V)).status).toBe(200);
  });
});

describe("the video host, for kills mid-download", () => {
  it("serves any task's path, and bytesPerSecond slows a download so it can be cut part-way", async () => {
    const host = relay.video!;
    expect((await fetch(host.urlFor("x"))).status).toBe(200);
    expect((await fetch(`${host.origin}/other.mp4`)).status).toBe(404);
    expect(() => host.update({ bytesPerSecond: -1 })).toThrow(/bytesPerSecond/);

    host.update({ size: 10 * 1024 * 1024, bytesPerSecond: 64 * 1024 });
    const controller = new AbortController();
    const response = await fetch(host.urlFor("slow"), { signal: controller.signal });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.value!.length).toBeGreaterThan(0);
    controller.abort();
    await reader.read().catch(() => undefined);
    const [, , slow] = host.requests;
    expect(slow!.bytesSent).toBeLessThan(host.size);

    // Throttled or not, the bytes are the same.
    host.update({ size: 20_000, bytesPerSecond: 200_000 });
    expect(sha256(new Uint8Array(await (await fetch(host.url)).arrayBuffer()))).toBe(host.sha256);
  });
});
