// Creating a task never pays twice: every branch of the resend rule against a real loopback server
// that counts the creates it received (a create counts once its whole body arrived), plus the
// request checks that refuse bad input before a byte is sent.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import diagnostics from "node:diagnostics_channel";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type {
  KlingError} from "../src/index.js";
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  createKlingClient,
  InsufficientQuotaError,
  InternalServerError,
  InvalidArgumentError,
  RateLimitError,
  ResponseValidationError,
  type KlingClientOptions,
} from "../src/index.js";
import { makeJpeg, makePng } from "./helpers/images.js";

type CreateStep =
  | { status: number; body?: string | object; headers?: Record<string, string> }
  | { fault: "reset-after-body" }
  | { fault: "hang-after-body" };

interface CountingServer {
  url: string;
  port: number;
  /** POST bodies received whole, in order. */
  creates: Array<{ path: string; body: string; headers: http.IncomingHttpHeaders }>;
  /** Every request, POSTs and GETs, in order of arrival. */
  log: string[];
  listen(): Promise<void>;
  close(): Promise<void>;
}

const GATEWAY_500 = { code: "do_request_failed", message: "upstream timeout", data: null };
const PROXY_502 = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
const CREATED = { id: "task_abc", task_id: "task_abc", object: "video", model: "kling-v1", status: "queued", progress: 0, created_at: 1 };
const COMPLETED = { task_id: "task_abc", status: "completed", url: "https://cdn.example/v.mp4" };

/** A server answering POSTs with `steps` in order (the last repeats) and GETs with `task`. */
async function countingServer(steps: CreateStep[], task: object = COMPLETED, port = 0): Promise<CountingServer> {
  const creates: CountingServer["creates"] = [];
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(task));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const step = steps[Math.min(creates.length, steps.length - 1)]!;
      creates.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
      if ("fault" in step) {
        if (step.fault === "reset-after-body") req.socket.destroy();
        return; // hang: never answer
      }
      const text = typeof step.body === "string" ? step.body : step.body === undefined ? "" : JSON.stringify(step.body);
      res.writeHead(step.status, { "content-type": typeof step.body === "string" ? "text/html" : "application/json", ...step.headers });
      res.end(text);
    });
  });
  const result: CountingServer = {
    url: "",
    port,
    creates,
    log,
    listen: () =>
      new Promise<void>((resolve) =>
        server.listen(result.port, "127.0.0.1", () => {
          result.port = (server.address() as AddressInfo).port;
          result.url = `http://127.0.0.1:${result.port}`;
          resolve();
        }),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  if (port === 0) await result.listen();
  return result;
}

const servers: CountingServer[] = [];
async function serve(steps: CreateStep[], task?: object): Promise<CountingServer> {
  const server = await countingServer(steps, task);
  servers.push(server);
  return server;
}

function client(server: { url: string }, options: KlingClientOptions = {}) {
  return createKlingClient({ apiKey: "sk-create-test", baseUrl: server.url, ...options });
}

const REQUEST = { model: "kling-v1", prompt: "a cat turns its head", image: "https://img.example/cat.png" };

beforeEach(() => {
  // Jitter at its shortest end makes backoff waits short and exact.
  vi.spyOn(Math, "random").mockReturnValue(1);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The error a promise rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (error: unknown) => error,
  );
}

describe("the resend rule, counted at the server", () => {
  // Each row: what the server does, how many creates it must have received, and the error.
  const rows: Array<{
    name: string;
    steps: CreateStep[];
    creates: number;
    error: abstract new (...args: never[]) => KlingError;
    mayHaveCreatedTask: boolean;
    options?: KlingClientOptions;
  }> = [
    { name: "a reset after the body was read", steps: [{ fault: "reset-after-body" }], creates: 1, error: APIConnectionError, mayHaveCreatedTask: true },
    { name: "a timeout", steps: [{ fault: "hang-after-body" }], creates: 1, error: APIConnectionTimeoutError, mayHaveCreatedTask: true, options: { timeoutMs: 300 } },
    { name: "a proxy's 502 page", steps: [{ status: 502, body: PROXY_502 }], creates: 1, error: InternalServerError, mayHaveCreatedTask: true },
    { name: "a proxy's 504 page", steps: [{ status: 504, body: "gateway timeout" }], creates: 1, error: InternalServerError, mayHaveCreatedTask: true },
    { name: "a bare 408", steps: [{ status: 408, body: "" }], creates: 1, error: APIError, mayHaveCreatedTask: true },
    {
      name: "a redirect (a create is never followed: it may have been taken before it)",
      steps: [{ status: 307, body: "", headers: { location: "/elsewhere" } }],
      creates: 1,
      error: APIConnectionError,
      mayHaveCreatedTask: true,
    },
    { name: "a 500 in the gateway's shape (refunded)", steps: [{ status: 500, body: GATEWAY_500 }], creates: 1, error: InternalServerError, mayHaveCreatedTask: false },
    {
      name: "a 503 in the gateway's middleware shape",
      steps: [{ status: 503, body: { error: { message: "no channel", type: "new_api_error", code: "model_not_found" } } }],
      creates: 1,
      error: InternalServerError,
      mayHaveCreatedTask: false,
    },
    {
      name: "a 400 invalid_request",
      steps: [{ status: 400, body: { code: "invalid_request", message: "prompt is required", data: null } }],
      creates: 1,
      error: APIError,
      mayHaveCreatedTask: false,
    },
    {
      name: "a 403 for an exhausted balance",
      steps: [{ status: 403, body: { code: "insufficient_user_quota", message: "用户额度不足", data: null } }],
      creates: 1,
      error: InsufficientQuotaError,
      mayHaveCreatedTask: false,
    },
    { name: "a 200 without a task id", steps: [{ status: 200, body: { object: "video", status: "queued" } }], creates: 1, error: ResponseValidationError, mayHaveCreatedTask: true },
    { name: "a 200 that is not JSON", steps: [{ status: 200, body: "<html>ok</html>" }], creates: 1, error: ResponseValidationError, mayHaveCreatedTask: true },
    {
      name: "a 200 whose task id could never be polled",
      steps: [{ status: 200, body: { task_id: "task\u0007bell", status: "queued" } }],
      creates: 1,
      error: ResponseValidationError,
      mayHaveCreatedTask: true,
    },
    {
      name: "429 on every attempt",
      steps: [{ status: 429, body: { code: "rate_limited", message: "slow down", data: null }, headers: { "retry-after": "0" } }],
      creates: 3,
      error: RateLimitError,
      mayHaveCreatedTask: false,
    },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.creates} create(s), ${row.error.name}, mayHaveCreatedTask ${row.mayHaveCreatedTask}`, async () => {
      const server = await serve(row.steps);
      const error = await rejection(client(server, row.options).createImage2VideoTask(REQUEST));
      expect(error).toBeInstanceOf(row.error);
      expect((error as KlingError).mayHaveCreatedTask).toBe(row.mayHaveCreatedTask);
      expect((error as Error).message.includes("may have been created")).toBe(row.mayHaveCreatedTask);
      expect(server.creates).toHaveLength(row.creates);
      expect(String(error)).not.toContain("sk-create-test");
    });
  }

  it("the same rule holds when the user added a middleware (the call goes through openapi-fetch)", async () => {
    const server = await serve([{ fault: "reset-after-body" }]);
    const kling = client(server);
    const seen: string[] = [];
    kling.use({ onRequest: ({ request }) => void seen.push(request.method) });
    const error = await rejection(kling.createImage2VideoTask(REQUEST));
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as KlingError).mayHaveCreatedTask).toBe(true);
    expect(server.creates).toHaveLength(1);
    expect(seen).toEqual(["POST"]);
  });

  it("a 429 is retried after its Retry-After, and the create then succeeds: 2 requests, 1 task", async () => {
    const server = await serve([
      { status: 429, body: { code: "rate_limited", message: "当前分组上游负载已饱和，请稍后再试", data: null }, headers: { "retry-after": "0" } },
      { status: 200, body: CREATED },
    ]);
    const created = await client(server).createImage2VideoTask(REQUEST);
    expect(created.task_id).toBe("task_abc");
    expect(server.creates).toHaveLength(2);
  });

  it("a refused connection is retried (nothing was sent), and the create then reaches the relay once", async () => {
    const later = await countingServer([{ status: 200, body: CREATED }], COMPLETED, await freePort());
    servers.push(later);
    let attempts = 0;
    const kling = createKlingClient({
      apiKey: "sk-create-test",
      baseUrl: `http://127.0.0.1:${later.port}`,
      // The platform's fetch, really refused on the first attempt; the server comes up before the retry.
      fetch: async (request) => {
        attempts++;
        try {
          return await fetch(request);
        } finally {
          if (attempts === 1) await later.listen();
        }
      },
    });
    const created = await kling.createImage2VideoTask(REQUEST);
    expect(created.task_id).toBe("task_abc");
    expect(attempts).toBe(2);
    expect(later.creates).toHaveLength(1);
  });

  // A refused connection reaches no server, so the attempts are counted where they end: undici's
  // own report of each failed connect, under the platform fetch the client uses by default.
  for (const maxRetries of [0, 1, 2]) {
    it(`refused on every attempt: maxRetries ${maxRetries} makes ${maxRetries + 1} attempt(s), and the error says no task was created`, async () => {
      const port = await freePort();
      const refused = await connectErrors(port, () =>
        rejection(client({ url: `http://127.0.0.1:${port}` }, { maxRetries }).createImage2VideoTask(REQUEST)),
      );
      expect(refused.codes).toEqual(Array<string>(maxRetries + 1).fill("ECONNREFUSED"));
      expect(refused.value).toBeInstanceOf(APIConnectionError);
      expect((refused.value as KlingError).mayHaveCreatedTask).toBe(false);
      expect((refused.value as Error).message).not.toContain("may have been created");
    });
  }

  it("maxRetries 0 sends one create even on a 429", async () => {
    const server = await serve([{ status: 429, body: "", headers: { "retry-after": "0" } }]);
    await expect(client(server, { maxRetries: 0 }).createImage2VideoTask(REQUEST)).rejects.toBeInstanceOf(RateLimitError);
    expect(server.creates).toHaveLength(1);
  });
});

describe("hostile answers to a create", () => {
  it("a 2xx larger than maxResponseBytes stops at the cap: ResponseTooLargeError, and the task may exist", async () => {
    const { ResponseTooLargeError } = await import("../src/index.js");
    const server = await serve([{ status: 200, body: { task_id: "task_big", pad: "x".repeat(64 * 1024) } }]);
    const error = await rejection(client(server, { maxResponseBytes: 1024 }).createImage2VideoTask(REQUEST));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as KlingError).mayHaveCreatedTask).toBe(true);
    expect(server.creates).toHaveLength(1);
  });

  it("an answer echoing the key is scrubbed, in the created task and in errors", async () => {
    const echo = { task_id: "task_echo", status: "queued", note: "Bearer sk-create-test" };
    const ok = await serve([{ status: 200, body: echo }]);
    expect(JSON.stringify(await client(ok).createImage2VideoTask(REQUEST))).not.toContain("sk-create-test");
    const bad = await serve([{ status: 400, body: { code: "invalid_request", message: "bad key sk-create-test", data: null } }]);
    const error = await rejection(client(bad).createImage2VideoTask(REQUEST));
    expect(JSON.stringify((error as APIError).body)).not.toContain("sk-create-test");
    expect((error as Error).message).not.toContain("sk-create-test");
  });

  it("a __proto__ key or an empty task id in the answer is no task", async () => {
    const server = await serve([{ status: 200, body: '{"__proto__": {"task_id": "polluted"}, "task_id": ""}' }]);
    const error = await rejection(client(server).createImage2VideoTask(REQUEST));
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as KlingError).mayHaveCreatedTask).toBe(true);
    expect(({} as { task_id?: string }).task_id).toBeUndefined();
  });
});

describe("answers", () => {
  it("resolves with the created task, the gateway's current shape", async () => {
    const server = await serve([{ status: 200, body: CREATED }]);
    const created = await client(server).createText2VideoTask({ model: "kling-v1", prompt: "a lighthouse at dusk" });
    expect(created).toMatchObject({ task_id: "task_abc", status: "queued" });
    expect(server.creates[0]!.path).toBe("/kling/v1/videos/text2video");
    expect(server.creates[0]!.headers.authorization).toBe("Bearer sk-create-test");
    expect(server.creates[0]!.headers["content-type"]).toBe("application/json");
    // Kling's own default aspect ratio, sent explicitly: the gateway's default would be 1:1.
    expect(JSON.parse(server.creates[0]!.body)).toEqual({ model: "kling-v1", prompt: "a lighthouse at dusk", metadata: { aspect_ratio: "16:9" } });
  });

  it("compat reads the id from older gateways' shapes (id, data.task_id) and keeps the body on raw; strict refuses them", async () => {
    const native = { code: 0, message: "SUCCEED", request_id: "r1", data: { task_id: "kling-1", task_status: "submitted" } };
    for (const [body, id] of [
      [{ id: "task_only_id", object: "video", status: "queued" }, "task_only_id"],
      [native, "kling-1"],
    ] as const) {
      const server = await serve([{ status: 200, body }]);
      const created = await client(server).createImage2VideoTask(REQUEST);
      expect(created.task_id).toBe(id);
      expect(created.raw).toEqual(body);
      const strict = await rejection(client(server, { validation: "strict" }).createImage2VideoTask(REQUEST));
      expect(strict).toBeInstanceOf(ResponseValidationError);
      expect((strict as KlingError).mayHaveCreatedTask).toBe(true);
    }
  });

  it("an error answer carries the relay's message", async () => {
    const server = await serve([{ status: 400, body: { code: "invalid_seconds", message: "duration must be 5 or 10", data: null } }]);
    const error = await rejection(client(server).createImage2VideoTask(REQUEST));
    expect((error as Error).message).toBe("POST /kling/v1/videos/image2video -> 400 invalid_seconds: duration must be 5 or 10");
  });
});

describe("the request is checked before a byte is sent", () => {
  const bad: Array<[string, unknown, string]> = [
    ["no model", { prompt: "p", image: "https://x/y.png" }, "request.model"],
    ["a blank prompt", { model: "kling-v1", prompt: "  ", image: "https://x/y.png" }, "request.prompt"],
    ["a prompt over 2,500 characters", { model: "kling-v1", prompt: "字".repeat(2501), image: "https://x/y.png" }, "request.prompt"],
    ["no image for image2video", { model: "kling-v1", prompt: "p" }, "request.image"],
    ["a fractional duration", { ...REQUEST, duration: 5.5 }, "request.duration"],
    ["a duration as a string", { ...REQUEST, duration: "5" }, "request.duration"],
    ["a width the spec types as integer", { ...REQUEST, width: "1280" }, "request"],
    ["not an object", "make me a video", "request"],
    ["an image that is a path", { ...REQUEST, image: "./cat.png" }, "request.image"],
    ["an image that is text bytes", { ...REQUEST, image: new TextEncoder().encode("hello, I am not a PNG") }, "request.image"],
    ["an image over 10 MB", { ...REQUEST, image: makePng(400, 400, { size: 11 * 1024 * 1024 }) }, "request.image"],
    ["an image too small", { ...REQUEST, image: makePng(200, 400) }, "request.image"],
  ];
  for (const [name, request, argument] of bad) {
    it(`refuses ${name} with InvalidArgumentError(${argument}), no request`, async () => {
      const server = await serve([{ status: 200, body: CREATED }]);
      const error = await rejection(client(server).createImage2VideoTask(request as never));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe(argument);
      expect(server.log).toEqual([]);
    });
  }

  it("text2video refuses an image (the gateway would make an image2video task)", async () => {
    const server = await serve([{ status: 200, body: CREATED }]);
    const error = await rejection(client(server).createText2VideoTask({ ...REQUEST } as never));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(server.log).toEqual([]);
  });

  it("a generate with a bad wait option is refused before its create", async () => {
    const server = await serve([{ status: 200, body: CREATED }]);
    await expect(client(server).generateImage2Video(REQUEST, { timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client(server).generateImage2Video(REQUEST, { onCreated: "log" as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.log).toEqual([]);
  });
});

describe("images reach the relay as the base64 it expects", () => {
  const sha = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
  const cases: Array<[string, () => Uint8Array]> = [
    ["a PNG", () => makePng(640, 480)],
    ["a JPEG", () => makeJpeg(480, 640)],
  ];
  for (const [name, make] of cases) {
    for (const form of ["Uint8Array", "ArrayBuffer", "Blob", "data: URL"] as const) {
      it(`${name} given as ${form}: byte for byte, no data: prefix`, async () => {
        const bytes = make();
        const image =
          form === "Uint8Array"
            ? bytes
            : form === "ArrayBuffer"
              ? new Uint8Array(bytes).buffer
              : form === "Blob"
                ? new Blob([bytes.slice()])
                : `data:image/png;base64,${Buffer.from(bytes).toString("base64")}`;
        const server = await serve([{ status: 200, body: CREATED }]);
        await client(server).createImage2VideoTask({ ...REQUEST, image, duration: 5 });
        const sent = JSON.parse(server.creates[0]!.body) as { image: string; model: string; duration: number };
        expect(sent.image.startsWith("data:")).toBe(false);
        expect(sha(Buffer.from(sent.image, "base64"))).toBe(sha(bytes));
        expect(sent.image).toBe(Buffer.from(bytes).toString("base64"));
        expect(sent).toMatchObject({ model: "kling-v1", duration: 5 });
      });
    }
  }

  it("a URL and a string of base64 are sent untouched", async () => {
    for (const image of ["https://img.example/cat.png?sig=a%2Fb", "iVBORw0KGgoAAAANSUhEUg=="]) {
      const server = await serve([{ status: 200, body: CREATED }]);
      await client(server).createImage2VideoTask({ ...REQUEST, image });
      expect((JSON.parse(server.creates[0]!.body) as { image: string }).image).toBe(image);
    }
  });
});

describe("generate: create, then wait", () => {
  it("onCreated fires with the id before the first poll, and the completed task comes back", async () => {
    const server = await serve([{ status: 200, body: CREATED }]);
    const order: string[] = [];
    const task = await client(server).generateText2Video(
      { model: "kling-v1", prompt: "waves" },
      { pollIntervalMs: 10, onCreated: (id) => order.push(`created ${id} after ${server.log.length} request(s)`) },
    );
    expect(task.url).toBe(COMPLETED.url);
    expect(order).toEqual(["created task_abc after 1 request(s)"]);
    expect(server.log).toEqual(["POST /kling/v1/videos/text2video", "GET /kling/v1/videos/text2video/task_abc"]);
  });

  it("rejects as the wait does: a cancelled task is a TaskCancelledError", async () => {
    const { TaskCancelledError } = await import("../src/index.js");
    const server = await serve([{ status: 200, body: CREATED }], { task_id: "task_abc", status: "cancelled" });
    await expect(client(server).generateImage2Video(REQUEST)).rejects.toBeInstanceOf(TaskCancelledError);
    expect(server.creates).toHaveLength(1);
  });
});

/** Runs `work`, collecting the error code of every connect to 127.0.0.1:`port` that failed meanwhile (undici's diagnostics channel). */
async function connectErrors<T>(port: number, work: () => Promise<T>): Promise<{ value: T; codes: string[] }> {
  const codes: string[] = [];
  const onError = (message: unknown): void => {
    const { connectParams, error } = message as { connectParams: { hostname: string; port: string }; error: { code?: string } };
    if (connectParams.hostname === "127.0.0.1" && connectParams.port === String(port)) codes.push(error.code ?? "no code");
  };
  diagnostics.subscribe("undici:client:connectError", onError);
  try {
    return { value: await work(), codes };
  } finally {
    diagnostics.unsubscribe("undici:client:connectError", onError);
  }
}

/** A loopback port with nothing listening on it. */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("against the fake relay (xiexus-kling/testing), from files on disk", () => {
  it("a PNG file and a JPEG file reach the relay as the base64 it expects, byte for byte; generate resolves to the completed task, onCreated before the first poll", async () => {
    const { createFakeRelay } = await import("../src/testing/index.js");
    const { readImageFile } = await import("../src/node/index.js");
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const dir = await mkdtemp(path.join(tmpdir(), "xiexus-kling-create-"));
    const relay = await createFakeRelay({ video: true, createdTasks: { runningPolls: 1 } });
    try {
      const kling = createKlingClient({ apiKey: relay.apiKey, baseUrl: relay.url });
      for (const [name, bytes] of [
        ["cat.png", makePng(640, 480)],
        ["cat.jpg", makeJpeg(480, 640)],
      ] as const) {
        const file = path.join(dir, name);
        await writeFile(file, bytes);
        const gets = () => relay.requests.filter((r) => r.method === "GET").length;
        const getsBefore = gets();
        const seenAtCreated: number[] = [];
        const task = await kling.generateImage2Video(
          { model: "kling-v1", prompt: "the cat turns its head", image: await readImageFile(file) },
          { pollIntervalMs: 5, onCreated: () => seenAtCreated.push(gets() - getsBefore) },
        );
        expect(task.status).toBe("completed");
        expect(seenAtCreated).toEqual([0]);
        const sent = relay.creates.at(-1)!;
        expect(sent.image?.form).toBe("base64");
        expect(sent.image?.bytesSha256).toBe(createHash("sha256").update(bytes).digest("hex"));
        expect(sent.taskId).toBe(task.task_id);
      }
      const text = await kling.generateText2Video({ model: "kling-v1", prompt: "waves at dusk" }, { pollIntervalMs: 5 });
      expect(text.status).toBe("completed");
      expect(relay.createCount).toBe(3);

      // A text file renamed .png and an image over the limit: refused before any request.
      const before = relay.requests.length + relay.creates.length;
      await writeFile(path.join(dir, "notes.png"), "a shopping list, not a picture\n");
      await writeFile(path.join(dir, "huge.png"), makePng(400, 400, { size: 10 * 1024 * 1024 + 1 }));
      for (const name of ["notes.png", "huge.png"]) {
        const error = await readImageFile(path.join(dir, name)).then(
          (image) => kling.createImage2VideoTask({ model: "kling-v1", prompt: "p", image }),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InvalidArgumentError);
      }
      // The same bytes given directly to the create are refused by it too.
      await expect(
        kling.createImage2VideoTask({ model: "kling-v1", prompt: "p", image: new TextEncoder().encode("a shopping list, not a picture\n") }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(relay.requests.length + relay.creates.length).toBe(before);
      expect(relay.createCount).toBe(3);
    } finally {
      await relay.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
