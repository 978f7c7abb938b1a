import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateAll, staleFiles } from "../scripts/generate.js";
import { chooseTarget, main } from "../scripts/spec-update.js";

const SPEC_NAME = "kling-image2video.json";
const KLING_PATH = "/kling/v1/videos/image2video/{task_id}";

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
  await cp(path.resolve("openapi"), specDir, { recursive: true });
  await cp(path.resolve("generated"), outDir, { recursive: true });
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
    out: (t) => { stdout += t; },
    err: (t) => { stderr += t; },
  });
  return { code, stdout, stderr };
}

async function realSpec(): Promise<Json> {
  return JSON.parse(await readFile(path.resolve("openapi", SPEC_NAME), "utf8")) as Json;
}

function okSchema(doc: Json): { properties: Record<string, Json> } {
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>>;
  return paths[KLING_PATH]?.get?.responses["200"]?.content["application/json"]?.schema as { properties: Record<string, Json> };
}

describe("spec:update", () => {
  it("replaces the spec declaring the same paths byte for byte, prints the diff and regenerates", async () => {
    const next = await realSpec();
    (okSchema(next).properties.status as { enum: string[] }).enum.push("cancelled");
    okSchema(next).properties.progress = { type: "number", description: "0..1" };
    // Odd formatting and a foreign name on purpose: the bytes must land unchanged, under our name.
    const text = JSON.stringify(next, null, 4) + "\n\n";
    const source = path.join(incoming, "openapi (3).json");
    await writeFile(source, text);

    const { code, stdout, stderr } = await update(source);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`replacing ${path.join(specDir, SPEC_NAME)} (same paths)`);
    expect(stdout).toMatch(/WARN {2}response-property-enum-value-added +response 200 application\/json body\.status/);
    expect(stdout).toMatch(/^0 breaking, 1 maybe-breaking, 1 non-breaking$/m);

    expect(await readdir(specDir)).toEqual([SPEC_NAME]);
    expect(await readFile(path.join(specDir, SPEC_NAME), "utf8")).toBe(text);
    const types = await readFile(path.join(outDir, "kling-image2video.ts"), "utf8");
    expect(types).toContain("progress?: number");
    expect(types).toContain('"cancelled"');
    const runtime = await readFile(path.join(outDir, "kling-image2video.runtime.ts"), "utf8");
    expect(runtime).toContain(createHash("sha256").update(text).digest("hex"));
    expect(await staleFiles(outDir, await generateAll(specDir))).toEqual([]);
  });

  it("refuses invalid JSON and leaves openapi/ and generated/ byte for byte unchanged", async () => {
    const before = await snapshot();
    const source = path.join(incoming, "broken.json");
    await writeFile(source, '{"openapi": "3.1.0", "paths": {');
    const { code, stdout, stderr } = await update(source);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^spec-update: refused: .*broken\.json is not JSON: .*Nothing was written to .*openapi\/\.\n$/);
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
      const { code, stderr } = await update(source, "--as", SPEC_NAME);
      expect(code, name).toBe(2);
      expect(stderr, name).toContain(source);
      expect(stderr, name).toMatch(reason);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a missing file, a bad --as and a wrong argument count", async () => {
    const before = await snapshot();
    const source = path.join(incoming, "next.json");
    await writeFile(source, JSON.stringify(await realSpec()));
    expect((await update(path.join(incoming, "absent.json"))).stderr).toMatch(/cannot read .*absent\.json: ENOENT/);
    const escape = await update(source, "--as", "../outside.json");
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/--as takes a file name ending in \.json/);
    expect((await update(source, "--as", "spec.yaml")).code).toBe(2);
    expect((await update()).code).toBe(2);
    expect((await update(source, source)).code).toBe(2);
    expect(await snapshot()).toEqual(before);
  });

  it("puts the previous spec back when the generator rejects the new one", async () => {
    const before = await snapshot();
    const next = await realSpec();
    // Valid OpenAPI for parseSpec, but Ajv (strict) refuses to compile it.
    okSchema(next).properties.url = { type: "string", minLength: "three" };
    const source = path.join(incoming, SPEC_NAME);
    await writeFile(source, JSON.stringify(next));
    const { code, stderr } = await update(source);
    expect(code).toBe(1);
    expect(stderr).toMatch(/generation failed \(exit 1\); .*kling-image2video\.json was restored/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("chooseTarget", () => {
  const quiet = { out: () => undefined, err: () => undefined };

  it("prefers --as, then the spec with the same paths, then the file's own name", async () => {
    const same = await realSpec();
    expect(await chooseTarget(specDir, same, "/x/openapi (3).json", "other.json", quiet)).toEqual({ file: path.join(specDir, "other.json"), reason: "--as" });
    expect(await chooseTarget(specDir, same, "/x/openapi (3).json", undefined, quiet)).toEqual({ file: path.join(specDir, SPEC_NAME), reason: "same paths" });

    const extra = structuredClone(same);
    (extra.paths as Json)["/kling/v1/videos/image2video"] = { post: { responses: {} } };
    expect(await chooseTarget(specDir, extra, "/x/kling-create.json", undefined, quiet)).toEqual({ file: path.join(specDir, "kling-create.json"), reason: "new" });
    expect(await chooseTarget(specDir, extra, `/x/${SPEC_NAME}`, undefined, quiet)).toEqual({ file: path.join(specDir, SPEC_NAME), reason: "same name" });
  });

  it("refuses to guess between two specs with the same paths", async () => {
    await cp(path.join(specDir, SPEC_NAME), path.join(specDir, "copy.json"));
    await expect(chooseTarget(specDir, await realSpec(), "/x/new.json", undefined, quiet)).rejects.toThrow(/2 specs .* declare the same paths .*choose one with --as/);
    expect(await chooseTarget(specDir, await realSpec(), "/x/copy.json", undefined, quiet)).toEqual({ file: path.join(specDir, "copy.json"), reason: "same paths" });
  });
});
