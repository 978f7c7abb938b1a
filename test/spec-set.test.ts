// A spec set of several combined specs: the committed one (the relay's file, its Kling operations
// selected, its overlay) plus a relay-like 3.0 spec (test/fixtures/specs/relay-like.json) with a
// selection of its own (its /v1 operations), generated into a temp copy of the project. Every operation is typed and
// reachable through createKlingClient (a consumer file compiles, mistakes do not), and the client
// calls the POST / GET / models operations on a loopback server with the key and a JSON body.
// Then the key's destination: a spec naming another host, added to the committed set, changes
// nothing about where a client made without baseUrl sends its first request.
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAll, writeGenerated } from "../scripts/generate.js";
import type * as Index from "../src/index.js";
import type * as Spec from "../src/_spec.js";
import { copyProject } from "./helpers/project-copy.js";
import { ROOT } from "./helpers/spec.js";

let copy: string;

beforeAll(async () => {
  copy = await copyProject("spec-set-");
  // Beside the committed set; its own Kling operations are left out by its selection (the relay's are newer).
  await cp(path.join(ROOT, "test", "fixtures", "specs", "relay-like.json"), path.join(copy, "openapi", "relay-like.json"));
  const config = JSON.parse(await readFile(path.join(copy, "openapi", "spec-set.json"), "utf8")) as { select: Record<string, unknown> };
  config.select["relay-like.json"] = { pathPrefixes: ["/v1"] };
  await writeFile(path.join(copy, "openapi", "spec-set.json"), JSON.stringify(config, null, 2));
  await writeFile(path.join(copy, "package.json"), JSON.stringify({ name: "spec-set-copy", private: true, type: "module" }));
  await writeGenerated(path.join(copy, "generated"), await generateAll(path.join(copy, "openapi")));
}, 60_000);

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

/** Type-checks `file` in the copy as a strict consumer would; returns the diagnostics as `line: message`. */
function typeCheck(file: string): string[] {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    types: ["node"],
    typeRoots: [path.join(ROOT, "node_modules", "@types")],
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : "";
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

const CONSUMER = `
import { createKlingClient, type components, type operations, type Image2VideoTask } from "./src/index.js";

const kling = createKlingClient({ apiKey: "sk-test" });

// The relay's Kling operations.
const task = await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "t" } } });
const seen: Image2VideoTask | undefined = task.data;
type Old = operations["getKlingImage2Video"]["responses"][200]["content"]["application/json"];
const old: Old | undefined = seen;
const code: number | string | undefined = seen?.error?.code;

// The relay-like spec's operations: a typed JSON body, a colon path, query parameters, multipart.
const created = await kling.POST("/kling/v1/videos/image2video", {
  body: { model: "kling-v1", image: "https://example.com/a.jpg", prompt: "turn around", duration: 5 },
});
const createdId: string | undefined = created.data?.task_id;
const t2v = await kling.GET("/kling/v1/videos/text2video/{task_id}", { params: { path: { task_id: "t" } } });
const t2vStatus: "queued" | "in_progress" | "completed" | "failed" | "cancelled" | undefined = t2v.data?.status;
const models = await kling.GET("/v1/models", { params: { query: { key: "k" } } });
const firstModel: string | undefined = models.data?.data[0]?.id;
const owner: string | null | undefined = models.data?.data[0]?.owned_by;
const gemini = await kling.POST("/v1beta/models/{model}:generateContent", {
  params: { path: { model: "gemini-2.5-pro" } },
  body: { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
});
const again = await kling.POST("/v1beta/models/{model}:generateContent/", {
  params: { path: { model: "gemini-2.5-pro" } },
  body: { contents: [] },
});
const transcript = await kling.POST("/v1/audio/transcriptions", {
  body: { file: "audio bytes", model: "whisper-1" },
  bodySerializer: (body) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(body)) form.append(k, String(v));
    return form;
  },
});
const text: string | undefined = transcript.data?.text;
const edited = await kling.POST("/v1/images/edits/", { body: { image: "png bytes", prompt: "add a hat" } });
const files = await kling.GET("/v1/files");
const notImplemented: components["schemas"]["ErrorResponse"] | undefined = files.error;
await kling.DELETE("/v1/files/{file_id}", { params: { path: { file_id: "f" } } });

// @ts-expect-error a body of the wrong type: model is a string
await kling.POST("/kling/v1/videos/image2video", { body: { model: 1, image: "https://example.com/a.jpg" } });
// @ts-expect-error a required path parameter is missing (task_id)
await kling.GET("/kling/v1/videos/text2video/{task_id}", { params: { path: {} } });
// @ts-expect-error a path no spec has
await kling.GET("/v1/nowhere");
// @ts-expect-error a method the path does not have
await kling.GET("/kling/v1/videos/image2video", {});
// @ts-expect-error a value outside the enum
await kling.POST("/v1/audio/speech", { body: { model: "tts-1", input: "hi", voice: "nobody" } });

export { old, code, createdId, t2vStatus, firstModel, owner, gemini, again, text, edited, notImplemented };
`;

describe("the committed spec set with a relay-like spec beside it", () => {
  it("types every operation for a consumer of createKlingClient, and refuses the mistakes", async () => {
    const file = path.join(copy, "consumer.ts");
    await writeFile(file, CONSUMER);
    expect(typeCheck(file)).toEqual([]);

    // Teeth: the same file without its @ts-expect-error lines fails at exactly those five calls.
    await writeFile(file, CONSUMER.replace(/^\/\/ @ts-expect-error.*$/gm, "//"));
    const errors = typeCheck(file);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    const lines = CONSUMER.split("\n");
    const expected = lines.flatMap((line, i) => (line.startsWith("// @ts-expect-error") ? [`consumer.ts:${i + 2}`] : []));
    expect([...new Set(errors.map((e) => e.split(":").slice(0, 2).join(":")))]).toEqual(expected);
  }, 120_000);

  it("the client calls POST, GET and the models list on a loopback server with the key and a JSON body", async () => {
    const seen: Array<{ method: string; url: string; authorization?: string; type?: string; body: string }> = [];
    const answers: Record<string, unknown> = {
      "POST /kling/v1/videos/image2video": { task_id: "t-1", status: "queued" },
      "GET /kling/v1/videos/text2video/t-1": { task_id: "t-1", status: "in_progress" },
      "GET /v1/models": { object: "list", data: [{ id: "kling-v1", owned_by: null }] },
    };
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, type: req.headers["content-type"], body });
        const answer = answers[`${req.method} ${req.url!.split("?")[0]}`];
        res.writeHead(answer ? 200 : 404, { "content-type": "application/json" });
        res.end(JSON.stringify(answer ?? { error: { message: "no" } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { createKlingClient } = (await import(path.join(copy, "src", "index.ts"))) as typeof Index;
      // The copy's types are a superset of the repo's; its paths are typed in the compile test above.
      const kling = createKlingClient({ apiKey: "sk-spec-set", baseUrl: `http://127.0.0.1:${port}` }) as unknown as {
        POST(path: string, init: object): Promise<{ data?: unknown; response: Response }>;
        GET(path: string, init?: object): Promise<{ data?: unknown; response: Response }>;
      };
      const created = await kling.POST("/kling/v1/videos/image2video", { body: { model: "kling-v1", image: "https://example.com/a.jpg" } });
      expect(created.data).toEqual({ task_id: "t-1", status: "queued" });
      const polled = await kling.GET("/kling/v1/videos/text2video/{task_id}", { params: { path: { task_id: "t-1" } } });
      expect(polled.data).toEqual({ task_id: "t-1", status: "in_progress" });
      const models = await kling.GET("/v1/models", { params: { query: { key: "k" } } });
      expect(models.data).toEqual({ object: "list", data: [{ id: "kling-v1", owned_by: null }] });

      expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
        "POST /kling/v1/videos/image2video",
        "GET /kling/v1/videos/text2video/t-1",
        "GET /v1/models?key=k",
      ]);
      for (const r of seen) expect(r.authorization).toBe("Bearer sk-spec-set");
      expect(seen[0]!.type).toMatch(/^application\/json/);
      expect(JSON.parse(seen[0]!.body)).toEqual({ model: "kling-v1", image: "https://example.com/a.jpg" });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("the copy's responseIssues knows every JSON answer of the combined spec and none of its binary ones", async () => {
    const { responseIssues } = (await import(path.join(copy, "src", "_spec.ts"))) as typeof Spec;
    expect(responseIssues("/v1/models", "get", 200, { object: "list", data: [{ id: "m", created: 1 }] })).toEqual([]);
    const offSpec = responseIssues("/v1/models", "get", 200, { object: "list", data: [{ id: 5, created: 0 }] });
    expect(offSpec?.map((i) => `${i.instancePath} ${i.keyword}`)).toEqual(["/data/0/id type", "/data/0/created exclusiveMinimum"]);
    expect(responseIssues("/kling/v1/videos/text2video/{task_id}", "get", 200, { status: "cancelled", error: { code: "TaskExpired" } })).toEqual([]);
    expect(responseIssues("/kling/v1/videos/text2video/{task_id}", "get", 200, { status: "succeeded" })?.[0]?.keyword).toBe("enum");
    expect(responseIssues("/v1/moderations", "post", 201, { flagged: true })).toEqual([]); // 2XX
    expect(responseIssues("/v1/moderations", "post", 201, { flagged: true, extra: 1 })?.[0]?.keyword).toBe("additionalProperties");
    expect(responseIssues("/v1/moderations", "post", 500, { error: { code: null } })).toEqual([]); // default
    expect(responseIssues("/v1/audio/speech", "post", 200, "bytes")).toBeUndefined();
    expect(responseIssues("/v1/videos/{task_id}/content", "get", 200, "bytes")).toBeUndefined();
    expect(responseIssues("/v1/videos/{task_id}/content", "get", 404, {})).toEqual([]);
  });

  it("strict mode rejects an off-spec answer of any operation with ResponseValidationError", async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: 5 }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const mod = (await import(path.join(copy, "src", "index.ts"))) as typeof Index;
      const kling = mod.createKlingClient({ apiKey: "sk-spec-set", baseUrl: `http://127.0.0.1:${port}`, validation: "strict" }) as unknown as {
        GET(path: string, init?: object): Promise<unknown>;
      };
      const error = await kling.GET("/v1/models").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(mod.ResponseValidationError);
      expect((error as InstanceType<typeof mod.ResponseValidationError>).issues[0]?.instancePath).toBe("/data/0/id");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("the key's destination is pinned", () => {
  let pinned: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    // The committed set plus a spec whose servers name another host, sorting before relay.json.
    pinned = await copyProject("spec-set-pinned-");
    const github = {
      openapi: "3.0.3",
      info: { title: "GitHub-like", version: "1" },
      servers: [{ url: "https://api.github.com" }],
      paths: {
        "/repos/{owner}/{repo}": {
          get: {
            operationId: "repos/get",
            parameters: ["owner", "repo"].map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
            responses: { "200": { description: "ok", content: { "application/json": { schema: { type: "object" } } } } },
          },
        },
      },
    };
    await writeFile(path.join(pinned, "openapi", "github.json"), JSON.stringify(github, null, 2));
    await writeFile(path.join(pinned, "package.json"), JSON.stringify({ name: "spec-set-pinned", private: true, type: "module" }));
    await writeGenerated(path.join(pinned, "generated"), await generateAll(path.join(pinned, "openapi"), (w) => warnings.push(w)));
  }, 60_000);

  afterAll(async () => {
    await rm(pinned, { recursive: true, force: true });
  });

  it("a client made without baseUrl still sends its first request to api.xiexus.cn; the other host is a warning", async () => {
    expect(warnings).toContain(
      'openapi/github.json#/servers/0/url: "https://api.github.com" is not the pinned base URL "https://api.xiexus.cn" (DEFAULT_BASE_URL, src/options.ts): a maintainer decision, not applied',
    );
    expect(await readFile(path.join(pinned, "generated", "index.ts"), "utf8")).toContain('"/repos/{owner}/{repo}": {');
    const mod = (await import(path.join(pinned, "src", "index.ts"))) as typeof Index;
    const sent: string[] = [];
    const fetch = async (input: Request): Promise<Response> => {
      sent.push(input.url);
      return new Response(JSON.stringify({ task_id: "t-1", status: "queued" }), { status: 200, headers: { "content-type": "application/json" } });
    };
    const previous = process.env.XIEXUS_BASE_URL;
    delete process.env.XIEXUS_BASE_URL;
    try {
      const kling = mod.createKlingClient({ apiKey: "sk-pinned", fetch }) as unknown as {
        getImage2VideoTask(id: string): Promise<unknown>;
        GET(path: string, init?: object): Promise<unknown>;
      };
      await kling.getImage2VideoTask("t-1");
      await kling.GET("/repos/{owner}/{repo}", { params: { path: { owner: "o", repo: "r" } } });
    } finally {
      if (previous !== undefined) process.env.XIEXUS_BASE_URL = previous;
    }
    expect(sent).toEqual(["https://api.xiexus.cn/kling/v1/videos/image2video/t-1", "https://api.xiexus.cn/repos/o/r"]);
    // The pinned value is one constant, the same in the copy and the checkout.
    const { DEFAULT_BASE_URL } = (await import(path.join(pinned, "src", "options.ts"))) as { DEFAULT_BASE_URL: string };
    expect(DEFAULT_BASE_URL).toBe("https://api.xiexus.cn");
    expect(await readFile(path.join(pinned, "generated", "index.ts"), "utf8")).not.toMatch(/github\.com|baseUrl/i);
  }, 60_000);
});
