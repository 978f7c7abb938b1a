// scripts/generate.ts: deterministic output for whatever spec set openapi/ holds, a --check that
// names stale files, headers naming every source spec and its hash, warnings that name where a
// defect is, refusals for what cannot be generated, and 3.0 read as JSON Schema 2020-12.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAll, generateSpecs, parseSpec, readSpecs, staleFiles, writeGenerated, type GeneratedFile } from "../scripts/generate.js";
import { normalizeSchema } from "../scripts/spec-normalize.js";
import { ROOT, specFiles } from "./helpers/spec.js";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SPECS = path.join(ROOT, "test", "fixtures", "specs");
const relayLikeText = await readFile(path.join(SPECS, "relay-like.json"), "utf8");
const seedFile = "openapi/kling-image2video.json";
const seedText = await readFile(path.join(ROOT, seedFile), "utf8");

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
  const responses = text.slice(text.indexOf("= ", text.indexOf("export const responses")) + 2, text.lastIndexOf(";"));
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

  it("takes the base URL from the first spec (by file name) with servers[0], else the default, warning on a disagreement", async () => {
    const other = seedText.replace("https://api.xiexus.cn", "https://relay.example");
    const warnings: string[] = [];
    const both = await generateSpecs([{ file: "openapi/b.json", text: seedText }, { file: "openapi/a.json", text: other }], (w) => warnings.push(w));
    expect(index(both)).toContain('export const defaultBaseUrl: string = "https://relay.example";');
    expect(warnings).toContain('openapi/b.json#/servers/0/url: "https://api.xiexus.cn" differs from openapi/a.json\'s "https://relay.example", which is the default base URL');

    const none = await generateSpecs([{ file: "openapi/relay.json", text: relayLikeText }]);
    expect(index(none)).toContain('export const defaultBaseUrl: string = "https://api.xiexus.cn";');
    const relative = await generateSpecs([{ file: "openapi/a.json", text: other.replace("https://relay.example", "/v1") }]);
    expect(index(relative)).toContain('export const defaultBaseUrl: string = "https://api.xiexus.cn";');
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
    const spec = JSON.parse(seedText) as { info: { version: string } };
    spec.info.version = "1.0.1";
    await writeFile(path.join(dir, seedFile), JSON.stringify(spec, null, 2));
    await writeFile(path.join(dir, "generated", "old.runtime.ts"), "export {};\n");
    const stale = await generate(dir, "--check");
    expect(stale.code).toBe(1);
    expect(stale.out).toContain("stale: generated/kling-image2video.ts");
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
      'openapi/relay.json#/servers: "servers" is empty; the base URL comes from another spec or the default',
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

  it("a server URL the client would refuse is not the default base URL; server variables take their defaults", async () => {
    for (const url of ["http://relay.example", "https://user:pw@relay.example", "https://{region}.relay.example"]) {
      const warnings: string[] = [];
      const files = await generateSpecs([{ file: seedFile, text: edited((doc) => (doc.servers = [{ url }])) }], (w) => warnings.push(w));
      expect(index(files)).toContain('export const defaultBaseUrl: string = "https://api.xiexus.cn";');
      expect(warnings.join("\n")).toMatch(/servers\/0\/url: .* cannot be the client's base URL/);
    }
    const regional = edited((doc) => (doc.servers = [{ url: "https://{region}.relay.example", variables: { region: { default: "cn" } } }]));
    expect(index(await generateSpecs([{ file: seedFile, text: regional }]))).toContain('defaultBaseUrl: string = "https://cn.relay.example"');
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
