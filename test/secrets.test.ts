// The API key never appears in any error: message, properties, cause, toString or util.inspect,
// on every error path, even when the relay (or a proxy) echoes the Authorization header back.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createKlingClient, KlingError, type KlingClientOptions } from "../src/index.js";
import { closedPort } from "./helpers/server.js";

const KEY = "sk-CANARY-7f3c9a1e5b2d4c6e8f0a";
const FRAGMENT = "CANARY-7f3c9a1e"; // catches partial echoes too

/** Everything an error shows to someone who logs it or pokes at it. */
function everythingVisible(error: unknown): string {
  const seen = new Set<unknown>();
  const parts: string[] = [String(error), inspect(error, { depth: Infinity, showHidden: true })];
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== "object" || seen.has(value)) {
      parts.push(String(value));
      return;
    }
    seen.add(value);
    if (value instanceof Headers) value.forEach((v, k) => parts.push(`${k}: ${v}`));
    for (const key of Object.getOwnPropertyNames(value)) walk((value as Record<string, unknown>)[key]);
  };
  walk(error);
  return parts.join("\n");
}

/** A relay that echoes the Authorization header back in its body and headers, per scenario. */
let url = "";
let server: http.Server;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    const scenario = decodeURIComponent(req.url!.split("/").pop()!);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "x-echo-authorization": auth, "x-request-id": auth });
      res.end(JSON.stringify(body));
    };
    const status = Number(scenario.split("-")[0]);
    if (scenario === "hang") return;
    if (scenario === "reset") return void req.socket.destroy();
    if (scenario === "200-offspec") return json(200, { status: "weird", note: `you sent ${auth}` });
    if (scenario === "200-html") {
      res.writeHead(200, { "content-type": "text/html" });
      return void res.end(`<html>${auth}</html>`);
    }
    if (scenario === "200-failed") return json(200, { task_id: "t", status: "failed", error: { code: 1, message: `denied for ${auth}` } });
    if (scenario === "200-running") return json(200, { task_id: `t ${auth}`, status: "in_progress" });
    if (scenario === "404-plain") {
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end('{"error":{"message":"no such task"}}');
    }
    if (scenario === "200-escaped") {
      // As PHP's json_encode writes it: every "/" escaped, so the raw text does not hold the key as is.
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(`{"status":"weird","note":"you sent ${auth.replace(/\//g, "\\/")}"}`);
    }
    if (scenario === "404-proto") {
      // JSON.parse makes "__proto__" an own key of the body, like any other.
      res.writeHead(404, { "content-type": "application/json" });
      return void res.end(`{"__proto__":{"message":"inherited"},"error":{"message":"rejected ${auth}"}}`);
    }
    if (scenario === "200-notexist") return json(200, { code: "task_not_exist", message: `task_not_exist ${auth}`, data: null });
    return json(status, { error: { message: `rejected ${auth}`, type: "echo", code: auth } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function errorOf(scenario: string, options: KlingClientOptions = {}, wait = false): Promise<unknown> {
  const kling = createKlingClient({ apiKey: KEY, baseUrl: url, maxRetries: 0, timeoutMs: 200, ...options });
  const call = wait
    ? kling.waitForImage2VideoTask(scenario, { pollIntervalMs: 10, timeoutMs: 300 })
    : kling.getImage2VideoTask(scenario);
  return call.then(() => {
    throw new Error(`${scenario} did not fail`);
  }, (e: unknown) => e);
}

describe("no error shows the API key", () => {
  const scenarios: Array<[string, string, KlingClientOptions?, boolean?]> = [
    ["400 echo", "400-echo"],
    ["401 AuthenticationError", "401-echo"],
    ["403 PermissionDeniedError", "403-echo"],
    ["404 TaskNotFoundError", "404-echo"],
    ["429 RateLimitError", "429-echo"],
    ["500 InternalServerError", "500-echo"],
    ["503 after retries", "503-echo", { maxRetries: 1 }],
    ["APIConnectionError (reset)", "reset"],
    ["APIConnectionTimeoutError", "hang"],
    ["ResponseValidationError (strict)", "200-offspec", { validation: "strict" }],
    ["ResponseValidationError (compat)", "200-offspec"],
    ["ResponseValidationError (not JSON)", "200-html"],
    ["TaskNotFoundError (200 envelope)", "200-notexist"],
    ["TaskFailedError", "200-failed", {}, true],
    ["WaitTimeoutError", "200-running", {}, true],
  ];

  it.each(scenarios)("%s", async (_name, scenario, options, wait) => {
    vi.spyOn(Math, "random").mockReturnValue(1);
    const error = await errorOf(scenario, options, wait);
    expect(error).toBeInstanceOf(KlingError);
    const visible = everythingVisible(error);
    expect(visible).not.toContain(FRAGMENT);
    // The inspection saw the error itself, not an empty shell.
    expect(visible).toContain((error as Error).name);
  });

  it("the search is real: an unredacted error would be caught", () => {
    const leaky = new Error(`token ${KEY}`);
    expect(everythingVisible(leaky)).toContain(FRAGMENT);
    const nested = Object.assign(new Error("x"), { headers: new Headers({ authorization: `Bearer ${KEY}` }) });
    expect(everythingVisible(nested)).toContain(FRAGMENT);
  });

  it("echoed keys are replaced by [redacted], keeping the rest of the body", async () => {
    const error = (await errorOf("401-echo")) as { body: { error: { message: string } }; headers: Headers };
    expect(error.body.error.message).toBe("rejected Bearer [redacted]");
    expect(error.headers.get("x-echo-authorization")).toBe("Bearer [redacted]");
  });

  it("a body's own __proto__ key stays an own key of the scrubbed copy, not its prototype", async () => {
    const error = (await errorOf("404-proto")) as { body: Record<string, unknown>; message: string };
    expect(Object.getPrototypeOf(error.body)).toBe(Object.prototype);
    expect(Object.keys(error.body)).toEqual(["__proto__", "error"]);
    expect(JSON.stringify(error.body)).toBe('{"__proto__":{"message":"inherited"},"error":{"message":"rejected Bearer [redacted]"}}');
    expect(error.message).not.toContain("inherited");
  });

  it("a key with a slash, echoed JSON-escaped (\\/) in a body that fails validation, is scrubbed", async () => {
    const slashKey = "sk-CANARY/7f3c9a1e/5b2d";
    const error = await createKlingClient({ apiKey: slashKey, baseUrl: url, maxRetries: 0 })
      .getImage2VideoTask("200-escaped")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlingError);
    expect((error as { body: { note: string } }).body.note).toBe("you sent Bearer [redacted]");
    expect(everythingVisible(error)).not.toContain("7f3c9a1e");
  });

  it("raw calls get echoed keys scrubbed too: in data, in error and in the response's headers", async () => {
    const kling = createKlingClient({ apiKey: KEY, baseUrl: url, maxRetries: 0 });
    const path = "/kling/v1/videos/image2video/{task_id}" as const;
    const refused = await kling.GET(path, { params: { path: { task_id: "401-echo" } } });
    expect(refused.response.status).toBe(401);
    expect(refused.error).toEqual({ error: { message: "rejected Bearer [redacted]", type: "echo", code: "Bearer [redacted]" } });
    expect(refused.response.headers.get("x-echo-authorization")).toBe("Bearer [redacted]");
    const failed = await kling.GET(path, { params: { path: { task_id: "200-failed" } } });
    expect(failed.data?.error?.message).toBe("denied for Bearer [redacted]");
    for (const result of [refused, failed]) expect(everythingVisible(result)).not.toContain(FRAGMENT);
    // Nothing to scrub, validation off: the answer is handed on as it came.
    const plain = await createKlingClient({ apiKey: KEY, baseUrl: url, maxRetries: 0, validation: "off" }).GET(path, {
      params: { path: { task_id: "404-plain" } },
    });
    expect([plain.response.status, plain.error]).toEqual([404, { error: { message: "no such task" } }]);
  });

  it("connection refused", async () => {
    const port = await closedPort();
    const error = await createKlingClient({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 })
      .getImage2VideoTask("t")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlingError);
    expect(everythingVisible(error)).not.toContain(FRAGMENT);
  });

  it("a custom fetch that throws an error quoting the request's headers", async () => {
    const kling = createKlingClient({
      apiKey: KEY,
      maxRetries: 0,
      fetch: async (request) => {
        throw new TypeError(`cannot send ${request.headers.get("authorization")}`, {
          cause: new Error(`inner ${request.headers.get("authorization")}`),
        });
      },
    });
    const error = await kling.getImage2VideoTask("t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlingError);
    expect(everythingVisible(error)).not.toContain(FRAGMENT);
    expect((error as Error).message).toContain("[redacted]");
  });

  it("a custom fetch whose error has a clean message and a cause quoting the key", async () => {
    // The error itself says nothing secret: only its cause does (a wrapped low-level error).
    const kling = createKlingClient({
      apiKey: KEY,
      maxRetries: 0,
      fetch: async (request) => {
        throw new TypeError("fetch failed", { cause: new Error(`inner ${request.headers.get("authorization")}`) });
      },
    });
    const error = await kling.getImage2VideoTask("t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KlingError);
    expect(everythingVisible(error)).not.toContain(FRAGMENT);
    expect(String(((error as Error).cause as Error).cause)).toContain("inner Bearer [redacted]");
  });

  it("a key refused for its whitespace is not echoed", () => {
    const error = (() => {
      try {
        createKlingClient({ apiKey: `${KEY}\n` });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(KlingError);
    expect(everythingVisible(error)).not.toContain(FRAGMENT);
  });

  it("the client object does not show the key either", () => {
    const kling = createKlingClient({ apiKey: KEY });
    expect(inspect(kling, { depth: Infinity, showHidden: true })).not.toContain(FRAGMENT);
    expect(JSON.stringify(kling)).not.toContain(FRAGMENT);
  });
});
