// scripts/spec-check.ts, run as a user runs it (a child process) against a spec served on loopback:
// 0 for the committed spec, 1 with the per-operation diff and a bump word for a changed one (an
// overlay that no longer matches counts), 2 when it cannot tell (404, a cut connection, a body that
// is not a spec, a body of hundreds of MB: refused at the cap, the connection closed long before the
// server sent it all). It never writes a file. Then the downloader's own limits (scripts/spec-fetch.ts)
// and the versioning rule.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { impliedBump } from "../scripts/spec-changelog.js";
import { fetchSpec, SPEC_MAX_BYTES } from "../scripts/spec-fetch.js";
import { ROOT } from "./helpers/spec.js";

type Json = Record<string, unknown>;
type Schemas = Record<string, { properties: Record<string, unknown> }>;

const RELAY = path.join(ROOT, "openapi", "relay.json");
/** What the relay serves: 512 MiB, far past the cap, unless the client stops reading. */
const HUGE = 512 * 1024 * 1024;
/** A key in the child's environment: it must never reach the server or the output. */
const SECRET = "sk-spec-check-never-sent-0123456789";

/** What one request saw, for the assertions on headers and on how much of a huge body was sent. */
interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  sent: number;
  closedEarly: boolean;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];
let current: Buffer;
const bodies = new Map<string, Buffer>();

/** Sends `total` bytes of a spec-looking JSON prefix and then spaces, honouring backpressure; records how far it got. */
async function stream(res: http.ServerResponse, record: Seen, total: number, declared: boolean): Promise<void> {
  res.writeHead(200, { "content-type": "application/json", ...(declared ? { "content-length": String(total) } : {}) });
  let closed = false;
  res.on("close", () => {
    closed = true;
  });
  const head = Buffer.from('{"openapi": "3.0.1", "info": {"title": "x", "version": "1"}, "paths": {}, "x-pad": "');
  res.write(head);
  record.sent = head.length;
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  while (!closed && record.sent < total) {
    record.sent += chunk.length;
    if (!res.write(chunk)) await new Promise((resolve) => (res.once("drain", resolve), res.once("close", resolve)));
  }
  record.closedEarly = closed && record.sent < total;
  if (!closed) res.end('"}');
}

beforeAll(async () => {
  current = await readFile(RELAY);
  const doc = (): Json & { components: { schemas: Schemas } } => JSON.parse(current.toString("utf8")) as Json & { components: { schemas: Schemas } };
  const additive = doc();
  additive.components.schemas.VideoTaskResponse!.properties.progress = { type: "number", description: "0..1" };
  bodies.set("/additive/relay.json", Buffer.from(JSON.stringify(additive)));
  const breaking = doc();
  delete breaking.components.schemas.VideoTaskResponse!.properties.url;
  bodies.set("/breaking/relay.json", Buffer.from(JSON.stringify(breaking)));
  // The relay fixes the defect the project's overlay works around: action 1 then matches nothing.
  const fixed = doc();
  fixed.components.schemas.VideoTaskError!.properties.code = { oneOf: [{ type: "integer" }, { type: "string" }] };
  bodies.set("/fixed/relay.json", Buffer.from(JSON.stringify(fixed)));
  const outside = doc();
  (outside.info as Json).version = "2099.1";
  bodies.set("/outside/relay.json", Buffer.from(JSON.stringify(outside)));
  bodies.set("/openapi/relay.json", current);

  server = http.createServer((req, res) => {
    const record: Seen = { url: req.url ?? "", headers: req.headers, sent: 0, closedEarly: false };
    seen.push(record);
    const url = req.url ?? "";
    const body = bodies.get(url);
    if (body) {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    } else if (url === "/huge/relay.json") {
      void stream(res, record, HUGE, false);
    } else if (url === "/declared/relay.json") {
      void stream(res, record, HUGE, true);
    } else if (url === "/cut/relay.json") {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(current.length) });
      res.write(current.subarray(0, 1000));
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (url === "/page/relay.json") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>Docs moved</body></html>");
    } else if (url === "/moved/relay.json") {
      res.writeHead(302, { location: "/openapi/relay.json" });
      res.end();
    } else if (url.startsWith("/loop/")) {
      res.writeHead(307, { location: `/loop/${Number(url.split("/")[2] ?? 0) + 1}/relay.json` });
      res.end();
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  // No request ever carries a credential, whatever the child's environment holds.
  for (const request of seen) {
    expect(request.headers.authorization, request.url).toBeUndefined();
    expect(request.headers.cookie, request.url).toBeUndefined();
    expect(JSON.stringify(request.headers)).not.toContain(SECRET);
  }
  seen.length = 0;
});

/** sha256 over every file (path and bytes) of openapi/, generated/ and CHANGELOG.md: what "writes nothing" is checked against. */
async function treeHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const dir of ["openapi", "generated"]) {
    const entries = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile()).map((e) => path.relative(ROOT, path.join(e.parentPath, e.name))).sort();
    for (const file of files) hash.update(file).update("\0").update(await readFile(path.join(ROOT, file))).update("\0");
  }
  hash.update(await readFile(path.join(ROOT, "CHANGELOG.md")));
  return hash.digest("hex");
}

/** Runs `npm run spec:check -- <args>` as a child process (node + tsx, as the npm script does). */
function check(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/spec-check.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, XIEXUS_API_KEY: SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      expect(stdout + stderr).not.toContain(SECRET);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `check` and asserts openapi/, generated/ and CHANGELOG.md are byte for byte what they were. */
async function checkWritingNothing(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const before = await treeHash();
  const result = await check(...args);
  expect(await treeHash()).toBe(before);
  return result;
}

describe("spec:check against a spec served on loopback", () => {
  it("exits 0 for the committed spec, also behind a redirect, and for a file that differs only outside the package (info)", async () => {
    const [same, moved, outside] = await Promise.all([
      checkWritingNothing(`${base}/openapi/relay.json`),
      checkWritingNothing(`${base}/moved/relay.json`, "--name", "relay"),
      checkWritingNothing(`${base}/outside/relay.json`),
    ]);
    expect(same.stderr).toBe("");
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("no change: the published file is openapi/relay.json, byte for byte");
    expect(same.stdout).not.toMatch(/^bump:/m);

    expect(moved.code).toBe(0);
    expect(seen.map((s) => s.url)).toContain("/moved/relay.json");

    expect(outside.code).toBe(0);
    expect(outside.stdout).toContain("differs from openapi/relay.json only outside what the package is made from");
  }, 30_000);

  it("exits 1 for an additive change: the per-operation diff, then `bump: patch` (0.x)", async () => {
    const { code, stdout, stderr } = await checkWritingNothing(`${base}/additive/relay.json`);
    expect(stderr).toBe("");
    expect(code).toBe(1);
    expect(stdout).toMatch(/^GET \/kling\/v1\/videos\/image2video\/\{task_id\} \(getKlingImage2Video\)\n +INFO +response-optional-property-added +response 200 application\/json body\.progress/m);
    expect(stdout).toMatch(/^0 breaking, 0 maybe-breaking, 2 non-breaking$/m);
    expect(stdout).toContain(`next: npm run spec:update -- ${base}/additive/relay.json --name relay`);
    expect(stdout.trimEnd().split("\n").at(-1)).toBe("bump: patch");
  }, 30_000);

  it("exits 1 for a breaking change with `bump: minor`; --markdown gives the pull request body in words", async () => {
    const { code, stdout } = await checkWritingNothing(`${base}/breaking/relay.json`, "--name", "relay", "--markdown");
    expect(code).toBe(1);
    expect(stdout).toContain("**Version bump: minor**");
    expect(stdout).toMatch(/^### Breaking\n\n- `getKlingText2Video` \(`GET \/kling\/v1\/videos\/text2video\/\{task_id\}`\): the answer no longer includes\s+`url`/m);
    expect(stdout).toMatch(/^ +ERR +response-property-removed +response 200 application\/json body\.url/m); // the raw diff, in its fenced block
    const json = await checkWritingNothing(`${base}/breaking/relay.json`, "--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ changed: true, bump: "minor", summary: { breaking: 2 } });
  }, 30_000);

  it("exits 1 when an overlay action no longer matches (the relay fixed the defect): the overlay must go", async () => {
    const { code, stdout } = await checkWritingNothing(`${base}/fixed/relay.json`);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^overlay actions that no longer apply .*\n {2}openapi\/overlays\/relay\.error-code\.overlay\.json action 1 \(.*\): target .* matches nothing/m);
    // With the overlay's other action still applied, the package's users see no API change: a patch.
    expect(stdout).toMatch(/^for the package's users \(the project's overlays applied\):\nno changes$/m);
    expect(stdout.trimEnd().split("\n").at(-1)).toBe("bump: patch");
  }, 30_000);

  it("exits 2 for a 404, naming the URL and the status", async () => {
    const { code, stdout, stderr } = await checkWritingNothing(`${base}/gone/relay.json`);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`spec-check: could not tell: cannot read ${base}/gone/relay.json: HTTP 404 Not Found\n`);
  }, 30_000);

  it("exits 2 for a body of hundreds of MB: refused at the byte cap, the connection closed long before the server sent it all", async () => {
    const { code, stderr } = await checkWritingNothing(`${base}/huge/relay.json`);
    expect(code).toBe(2);
    expect(stderr).toContain(`cannot read ${base}/huge/relay.json: the body passed the ${SPEC_MAX_BYTES}-byte cap; the rest was not read`);
    const huge = seen.find((s) => s.url === "/huge/relay.json")!;
    expect(huge.closedEarly).toBe(true);
    // What left the server: the cap plus what socket buffers hold, nowhere near the 512 MiB on offer.
    expect(huge.sent).toBeLessThan(SPEC_MAX_BYTES + 32 * 1024 * 1024);

    // Declared in Content-Length: refused at the headers, before the body is read.
    const declared = await checkWritingNothing(`${base}/declared/relay.json`);
    expect(declared.code).toBe(2);
    expect(declared.stderr).toContain(`the answer declares ${HUGE} bytes, over the ${SPEC_MAX_BYTES}-byte cap; refused unread`);
    const record = seen.find((s) => s.url === "/declared/relay.json")!;
    expect(record.closedEarly).toBe(true);
    expect(record.sent).toBeLessThan(32 * 1024 * 1024);
  }, 30_000);

  it("exits 2 for a cut connection, a page that is not a spec, a redirect loop and a URL with credentials", async () => {
    const [cut, page, loop, credentials] = await Promise.all([
      checkWritingNothing(`${base}/cut/relay.json`),
      checkWritingNothing(`${base}/page/relay.json`),
      checkWritingNothing(`${base}/loop/0/relay.json`),
      checkWritingNothing(`${base.replace("://", "://maintainer:hunter2@")}/openapi/relay.json`),
    ]);
    expect([cut.code, page.code, loop.code, credentials.code]).toEqual([2, 2, 2, 2]);
    expect(cut.stderr).toMatch(new RegExp(`cannot read ${base}/cut/relay\\.json: the connection was cut after \\d+ bytes`));
    expect(page.stderr).toContain(`spec-check: could not tell: ${base}/page/relay.json is not JSON`);
    expect(loop.stderr).toMatch(/cannot read .*\/loop\/0\/relay\.json \(redirected to .*\/loop\/5\/relay\.json\): more than 5 redirects/);
    expect(credentials.stderr).toContain("a URL with credentials (user:pass@) is refused");
    expect(credentials.stderr).not.toContain("hunter2");
    expect(seen.filter((s) => s.url.startsWith("/loop/"))).toHaveLength(6);
  }, 30_000);

  it("exits 2 for usage errors and a --name with no spec in openapi/", async () => {
    const [none, unknown] = await Promise.all([checkWritingNothing(), checkWritingNothing(`${base}/openapi/relay.json`, "--name", "nope")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("usage: spec-check");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("there is no openapi/nope.json to compare with");
    expect(seen).toEqual([]); // refused before any download
  }, 30_000);
});

describe("the downloader's limits (scripts/spec-fetch.ts)", () => {
  /** A fetch that answers from a table, for what loopback cannot show (https, other hosts). */
  function scripted(answers: Record<string, Response>): { fetch: typeof fetch; asked: string[] } {
    const asked: string[] = [];
    return {
      asked,
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        asked.push(String(input));
        expect(init?.redirect).toBe("manual");
        expect(new Headers(init?.headers).has("authorization")).toBe(false);
        return answers[String(input)] ?? new Response("no", { status: 404 });
      }) as typeof fetch,
    };
  }

  it("refuses a redirect from https down to http, and to another scheme", async () => {
    const down = scripted({ "https://docs.example/relay.json": new Response(null, { status: 301, headers: { location: "http://docs.example/relay.json" } }) });
    await expect(fetchSpec("https://docs.example/relay.json", { fetch: down.fetch })).rejects.toThrow(
      "cannot read https://docs.example/relay.json: a redirect from https to http (http://docs.example/relay.json) is refused",
    );
    expect(down.asked).toEqual(["https://docs.example/relay.json"]);
    const file = scripted({ "https://docs.example/relay.json": new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } }) });
    await expect(fetchSpec("https://docs.example/relay.json", { fetch: file.fetch })).rejects.toThrow("a redirect to file: is not http(s)");
  });

  it("follows a relative redirect, and gives up after the time limit", async () => {
    const ok = scripted({
      "https://docs.example/openapi/relay.json": new Response(null, { status: 308, headers: { location: "v2/relay.json" } }),
      "https://docs.example/openapi/v2/relay.json": new Response('{"openapi":"3.1.0","paths":{}}'),
    });
    const got = await fetchSpec("https://docs.example/openapi/relay.json", { fetch: ok.fetch });
    expect(got.bytes.toString()).toBe('{"openapi":"3.1.0","paths":{}}');
    expect(got.finalUrl).toBe("https://docs.example/openapi/v2/relay.json");

    const hang = (async (_input: unknown, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new TypeError("fetch failed"))))) as typeof fetch;
    await expect(fetchSpec("https://docs.example/relay.json", { fetch: hang, timeoutMs: 50 })).rejects.toThrow(
      "cannot read https://docs.example/relay.json: no complete answer within 50 ms",
    );
  });

  it("refuses a body one byte over a small cap and takes one at the cap", async () => {
    const at = scripted({ "https://docs.example/a.json": new Response("x".repeat(10)) });
    expect((await fetchSpec("https://docs.example/a.json", { fetch: at.fetch, maxBytes: 10 })).bytes.length).toBe(10);
    const over = scripted({ "https://docs.example/a.json": new Response("x".repeat(11)) });
    await expect(fetchSpec("https://docs.example/a.json", { fetch: over.fetch, maxBytes: 10 })).rejects.toThrow("the body passed the 10-byte cap");
  });
});

describe("the versioning rule", () => {
  const at = (...levels: Array<"breaking" | "maybe-breaking" | "non-breaking">) => levels.map((level) => ({ level }));

  it("0.x: breaking -> minor, anything else -> patch", () => {
    expect(impliedBump("0.1.0", at("breaking", "non-breaking"))).toBe("minor");
    expect(impliedBump("0.1.0", at("maybe-breaking"))).toBe("patch");
    expect(impliedBump("0.9.3", at("non-breaking"))).toBe("patch");
    expect(impliedBump("0.1.0", [])).toBe("patch");
  });

  it("from 1.0.0: breaking -> major, other API changes -> minor, none -> patch", () => {
    expect(impliedBump("1.0.0", at("breaking"))).toBe("major");
    expect(impliedBump("2.3.4", at("maybe-breaking", "non-breaking"))).toBe("minor");
    expect(impliedBump("1.0.0", [])).toBe("patch");
  });
});
