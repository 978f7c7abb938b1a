// downloadVideo (xiexus-kling/node) against the fake relay's video host on real loopback servers:
// integrity after resume, temp-file discipline, retries, timeouts, aborts, redirects, and that no
// credential ever reaches the video host. The 1 GiB memory budget runs in a child process.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { DOWNLOAD_RSS_BUDGET_MB, measureDownload } from "../scripts/bench/download.js";
import { gzipSync } from "node:zlib";
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  InternalServerError,
  InvalidArgumentError,
  KlingError,
  ResponseTooLargeError,
  ResponseValidationError,
  TaskNotFoundError,
} from "../src/errors.js";
import { isAllowedRedirect } from "../src/options.js";
import {
  downloadVideo,
  FileExistsError,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
} from "../src/node/index.js";
import {
  COMPLETED_TASK,
  createFakeRelay,
  DEMO_TASK_ID,
  FAKE_VIDEO_QUERY,
  FAILED_TASK,
  IN_PROGRESS_TASK,
  type FakeRelay,
  type FakeVideoHost,
  type FakeVideoOptions,
} from "../src/testing/index.js";
import type { CompletedImage2VideoTask } from "../src/types.js";

let relay: FakeRelay;
let video: FakeVideoHost;
let dir: string;

async function startRelay(options: FakeVideoOptions = {}): Promise<void> {
  relay = await createFakeRelay({ video: options });
  video = relay.video!;
}

// nock's node:http interceptor (test/setup/no-network.ts) forwards the real socket's "close" as soon
// as it happens, while bytes it already pushed wait unread in its mock socket whenever the consumer
// applies backpressure (as downloadVideo does, writing each chunk before reading the next). Node then
// reports the response "aborted" (ECONNRESET) though every byte arrived: measured 11-17 of 30
// downloads, against 0 of 120 without nock. So this file turns nock off and guards node:http(s)
// itself: any request to a host that is not loopback throws before a socket is opened.
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/;
function loopbackOnly<T extends typeof http.get>(get: T): T {
  return ((url: URL, ...rest: unknown[]) => {
    if (!(url instanceof URL) || !LOOPBACK.test(url.hostname)) throw new Error(`test: no network but loopback (${String(url)})`);
    return (get as (...args: unknown[]) => unknown)(url, ...rest);
  }) as T;
}
beforeAll(() => {
  nock.restore();
  const [httpGet, httpsGet] = [http.get, https.get];
  vi.spyOn(http, "get").mockImplementation(loopbackOnly(httpGet));
  vi.spyOn(https, "get").mockImplementation(loopbackOnly(httpsGet));
});
afterAll(() => {
  vi.restoreAllMocks();
  nock.activate();
});

beforeEach(async () => {
  await startRelay();
  dir = await mkdtemp(join(tmpdir(), "kling-download-test-"));
});
afterEach(async () => {
  await relay.close();
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
const target = (name = "video.mp4"): string => join(dir, name);
/** The directory's entries: proves no temp file (`.video.mp4.<random>.part`) is left behind. */
const entries = (): Promise<string[]> => readdir(dir);
const completed = (url: string): CompletedImage2VideoTask => ({ ...COMPLETED_TASK, status: "completed", url });
const fail = (promise: Promise<unknown>): Promise<unknown> => promise.then(
  () => {
    throw new Error("expected a rejection");
  },
  (error: unknown) => error,
);

describe("a plain download", () => {
  it("writes the video byte for byte, reports progress, and sends no credential to the video host", async () => {
    const seen: DownloadProgress[] = [];
    const result = await downloadVideo(completed(video.url), target(), { onProgress: (p) => seen.push(p) });
    expect(result).toEqual({ path: target(), bytes: video.size });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(await entries()).toEqual(["video.mp4"]);

    expect(seen.at(-1)).toEqual({ received: video.size, total: video.size });
    expect(seen.every((p, i) => i === 0 || p.received >= seen[i - 1]!.received)).toBe(true);
    expect(seen.length).toBeGreaterThan(1);

    expect(video.requests).toHaveLength(1);
    const headers = video.requests[0]!.headers;
    expect(headers).not.toHaveProperty("authorization");
    expect(headers).not.toHaveProperty("cookie");
    expect(headers).not.toHaveProperty("proxy-authorization");
    expect(headers["accept-encoding"]).toBe("identity");
    expect(headers).not.toHaveProperty("range");
  });

  it("accepts the URL string as well as the task", async () => {
    await expect(downloadVideo(video.url, target())).resolves.toEqual({ path: target(), bytes: video.size });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
  });

  it("downloads an empty file", async () => {
    video.update({ size: 0 });
    await expect(downloadVideo(video.url, target())).resolves.toMatchObject({ bytes: 0 });
    expect((await readFile(target())).length).toBe(0);
  });
});

describe("resume", () => {
  it("resumes a dropped connection with Range and If-Range (the ETag), ending byte-identical", async () => {
    video.update({ faults: [{ kind: "drop", afterBytes: 100_000 }] });
    const seen: number[] = [];
    await downloadVideo(video.url, target(), { onProgress: (p) => seen.push(p.received) });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(video.requests.map((r) => r.status)).toEqual([200, 206]);
    const resumed = video.requests[1]!.headers;
    const from = Number(/^bytes=(\d+)-$/.exec(resumed.range ?? "")?.[1]);
    // A reset connection may lose what was in flight, so the resume point is at most what was sent.
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(100_000);
    expect(resumed["if-range"]).toBe(`"kling-video-${video.size}-v1"`);
    // Resumed, not restarted: progress never went back to 0.
    expect(seen.slice(1).every((n, i) => n >= seen[i]!)).toBe(true);
    expect(await entries()).toEqual(["video.mp4"]);
  });

  it("guards the resume with Last-Modified when there is no ETag", async () => {
    video.update({ etag: false, faults: [{ kind: "short", afterBytes: 70_000 }] });
    await downloadVideo(video.url, target());
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(video.requests[1]!.headers["if-range"]).toMatch(/ GMT$/);
    // The close may cut bytes already in flight: the resume starts where the file really ends.
    const from = Number(/^bytes=(\d+)-$/.exec(video.requests[1]!.headers.range ?? "")?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(70_000);
  });

  it("starts over when the host does not do ranges (200 to a Range request)", async () => {
    video.update({ ranges: false, faults: [{ kind: "short", afterBytes: 70_000 }] });
    const seen: number[] = [];
    await downloadVideo(video.url, target(), { onProgress: (p) => seen.push(p.received) });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(video.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(seen).toContain(0);
    expect(seen.indexOf(0, 1)).toBeGreaterThan(0);
  });

  it("starts over when the file changed between attempts (If-Range no longer matches)", async () => {
    video.update({ faults: [{ kind: "short", afterBytes: 70_000 }] });
    let bumped = false;
    await downloadVideo(video.url, target(), {
      onProgress: ({ received }) => {
        if (!bumped && received > 0) {
          bumped = true;
          video.update({ version: 2 });
        }
      },
    });
    expect(video.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(video.requests[1]!.headers["if-range"]).toBe(`"kling-video-${video.size}-v1"`);
    const bytes = await readFile(target());
    expect(sha256(bytes)).toBe(video.sha256);
    expect(bytes.equals(video.bytes())).toBe(true);
  });

  it("never reports a short body as done: retried, then an APIConnectionError, and no file", async () => {
    video.update({ ranges: false, faults: Array(3).fill({ kind: "short", afterBytes: 50_000 }) });
    const error = await fail(downloadVideo(video.url, target(), { maxRetries: 2 }));
    expect(error).toBeInstanceOf(APIConnectionError);
    // How much of the 50,000 bytes arrives before the close depends on timing; never all of it.
    expect((error as Error).message).toMatch(/cut short: (\d+) of 262144 bytes/);
    expect(Number(/cut short: (\d+)/.exec((error as Error).message)![1])).toBeLessThanOrEqual(50_000);
    expect(video.requests).toHaveLength(3);
    expect(await entries()).toEqual([]);
  });
});

describe("retries and errors", () => {
  it("retries a 503 (Retry-After honoured) and succeeds", async () => {
    video.update({ faults: [{ kind: "status", status: 503, headers: { "retry-after": "0" } }] });
    await downloadVideo(video.url, target());
    expect(video.requests.map((r) => r.status)).toEqual([503, 200]);
    expect(sha256(await readFile(target()))).toBe(video.sha256);
  });

  it("reports a 5xx after maxRetries as InternalServerError; 0 retries means one request", async () => {
    video.update({ faults: Array(5).fill({ kind: "status", status: 500, headers: { "retry-after": "0" } }) });
    expect(await fail(downloadVideo(video.url, target(), { maxRetries: 1 }))).toBeInstanceOf(InternalServerError);
    expect(video.requests).toHaveLength(2);
    expect(await fail(downloadVideo(video.url, target(), { maxRetries: 0 }))).toBeInstanceOf(InternalServerError);
    expect(video.requests).toHaveLength(3);
    expect(await entries()).toEqual([]);
  });

  it("does not retry a 403 or 404; a 404 is an APIError, not TaskNotFoundError", async () => {
    video.update({ faults: [{ kind: "status", status: 404, body: "expired" }, { kind: "status", status: 403 }] });
    const gone = await fail(downloadVideo(video.url, target()));
    expect(gone).toBeInstanceOf(APIError);
    expect(gone).not.toBeInstanceOf(TaskNotFoundError);
    expect(gone).toMatchObject({ status: 404, body: "expired" });
    expect((gone as Error).message).toBe("GET /kling/videos/8f3a2c1e.mp4 -> 404 expired");
    expect(await fail(downloadVideo(video.url, target()))).toMatchObject({ status: 403 });
    expect(video.requests).toHaveLength(2);
  });

  it("times out a stalled body (no bytes for timeoutMs), then resumes on the next attempt", async () => {
    video.update({ faults: [{ kind: "stall", afterBytes: 30_000 }, { kind: "stall", afterBytes: 30_000 }] });
    const error = await fail(downloadVideo(video.url, target(), { timeoutMs: 200, maxRetries: 0 }));
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect((error as Error).message).toMatch(/no data for 200 ms/);
    expect(await entries()).toEqual([]);

    await downloadVideo(video.url, target(), { timeoutMs: 200, maxRetries: 1 });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(video.requests.at(-1)!.headers.range).toBe("bytes=30000-");
  });

  it("reports a refused connection as APIConnectionError after its retries", async () => {
    const url = video.url;
    await relay.close();
    const error = await fail(downloadVideo(url, target(), { maxRetries: 1 }));
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect(await entries()).toEqual([]);
  });
});

describe("the target file", () => {
  it("refuses an existing file before any request (FileExistsError), leaving it untouched", async () => {
    await writeFile(target(), "precious");
    const error = await fail(downloadVideo(video.url, target()));
    expect(error).toBeInstanceOf(FileExistsError);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ argument: "filePath", path: target() });
    expect(video.requests).toHaveLength(0);
    expect(await readFile(target(), "utf8")).toBe("precious");
  });

  it("replaces it with overwrite: true", async () => {
    await writeFile(target(), "old");
    await downloadVideo(video.url, target(), { overwrite: true });
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(await entries()).toEqual(["video.mp4"]);
  });

  it("leaves an existing file untouched when the download fails, even with overwrite", async () => {
    await writeFile(target(), "precious");
    video.update({ faults: [{ kind: "status", status: 500 }] });
    await expect(downloadVideo(video.url, target(), { overwrite: true, maxRetries: 0 })).rejects.toBeInstanceOf(
      InternalServerError,
    );
    expect(await readFile(target(), "utf8")).toBe("precious");
    expect(await entries()).toEqual(["video.mp4"]);
  });

  it("on abort mid-body rejects with the signal's reason, removes the temp file, keeps the old file", async () => {
    await writeFile(target(), "precious");
    video.update({ faults: [{ kind: "stall", afterBytes: 40_000 }] });
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    const error = await fail(
      downloadVideo(video.url, target(), {
        overwrite: true,
        signal: controller.signal,
        onProgress: ({ received }) => {
          if (received >= 40_000) controller.abort(reason);
        },
      }),
    );
    expect(error).toBe(reason);
    expect(await readFile(target(), "utf8")).toBe("precious");
    expect(await entries()).toEqual(["video.mp4"]);
  });

  it("an already-aborted signal makes no request", async () => {
    const reason = new Error("too late");
    expect(await fail(downloadVideo(video.url, target(), { signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(video.requests).toHaveLength(0);
    expect(await entries()).toEqual([]);
  });

  it("an onProgress that throws ends the download with its error, not retried", async () => {
    const boom = new Error("callback failed");
    const error = await fail(
      downloadVideo(video.url, target(), {
        onProgress: ({ received }) => {
          if (received > 0) throw boom;
        },
      }),
    );
    expect(error).toBe(boom);
    expect(video.requests).toHaveLength(1);
    expect(await entries()).toEqual([]);
  });
});

describe("redirects", () => {
  it("follows a redirect, still without credentials", async () => {
    video.update({ faults: [{ kind: "redirect", location: video.url }] });
    await downloadVideo(video.url, target());
    expect(video.requests.map((r) => r.status)).toEqual([302, 200]);
    expect(video.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(sha256(await readFile(target()))).toBe(video.sha256);
  });

  it("gives up after 5 redirects, and refuses a redirect to plain http off loopback", async () => {
    video.update({ faults: Array(6).fill({ kind: "redirect", location: video.url }) });
    const loop = await fail(downloadVideo(video.url, target(), { maxRetries: 0 }));
    expect(loop).toBeInstanceOf(APIConnectionError);
    expect((loop as Error).message).toMatch(/more than 5 times/);
    expect(video.requests).toHaveLength(6);

    video.update({ faults: [{ kind: "redirect", location: "http://cdn.example.com/v.mp4?token=s3cret" }] });
    const downgrade = await fail(downloadVideo(video.url, target(), { maxRetries: 0 }));
    expect(downgrade).toBeInstanceOf(APIConnectionError);
    expect((downgrade as Error).message).toMatch(/redirect refused: plain http is only allowed to loopback/);
    expect((downgrade as Error).message).not.toContain("s3cret");
    expect(await entries()).toEqual([]);
  });
});

describe("bad input, refused before any request", () => {
  const secretUrl = (base: string): string => `${base}?X-Signature=s3cret-token`;

  it.each([
    ["a task still running", IN_PROGRESS_TASK, /not completed \(status: in_progress\)/],
    ["a failed task", FAILED_TASK, /not completed \(status: failed\)/],
    ["a completed task without url", { ...COMPLETED_TASK, url: undefined }, /has no url/],
    ["null", null, /got null/],
    ["a number", 42, /got number/],
    ["a relative URL", "/kling/videos/x.mp4?X-Signature=s3cret-token", /not an absolute https URL/],
    ["an ftp URL", secretUrl("ftp://cdn.example.com/x.mp4"), /must use https/],
    ["credentials in the URL", secretUrl("https://user:s3cret-token@cdn.example.com/x.mp4"), /must not contain credentials/],
    ["plain http off loopback", secretUrl("http://cdn.example.com/x.mp4"), /plain http is only allowed to loopback/],
  ])("%s", async (_name, source, message) => {
    const error = await fail(downloadVideo(source as string, target()));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("s3cret");
    expect(video.requests).toHaveLength(0);
  });

  it.each([
    ["timeoutMs", { timeoutMs: -1 }],
    ["maxRetries", { maxRetries: 11 }],
    ["overwrite", { overwrite: "yes" }],
    ["onProgress", { onProgress: "log" }],
    ["signal", { signal: {} }],
    ["maxBytes", { maxBytes: 0 }],
    ["maxBytes", { maxBytes: 1.5 }],
  ])("option %s", async (argument, options) => {
    const error = await fail(downloadVideo(video.url, target(), options as DownloadOptions));
    expect(error).toMatchObject({ argument });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(video.requests).toHaveLength(0);
  });

  it("an empty path, a missing directory, a directory as target", async () => {
    expect(await fail(downloadVideo(video.url, ""))).toMatchObject({ argument: "filePath" });
    expect(await fail(downloadVideo(video.url, join(dir, "missing", "v.mp4")))).toMatchObject({ argument: "filePath" });
    expect(await fail(downloadVideo(video.url, dir, { overwrite: true }))).toMatchObject({ argument: "filePath" });
    expect(video.requests).toHaveLength(0);
  });

  it("no error of a failed download quotes the URL's query", async () => {
    expect(video.url).toContain(FAKE_VIDEO_QUERY);
    video.update({ faults: [{ kind: "status", status: 500 }, { kind: "short", afterBytes: 10 }] });
    const errors = [
      await fail(downloadVideo(video.url, target(), { maxRetries: 0 })),
      await fail(downloadVideo(video.url, target(), { maxRetries: 0 })),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(KlingError);
      expect(String(error)).not.toContain("Signature");
      expect(JSON.stringify(error)).not.toContain("Signature");
    }
  });

  it("types: a source is a task or a string, options are typed", () => {
    expectTypeOf(downloadVideo).returns.resolves.toEqualTypeOf<DownloadResult>();
    // @ts-expect-error -- a number is not a task
    void downloadVideo(1, "x").catch(() => undefined);
    // @ts-expect-error -- overwrite is a boolean
    void downloadVideo("https://x", "x", { overwrite: "yes" }).catch(() => undefined);
  });
});

describe("the whole flow: wait on the relay, download from the video host", () => {
  it("the relay gets the key, the video host never does", async () => {
    const { createKlingClient } = await import("../src/index.js");
    const kling = createKlingClient({ apiKey: relay.apiKey, baseUrl: relay.url });
    const task = await kling.waitForImage2VideoTask(DEMO_TASK_ID, { pollIntervalMs: 5 });
    expect(task.url).toBe(video.url);
    expect(new URL(task.url).origin).not.toBe(new URL(relay.url).origin);
    await downloadVideo(task, target());
    expect(sha256(await readFile(target()))).toBe(video.sha256);
    expect(relay.requests.every((r) => r.authorized)).toBe(true);
    expect(video.requests).toHaveLength(1);
    expect(video.requests[0]!.headers).not.toHaveProperty("authorization");
    expect(JSON.stringify(video.requests)).not.toContain(relay.apiKey);
  });

  it("a relay without the video option serves the recorded task unchanged", async () => {
    const plain = await createFakeRelay();
    try {
      expect(plain.video).toBeUndefined();
      const response = await fetch(`${plain.url}/kling/v1/videos/image2video/${DEMO_TASK_ID}`, {
        headers: { authorization: `Bearer ${plain.apiKey}` },
      });
      expect(((await response.json()) as { status: string }).status).toBe("queued");
    } finally {
      await plain.close();
    }
  });
});

describe("memory", () => {
  it(`downloads 1 GiB in a child process under ${DOWNLOAD_RSS_BUDGET_MB} MB peak RSS, byte-identical`, async () => {
    const report = await measureDownload("kling", 2 ** 30, { verify: true });
    expect(report.bytes).toBe(2 ** 30);
    expect(report.verified).toBe(true);
    expect(report.peakRssMb).toBeLessThan(DOWNLOAD_RSS_BUDGET_MB);
    expect(report.maxRssMb).toBeLessThan(DOWNLOAD_RSS_BUDGET_MB);
  }, 180_000);
});

/** A bare loopback host answering as `handler` says (`hit`: 1 for its first request); `requests` holds each request's headers. */
async function hostile(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void,
): Promise<{ url: string; requests: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.headers);
    handler(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v.mp4`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("hosts that misbehave", () => {
  const versionA = Buffer.alloc(100_000, 0xaa);
  const versionB = Buffer.alloc(100_000, 0xbb);

  it("a 206 of another version (the host ignored If-Range) is not spliced on: the file starts over", async () => {
    const host = await hostile((req, res, hit) => {
      if (hit === 1) {
        // Version A, dropped after 40,000 bytes.
        res.writeHead(200, { etag: '"A"', "content-length": String(versionA.length) });
        res.write(versionA.subarray(0, 40_000));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (range) {
        // If-Range: "A" is ignored, and the rest of version B is sent.
        const from = Number(range[1]);
        res.writeHead(206, { etag: '"B"', "content-range": `bytes ${from}-${versionB.length - 1}/${versionB.length}` });
        return void res.end(versionB.subarray(from));
      }
      res.writeHead(200, { etag: '"B"', "content-length": String(versionB.length) });
      res.end(versionB);
    });
    try {
      await downloadVideo(host.url, target());
      expect((await readFile(target())).equals(versionB)).toBe(true);
      expect(host.requests.map((h) => [h.range, h["if-range"]])).toEqual([
        [undefined, undefined],
        [expect.stringMatching(/^bytes=\d+-$/), '"A"'],
        [undefined, undefined],
      ]);
      expect(await entries()).toEqual(["video.mp4"]);
    } finally {
      await host.close();
    }
  });

  it("an encoded body (identity was asked for) is refused, not saved as the video", async () => {
    const host = await hostile((_req, res) => {
      const gz = gzipSync(versionA);
      res.writeHead(200, { "content-encoding": "gzip", "content-length": String(gz.length) });
      res.end(gz);
    });
    try {
      const error = await fail(downloadVideo(host.url, target()));
      expect(error).toBeInstanceOf(ResponseValidationError);
      expect((error as Error).message).toMatch(/Content-Encoding "gzip"/);
      expect(host.requests).toHaveLength(1);
      expect(host.requests[0]!["accept-encoding"]).toBe("identity");
      expect(await entries()).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it("a file over maxBytes stops the download, declared or streamed, without retry or leftovers", async () => {
    let declared = true;
    const host = await hostile((_req, res) => {
      if (declared) {
        res.writeHead(200, { "content-length": String(10 * 1024 ** 3) });
        return void res.write(Buffer.alloc(1000));
      }
      // No length: an endless body, stopped once past the limit.
      res.writeHead(200);
      const pump = (): void => {
        while (res.write(Buffer.alloc(64 * 1024))) if (res.destroyed) return;
        res.once("drain", pump);
      };
      pump();
    });
    try {
      const first = await fail(downloadVideo(host.url, target(), { maxBytes: 1_000_000 }));
      expect(first).toBeInstanceOf(ResponseTooLargeError);
      expect(first).toMatchObject({ limit: 1_000_000, status: 200 });
      expect((first as Error).message).toMatch(/larger than maxBytes \(1000000 bytes\)/);
      declared = false;
      const second = await fail(downloadVideo(host.url, target(), { maxBytes: 1_000_000 }));
      expect(second).toBeInstanceOf(ResponseTooLargeError);
      expect(host.requests).toHaveLength(2);
      expect(await entries()).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it("a status past 599 is a plain APIError, not retried as a 5xx", async () => {
    const host = await hostile((_req, res) => {
      res.writeHead(999);
      res.end();
    });
    try {
      const error = await fail(downloadVideo(host.url, target()));
      expect(error).toBeInstanceOf(APIError);
      expect(error).not.toBeInstanceOf(InternalServerError);
      expect(host.requests).toHaveLength(1);
    } finally {
      await host.close();
    }
  });

  it("a file name near the 255-byte limit still gets a temp file", async () => {
    const name = `${"a".repeat(246)}.mp4`;
    await expect(downloadVideo(video.url, target(name))).resolves.toMatchObject({ bytes: video.size });
    expect(await entries()).toEqual([name]);
  });

  it("redirects reach this machine only from this machine", () => {
    const remote = new URL("https://cdn.example/v.mp4");
    const local = new URL("http://127.0.0.1:8080/v.mp4");
    expect(isAllowedRedirect(remote, new URL("https://other.example/v.mp4"))).toBe(true);
    expect(isAllowedRedirect(local, new URL("http://localhost:9000/v.mp4"))).toBe(true);
    // A remote host must not steer the download to a local service, over http or https.
    expect(isAllowedRedirect(remote, local)).toBe(false);
    expect(isAllowedRedirect(remote, new URL("https://localhost/v.mp4"))).toBe(false);
    expect(isAllowedRedirect(remote, new URL("http://other.example/v.mp4"))).toBe(false);
    expect(isAllowedRedirect(local, new URL("ftp://127.0.0.1/v.mp4"))).toBe(false);
  });
});

// Keeps the scripted server helper honest: a bare loopback host with no ranges, no length.
describe("a host with chunked encoding (no Content-Length)", () => {
  it("downloads it; a cut mid-chunk is a connection error, not a short success", async () => {
    let cut = true;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "video/mp4" });
      res.write(Buffer.alloc(1000, 1));
      if (cut) {
        cut = false;
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.end(Buffer.alloc(1000, 2));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v.mp4`;
      expect(await fail(downloadVideo(url, target(), { maxRetries: 0 }))).toBeInstanceOf(APIConnectionError);
      expect(await entries()).toEqual([]);
      await expect(downloadVideo(url, target())).resolves.toMatchObject({ bytes: 2000 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
