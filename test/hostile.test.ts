// Servers that answer with hostile bodies: 2 GB of JSON (200 and 404), a gzip body that inflates
// to 2 GB, an endless error page. Each must end in ResponseTooLargeError, without a retry, with
// the connection dropped early and this process's memory flat. Real loopback sockets.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKlingClient, KlingError, ResponseTooLargeError, type KlingClientOptions } from "../src/index.js";
import { nodeHttpGet } from "../src/node/index.js";

const GB2 = 2 * 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x20); // spaces: valid JSON whitespace, so only the size is wrong
/** How far above its starting RSS this process may go while one hostile answer is read. */
const MEMORY_BUDGET_BYTES = 64 * 1024 ** 2;

type Kind = "json-200" | "json-404" | "gzip-200" | "html-502" | "big-ok" | "deep-404" | "deep-200";
interface Seen {
  kind: string;
  /** Bytes the server managed to write before the client hung up (before compression). */
  sent: number;
  closedEarly: boolean;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];

/** Writes `total` bytes of `chunk` as fast as the socket takes them, stopping when the client leaves. */
function pump(out: NodeJS.WritableStream, total: number, record: Seen, end: () => void): void {
  const write = (): void => {
    while (record.sent < total) {
      record.sent += CHUNK.length;
      if (!out.write(CHUNK)) {
        out.once("drain", write);
        return;
      }
    }
    end();
  };
  write();
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const kind = (req.url ?? "").split("/").pop() as Kind;
    const record: Seen = { kind, sent: 0, closedEarly: false };
    seen.push(record);
    res.on("close", () => {
      record.closedEarly = !res.writableFinished;
    });
    if (kind === "deep-404" || kind === "deep-200") {
      // 200,000 levels of nesting in 400 kB: under the byte cap, over any recursive walk's stack.
      const deep = "[".repeat(200_000) + "]".repeat(200_000);
      res.writeHead(kind === "deep-404" ? 404 : 200, { "content-type": "application/json" });
      res.end(kind === "deep-404" ? deep : `{"task_id":"t1","status":"queued","error":${deep}}`);
      return;
    }
    if (kind === "big-ok") {
      // 10 MiB of video: over the cap, but asked for as a stream.
      res.writeHead(200, { "content-type": "video/mp4", "content-length": String(10 * 1024 * 1024) });
      pump(res, 10 * 1024 * 1024, record, () => res.end());
      return;
    }
    if (kind === "gzip-200") {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      const gzip = createGzip({ level: 9 });
      gzip.pipe(res);
      res.on("close", () => gzip.destroy());
      pump(gzip, GB2, record, () => gzip.end());
      return;
    }
    const status = kind === "json-404" ? 404 : kind === "html-502" ? 502 : 200;
    res.writeHead(status, { "content-type": kind === "html-502" ? "text/html" : "application/json" });
    if (kind !== "html-502") res.write('{"task_id":"t1","status":"queued"');
    pump(res, GB2, record, () => res.end("}"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function client(options: KlingClientOptions = {}) {
  return createKlingClient({ apiKey: "sk-hostile", baseUrl: base, timeoutMs: 60_000, ...options });
}

/** Runs `fn`, sampling this process's RSS every 5 ms; returns its outcome and the peak growth. */
async function measured<T>(fn: () => Promise<T>): Promise<{ error: unknown; value: T | undefined; growth: number }> {
  globalThis.gc?.();
  const start = process.memoryUsage.rss();
  let peak = start;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const value = await fn();
    return { error: undefined, value, growth: peak - start };
  } catch (error) {
    return { error, value: undefined, growth: Math.max(peak, process.memoryUsage.rss()) - start };
  } finally {
    clearInterval(sampler);
  }
}

describe("hostile bodies end in ResponseTooLargeError, memory flat, no retry", () => {
  for (const [name, transport] of [["fetch", {}], ["nodeHttpGet", { httpGet: nodeHttpGet }]] as const) {
    for (const kind of ["json-200", "json-404", "gzip-200", "html-502"] as const) {
      it(`getImage2VideoTask over ${name}: ${kind} of 2 GB`, async () => {
        const before = seen.length;
        const { error, growth } = await measured(() => client(transport).getImage2VideoTask(kind));
        expect(error).toBeInstanceOf(ResponseTooLargeError);
        expect(error).toBeInstanceOf(KlingError);
        expect((error as ResponseTooLargeError).limit).toBe(4 * 1024 * 1024);
        expect((error as Error).message).not.toContain("sk-hostile");
        // One request: too large is not retried, even for a 502.
        const requests = seen.slice(before);
        expect(requests).toHaveLength(1);
        // The connection was dropped long before 2 GB were written.
        await expect.poll(() => requests[0]!.closedEarly).toBe(true);
        expect(requests[0]!.sent).toBeLessThan(256 * 1024 * 1024);
        expect(growth, `RSS grew ${Math.round(growth / 1e6)} MB`).toBeLessThan(MEMORY_BUDGET_BYTES);
      });
    }
  }

  it("the raw typed GET obeys the same cap", async () => {
    const { error, growth } = await measured(() =>
      client().GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "json-200" } } }),
    );
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(growth).toBeLessThan(MEMORY_BUDGET_BYTES);
  });

  it("maxResponseBytes is the cap: a smaller one stops sooner", async () => {
    const { error } = await measured(() => client({ maxResponseBytes: 1024 }).getImage2VideoTask("json-200"));
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).limit).toBe(1024);
    expect((error as ResponseTooLargeError).status).toBe(200);
  });

  it("a body asked for as a stream is not buffered, so the cap does not apply", async () => {
    const { data, response } = await client().GET("/kling/v1/videos/image2video/{task_id}", {
      params: { path: { task_id: "big-ok" } },
      parseAs: "stream",
    });
    expect(response.headers.get("content-type")).toBe("video/mp4");
    let bytes = 0;
    for await (const chunk of data as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
    expect(bytes).toBe(10 * 1024 * 1024);
  });

  it("a body nested 200,000 levels deep is an answer like any other, not a stack overflow", async () => {
    const notFound = await client().getImage2VideoTask("deep-404").catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(KlingError);
    expect((notFound as Error).name).toBe("TaskNotFoundError");
    const strict = await client({ validation: "strict" }).getImage2VideoTask("deep-200").catch((e: unknown) => e);
    expect((strict as Error).name).toBe("ResponseValidationError");
    const raw = await client({ validation: "strict" })
      .GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "deep-200" } } })
      .catch((e: unknown) => e);
    expect((raw as Error).name).toBe("ResponseValidationError");
  });

  it("rejects a cap that is not a positive whole number before any request", () => {
    const count = seen.length;
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
      expect(() => client({ maxResponseBytes: bad })).toThrow(/maxResponseBytes must be a whole number/);
    }
    expect(seen.length).toBe(count);
  });
});
