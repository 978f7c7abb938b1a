// The fake relay (xiexus-kling/testing) from a consumer's side: the real client against it over
// loopback HTTP. Imports go through the two entry points (by relative path, since this test runs
// without a build; test/consumer-view.test.ts imports them by package name).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  APIConnectionTimeoutError,
  AuthenticationError,
  createKlingClient,
  InternalServerError,
  TaskFailedError,
  TaskNotFoundError,
  type Image2VideoTaskStatus,
} from "../src/index.js";
import {
  CANCELLED_TASK,
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  createFakeRelay,
  DEFAULT_TASKS,
  DEFAULT_VIDEO_SIZE,
  FAKE_VIDEO_PATH,
  FAKE_VIDEO_QUERY,
  fakeVideoBytes,
  fakeVideoSha256,
  DEMO_TASK_ID,
  EXPIRED_TASK,
  EXPIRED_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  FAKE_RELAY_API_KEY,
  IN_PROGRESS_TASK,
  isScriptedResponse,
  QUEUED_TASK,
  taskNotFoundBody,
  type FakeRelay,
  type FakeVideoHost,
  type ScriptedResponse,
  type Step,
  type VideoFault,
} from "../src/testing/index.js";
// Not public: the spec's own validators, to prove what the relay serves conforms.
import { responseIssues } from "../src/_spec.js";
import { taskIssues } from "../src/_validate.js";

const FIXTURES = path.resolve(import.meta.dirname, "fixtures");
const fixtureBody = (file: string): unknown =>
  (JSON.parse(readFileSync(path.join(FIXTURES, file), "utf8")) as { body: unknown }).body;
const issues404 = (body: unknown) => responseIssues("/kling/v1/videos/image2video/{task_id}", "get", 404, body);
const validate404 = (body: unknown): boolean => issues404(body)?.length === 0;
const taskPath = (id: string): string => `/kling/v1/videos/image2video/${encodeURIComponent(id)}`;

let relay: FakeRelay;
beforeEach(async () => {
  relay = await createFakeRelay();
});
afterEach(async () => {
  await relay.close();
});

const client = (apiKey = FAKE_RELAY_API_KEY) => createKlingClient({ apiKey, baseUrl: relay.url });

describe("default script", () => {
  it("goes queued -> in_progress -> completed through waitForImage2VideoTask", async () => {
    const seen: Array<Image2VideoTaskStatus | undefined> = [];
    const task = await client().waitForImage2VideoTask(DEMO_TASK_ID, {
      pollIntervalMs: 5,
      onUpdate: (t) => seen.push(t.status),
    });
    expect(seen).toEqual(["queued", "in_progress", "completed"]);
    expect(task).toEqual(COMPLETED_TASK);
    expect(relay.requests.map((r) => [r.method, r.path, r.taskId, r.authorized, r.status])).toEqual(
      Array(3).fill(["GET", taskPath(DEMO_TASK_ID), DEMO_TASK_ID, true, 200]),
    );
    // The last step repeats.
    expect(await client().getImage2VideoTask(DEMO_TASK_ID)).toEqual(COMPLETED_TASK);
  });

  it("has a failed task", async () => {
    const error = await client().waitForImage2VideoTask(FAILED_TASK_ID, { pollIntervalMs: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).code).toBe(1301);
    expect((error as TaskFailedError).task).toEqual(FAILED_TASK);
  });

  it("answers the spec's 404 for an unknown task id, exactly like the recorded fixture", async () => {
    const error = await client().getImage2VideoTask("kling-task-missing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskNotFoundError);
    expect((error as TaskNotFoundError).body).toEqual(fixtureBody("task-not-found.json"));
  });
});

describe("scripted answers", () => {
  it("serves a scripted 404 as TaskNotFoundError", async () => {
    relay.setTask("gone", [{ status: 404, body: taskNotFoundBody("gone") }]);
    await expect(client().getImage2VideoTask("gone")).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it("serves a 429 with Retry-After, which the client waits out, then the task", async () => {
    relay.setTask("busy", [
      { status: 429, body: { error: { message: "slow down", type: "rate_limit", param: null, code: null } }, headers: { "retry-after": "1" } },
      COMPLETED_TASK,
    ]);
    await expect(client().getImage2VideoTask("busy")).resolves.toEqual(COMPLETED_TASK);
    expect(relay.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(relay.requests[1]!.time - relay.requests[0]!.time).toBeGreaterThanOrEqual(900);
  });

  it("serves a 500 with an HTML body: InternalServerError, retried as often as asked", async () => {
    const html = "<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>";
    relay.setTask("down", [{ status: 500, body: html, headers: { "retry-after": "0" } }]);
    const error = await client().getImage2VideoTask("down", { maxRetries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).body).toBe(html);
    expect((error as InternalServerError).headers.get("content-type")).toMatch(/^text\/html/);
    expect(relay.requests).toHaveLength(1);

    await expect(client().getImage2VideoTask("down", { maxRetries: 2 })).rejects.toBeInstanceOf(InternalServerError);
    expect(relay.requests).toHaveLength(1 + 3);
  });

  it("delays an answer by delayMs (here past the client's timeout)", async () => {
    relay.setTask("slow", [{ status: 200, body: QUEUED_TASK, delayMs: 2_000 }]);
    const started = Date.now();
    await expect(client().getImage2VideoTask("slow", { timeoutMs: 100, maxRetries: 0 })).rejects.toBeInstanceOf(
      APIConnectionTimeoutError,
    );
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("setTask replaces a script and restarts it; deleteTask makes it 404; reset() restores the start", async () => {
    await client().getImage2VideoTask(DEMO_TASK_ID);
    relay.setTask(DEMO_TASK_ID, [IN_PROGRESS_TASK, COMPLETED_TASK]);
    expect((await client().getImage2VideoTask(DEMO_TASK_ID)).status).toBe("in_progress");
    relay.deleteTask(FAILED_TASK_ID);
    await expect(client().getImage2VideoTask(FAILED_TASK_ID)).rejects.toBeInstanceOf(TaskNotFoundError);

    relay.reset();
    expect(relay.requests).toHaveLength(0);
    expect((await client().getImage2VideoTask(DEMO_TASK_ID)).status).toBe("queued");
    expect((await client().getImage2VideoTask(FAILED_TASK_ID)).status).toBe("failed");
  });

  it("refuses malformed scripts and non-loopback hosts", async () => {
    expect(() => relay.setTask("x", [])).toThrow(/non-empty array/);
    expect(() => relay.setTask("x", [{ status: 42 }])).toThrow(/200 to 599/);
    // A 1xx cannot end a request: the client would wait for a final answer forever.
    expect(() => relay.setTask("x", [{ status: 101 }])).toThrow(/200 to 599/);
    // node:http would throw these at request time, into the test run as an uncaught exception.
    expect(() => relay.setTask("x", [{ status: 200, headers: { "x-a": "a\nb" } }])).toThrow(/header x-a/);
    expect(() => relay.setTask("x", [{ status: 200, headers: { "bad name": "x" } }])).toThrow(/not an HTTP token/);
    expect(() => relay.setTask("x", [{ status: 200, body: { n: 10n } }])).toThrow(/JSON data/);
    expect(() => relay.setTask("x", [{ ...QUEUED_TASK, metadata: { seed: 1n } } as unknown as Step])).toThrow(/JSON data/);
    await expect(createFakeRelay({ host: "0.0.0.0" })).rejects.toThrow(/loopback/);
    await expect(createFakeRelay({ apiKey: "" })).rejects.toThrow(/apiKey/);
  });

  it("a step edited into something unsendable after setTask answers 500 saying why, and the relay keeps serving", async () => {
    const step: ScriptedResponse = { status: 503, headers: { "retry-after": "1" } };
    relay.setTask("edited", [step]);
    step.headers = { "retry-after": "1\r\nx-injected: yes" };
    const answer = await fetch(relay.url + taskPath("edited"), { headers: { authorization: `Bearer ${relay.apiKey}` } });
    expect(answer.status).toBe(500);
    expect(answer.headers.get("x-injected")).toBeNull();
    expect(await answer.text()).toMatch(/^fake relay: cannot send this step: /);
    expect((await client().getImage2VideoTask(DEMO_TASK_ID)).task_id).toBe(DEMO_TASK_ID);
  });
});

describe("authentication", () => {
  it("answers 401 to a wrong key and records it without the key", async () => {
    const wrong = "sk-wrong-key-0123456789";
    const error = await client(wrong).getImage2VideoTask(DEMO_TASK_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(((error as AuthenticationError).body as { error: { type: string } }).error.type).toBe("authentication_error");
    expect(relay.requests).toEqual([expect.objectContaining({ authorized: false, hadAuthorization: true, status: 401 })]);
    const recorded = JSON.stringify(relay.requests);
    expect(recorded).not.toContain(wrong);
    expect(recorded).not.toContain(FAKE_RELAY_API_KEY);
    expect(recorded).not.toMatch(/bearer/i);
  });

  it("answers 401 without an Authorization header, and a refused request does not advance the script", async () => {
    const response = await fetch(relay.url + taskPath(DEMO_TASK_ID));
    expect(response.status).toBe(401);
    expect(validate404(await response.json())).toBe(true);
    expect(relay.requests[0]).toMatchObject({ authorized: false, hadAuthorization: false });
    expect((await client().getImage2VideoTask(DEMO_TASK_ID)).status).toBe("queued");
  });

  it("accepts a custom key", async () => {
    await relay.close();
    relay = await createFakeRelay({ apiKey: "sk-custom-1" });
    expect(relay.apiKey).toBe("sk-custom-1");
    await expect(client("sk-custom-1").getImage2VideoTask(DEMO_TASK_ID)).resolves.toEqual(QUEUED_TASK);
  });
});

describe("other routes", () => {
  it("answers 404 with the error shape to other paths and 405 to other methods", async () => {
    const auth = { authorization: `Bearer ${FAKE_RELAY_API_KEY}` };
    const other = await fetch(`${relay.url}/v1/models`, { headers: auth });
    expect(other.status).toBe(404);
    expect(validate404(await other.json())).toBe(true);

    const post = await fetch(relay.url + taskPath(DEMO_TASK_ID), { method: "POST", headers: auth });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
    expect(validate404(await post.json())).toBe(true);
    expect(relay.requests.map((r) => [r.method, r.status, r.taskId])).toEqual([
      ["GET", 404, undefined],
      ["POST", 405, DEMO_TASK_ID],
    ]);
  });
});

describe("conformance", () => {
  it("embeds exactly the recorded fixture bodies", () => {
    expect(QUEUED_TASK).toEqual(fixtureBody("task-queued.json"));
    expect(IN_PROGRESS_TASK).toEqual(fixtureBody("task-in-progress.json"));
    expect(COMPLETED_TASK).toEqual(fixtureBody("task-completed.json"));
    expect(FAILED_TASK).toEqual(fixtureBody("task-failed.json"));
    expect(taskNotFoundBody("kling-task-missing")).toEqual(fixtureBody("task-not-found.json"));
    expect(DEFAULT_TASKS).toEqual({
      [DEMO_TASK_ID]: [QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK],
      [FAILED_TASK_ID]: [FAILED_TASK],
      [CANCELLED_TASK_ID]: [CANCELLED_TASK],
      [EXPIRED_TASK_ID]: [EXPIRED_TASK],
    });
    // No recorded fixture yet for these two (the 2026-08 spec's statuses): pinned here instead.
    expect(CANCELLED_TASK).toEqual({ task_id: CANCELLED_TASK_ID, status: "cancelled", format: "mp4" });
    expect(EXPIRED_TASK).toMatchObject({ task_id: EXPIRED_TASK_ID, status: "failed", error: { code: "TaskExpired" } });
  });

  it("serves only bodies that validate against the spec by default", async () => {
    const headers = { authorization: `Bearer ${FAKE_RELAY_API_KEY}` };
    let checked = 0;
    for (const [id, steps] of Object.entries(DEFAULT_TASKS)) {
      for (let i = 0; i < steps.length + 1; i++) {
        const response = await fetch(relay.url + taskPath(id), { headers });
        expect(response.status).toBe(200);
        expect(taskIssues(await response.json())).toEqual([]);
        checked++;
      }
      expect(steps.some(isScriptedResponse)).toBe(false);
    }
    for (const id of ["kling-task-missing", "x y/ü"]) {
      const response = await fetch(relay.url + taskPath(id), { headers });
      expect(response.status).toBe(404);
      const body = await response.json();
      expect(validate404(body), JSON.stringify(issues404(body))).toBe(true);
      expect(body).toEqual(taskNotFoundBody(id));
      checked++;
    }
    expect(checked).toBe(3 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2);
  });
});

describe("close()", () => {
  it("stops listening at once, keep-alive connections included, and refuses new requests", async () => {
    // A request first, so fetch holds a keep-alive socket to the server.
    await client().getImage2VideoTask(DEMO_TASK_ID);
    const started = Date.now();
    await relay.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(relay.listening).toBe(false);
    await expect(fetch(relay.url + taskPath(DEMO_TASK_ID))).rejects.toThrow();
    await expect(relay.close()).resolves.toBeUndefined();
  });

  it("cuts a delayed answer short instead of waiting for it", async () => {
    relay.setTask("slow", [{ status: 200, body: QUEUED_TASK, delayMs: 10_000 }]);
    const pending = client().getImage2VideoTask("slow", { maxRetries: 0 }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await relay.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("video host (the video option): a second origin serving the demo video", () => {
  let withVideo: FakeRelay;
  let host: FakeVideoHost;
  beforeEach(async () => {
    withVideo = await createFakeRelay({ video: true });
    host = withVideo.video!;
  });
  afterEach(async () => {
    await withVideo.close();
  });
  const get = (headers: Record<string, string> = {}, url = host.url): Promise<Response> => fetch(url, { headers });
  const sha = (bytes: ArrayBuffer): string => createHash("sha256").update(new Uint8Array(bytes)).digest("hex");

  it("is another origin, and the completed task's url points at it", async () => {
    const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: withVideo.url });
    const task = await kling.waitForImage2VideoTask(DEMO_TASK_ID, { pollIntervalMs: 5 });
    expect(task).toEqual({ ...COMPLETED_TASK, url: host.url });
    expect(host.url).toBe(`${host.origin}${FAKE_VIDEO_PATH}${FAKE_VIDEO_QUERY}`);
    expect(new URL(host.origin).port).not.toBe(String(withVideo.port));
    // Scripts with another url are served as written.
    withVideo.setTask("own", [{ ...COMPLETED_TASK, url: "https://example.com/v.mp4" }]);
    expect((await kling.getImage2VideoTask("own")).url).toBe("https://example.com/v.mp4");
  });

  it("serves deterministic bytes with Content-Length, ETag, Last-Modified and Accept-Ranges", async () => {
    const response = await get();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe(String(DEFAULT_VIDEO_SIZE));
    expect(response.headers.get("etag")).toBe(`"kling-video-${DEFAULT_VIDEO_SIZE}-v1"`);
    expect(response.headers.get("last-modified")).toMatch(/ GMT$/);
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    const body = await response.arrayBuffer();
    expect(sha(body)).toBe(host.sha256);
    expect(sha(body)).toBe(fakeVideoSha256(DEFAULT_VIDEO_SIZE));
    expect(Buffer.from(body).equals(fakeVideoBytes(0, DEFAULT_VIDEO_SIZE))).toBe(true);
    // Not a short period: no 64 KiB window repeats the first one.
    expect(fakeVideoBytes(0, 100).equals(fakeVideoBytes(65_536, 65_636))).toBe(false);
    host.update({ version: 2 });
    expect(host.sha256).not.toBe(fakeVideoSha256(DEFAULT_VIDEO_SIZE));
  });

  it("answers Range with 206, honours If-Range, refuses a range past the end with 416", async () => {
    const part = await get({ range: "bytes=1000-" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-${DEFAULT_VIDEO_SIZE - 1}/${DEFAULT_VIDEO_SIZE}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(host.bytes(1000))).toBe(true);

    const etag = part.headers.get("etag")!;
    expect((await get({ range: "bytes=10-19", "if-range": etag })).status).toBe(206);
    expect((await get({ range: "bytes=10-19", "if-range": '"stale"' })).status).toBe(200);
    expect((await get({ range: `bytes=${DEFAULT_VIDEO_SIZE}-` })).status).toBe(416);

    host.update({ ranges: false, etag: false, lastModified: false });
    const whole = await get({ range: "bytes=1000-" });
    expect(whole.status).toBe(200);
    expect(whole.headers.get("etag")).toBeNull();
    expect(whole.headers.get("last-modified")).toBeNull();
    await whole.arrayBuffer();
  });

  it("plays scripted faults in order, then serves normally, recording each request", async () => {
    host.update({
      faults: [
        { kind: "status", status: 503, headers: { "retry-after": "1" } },
        { kind: "redirect", location: host.url },
        { kind: "short", afterBytes: 1000 },
        { kind: "drop", afterBytes: 1000 },
      ],
    });
    const unavailable = await get();
    expect([unavailable.status, unavailable.headers.get("retry-after")]).toEqual([503, "1"]);
    await unavailable.text();
    const redirected = await fetch(host.url, { redirect: "manual" });
    expect([redirected.status, redirected.headers.get("location")]).toEqual([302, host.url]);
    for (let i = 0; i < 2; i++) {
      const cut = await get();
      expect(cut.headers.get("content-length")).toBe(String(DEFAULT_VIDEO_SIZE));
      await expect(cut.arrayBuffer()).rejects.toThrow();
    }
    expect(sha(await (await get()).arrayBuffer())).toBe(host.sha256);
    expect(host.requests.map((r) => [r.status, r.bytesSent])).toEqual([
      [503, "fault 503".length],
      [302, 0],
      [200, 1000],
      [200, 1000],
      [200, DEFAULT_VIDEO_SIZE],
    ]);
  });

  it("records the headers each host received, credential values redacted", async () => {
    await get({ authorization: "Bearer sk-leaked-1", cookie: "session=sk-leaked-2", "x-probe": "1" });
    expect(host.requests[0]!.headers).toMatchObject({
      authorization: "[redacted]",
      cookie: "[redacted]",
      "x-probe": "1",
    });
    await fetch(withVideo.url + taskPath(DEMO_TASK_ID), { headers: { authorization: `Bearer ${FAKE_RELAY_API_KEY}` } });
    expect(withVideo.requests[0]!.headers.authorization).toBe("[redacted]");
    const recorded = JSON.stringify([host.requests, withVideo.requests]);
    expect(recorded).not.toContain("sk-leaked");
    expect(recorded).not.toContain(FAKE_RELAY_API_KEY);
  });

  it("refuses bad video options", async () => {
    await expect(createFakeRelay({ video: { size: -1 } })).rejects.toThrow(/size/);
    expect(() => host.update({ faults: [{ kind: "drop", afterBytes: -1 }] })).toThrow(/afterBytes/);
    expect(() => host.update({ faults: [{ kind: "status", status: 42 }] })).toThrow(/200 to 599/);
    expect(() => host.update({ faults: [{ kind: "explode" } as unknown as VideoFault] })).toThrow(/kind/);
    expect(() => host.update({ faults: [{ kind: "redirect", location: "/v\r\nx-injected: 1" }] })).toThrow(/header location/);
    expect(() => host.update({ version: 1.5 })).toThrow(/version/);
  });

  it("close() stops both servers", async () => {
    await withVideo.close();
    await expect(get()).rejects.toThrow();
    expect(withVideo.listening).toBe(false);
  });
});
