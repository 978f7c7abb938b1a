// Servers that answer with hostile bodies: 2 GB of JSON (200 and 404), a gzip body that inflates
// to 2 GB, an endless error page. Each must end in ResponseTooLargeError, without a retry, with
// the connection dropped early and the client's memory flat. Real loopback sockets. The client
// whose memory is measured runs in a child process of its own (test/helpers/hostile-child.ts):
// this process holds the server and shares its heap with other work, so its RSS says little.
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createGzip } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKlingClient, KlingError, ResponseTooLargeError, type KlingClientOptions } from "../src/index.js";
import type { HostileReport } from "./helpers/hostile-child.js";
import { ROOT } from "./helpers/spec.js";

const GB2 = 2 * 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x20); // spaces: valid JSON whitespace, so only the size is wrong
/** How far above its RSS before the call the child may go while one hostile answer is read. */
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
    const kind = (req.url ?? "").split("/").pop() as Kind | "warm-up";
    if (kind === "warm-up") {
      // The child's first, small call (not counted in `seen`).
      res.writeHead(404, { "content-type": "application/json" }).end('{"code":"task_not_exist","message":"task_not_exist","data":null}');
      return;
    }
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

/** Runs one call in a child process (hostile-child.ts) and returns what it reports: the error and its RSS growth. */
function inChild(transport: "fetch" | "nodeHttpGet", call: "get" | "raw", taskId: string, maxResponseBytes?: number): Promise<HostileReport> {
  const args = [base, transport, call, taskId, ...(maxResponseBytes === undefined ? [] : [String(maxResponseBytes)])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", "test/helpers/hostile-child.ts", ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`hostile-child ${args.join(" ")} exited ${code}:\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as HostileReport);
    });
  });
}

const MB = (bytes: number): string => `RSS grew ${Math.round(bytes / 1e6)} MB`;

// Each child starts node and tsx (about a second of CPU), so a busy machine needs more than the default time.
describe("hostile bodies end in ResponseTooLargeError, memory flat, no retry", { timeout: 60_000 }, () => {
  for (const transport of ["fetch", "nodeHttpGet"] as const) {
    for (const kind of ["json-200", "json-404", "gzip-200", "html-502"] as const) {
      it(`getImage2VideoTask over ${transport}: ${kind} of 2 GB`, async () => {
        const before = seen.length;
        const report = await inChild(transport, "get", kind);
        expect(report).toMatchObject({ error: "ResponseTooLargeError", isResponseTooLarge: true, isKlingError: true, limit: 4 * 1024 * 1024 });
        expect(report.message).not.toContain("sk-hostile");
        // One request: too large is not retried, even for a 502.
        const requests = seen.slice(before);
        expect(requests).toHaveLength(1);
        // The connection was dropped long before 2 GB were written.
        await expect.poll(() => requests[0]!.closedEarly).toBe(true);
        expect(requests[0]!.sent).toBeLessThan(256 * 1024 * 1024);
        expect(report.growth, MB(report.growth)).toBeLessThan(MEMORY_BUDGET_BYTES);
      });
    }
  }

  it("the raw typed GET obeys the same cap", async () => {
    const report = await inChild("fetch", "raw", "json-200");
    expect(report).toMatchObject({ error: "ResponseTooLargeError", isResponseTooLarge: true });
    expect(report.growth, MB(report.growth)).toBeLessThan(MEMORY_BUDGET_BYTES);
  });

  it("the memory check can fail: a client allowed to buffer 128 MiB grows past the budget", async () => {
    const report = await inChild("fetch", "get", "json-200", 128 * 1024 ** 2);
    expect(report).toMatchObject({ error: "ResponseTooLargeError", limit: 128 * 1024 ** 2 });
    expect(report.growth, MB(report.growth)).toBeGreaterThan(MEMORY_BUDGET_BYTES);
  });

  it("maxResponseBytes is the cap: a smaller one stops sooner", async () => {
    const error = await client({ maxResponseBytes: 1024 }).getImage2VideoTask("json-200").catch((e: unknown) => e);
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
