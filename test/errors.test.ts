// The fault matrix: each row is one way the relay (or the road to it) can answer, with the exact
// error class or normalized result, and how many requests were made. Real loopback sockets.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  createKlingClient,
  InternalServerError,
  KlingError,
  PermissionDeniedError,
  RateLimitError,
  ResponseValidationError,
  TaskNotFoundError,
  type KlingClientOptions,
} from "../src/index.js";
import { nodeHttpGet } from "../src/node/index.js";
import { closedPort, startServer, type ScriptedServer, type Step } from "./helpers/server.js";

/** Every row runs over both ways the task helpers send: the platform's fetch, and node:http. */
const TRANSPORTS: Array<[name: string, options: KlingClientOptions]> = [
  ["fetch", {}],
  ["nodeHttpGet", { httpGet: nodeHttpGet }],
];

const HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
const OK = { status: 200, body: { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4" } };
const TASK_NOT_EXIST = { code: "task_not_exist", message: "task_not_exist", data: null };

beforeEach(() => {
  // Jitter at its shortest end makes backoff waits short and exact: 375 ms, then 750 ms.
  vi.spyOn(Math, "random").mockReturnValue(1);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `fn` with a server of its own, closed afterwards (tests here run concurrently). */
async function withServer(steps: Step[], fn: (server: ScriptedServer) => Promise<void>): Promise<void> {
  const server = await startServer(steps);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function client(url: string, options: KlingClientOptions = {}) {
  return createKlingClient({ apiKey: "sk-matrix", baseUrl: url, ...options });
}

/** The outcome of one getImage2VideoTask call: the value or the error, never a throw. */
async function outcome(server: ScriptedServer, options: KlingClientOptions = {}) {
  return client(server.url, options)
    .getImage2VideoTask("t1")
    .then((value) => ({ value, error: undefined }), (error: unknown) => ({ value: undefined, error }));
}

type Row = [name: string, steps: Step[], expected: new (...args: never[]) => Error, requests: number, options?: KlingClientOptions];

const errorRows: Row[] = [
  ["connection reset", [{ fault: "reset" }], APIConnectionError, 3],
  ["body cut short (truncated transfer)", [{ fault: "truncate", body: '{"task_id":"t1","sta' }], APIConnectionError, 3],
  ["per-attempt timeout", [{ fault: "hang" }], APIConnectionTimeoutError, 3, { timeoutMs: 100 }],
  ["500 with an HTML body", [{ status: 500, body: HTML }], InternalServerError, 3],
  ["502 with an HTML body", [{ status: 502, body: HTML }], InternalServerError, 3],
  ["503 with an HTML body", [{ status: 503, body: HTML }], InternalServerError, 3],
  ["429 with Retry-After beyond the 60 s cap", [{ status: 429, headers: { "retry-after": "120" } }], RateLimitError, 1],
  ["401", [{ status: 401, body: { error: { message: "invalid token", type: "new_api_error" } } }], AuthenticationError, 1],
  ["403", [{ status: 403, body: { error: { message: "forbidden", type: "new_api_error" } } }], PermissionDeniedError, 1],
  ["404 (the spec's)", [{ status: 404, body: { error: { message: "task not found", type: "invalid_request_error", param: "task_id", code: "task_not_exist" } } }], TaskNotFoundError, 1],
  ["400 task_not_exist (the relay's)", [{ status: 400, body: TASK_NOT_EXIST }], TaskNotFoundError, 1],
  ["400 for another reason", [{ status: 400, body: { error: { message: "bad task id", type: "invalid_request_error" } } }], APIError, 1],
  ["200 with an empty body", [{ status: 200, body: "" }], ResponseValidationError, 1],
  ["200 with truncated JSON", [{ status: 200, body: '{"task_id":"t1","status":"comp' }], ResponseValidationError, 1],
  ["200 that is not JSON", [{ status: 200, body: HTML }], ResponseValidationError, 1],
  ["200 off-spec, strict", [{ status: 200, body: { status: "succeeded", url: "https://x/v.mp4" } }], ResponseValidationError, 1, { validation: "strict" }],
  ["200 off-spec beyond any variant, compat", [{ status: 200, body: { status: "UNKNOWN" } }], ResponseValidationError, 1],
  ["200 with a wrong type, compat", [{ status: 200, body: { status: "completed", metadata: { fps: "30" } } }], ResponseValidationError, 1],
  ["200 envelope with an unknown error code, compat", [{ status: 200, body: { code: "quota_exceeded", message: "no quota", data: null } }], ResponseValidationError, 1],
];

describe.each(TRANSPORTS)("fault matrix over %s: errors", (_transport, transport) => {
  it.concurrent.each(errorRows)("%s", async (_name, steps, expected, requests, options) => {
    await withServer(steps, async (server) => {
      const { error } = await outcome(server, { ...transport, ...options });
      expect(error).toBeInstanceOf(expected);
      expect(error).toBeInstanceOf(KlingError);
      // The class is the most specific one: a plain APIError row is not secretly a subclass.
      expect((error as Error).constructor).toBe(expected);
      expect(server.requests).toHaveLength(requests);
    });
  });

  it("connection refused: APIConnectionError after the retries, with the cause's code in the message", async () => {
    const port = await closedPort();
    const error = await createKlingClient({ ...transport, apiKey: "sk-matrix", baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 })
      .getImage2VideoTask("t1")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(error).not.toBeInstanceOf(APIConnectionTimeoutError);
    expect((error as Error).message).toMatch(/^GET \/kling\/v1\/videos\/image2video\/t1 failed: .*ECONNREFUSED/);
  });

  it("APIError carries status, headers, parsed body and request id, and a readable message", async () => {
    await withServer([{ status: 400, body: TASK_NOT_EXIST, headers: { "x-request-id": "req-42" } }], async (server) => {
      const { error } = await outcome(server, transport);
      const e = error as TaskNotFoundError;
      expect(e.status).toBe(400);
      expect(e.body).toEqual(TASK_NOT_EXIST);
      expect(e.requestId).toBe("req-42");
      expect(e.headers.get("x-request-id")).toBe("req-42");
      // A task id lives on the route that made it: the message names the other route's getter.
      expect(e.message).toBe("GET /kling/v1/videos/image2video/t1 -> 400 task_not_exist; not found on image2video (for a task made on text2video, use getText2VideoTask)");
      expect(e.name).toBe("TaskNotFoundError");
    });
  });

  it("an HTML error page is summarized in the message, not dumped", async () => {
    await withServer([{ status: 502, body: HTML }], async (server) => {
      const { error } = await outcome(server, { ...transport, maxRetries: 0 });
      expect((error as Error).message).toBe("GET /kling/v1/videos/image2video/t1 -> 502 (HTML body)");
      expect((error as InternalServerError).body).toBe(HTML);
    });
  });

  it("ResponseValidationError says what did not match, where, and keeps the raw body", async () => {
    const body = { status: "completed", metadata: { fps: "30" } };
    await withServer([{ status: 200, body }], async (server) => {
      const { error } = await outcome(server, { ...transport, validation: "strict" });
      const e = error as ResponseValidationError;
      expect(e.issues.map((i) => i.instancePath)).toEqual(["/metadata/fps"]);
      expect(e.message).toContain("/metadata/fps must be integer");
      expect(e.body).toEqual(body);
      expect(e.status).toBe(200);
    });
  });
});

type RecoveryRow = [name: string, steps: Step[], requests: number, minElapsedMs: number];

const recoveryRows: RecoveryRow[] = [
  ["429 with Retry-After in seconds", [{ status: 429, headers: { "retry-after": "1" } }, OK], 2, 990],
  ["429 with retry-after-ms", [{ status: 429, headers: { "retry-after-ms": "200" } }, OK], 2, 190],
  ["503 then 200", [{ status: 503, body: HTML }, OK], 2, 370],
  ["408 then 200", [{ status: 408, body: "" }, OK], 2, 370],
  ["connection reset then 200", [{ fault: "reset" }, OK], 2, 370],
];

describe.each(TRANSPORTS)("fault matrix over %s: recoveries", (_transport, transport) => {
  it.concurrent.each(recoveryRows)("%s", async (_name, steps, requests, minElapsedMs) => {
    await withServer(steps, async (server) => {
      const started = performance.now();
      const { value, error } = await outcome(server, transport);
      expect(error).toBeUndefined();
      expect(value).toEqual(OK.body);
      expect(server.requests).toHaveLength(requests);
      expect(performance.now() - started).toBeGreaterThanOrEqual(minElapsedMs);
    });
  });

  it("429 with Retry-After as an HTTP date waits until then", async () => {
    // HTTP dates have whole seconds: ask for two seconds ahead, so at least one second is left.
    const when = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000).toUTCString();
    await withServer([{ status: 429, headers: { "retry-after": when } }, OK], async (server) => {
      const started = Date.now();
      const { value } = await outcome(server, transport);
      expect(value).toEqual(OK.body);
      expect(server.requests).toHaveLength(2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  });

  it("maxRetries: 0 per call makes exactly one request", async () => {
    await withServer([{ status: 503, body: HTML }, OK], async (server) => {
      const error = await client(server.url, transport)
        .getImage2VideoTask("t1", { maxRetries: 0 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InternalServerError);
      expect(server.requests).toHaveLength(1);
    });
  });

  it("the raw typed GET gets the same retry policy", async () => {
    await withServer([{ status: 503, body: HTML }, { status: 502, body: HTML }, OK], async (server) => {
      const { data, response } = await client(server.url, transport).GET("/kling/v1/videos/image2video/{task_id}", {
        params: { path: { task_id: "t1" } },
      });
      expect(response.status).toBe(200);
      expect(data).toEqual(OK.body);
      expect(server.requests).toHaveLength(3);
    });
  });

  it("withOptions changes the policy for the raw GET", async () => {
    await withServer([{ status: 503, body: HTML }, OK], async (server) => {
      const { error, response } = await client(server.url, transport)
        .withOptions({ maxRetries: 0 })
        .GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "t1" } } });
      expect(response.status).toBe(503);
      expect(error).toBe(HTML);
      expect(server.requests).toHaveLength(1);
    });
  });
});

describe("compat: relay variants are normalized, strict rejects them", () => {
  type Variant = [name: string, body: object, normalized: object];
  const variants: Variant[] = [
    [
      "generic envelope around a TaskDto (SUCCESS, result_url, progress)",
      { code: "success", message: "", data: { id: 7, task_id: "t1", platform: "kling", status: "SUCCESS", progress: "100%", result_url: "https://cdn.example/v.mp4", fail_reason: "" } },
      { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4" },
    ],
    [
      "generic envelope, IN_PROGRESS",
      { code: "success", message: "", data: { task_id: "t1", status: "IN_PROGRESS", progress: "30%" } },
      { task_id: "t1", status: "in_progress" },
    ],
    [
      "generic envelope, SUBMITTED",
      { code: "success", message: "", data: { task_id: "t1", status: "SUBMITTED" } },
      { task_id: "t1", status: "queued" },
    ],
    [
      "generic envelope, NOT_START",
      { code: "success", message: "", data: { task_id: "t1", status: "NOT_START" } },
      { task_id: "t1", status: "queued" },
    ],
    [
      "generic envelope, FAILURE with fail_reason",
      { code: "success", message: "", data: { task_id: "t1", status: "FAILURE", fail_reason: "upstream timeout" } },
      { task_id: "t1", status: "failed", error: { message: "upstream timeout" } },
    ],
    [
      "simplified envelope, processing with url \"\" and null objects",
      { code: "success", message: "", data: { error: null, format: "mp4", metadata: null, status: "processing", task_id: "t1", url: "" } },
      { task_id: "t1", status: "in_progress", format: "mp4" },
    ],
    [
      "simplified envelope, succeeded",
      { code: "success", message: "", data: { error: null, format: "mp4", metadata: { duration: 5, fps: 30 }, status: "succeeded", task_id: "t1", url: "https://cdn.example/v.mp4" } },
      { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4", format: "mp4", metadata: { duration: 5, fps: 30 } },
    ],
    [
      "simplified envelope, failed with a string error code",
      { code: "success", message: "", data: { error: { message: "content moderation failed", code: "task_failed" }, status: "failed", task_id: "t1", url: "" } },
      { task_id: "t1", status: "failed", error: { code: "task_failed", message: "content moderation failed" } },
    ],
    [
      // (A spec-shaped body with a string code passes untouched: the overlay types code as integer or string.)
      "bare body with a gateway status and a numeric string error code",
      { task_id: "t1", status: "FAILURE", error: { code: "1301", message: "blocked" } },
      { task_id: "t1", status: "failed", error: { code: 1301, message: "blocked" } },
    ],
    [
      "bare body with the struct's own example status (succeeded)",
      { task_id: "t1", status: "succeeded", url: "https://cdn.example/v.mp4", error: null },
      { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4" },
    ],
  ];

  it.concurrent.each(variants)("%s", async (_name, body, normalized) => {
    await withServer([{ status: 200, body }], async (server) => {
      const compat = await outcome(server);
      expect(compat.error).toBeUndefined();
      expect(compat.value).toEqual(normalized);
      // The raw body is kept, but stays out of JSON and spreads.
      expect(compat.value?.raw).toEqual(body);
      expect(Object.keys(compat.value!)).not.toContain("raw");
      expect(JSON.parse(JSON.stringify(compat.value))).toEqual(normalized);

      const strict = await outcome(server, { validation: "strict" });
      expect(strict.error).toBeInstanceOf(ResponseValidationError);
      expect((strict.error as ResponseValidationError).body).toEqual(body);
      expect(server.requests).toHaveLength(2);
    });
  });

  it("a 200 envelope saying task_not_exist is TaskNotFoundError", async () => {
    await withServer([{ status: 200, body: TASK_NOT_EXIST }], async (server) => {
      const { error } = await outcome(server);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect(server.requests).toHaveLength(1);
    });
  });

  it('validation "off" hands back any JSON untouched', async () => {
    const body = { status: "SUCCESS", whatever: [1, 2] };
    await withServer([{ status: 200, body }], async (server) => {
      const { value } = await outcome(server, { validation: "off" });
      expect(value).toEqual(body);
    });
  });
});

describe("a task on the other route", () => {
  it("a not-found names the other route's getter, from the one request made", async () => {
    const steps: Step[] = [{ status: 404, body: { error: { message: "task not found", code: "task_not_exist" } } }];
    await withServer(steps, async (server) => {
      const error = await client(server.url).getText2VideoTask("t1").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect((error as Error).message).toBe(
        "GET /kling/v1/videos/text2video/t1 -> 404 task_not_exist: task not found; not found on text2video (for a task made on image2video, use getImage2VideoTask)",
      );
      expect(server.requests.map((r) => r.url)).toEqual(["/kling/v1/videos/text2video/t1"]);
    });
  });

  it("so does the relay's 200 envelope, in a wait's outcome too; a create's 404 names no getter", async () => {
    await withServer([{ status: 200, body: TASK_NOT_EXIST }], async (server) => {
      const error = await client(server.url).waitForImage2VideoTask("t1").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect((error as Error).message).toMatch(/; not found on image2video \(for a task made on text2video, use getText2VideoTask\)$/);
      expect(server.requests).toHaveLength(1);
    });
    await withServer([{ status: 404, body: "" }], async (server) => {
      const error = await client(server.url).createText2VideoTask({ model: "kling-v1", prompt: "a lighthouse" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect((error as Error).message).toBe("POST /kling/v1/videos/text2video -> 404 (empty body)");
    });
  });
});

describe("an aborted create, counted at the server", () => {
  const REQUEST = { model: "kling-v1", prompt: "a cat turns its head", image: "https://img.example/cat.png" };
  const posts = (server: ScriptedServer): number => server.requests.filter((r) => r.method === "POST").length;

  it("aborted on its way: a KlingError that may have created the task, caused by the caller's reason", async () => {
    await withServer([{ fault: "hang" }], async (server) => {
      const controller = new AbortController();
      const reason = { why: "the user gave up" };
      const pending = client(server.url).createImage2VideoTask(REQUEST, { signal: controller.signal }).catch((e: unknown) => e);
      await vi.waitUntil(() => posts(server) === 1);
      controller.abort(reason);
      const error = (await pending) as APIUserAbortError;
      expect(error).toBeInstanceOf(APIUserAbortError);
      expect(error).toBeInstanceOf(KlingError);
      expect(error.mayHaveCreatedTask).toBe(true);
      expect(error.cause).toBe(reason);
      expect(error.message).toMatch(/^POST \/kling\/v1\/videos\/image2video was aborted after it was sent; a task may have been created/);
      expect(posts(server)).toBe(1);
    });
  });

  it("aborted before a byte left (already, or in a middleware before the send): the caller's reason itself, no create", async () => {
    await withServer([{ status: 200, body: { task_id: "t1" } }], async (server) => {
      const early = await client(server.url).createImage2VideoTask(REQUEST, { signal: AbortSignal.abort("early") }).catch((e: unknown) => e);
      expect(early).toBe("early");
      const controller = new AbortController();
      const kling = client(server.url);
      kling.use({ onRequest: () => void controller.abort("in a middleware") });
      const late = await kling.createImage2VideoTask(REQUEST, { signal: controller.signal }).catch((e: unknown) => e);
      expect(late).toBe("in a middleware");
      expect(posts(server)).toBe(0);
    });
  });

  it("aborted in the pause after a 429 (which made no task): the caller's reason itself, one create sent", async () => {
    const rateLimited: Step = { status: 429, body: { code: "rate_limited", message: "slow down", data: null }, headers: { "retry-after": "5" } };
    await withServer([rateLimited], async (server) => {
      const timers = vi.spyOn(globalThis, "setTimeout");
      const controller = new AbortController();
      const pending = client(server.url).createImage2VideoTask(REQUEST, { signal: controller.signal }).catch((e: unknown) => e);
      // The transport's pause for the 429's Retry-After has begun: nothing is on its way.
      await vi.waitUntil(() => timers.mock.calls.some(([, ms]) => ms === 5_000));
      controller.abort("during the pause");
      expect(await pending).toBe("during the pause");
      expect(posts(server)).toBe(1);
    });
  });
});
