// scripts/generate.ts: deterministic output for whatever spec set openapi/ holds, a --check that
// names stale files, headers naming every source spec and overlay and its hash, warnings that name
// where a defect is, refusals for what cannot be generated, 3.0 read as JSON Schema 2020-12, the
// project's overlays applied and the remembered selection kept (scripts/spec-set.ts), no base URL.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAll, generateSpecs, parseSpec, readExtras, readSpecs, staleFiles, writeGenerated, type GeneratedFile, type SetExtras } from "../scripts/generate.js";
import { normalizeSchema } from "../scripts/spec-normalize.js";
import { ROOT, specFiles } from "./helpers/spec.js";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SPECS = path.join(ROOT, "test", "fixtures", "specs");
const relayLikeText = await readFile(path.join(SPECS, "relay-like.json"), "utf8");
// The seed's single-endpoint spec, as it was before openapi/relay.json superseded it: a small 3.1 spec to test with.
const seedFile = "openapi/kling-image2video.json";
const seedText = await readFile(path.join(SPECS, "kling-image2video.json"), "utf8");
const relayFile = "openapi/relay.json";
const relayText = await readFile(path.join(ROOT, relayFile), "utf8");
const overlayFile = "openapi/overlays/relay.error-code.overlay.json";
const overlayText = await readFile(path.join(ROOT, overlayFile), "utf8");
const selectKling = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "relay.json": { pathPrefixes: ["/kling/v1/videos/"] } } }) };

let tmp: string;
beforeAll(async () => {
  // Inside the repo (git-ignored .cache/) so that generated code resolves openapi-fetch from node_modules.
  await mkdir(path.join(ROOT, ".cache"), { recursive: true });
  tmp = await mkdtemp(path.join(ROOT, ".cache", "generate-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Runs the generator as `npm run generate` does; resolves with exit code and output. */
async function generate(cwd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [path.join(ROOT, "scripts", "generate.ts"), ...args], { cwd });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const index = (files: GeneratedFile[]): string => files.find((f) => f.name === "index.ts")!.content;

/** The `schemas` and `responses` data of a generated index.ts. */
function runtimeData(files: GeneratedFile[]): { schemas: unknown[]; responses: Record<string, Record<string, Record<string, number>>> } {
  const text = index(files);
  const schemas = text.slice(text.indexOf("export const schemas: readonly unknown[] = ") + 43, text.indexOf("];\n", text.indexOf("export const schemas")) + 1);
  const start = text.indexOf("= ", text.indexOf("export const responses")) + 2;
  const responses = text.slice(start, text.indexOf(";\n", start));
  return { schemas: JSON.parse(schemas.replace(/,\n]$/, "]")) as unknown[], responses: JSON.parse(responses) as never };
}

describe("generate", () => {
  it("is deterministic and matches the committed generated/, whatever specs openapi/ holds", async () => {
    const first = await generateAll(path.join(ROOT, "openapi"));
    const second = await generateAll(path.join(ROOT, "openapi"));
    expect(second).toEqual(first);
    expect(first.map((f) => f.name).sort()).toEqual(
      ["index.ts", ...specFiles().map((f) => f.replace(/\.(json|ya?ml)$/, ".ts"))].sort(),
    );
    expect(await staleFiles(path.join(ROOT, "generated"), first)).toEqual([]);
  });

  it("starts every file with a do-not-edit header naming its specs and their sha256", async () => {
    const files = await generateSpecs([{ file: seedFile, text: seedText }, { file: "openapi/relay.json", text: relayLikeText }]);
    const hash = (text: string) => createHash("sha256").update(text).digest("hex");
    const heads = Object.fromEntries(files.map((f) => [f.name, f.content.split("\n").slice(0, 2).join("\n")]));
    expect(heads["kling-image2video.ts"]).toContain(`from ${seedFile} (sha256 ${hash(seedText)}). Do not edit`);
    expect(heads["relay.ts"]).toContain(`from openapi/relay.json (sha256 ${hash(relayLikeText)}). Do not edit`);
    expect(heads["index.ts"]).toContain(`from ${seedFile} (sha256 ${hash(seedText)}), openapi/relay.json (sha256 ${hash(relayLikeText)})`);
  });

  it("generates no base URL: a server other than the pinned one is a warning (a maintainer decision, not applied)", async () => {
    const other = seedText.replace("https://api.xiexus.cn", "https://api.github.com");
    const warnings: string[] = [];
    const both = await generateSpecs([{ file: "openapi/b.json", text: seedText }, { file: "openapi/a.json", text: other }], (w) => warnings.push(w));
    expect(index(both)).not.toMatch(/baseUrl|api\.github\.com|api\.xiexus\.cn/i);
    expect(warnings).toEqual([
      'openapi/a.json#/servers/0/url: "https://api.github.com" is not the pinned base URL "https://api.xiexus.cn" (DEFAULT_BASE_URL, src/options.ts): a maintainer decision, not applied',
    ]);
    const clean: string[] = [];
    await generateSpecs([{ file: seedFile, text: seedText }, { file: "openapi/relay.json", text: relayLikeText }], (w) => clean.push(w));
    expect(clean.filter((w) => w.includes("servers"))).toEqual([]); // the pinned URL, or no servers at all
  });

  it("--check passes on a fresh output and names each stale file, telling to run npm run generate", async () => {
    const dir = await mkdtemp(path.join(tmp, "check-"));
    await cp(path.join(ROOT, "openapi"), path.join(dir, "openapi"), { recursive: true });
    expect(await writeGenerated(path.join(dir, "generated"), await generateAll(path.join(dir, "openapi")))).toBeGreaterThan(0);
    expect(await writeGenerated(path.join(dir, "generated"), await generateAll(path.join(dir, "openapi")))).toBe(0);
    const fresh = await generate(dir, "--check");
    expect(fresh.out).toContain("generated/ is up to date with openapi/");
    expect(fresh.code).toBe(0);

    // Edit the spec without regenerating, edit generated code by hand, leave a file of a spec that
    // is gone: each is named.
    const spec = JSON.parse(relayText) as { info: { version: string } };
    spec.info.version = "1.0.1";
    await writeFile(path.join(dir, relayFile), JSON.stringify(spec, null, 2));
    await writeFile(path.join(dir, "generated", "old.runtime.ts"), "export {};\n");
    const stale = await generate(dir, "--check");
    expect(stale.code).toBe(1);
    expect(stale.out).toContain("stale: generated/relay.ts");
    expect(stale.out).toContain("stale: generated/index.ts");
    expect(stale.out).toContain("stale: generated/old.runtime.ts");
    expect(stale.out).toContain("npm run generate");

    await writeGenerated(path.join(dir, "generated"), await generateAll(path.join(dir, "openapi")));
    expect(await staleFiles(path.join(dir, "generated"), await generateAll(path.join(dir, "openapi")))).toEqual([]);
    await writeFile(path.join(dir, "generated", "index.ts"), "// edited by hand\n", { flag: "a" });
    expect(await staleFiles(path.join(dir, "generated"), await generateAll(path.join(dir, "openapi")))).toEqual(["index.ts"]);
  }, 120_000);

  it("refuses a spec that is not JSON, not YAML or not OpenAPI 3.0/3.1, naming the file", () => {
    expect(() => parseSpec("openapi/bad.json", "{ nope")).toThrow(/openapi\/bad\.json is not JSON/);
    expect(() => parseSpec("openapi/bad.yaml", "a: [\n")).toThrow(/openapi\/bad\.yaml is neither JSON nor YAML/);
    expect(() => parseSpec("openapi/bad.json", '{"swagger":"2.0","paths":{}}')).toThrow(/not an OpenAPI 3/);
    expect(() => parseSpec("openapi/bad.json", '{"openapi":"3.2.0","paths":{}}')).toThrow(/not an OpenAPI 3/);
    expect(() => parseSpec("openapi/bad.json", '{"openapi":"3.1.0"}')).toThrow(/no "paths"/);
    expect(parseSpec("openapi/ok.yaml", "openapi: 3.0.3\npaths: {}\n").openapi).toBe("3.0.3");
  });
});

describe("a combined 3.0 spec beside the seed's", () => {
  it("generates from JSON and from its YAML twin alike", async () => {
    const yamlText = await readFile(path.join(SPECS, "relay-like.yaml"), "utf8");
    expect(parseSpec("relay-like.yaml", yamlText)).toEqual(parseSpec("relay-like.json", relayLikeText));
    const fromJson = await generateSpecs([{ file: "openapi/relay.json", text: relayLikeText }]);
    const fromYaml = await generateSpecs([{ file: "openapi/relay.yaml", text: yamlText }]);
    const body = (files: GeneratedFile[]) => files.map((f) => f.content.split("\n").slice(2).join("\n"));
    expect(body(fromYaml)).toEqual(body(fromJson));
  });

  it("warns about each defect that does not stop generation, naming where it is", async () => {
    const warnings: string[] = [];
    await generateSpecs([{ file: "openapi/relay.json", text: relayLikeText }], (w) => warnings.push(w));
    expect(warnings).toEqual([
      "openapi/relay.json#/paths/~1v1~1images~1generations~1/post: no operationId; the operation is typed inline in paths",
      "openapi/relay.json#/paths/~1v1~1images~1edits~1/post: no operationId; the operation is typed inline in paths",
      'openapi/relay.json#/paths/~1v1beta~1models~1{model}:generateContent~1/post: operationId "geminiRelayV1Beta" is already used by POST /v1beta/models/{model}:generateContent; this one is typed inline in paths',
      'openapi/relay.json#/paths/~1v1~1images~1generations~1/post/responses/200/content/application~1json/schema/properties/created/format: unknown format "unix-time" (an annotation: not checked)',
    ]);
  });

  it("merges per path and method, the seed's task endpoint equal in meaning to the $ref + nullable one", async () => {
    const files = await generateSpecs([{ file: seedFile, text: seedText }, { file: "openapi/relay.json", text: relayLikeText }]);
    const text = index(files);
    expect(text).toContain('get: S0.paths["/kling/v1/videos/image2video/{task_id}"]["get"];');
    expect(text).toContain('post: S1.paths["/kling/v1/videos/image2video"]["post"];');
    expect(text).toContain('"/v1beta/models/{model}:generateContent/": {');
    expect(text).toContain('"getklingimage2video": S0.operations["getklingimage2video"];');
    expect(text).toContain('"geminiRelayV1Beta": S1.operations["geminiRelayV1Beta"];');
    expect(text).toContain('"VideoTaskResponse": S1.components["schemas"]["VideoTaskResponse"];');
    const { responses } = runtimeData(files);
    expect(Object.keys(responses).length).toBe(15); // 16 operations on 15 paths
    expect(responses["/v1/audio/speech"]).toEqual({ post: { "200": -1 } }); // audio/mpeg: no JSON schema
    expect(responses["/v1/videos/{task_id}/content"]!.get!["200"]).toBe(-1);
    expect(responses["/v1/realtime"]!.get!["101"]).toBe(-1);
    expect(responses["/v1/moderations"]!.post!["2XX"]).toBeGreaterThanOrEqual(0); // application/problem+json
    expect(responses["/v1/files"]!.post!["501"]).toBe(responses["/kling/v1/videos/image2video/{task_id}"]!.get!["404"]);
  });

  it("fails when two specs define an operation differently, naming both files and the operation", async () => {
    const changed = relayLikeText.replace('"enum": [\n              "queued",', '"enum": [\n              "cancelled",\n              "queued",');
    expect(changed).not.toBe(relayLikeText);
    await expect(generateSpecs([{ file: seedFile, text: seedText }, { file: "openapi/relay.json", text: changed }])).rejects.toThrow(
      /GET \/kling\/v1\/videos\/image2video\/\{task_id\} is defined by openapi\/kling-image2video\.json and openapi\/relay\.json with different meanings \(first difference at \/responses\/200\/content\/application~1json\/schema\/properties\/status\/enum\)/,
    );
  });

  it("reads 3.0 as JSON Schema 2020-12: nullable, boolean exclusive bounds; annotations dropped", async () => {
    const { schemas } = runtimeData(await generateSpecs([{ file: "openapi/relay.json", text: relayLikeText }]));
    const text = JSON.stringify(schemas);
    expect(text).toContain('"owned_by":{"type":["null","string"]}');
    expect(text).toContain('"created":{"type":"integer","exclusiveMinimum":0}');
    expect(text).toContain('"functionResponse":{"anyOf":[{"allOf":[{"$ref":');
    expect(text).not.toMatch(/"(nullable|example|description|title)"|"format":"/);
    const ctx = { mode: "validate" as const, is30: true, warn: () => undefined, ref: () => true };
    expect(normalizeSchema({ type: "number", maximum: 1, exclusiveMaximum: true, minimum: 0, exclusiveMinimum: false }, "", ctx)).toEqual({ type: "number", exclusiveMaximum: 1, minimum: 0 });
    expect(normalizeSchema({ enum: ["a", "b"], nullable: true }, "", ctx)).toEqual({ enum: ["a", "b", null] });
    expect(normalizeSchema({ $ref: "#/x", description: "ignored in 3.0", nullable: true }, "", ctx)).toBe(true);
    expect(normalizeSchema({ $ref: "#/x", minimum: 1 }, "", { ...ctx, is30: false, ref: () => ({ $ref: 0 }) })).toEqual({ allOf: [{ $ref: 0 }, { minimum: 1 }] });
  });

  it("refuses a spec named index, and two files that would generate the same module", async () => {
    await expect(generateSpecs([{ file: "openapi/index.json", text: seedText }])).rejects.toThrow(/may not be called "index"/);
    await expect(generateSpecs([{ file: "openapi/a.json", text: seedText }, { file: "openapi/a.yaml", text: seedText }])).rejects.toThrow(
      /openapi\/a\.json and openapi\/a\.yaml would both generate generated\/a\.ts/,
    );
  });

  it("reads every spec file of a directory, JSON and YAML, in name order", async () => {
    const dir = await mkdtemp(path.join(tmp, "read-"));
    await mkdir(path.join(dir, "openapi"));
    await writeFile(path.join(dir, "openapi", "b.yaml"), "openapi: 3.0.3\npaths: {}\n");
    await writeFile(path.join(dir, "openapi", "a.json"), seedText);
    await writeFile(path.join(dir, "openapi", "notes.txt"), "not a spec");
    expect((await readSpecs(path.join(dir, "openapi"))).map((s) => s.file)).toEqual(["openapi/a.json", "openapi/b.yaml"]);
  });
});

describe("hostile specs: refused or made harmless, never followed outside the document", () => {
  type Doc = Record<string, unknown>;
  const seed = JSON.parse(seedText) as Doc;
  const compact = JSON.stringify(seed);
  /** The seed with `edit` applied to a deep copy. */
  const edited = (edit: (doc: Doc) => void): string => {
    const doc = structuredClone(seed);
    edit(doc);
    return JSON.stringify(doc);
  };
  /** The object at `keys` under `node`. */
  const dig = (node: unknown, ...keys: string[]): Doc => keys.reduce((at, key) => (at as Doc)[key], node) as Doc;
  const okSchema = (doc: Doc): Doc =>
    dig(doc, "paths", "/kling/v1/videos/image2video/{task_id}", "get", "responses", "200", "content", "application/json", "schema");

  it("a $ref or discriminator mapping leaving the document is refused wherever it sits, and nothing is fetched", async () => {
    const http = await import("node:http");
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const remote = `http://127.0.0.1:${(server.address() as { port: number }).port}/schema.json`;
    try {
      const cases: Array<[string, (doc: Doc) => void]> = [
        ["an extension", (doc) => (okSchema(doc)["x-foo"] = { $ref: remote })],
        ["an example", (doc) => (okSchema(doc).example = { $ref: "/etc/passwd" })],
        ["a top-level extension", (doc) => (doc["x-top"] = { $ref: `${remote}#/a` })],
        ["a discriminator mapping", (doc) => (okSchema(doc).discriminator = { propertyName: "status", mapping: { queued: remote } })],
      ];
      for (const [name, edit] of cases) {
        await expect(generateSpecs([{ file: seedFile, text: edited(edit) }]), name).rejects.toThrow(/points outside the document/);
      }
      expect(hits).toBe(0);
    } finally {
      server.close();
    }
  });

  it("refuses a file name that could break out of the generated import, paths and statuses that are no such thing", async () => {
    await expect(generateSpecs([{ file: 'openapi/zz";console.log(1);".json', text: seedText }])).rejects.toThrow(/not a usable spec name/);
    // An own "__proto__" key, as JSON.parse reads it: written into the text by hand.
    const protoText = compact.replace('"paths":{', '"paths":{"__proto__":{},');
    await expect(generateSpecs([{ file: seedFile, text: protoText }])).rejects.toThrow(/#\/paths\/__proto__: a path must start with "\/"/);
    const status = seedText.replace('"200":', '"__proto__":');
    await expect(generateSpecs([{ file: seedFile, text: status }])).rejects.toThrow(/responses\/__proto__: not a status code/);
  });

  it("a property named __proto__ stays a property in the generated data, so validation still sees it", async () => {
    const text = compact.replace('"properties":{', '"properties":{"__proto__":{"type":"integer"},');
    const files = await generateSpecs([{ file: seedFile, text }]);
    const literal = /\["__proto__"\]:\{"type":"integer"\}/;
    expect(index(files)).toMatch(literal);
    // The literal as the module evaluates it: an own key, not a prototype.
    const line = index(files).split("\n").find((l) => literal.test(l))!.trim().replace(/,$/, "");
    const value = new Function(`return ${line}`)() as { properties: Record<string, unknown> };
    expect(Object.keys(value.properties)).toContain("__proto__");
    expect(Object.getPrototypeOf(value.properties)).toBe(Object.prototype);
  });

  it("a spec's servers never reach the generated code, whatever they hold: each other one is reported", async () => {
    for (const url of ["http://relay.example", "https://user:pw@relay.example", "https://{region}.relay.example", "/v1"]) {
      const warnings: string[] = [];
      const files = await generateSpecs([{ file: seedFile, text: edited((doc) => (doc.servers = [{ url: "https://api.xiexus.cn/" }, { url }])) }], (w) => warnings.push(w));
      expect(files.map((f) => f.content).join("\n")).not.toMatch(/relay\.example|baseUrl/i);
      expect(warnings).toEqual([`${seedFile}#/servers/1/url: ${JSON.stringify(url)} is not the pinned base URL "https://api.xiexus.cn" (DEFAULT_BASE_URL, src/options.ts): a maintainer decision, not applied`]);
    }
  });

  it("warns about a path parameter the operation does not declare, naming the operation", async () => {
    const undeclared = edited((doc) => (dig(doc, "paths", "/kling/v1/videos/image2video/{task_id}", "get").parameters = []));
    const warnings: string[] = [];
    await generateSpecs([{ file: seedFile, text: undeclared }], (w) => warnings.push(w));
    expect(warnings).toContain(
      `${seedFile}#/paths/~1kling~1v1~1videos~1image2video~1{task_id}/get: the path's {task_id} has no "in: path" parameter; calls cannot fill it`,
    );
    const clean: string[] = [];
    await generateSpecs([{ file: seedFile, text: seedText }], (w) => clean.push(w));
    expect(clean.filter((w) => w.includes("has no"))).toEqual([]);
  });

  it("refuses lone surrogates and runaway nesting with their location; reads a JSON file with a byte-order mark", async () => {
    const lone = edited((doc) => (okSchema(doc).description = "\ud800 broken"));
    await expect(generateSpecs([{ file: seedFile, text: lone }])).rejects.toThrow(/schema\/description: a string that is not well-formed Unicode/);
    let deep: unknown = { type: "string" };
    for (let i = 0; i < 300; i++) deep = { type: "array", items: deep };
    const nested = edited((doc) => (dig(okSchema(doc), "properties").deep = deep));
    await expect(generateSpecs([{ file: seedFile, text: nested }])).rejects.toThrow(/nested deeper than 200 levels/);
    await expect(generateSpecs([{ file: seedFile, text: `\ufeff${seedText}` }])).resolves.toHaveLength(2);
  });
});

describe("the relay's combined file: overlays and a remembered selection", () => {
  const relay = { file: relayFile, text: relayText };
  const overlay = { file: overlayFile, text: overlayText };
  const relayDoc = JSON.parse(relayText) as { components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> } };
  /** The relay's file with `edit` applied to a copy. */
  const relayEdited = (edit: (doc: typeof relayDoc) => void): string => {
    const doc = structuredClone(relayDoc);
    edit(doc);
    return JSON.stringify(doc);
  };

  it("keeps the four Kling operations and only the components they reach", async () => {
    const files = await generateSpecs([relay], undefined, { config: selectKling });
    const { responses } = runtimeData(files);
    expect(Object.keys(responses)).toEqual([
      "/kling/v1/videos/text2video",
      "/kling/v1/videos/text2video/{task_id}",
      "/kling/v1/videos/image2video",
      "/kling/v1/videos/image2video/{task_id}",
    ]);
    const types = files.find((f) => f.name === "relay.ts")!.content;
    const components = types.slice(types.indexOf("export interface components"), types.indexOf("\n}\n", types.indexOf("export interface components")));
    const schemaNames = [...components.matchAll(/^ {8}(\w+): \{$/gm)].map((m) => m[1]);
    expect(schemaNames).toEqual(["ErrorResponse", "VideoRequest", "VideoResponse", "VideoTaskResponse", "VideoTaskMetadata", "VideoTaskError"]);
    expect(types).toContain("operations selected by openapi/spec-set.json (paths /kling/v1/videos/)");
    // Whole, the same file has the relay's other 39 operations and their schemas.
    const whole = await generateSpecs([relay]);
    expect(Object.keys(runtimeData(whole).responses).length).toBeGreaterThan(30);
    expect(whole.find((f) => f.name === "relay.ts")!.content.length).toBeGreaterThan(types.length * 5);
  }, 60_000);

  it("selects by tag and by operationId too; an entry matching no operation fails, naming it", async () => {
    const byTag = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "relay.json": { tags: ["视频生成/Kling格式"] } } }) };
    expect(Object.keys(runtimeData(await generateSpecs([relay], undefined, { config: byTag })).responses)).toHaveLength(4);
    const byId = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "relay.json": { operationIds: ["getKlingText2Video"] } } }) };
    expect(Object.keys(runtimeData(await generateSpecs([relay], undefined, { config: byId })).responses)).toEqual(["/kling/v1/videos/text2video/{task_id}"]);
    const typo = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "relay.json": { pathPrefixes: ["/kling/v1/videos/", "/kling/v2/"] } } }) };
    await expect(generateSpecs([relay], undefined, { config: typo })).rejects.toThrow(
      'openapi/spec-set.json#/select/relay.json: the path prefix "/kling/v2/" matches no operation; fix or remove it',
    );
    const gone = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "kling-image2video.json": { tags: ["x"] } } }) };
    await expect(generateSpecs([relay], undefined, { config: gone })).rejects.toThrow(/selects from kling-image2video\.json, which is not in openapi\//);
    const empty = { file: "openapi/spec-set.json", text: JSON.stringify({ select: { "relay.json": {} } }) };
    await expect(generateSpecs([relay], undefined, { config: empty })).rejects.toThrow(/an empty selection would keep nothing/);
  }, 60_000);

  it("applies the overlay: error.code is a number or a string in the types and in the runtime data", async () => {
    const plain = await generateSpecs([relay], undefined, { config: selectKling });
    const overlaid = await generateSpecs([relay], undefined, { config: selectKling, overlays: [overlay] });
    const codeOf = (files: GeneratedFile[]) => {
      const types = files.find((f) => f.name === "relay.ts")!.content;
      return types.slice(types.indexOf("VideoTaskError: {")).match(/code\?: ([^;]+);/)![1];
    };
    expect(codeOf(plain)).toBe("number");
    expect(codeOf(overlaid)).toBe("number | string");
    expect(JSON.stringify(runtimeData(overlaid).schemas)).toContain('"code":{"oneOf":[{"type":"integer"},{"type":"string"}]}');
    const hash = createHash("sha256").update(overlayText).digest("hex");
    expect(index(overlaid).split("\n")[0]).toContain(`${overlayFile} (sha256 ${hash})`);
    // Deterministic: the same inputs, the same bytes; the relay's file itself is untouched.
    expect(await generateSpecs([relay], undefined, { config: selectKling, overlays: [overlay] })).toEqual(overlaid);
    expect(relayText).toBe(await readFile(path.join(ROOT, relayFile), "utf8"));
  }, 60_000);

  it("an overlay action that matches nothing fails generation, naming the overlay and the action", async () => {
    // The relay fixed its spec: code is a string now, so the overlay's first target matches nothing.
    const fixed = relayEdited((doc) => (doc.components.schemas.VideoTaskError!.properties.code = { type: "string" }));
    await expect(generateSpecs([{ file: relayFile, text: fixed }], undefined, { config: selectKling, overlays: [overlay] })).rejects.toThrow(
      new RegExp(`^${overlayFile.replace(/[.]/g, "\\.")} action 1 \\(Drop the integer-only error\\.code\\..*\\): target .* matches nothing in relay\\.json; .*delete the overlay`),
    );
    const dir = await mkdtemp(path.join(tmp, "stale-overlay-"));
    await mkdir(path.join(dir, "openapi", "overlays"), { recursive: true });
    await writeFile(path.join(dir, relayFile), fixed);
    await writeFile(path.join(dir, overlayFile), overlayText);
    const run = await generate(dir);
    expect(run.code).toBe(1);
    expect(run.out).toContain(`generate: ${overlayFile} action 1`);
    expect(run.out).toContain("matches nothing");
  }, 60_000);

  it("refuses an overlay that is not Overlay 1.0, extends no spec of the set, or has a target that is not JSONPath", async () => {
    const doc = JSON.parse(overlayText) as Record<string, unknown> & { actions: Array<Record<string, unknown>> };
    const variant = (edit: (d: typeof doc) => void): SetExtras => {
      const copy = structuredClone(doc);
      edit(copy);
      return { overlays: [{ file: overlayFile, text: JSON.stringify(copy) }] };
    };
    const cases: Array<[string, SetExtras, RegExp]> = [
      ["version", variant((d) => (d.overlay = "2.0.0")), /not an Overlay 1\.0 document/],
      ["extends", variant((d) => (d.extends = "../kling-image2video.json")), /extends kling-image2video\.json, which is not in openapi\/; delete the overlay/],
      ["remote", variant((d) => (d.extends = "https://example.com/relay.json")), /"extends" must name the spec it fixes/],
      ["escape", variant((d) => (d.extends = "../../relay.json")), /is not a spec file in openapi\//],
      ["jsonpath", variant((d) => (d.actions[0]!.target = "$.components[")), /action 1 .*is not an RFC 9535 JSONPath/],
      ["primitive", variant((d) => (d.actions[0]!.target = "$.openapi")), /action 1 .*selects a string .*Overlay 1\.0 targets objects or arrays/],
      ["no-op", variant((d) => delete d.actions[0]!.remove), /neither "update" nor "remove: true"/],
      ["outside $ref", variant((d) => (d.actions[1]!.update = { code: { $ref: "https://example.com/x.json" } })), /points outside the document/],
    ];
    for (const [name, extras, reason] of cases) {
      await expect(generateSpecs([relay], undefined, { config: selectKling, ...extras }), name).rejects.toThrow(reason);
    }
  }, 60_000);

  it("generates each JSON request body's schema in requests, beside responses", async () => {
    const files = await generateSpecs([relay], undefined, { config: selectKling, overlays: [overlay] });
    const text = index(files);
    const requests = JSON.parse(text.slice(text.indexOf("= ", text.indexOf("export const requests")) + 2, text.lastIndexOf(";"))) as Record<string, Record<string, number>>;
    expect(Object.keys(requests)).toEqual(["/kling/v1/videos/text2video", "/kling/v1/videos/image2video"]);
    const body = runtimeData(files).schemas[requests["/kling/v1/videos/image2video"]!.post!] as { properties: Record<string, unknown> };
    expect(Object.keys(body.properties)).toEqual(expect.arrayContaining(["model", "prompt", "image", "duration", "metadata"]));
  }, 60_000);

  it("reads openapi/ with its overlays and selection; spec-set.json and overlays/ are no specs", async () => {
    expect((await readSpecs(path.join(ROOT, "openapi"))).map((s) => s.file)).toEqual([relayFile]);
    const extras = await readExtras(path.join(ROOT, "openapi"));
    expect(extras.overlays?.map((o) => o.file)).toEqual([overlayFile]);
    expect(extras.config?.file).toBe("openapi/spec-set.json");
    const empty = await mkdtemp(path.join(tmp, "no-extras-"));
    expect(await readExtras(empty)).toEqual({ overlays: [], config: undefined });
  });
});
