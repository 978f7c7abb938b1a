// nodeHttpGet (xiexus-kling/node) as the client's `httpGet`: it must keep every promise fetch keeps
// for the task helpers. Each behaviour runs over both transports against the same loopback
// servers, so a difference between them fails here. (The fault matrix in errors.test.ts and the
// hostile bodies in hostile.test.ts run over both as well.)
import http from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  createKlingClient,
  InvalidArgumentError,
  ResponseTooLargeError,
  type KlingClientOptions,
} from "../src/index.js";
import { nodeHttpGet } from "../src/node/index.js";

const TRANSPORTS: Array<[name: string, options: KlingClientOptions]> = [
  ["fetch", {}],
  ["nodeHttpGet", { httpGet: nodeHttpGet }],
];
const TASK = { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4" };
const TASK_TEXT = JSON.stringify(TASK);

interface Seen {
  host: string;
  path: string;
  authorization: string | undefined;
  closedEarly: boolean;
}

/** A server whose behaviour is chosen by the last path segment; records what each request carried. */
function makeServer(seen: Seen[], other: () => string): http.Server {
  return http.createServer((req, res) => {
    const path = req.url ?? "";
    const kind = path.split("/").pop() ?? "";
    const record: Seen = { host: req.headers.host ?? "", path, authorization: req.headers.authorization, closedEarly: false };
    seen.push(record);
    res.on("close", () => (record.closedEarly = !res.writableFinished));
    const json = { "content-type": "application/json" };
    const encoded = (encoding: string, body: Buffer) => {
      res.writeHead(200, { ...json, "content-encoding": encoding, "content-length": String(body.length) });
      res.end(body);
    };
    switch (kind) {
      case "same-origin":
        res.writeHead(302, { location: "/kling/v1/videos/image2video/t1" });
        return res.end();
      case "cross-origin":
        res.writeHead(307, { location: `${other()}/kling/v1/videos/image2video/t1` });
        return res.end();
      case "to-plain-http":
        res.writeHead(301, { location: "http://example.com/kling/v1/videos/image2video/t1" });
        return res.end();
      case "loop":
        res.writeHead(302, { location: path });
        return res.end();
      case "gzip":
        return encoded("gzip", gzipSync(TASK_TEXT));
      case "deflate":
        return encoded("deflate", deflateSync(TASK_TEXT));
      case "br":
        return encoded("br", brotliCompressSync(TASK_TEXT));
      case "status-999":
        // A proxy's "request denied": no HTTP status, and no Response can be built with it.
        res.writeHead(999, json);
        return res.end('{"error":"denied"}');
      case "gzip-then-br":
        return encoded("gzip, br", brotliCompressSync(gzipSync(TASK_TEXT)));
      case "unknown-coding":
        // fetch passes a body it cannot decode through as it came.
        return encoded("x-unknown", Buffer.from(TASK_TEXT));
      case "gzip-and-unknown":
        return encoded("gzip, x-unknown", gzipSync(TASK_TEXT));
      case "declared-too-big":
        // Says 8 MiB up front and sends it slowly: the client must not wait for the bytes to refuse.
        res.writeHead(200, { ...json, "content-length": String(8 * 1024 * 1024) });
        res.write('{"task_id":"t1",');
        return;
      case "stall-in-body":
        res.writeHead(200, { ...json, "content-length": "100" });
        res.write('{"task_id":"t1",');
        return; // the rest never comes
      default:
        res.writeHead(200, json);
        return res.end(TASK_TEXT);
    }
  });
}

const seen: Seen[] = [];
let relay: http.Server;
let elsewhere: http.Server;
let relayUrl: string;
let elsewhereUrl: string;

beforeAll(async () => {
  relay = makeServer(seen, () => elsewhereUrl);
  elsewhere = makeServer(seen, () => relayUrl);
  for (const server of [relay, elsewhere]) await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
  // Another origin on the same machine: another host name and port.
  elsewhereUrl = `http://localhost:${(elsewhere.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const server of [relay, elsewhere]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const client = (options: KlingClientOptions) =>
  createKlingClient({ apiKey: "sk-node-http", baseUrl: relayUrl, maxRetries: 0, ...options });

/** What the servers saw for calls whose path ends in `kind`, from `since` on. */
const requestsFor = (since: number) => seen.slice(since);

describe.each(TRANSPORTS)("the task GET over %s", (_name, transport) => {
  it("follows a same-origin redirect with the key, and drops the key when the origin changes", async () => {
    const before = seen.length;
    await expect(client(transport).getImage2VideoTask("same-origin")).resolves.toEqual(TASK);
    const same = requestsFor(before);
    expect(same.map((r) => r.authorization)).toEqual(["Bearer sk-node-http", "Bearer sk-node-http"]);

    const start = seen.length;
    await expect(client(transport).getImage2VideoTask("cross-origin")).resolves.toEqual(TASK);
    const cross = requestsFor(start);
    expect(cross).toHaveLength(2);
    expect(cross[0]!.authorization).toBe("Bearer sk-node-http");
    expect(cross[1]!.host).toMatch(/^localhost:/);
    expect(cross[1]!.authorization).toBeUndefined();
  });

  it("refuses a redirect loop as a connection error", async () => {
    const error = await client(transport).getImage2VideoTask("loop").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toMatch(/redirect/);
  });

  it.each(["gzip", "deflate", "br", "gzip-then-br"])("decodes a %s body", async (encoding) => {
    await expect(client(transport).getImage2VideoTask(encoding)).resolves.toEqual({ ...TASK });
  });

  it("a status past 599 is a plain APIError at once, not a retried connection error", async () => {
    const since = seen.length;
    const error = await client({ ...transport, maxRetries: 2 }).getImage2VideoTask("status-999").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 999 });
    expect((error as Error).message).toMatch(/-> 999/);
    expect(requestsFor(since)).toHaveLength(1);
  });

  it("passes a body with a coding fetch does not know through undecoded, as fetch does", async () => {
    await expect(client(transport).getImage2VideoTask("unknown-coding")).resolves.toEqual({ ...TASK });
    // A list with an unknown coding is left whole: gzip bytes are not JSON, and nothing is retried.
    const since = seen.length;
    const error = await client({ ...transport, maxRetries: 1 }).getImage2VideoTask("gzip-and-unknown").catch((e: unknown) => e);
    expect((error as Error).name).toBe("ResponseValidationError");
    expect((error as Error).message).toMatch(/not JSON/);
    expect(requestsFor(since)).toHaveLength(1);
  });

  it("a body that stalls after the headers is a timeout: the attempt's limit covers the body", async () => {
    const started = performance.now();
    const error = await client({ ...transport, timeoutMs: 200 }).getImage2VideoTask("stall-in-body").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("an abort in the middle of the body rejects with the caller's reason and drops the connection", async () => {
    const before = seen.length;
    const controller = new AbortController();
    const reason = new Error("the user went away");
    setTimeout(() => controller.abort(reason), 100);
    const error = await client(transport)
      .getImage2VideoTask("stall-in-body", { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBe(reason);
    await expect.poll(() => requestsFor(before)[0]?.closedEarly).toBe(true);
  });

  it("a declared length over maxResponseBytes is refused at the headers, without retry", async () => {
    const before = seen.length;
    const error = await client({ ...transport, maxRetries: 2 }).getImage2VideoTask("declared-too-big").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(requestsFor(before)).toHaveLength(1);
    await expect.poll(() => requestsFor(before)[0]!.closedEarly).toBe(true);
  });
});

describe("nodeHttpGet's own rules", () => {
  it("refuses a redirect to plain http off loopback, as the client refuses such a baseUrl", async () => {
    const before = seen.length;
    const error = await client({ httpGet: nodeHttpGet }).getImage2VideoTask("to-plain-http").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toContain("refused a redirect to http://example.com");
    // Only the relay was asked; nothing left this machine.
    expect(requestsFor(before)).toHaveLength(1);
  });

  it("an httpGet that is not a function is an InvalidArgumentError before any request", () => {
    const before = seen.length;
    expect(() => client({ httpGet: "node" as never })).toThrow(InvalidArgumentError);
    expect(seen).toHaveLength(before);
  });

  it("raw calls keep going through fetch: httpGet serves the task helpers only", async () => {
    let calls = 0;
    const counted: typeof nodeHttpGet = (request) => {
      calls++;
      return nodeHttpGet(request);
    };
    const kling = client({ httpGet: counted });
    const { data } = await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "plain" } } });
    expect(data).toEqual(TASK);
    expect(calls).toBe(0);
    await kling.getImage2VideoTask("plain");
    expect(calls).toBe(1);
  });

  it("a batch over it polls every task, never more than `concurrency` at once", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const polls = new Map<string, number>();
    const server = http.createServer((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const id = (req.url ?? "").split("/").pop()!;
      const n = (polls.get(id) ?? 0) + 1;
      polls.set(id, n);
      // Each task completes on its third poll; answering takes a few ms, so requests overlap.
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(n >= 3 ? { ...TASK, task_id: id } : { task_id: id, status: "in_progress" }));
      }, 3);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const kling = createKlingClient({
        apiKey: "sk-node-http",
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        httpGet: nodeHttpGet,
      });
      const ids = Array.from({ length: 60 }, (_, i) => `b-${i}`);
      const settled: string[] = [];
      for await (const outcome of kling.waitForImage2VideoTasks(ids, { concurrency: 4, pollIntervalMs: 20 })) {
        expect(outcome.error).toBeUndefined();
        settled.push(outcome.taskId);
      }
      expect(settled.sort()).toEqual([...ids].sort());
      expect([...polls.values()].every((n) => n === 3)).toBe(true);
      expect(maxInFlight).toBeGreaterThan(1);
      expect(maxInFlight).toBeLessThanOrEqual(4);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
