// scripts/spec-update.ts: JSON or YAML in, pretty JSON stored under --name (default: the input's
// basename), the whole spec set generated before anything is written, warnings and the API diff
// printed, and nothing touched when the spec cannot be generated.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateAll, staleFiles, writeGenerated } from "../scripts/generate.js";
import { main, targetName } from "../scripts/spec-update.js";
import { ROOT } from "./helpers/spec.js";

const SPEC_NAME = "kling-image2video.json";
const KLING_PATH = "/kling/v1/videos/image2video/{task_id}";
const RELAY_LIKE = path.join(ROOT, "test", "fixtures", "specs", "relay-like.json");
const RELAY_LIKE_YAML = path.join(ROOT, "test", "fixtures", "specs", "relay-like.yaml");

type Json = Record<string, unknown>;

let root: string;
let specDir: string;
let outDir: string;
let incoming: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "spec-update-"));
  specDir = path.join(root, "openapi");
  outDir = path.join(root, "generated");
  incoming = path.join(root, "incoming");
  // The seed spec alone, whatever else openapi/ holds: these tests are about the flow, not the set.
  await mkdir(specDir);
  await cp(path.join(ROOT, "openapi", SPEC_NAME), path.join(specDir, SPEC_NAME));
  await writeGenerated(outDir, await generateAll(specDir));
  await mkdir(incoming);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file under the temp project, by relative path: compared before and after a refusal. */
async function snapshot(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const dir of [specDir, outDir]) {
    for (const name of (await readdir(dir)).sort()) {
      files.set(path.join(path.basename(dir), name), await readFile(path.join(dir, name)));
    }
  }
  return files;
}

async function update(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main([...argv, "--spec-dir", specDir, "--out-dir", outDir, "--no-test"], {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

async function realSpec(): Promise<Json> {
  return JSON.parse(await readFile(path.join(ROOT, "openapi", SPEC_NAME), "utf8")) as Json;
}

function okSchema(doc: Json): { properties: Record<string, Json> } {
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>>;
  return paths[KLING_PATH]?.get?.responses["200"]?.content["application/json"]?.schema as { properties: Record<string, Json> };
}

describe("spec:update", () => {
  it("replaces the spec of the same name, stores pretty JSON, prints the diff and regenerates", async () => {
    const next = await realSpec();
    (okSchema(next).properties.status as { enum: string[] }).enum.push("cancelled");
    okSchema(next).properties.progress = { type: "number", description: "0..1" };
    const source = path.join(incoming, SPEC_NAME);
    await writeFile(source, JSON.stringify(next, null, 4) + "\n\n"); // odd formatting on purpose

    const { code, stdout, stderr } = await update(source);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`replacing ${path.join(specDir, SPEC_NAME)}`);
    expect(stdout).toMatch(/WARN {2}response-property-enum-value-added +response 200 application\/json body\.status/);
    expect(stdout).toMatch(/^0 breaking, 1 maybe-breaking, 1 non-breaking$/m);

    expect(await readdir(specDir)).toEqual([SPEC_NAME]);
    expect(await readFile(path.join(specDir, SPEC_NAME), "utf8")).toBe(JSON.stringify(next, null, 2) + "\n");
    const types = await readFile(path.join(outDir, "kling-image2video.ts"), "utf8");
    expect(types).toContain("progress?: number");
    expect(types).toContain('"cancelled"');
    expect(await readFile(path.join(outDir, "index.ts"), "utf8")).toContain('"cancelled"');
    expect(await staleFiles(outDir, await generateAll(specDir))).toEqual([]);
  });

  it("adds a 3.0 combined spec beside the seed's, from YAML, with warnings naming each defect's location", async () => {
    await rm(path.join(specDir, "relay.json"), { force: true }); // in case openapi/ holds the real one
    const before = await readdir(specDir);
    const { code, stdout, stderr } = await update(RELAY_LIKE_YAML, "--name", "relay");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`new spec file: ${path.join(specDir, "relay.json")}`);
    expect(stdout).toMatch(/^POST \/kling\/v1\/videos\/image2video \(createKlingImage2Video\)\n +INFO +operation-added/m);
    expect(stdout).toContain('warning: openapi/relay.json#/paths/~1v1beta~1models~1{model}:generateContent~1/post: operationId "geminiRelayV1Beta" is already used');
    expect(stdout).toContain("warning: openapi/relay.json#/paths/~1v1~1images~1edits~1/post: no operationId");
    expect(stdout).toContain('warning: openapi/relay.json#/servers: "servers" is empty');
    expect(stdout).toMatch(/warning: openapi\/relay\.json#\/paths\/.*\/format: unknown format "unix-time"/);

    expect((await readdir(specDir)).sort()).toEqual([...new Set([...before, "relay.json"])].sort());
    // YAML converted: what is stored is the JSON twin, byte for byte.
    expect(await readFile(path.join(specDir, "relay.json"), "utf8")).toBe(await readFile(RELAY_LIKE, "utf8"));
    expect(await readdir(outDir)).toEqual(expect.arrayContaining(["index.ts", "kling-image2video.ts", "relay.ts"]));
    const index = await readFile(path.join(outDir, "index.ts"), "utf8");
    expect(index).toContain('"/kling/v1/videos/text2video/{task_id}": {');
    expect(index).toContain('export const defaultBaseUrl: string = "https://api.xiexus.cn";');
    expect(await staleFiles(outDir, await generateAll(specDir))).toEqual([]);
  });

  it("refuses an operation another spec defines differently, naming both files, and writes nothing", async () => {
    const before = await snapshot();
    const relay = JSON.parse(await readFile(RELAY_LIKE, "utf8")) as { components: { schemas: Record<string, { properties: Record<string, Json> }> } };
    relay.components.schemas.VideoTaskMetadata!.properties.fps = { type: "string" };
    const source = path.join(incoming, "relay.json");
    await writeFile(source, JSON.stringify(relay));
    const { code, stdout, stderr } = await update(source);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`GET ${KLING_PATH} is defined by openapi/${SPEC_NAME} and openapi/relay.json with different meanings`);
    expect(stderr).toContain("/metadata/properties/fps/type");
    expect(stderr).toContain("Nothing was written");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses what cannot be generated (a $ref to nowhere, an external $ref) naming the location", async () => {
    const before = await snapshot();
    const relay = JSON.parse(await readFile(RELAY_LIKE, "utf8")) as { components: { schemas: Record<string, Json> } };
    relay.components.schemas.Model = { $ref: "#/components/schemas/Nowhere" };
    await writeFile(path.join(incoming, "relay.json"), JSON.stringify(relay));
    const broken = await update(path.join(incoming, "relay.json"));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('openapi/relay.json#/components/schemas/Model/$ref: "#/components/schemas/Nowhere" points nowhere');

    relay.components.schemas.Model = { $ref: "other.json#/Model" };
    await writeFile(path.join(incoming, "relay.json"), JSON.stringify(relay));
    const external = await update(path.join(incoming, "relay.json"));
    expect(external.code).toBe(1);
    expect(external.stderr).toContain('openapi/relay.json#/components/schemas/Model/$ref: "other.json#/Model" points outside the document');
    expect(await snapshot()).toEqual(before);
  });

  it("refuses invalid JSON or YAML and leaves openapi/ and generated/ byte for byte unchanged", async () => {
    const before = await snapshot();
    await writeFile(path.join(incoming, "broken.json"), '{"openapi": "3.1.0", "paths": {');
    const json = await update(path.join(incoming, "broken.json"));
    expect(json.code).toBe(2);
    expect(json.stdout).toBe("");
    expect(json.stderr).toMatch(/^spec-update: refused: .*broken\.json is not JSON: .*Nothing was written to .*openapi\/\.\n$/);
    await writeFile(path.join(incoming, "broken.yaml"), "openapi: 3.0.1\npaths: {\n  a: [\n");
    const yaml = await update(path.join(incoming, "broken.yaml"));
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/broken\.yaml is neither JSON nor YAML/);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses documents that are not OpenAPI 3.x, or have no paths, and writes nothing", async () => {
    const before = await snapshot();
    const cases: Array<[string, unknown, RegExp]> = [
      ["swagger.json", { swagger: "2.0", info: { title: "x", version: "1" }, paths: {} }, /is not an OpenAPI 3\.0\/3\.1 document: "openapi" is undefined/],
      ["list.json", [1, 2, 3], /the top level is not an object/],
      ["no-paths.json", { openapi: "3.1.0", info: { title: "x", version: "1" } }, /has no "paths" object/],
    ];
    for (const [name, doc, reason] of cases) {
      const source = path.join(incoming, name);
      await writeFile(source, JSON.stringify(doc));
      const { code, stderr } = await update(source, "--name", SPEC_NAME);
      expect(code, name).toBe(2);
      expect(stderr, name).toContain(source);
      expect(stderr, name).toMatch(reason);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a missing file, a bad --name and a wrong argument count", async () => {
    const before = await snapshot();
    const source = path.join(incoming, "next.json");
    await writeFile(source, JSON.stringify(await realSpec()));
    expect((await update(path.join(incoming, "absent.json"))).stderr).toMatch(/cannot read .*absent\.json: ENOENT/);
    const escape = await update(source, "--name", "../outside.json");
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/--name takes a file name without directories/);
    expect((await update(source, "--name", "index")).code).toBe(1); // generated/index.ts is the merged module
    expect((await update()).code).toBe(2);
    expect((await update(source, source)).code).toBe(2);
    expect(await snapshot()).toEqual(before);
  });
});

describe("targetName", () => {
  it("is --name or the input's basename, always .json", () => {
    expect(targetName("/x/relay.json")).toBe("relay.json");
    expect(targetName("/x/relay.yaml")).toBe("relay.json");
    expect(targetName("/x/openapi (3).yml")).toBe("openapi (3).json");
    expect(targetName("/x/openapi (3).json", "kling-image2video")).toBe("kling-image2video.json");
    expect(targetName("/x/a.json", "relay.yaml")).toBe("relay.json");
    expect(() => targetName("/x/a.json", "sub/relay.json")).toThrow(/without directories/);
    expect(() => targetName("/x/a.json", ".hidden.json")).toThrow(/without directories/);
  });
});
