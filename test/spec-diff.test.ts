import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffSpecs, formatChanges, main, summarize } from "../scripts/spec-diff.js";
import type { ChangeLevel, SpecChange } from "../scripts/spec-diff.js";

type Json = Record<string, unknown>;

/** A minimal valid OpenAPI 3.1 document: one GET with a `$ref` response, one POST with a body. */
function baseDoc() {
  return {
    openapi: "3.1.0",
    info: { title: "fixture", version: "1.0.0" },
    servers: [{ url: "https://api.example.test" }],
    paths: {
      "/items/{id}": {
        get: {
          operationId: "getItem",
          parameters: [
            { name: "id", in: "path", required: true, schema: { type: "string" } } as Json,
            { name: "limit", in: "query", required: false, schema: { type: "integer" } } as Json,
          ],
          responses: {
            "200": { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } } },
          } as Record<string, Json>,
        } as Json,
      },
      "/items": {
        post: {
          operationId: "createItem",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/NewItem" } } },
          },
          responses: { "201": { description: "created" } },
        },
      } as Record<string, Json>,
    } as Record<string, Record<string, Json>>,
    components: {
      schemas: {
        Item: {
          type: "object",
          required: ["id", "status"],
          properties: {
            id: { type: "string" },
            status: { $ref: "#/components/schemas/Status" },
            note: { type: ["string", "null"] },
            size: { type: "integer" },
            children: { type: "array", items: { $ref: "#/components/schemas/Item" } },
          } as Record<string, Json>,
        },
        Status: { type: "string", enum: ["queued", "done"] },
        NewItem: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string" },
            kind: { type: "string", enum: ["a", "b"] },
            weight: { type: "integer" },
          } as Record<string, Json>,
        },
      },
    },
  };
}

type Doc = ReturnType<typeof baseDoc>;

function changed(mutate: (doc: Doc) => void): SpecChange[] {
  const doc = baseDoc();
  mutate(doc);
  return diffSpecs(baseDoc(), doc);
}

/** Asserts the mutation yields exactly one change, of this id and level, and returns it. */
function expectOne(mutate: (doc: Doc) => void, change: string, level: ChangeLevel): SpecChange {
  const changes = changed(mutate);
  expect(changes.map((c) => `${c.level} ${c.change}`)).toEqual([`${level} ${change}`]);
  return changes[0] as SpecChange;
}

const getOp = (doc: Doc) => doc.paths["/items/{id}"]?.get as { parameters: Json[]; responses: Record<string, Json>; operationId: string };
const item = (doc: Doc) => doc.components.schemas.Item;
const newItem = (doc: Doc) => doc.components.schemas.NewItem;

const REPO_SPEC = path.resolve("openapi/kling-image2video.json");
const KLING_PATH = "/kling/v1/videos/image2video/{task_id}";

describe("diffSpecs: operations and servers", () => {
  it("finds nothing between identical documents", () => {
    expect(diffSpecs(baseDoc(), baseDoc())).toEqual([]);
    expect(formatChanges([])).toBe("no changes\n0 breaking, 0 maybe-breaking, 0 non-breaking\n");
  });

  it("classes a removed operation as breaking and a new one as non-breaking", () => {
    const removed = expectOne((d) => delete d.paths["/items"], "operation-removed", "breaking");
    expect(removed).toMatchObject({ operation: "POST /items (createItem)", path: "/items", method: "post", location: "operation" });
    const added = expectOne((d) => { d.paths["/things"] = { get: { responses: {} } }; }, "operation-added", "non-breaking");
    expect(added.operation).toBe("GET /things");
  });

  it("treats a renamed path parameter as a different operation", () => {
    const changes = changed((d) => {
      d.paths["/items/{itemId}"] = d.paths["/items/{id}"] as Record<string, Json>;
      delete d.paths["/items/{id}"];
    });
    expect(changes.map((c) => `${c.level} ${c.change} ${c.path}`)).toEqual([
      "breaking operation-removed /items/{id}",
      "non-breaking operation-added /items/{itemId}",
    ]);
  });

  it("flags a changed operationId as maybe-breaking", () => {
    expectOne((d) => { getOp(d).operationId = "fetchItem"; }, "operation-id-changed", "maybe-breaking");
  });

  it("flags server base URL changes as maybe-breaking", () => {
    const moved = expectOne((d) => { d.servers = [{ url: "https://api2.example.test" }]; }, "default-server-changed", "maybe-breaking");
    expect(moved).toMatchObject({ operation: "(document)", path: "", method: "" });
    expectOne((d) => { d.servers.push({ url: "https://eu.example.test" }); }, "server-added", "maybe-breaking");
    const doc = baseDoc();
    doc.servers.push({ url: "https://eu.example.test" });
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["maybe-breaking server-removed"]);
  });
});

describe("diffSpecs: parameters", () => {
  it("classes a new required parameter as breaking and a new optional one as non-breaking", () => {
    const required = expectOne(
      (d) => { getOp(d).parameters.push({ name: "X-Tenant", in: "header", required: true, schema: { type: "string" } }); },
      "request-parameter-added", "breaking",
    );
    expect(required.location).toBe("parameter header.X-Tenant");
    expectOne((d) => { getOp(d).parameters.push({ name: "verbose", in: "query", schema: { type: "boolean" } }); }, "request-parameter-added", "non-breaking");
  });

  it("classes a removed parameter as maybe-breaking", () => {
    expectOne((d) => { getOp(d).parameters.pop(); }, "request-parameter-removed", "maybe-breaking");
  });

  it("classes required-ness changes", () => {
    expectOne((d) => { (getOp(d).parameters[1] as Json).required = true; }, "request-parameter-became-required", "breaking");
    const doc = baseDoc();
    (getOp(doc).parameters[1] as Json).required = true;
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["non-breaking request-parameter-became-optional"]);
  });

  it("classes parameter type changes: changed and narrowed are breaking, widened is not", () => {
    const setType = (type: unknown) => (d: Doc) => { (getOp(d).parameters[1] as Json).schema = { type }; };
    const changedType = expectOne(setType("string"), "request-parameter-type-changed", "breaking");
    expect(changedType.detail).toBe("type changed from integer to string");
    expectOne(setType("number"), "request-parameter-type-widened", "non-breaking");
    expectOne(setType(["integer", "null"]), "request-parameter-type-widened", "non-breaking");
    const doc = baseDoc();
    (getOp(doc).parameters[1] as Json).schema = { type: "number" };
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["breaking request-parameter-type-narrowed"]);
  });

  it("reads parameters through $ref into components", () => {
    const withRef = (required: boolean) => {
      const doc = baseDoc();
      (doc.components as Json).parameters = { Page: { name: "page", in: "query", required, schema: { type: "integer" } } };
      getOp(doc).parameters.push({ $ref: "#/components/parameters/Page" });
      return doc;
    };
    expect(diffSpecs(withRef(false), withRef(true)).map((c) => `${c.level} ${c.change} ${c.location}`)).toEqual([
      "breaking request-parameter-became-required parameter query.page",
    ]);
  });
});

describe("diffSpecs: responses", () => {
  it("classes removed and added status codes as maybe-breaking", () => {
    expectOne((d) => { delete getOp(d).responses["200"]; }, "response-status-removed", "maybe-breaking");
    const added = expectOne((d) => { getOp(d).responses["404"] = { description: "missing" }; }, "response-status-added", "maybe-breaking");
    expect(added.location).toBe("response 404");
  });

  it("classes a removed response property as breaking, following $ref into components", () => {
    const removed = expectOne((d) => { delete item(d).properties.size; }, "response-property-removed", "breaking");
    expect(removed).toMatchObject({
      operation: "GET /items/{id} (getItem)",
      location: "response 200 application/json body.size",
      detail: 'property "size" removed',
    });
  });

  it("classes response type changes: changed, narrowed and widened are all breaking", () => {
    const c = expectOne((d) => { item(d).properties.size = { type: "string" }; }, "response-property-type-changed", "breaking");
    expect(c.detail).toBe("type changed from integer to string");
    const narrowed = expectOne((d) => { item(d).properties.note = { type: "string" }; }, "response-property-type-narrowed", "breaking");
    expect(narrowed.detail).toBe("type narrowed from string|null to string");
    expectOne((d) => { item(d).properties.size = { type: "number" }; }, "response-property-type-widened", "breaking");
  });

  it("classes adding null to a 3.1 response type array (and 3.0 nullable) as breaking", () => {
    const nulled = expectOne((d) => { item(d).properties.size = { type: ["integer", "null"] }; }, "response-property-type-widened", "breaking");
    expect(nulled.detail).toBe("type widened from integer to integer|null");
    expectOne((d) => { item(d).properties.size = { type: "integer", nullable: true }; }, "response-property-type-widened", "breaking");
    expect(changed((d) => { item(d).properties.note = { type: "string", nullable: true }; })).toEqual([]);
  });

  it("classes required-ness changes in responses", () => {
    expectOne((d) => { item(d).required = ["id"]; }, "response-property-became-optional", "breaking");
    expectOne((d) => { item(d).required.push("size"); }, "response-property-became-required", "non-breaking");
  });

  it("classes new response properties, optional or required, as non-breaking", () => {
    const optional = expectOne((d) => { item(d).properties.progress = { type: "number" }; }, "response-property-added", "non-breaking");
    expect(optional.detail).toBe('optional property "progress" added');
    expectOne((d) => {
      item(d).properties.progress = { type: "number" };
      item(d).required.push("progress");
    }, "response-property-added", "non-breaking");
  });

  it("classes response enum values: added is maybe-breaking, removed is non-breaking", () => {
    const added = expectOne((d) => { d.components.schemas.Status.enum.push("failed"); }, "response-property-enum-value-added", "maybe-breaking");
    expect(added).toMatchObject({ location: "response 200 application/json body.status", detail: 'enum value "failed" added' });
    expectOne((d) => { d.components.schemas.Status.enum.pop(); }, "response-property-enum-value-removed", "non-breaking");
  });

  it("finds changes inside array items and terminates on recursive schemas", () => {
    // Item.children is an array of Item: the same change is reached once, at the top level only.
    const changes = changed((d) => { delete item(d).properties.note; });
    expect(changes.map((c) => c.location)).toEqual(["response 200 application/json body.note"]);
    const nested = expectOne((d) => { item(d).properties.children = { type: "array", items: { type: "string" } }; }, "response-property-type-changed", "breaking");
    expect(nested.location).toBe("response 200 application/json body.children[]");
  });

  it("classes a new response variant as breaking and a removed one as non-breaking", () => {
    const withVariants = (list: Json[]) => {
      const doc = baseDoc();
      item(doc).properties.size = { oneOf: list };
      return doc;
    };
    const one = withVariants([{ type: "integer" }]);
    const two = withVariants([{ type: "integer" }, { $ref: "#/components/schemas/Status" }]);
    expect(diffSpecs(one, two).map((c) => `${c.level} ${c.change}`)).toEqual(["breaking response-property-variant-added"]);
    expect(diffSpecs(two, one).map((c) => `${c.level} ${c.change}`)).toEqual(["non-breaking response-property-variant-removed"]);
  });
});

describe("diffSpecs: request bodies", () => {
  it("classes new request properties by required-ness", () => {
    expectOne((d) => {
      newItem(d).properties.owner = { type: "string" };
      newItem(d).required.push("owner");
    }, "request-property-added", "breaking");
    const optional = expectOne((d) => { newItem(d).properties.owner = { type: "string" }; }, "request-property-added", "non-breaking");
    expect(optional).toMatchObject({ operation: "POST /items (createItem)", location: "request application/json body.owner" });
    expectOne((d) => { delete newItem(d).properties.weight; }, "request-property-removed", "maybe-breaking");
  });

  it("mirrors the response rules for request enums, types and required-ness", () => {
    expectOne((d) => { newItem(d).properties.kind = { type: "string", enum: ["a"] }; }, "request-property-enum-value-removed", "breaking");
    expectOne((d) => { newItem(d).properties.kind = { type: "string", enum: ["a", "b", "c"] }; }, "request-property-enum-value-added", "non-breaking");
    expectOne((d) => { newItem(d).properties.weight = { type: "number" }; }, "request-property-type-widened", "non-breaking");
    expectOne((d) => { newItem(d).properties.weight = { type: "string" }; }, "request-property-type-changed", "breaking");
    expectOne((d) => { newItem(d).required.push("kind"); }, "request-property-became-required", "breaking");
  });

  it("classes request body presence and media types", () => {
    const post = (d: Doc) => d.paths["/items"]?.post as Json & { requestBody: Json & { content: Json } };
    expectOne((d) => { post(d).requestBody.required = false; }, "request-body-became-optional", "non-breaking");
    expectOne((d) => { delete (post(d) as Json).requestBody; }, "request-body-removed", "maybe-breaking");
    expect(changed((d) => { post(d).requestBody.content = { "application/x-www-form-urlencoded": {} }; }).map((c) => `${c.level} ${c.change}`)).toEqual([
      "breaking request-body-media-type-removed",
      "non-breaking request-body-media-type-added",
    ]);
    const doc = baseDoc();
    delete (post(doc) as Json).requestBody;
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["breaking request-body-added"]);
    expect(changed((d) => { (getOp(d).responses["200"] as { content: Json }).content = { "text/plain": {} }; }).map((c) => `${c.level} ${c.change}`)).toEqual([
      "breaking response-media-type-removed",
      "maybe-breaking response-media-type-added",
    ]);
  });

  it("ignores readOnly properties on the request side", () => {
    expect(changed((d) => { newItem(d).properties.created = { type: "string", readOnly: true }; newItem(d).required.push("created"); })).toEqual([]);
  });
});

describe("diffSpecs on the real spec", () => {
  let real: Json;
  beforeAll(async () => {
    real = JSON.parse(await readFile(REPO_SPEC, "utf8")) as Json;
  });

  const response = (doc: Json, status: string) => {
    const op = (doc.paths as Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: Json }> }> }>>)[KLING_PATH]?.get;
    return op?.responses[status]?.content["application/json"]?.schema as { properties: Record<string, Json> };
  };

  it("finds no change against itself and classes a realistic update", () => {
    expect(diffSpecs(real, structuredClone(real))).toEqual([]);
    const next = structuredClone(real);
    const ok = response(next, "200");
    (ok.properties.status as { enum: string[] }).enum.push("cancelled");
    delete ok.properties.url;
    ok.properties.progress = { type: "number" };
    const notFound = response(next, "404").properties.error as { properties: Record<string, Json> };
    notFound.properties.param = { type: "string" };
    const changes = diffSpecs(real, next);
    expect(changes.map((c) => `${c.level} ${c.change} ${c.location}`)).toEqual([
      "maybe-breaking response-property-enum-value-added response 200 application/json body.status",
      "breaking response-property-removed response 200 application/json body.url",
      "non-breaking response-property-added response 200 application/json body.progress",
      "breaking response-property-type-narrowed response 404 application/json body.error.param",
    ]);
    expect(changes.every((c) => c.operation === `GET ${KLING_PATH} (getklingimage2video)`)).toBe(true);
    const text = formatChanges(changes);
    expect(text.split("\n")[0]).toBe(`GET ${KLING_PATH} (getklingimage2video)`);
    expect(text).toMatch(/^ {2}ERR {3}response-property-removed +response 200 application\/json body\.url +property "url" removed$/m);
    expect(text.trimEnd().split("\n").at(-1)).toBe("2 breaking, 1 maybe-breaking, 1 non-breaking");
    expect(summarize(changes)).toEqual({ breaking: 2, "maybe-breaking": 1, "non-breaking": 1, total: 4 });
  });
});

describe("spec-diff CLI", () => {
  let dir: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "spec-diff-"));
    const breaking = baseDoc();
    delete item(breaking).properties.size;
    const maybe = baseDoc();
    maybe.components.schemas.Status.enum.push("failed");
    const harmless = baseDoc();
    item(harmless).properties.progress = { type: "number" };
    const inputs: Record<string, string> = {
      "old.json": JSON.stringify(baseDoc()),
      "breaking.json": JSON.stringify(breaking),
      "maybe.json": JSON.stringify(maybe),
      "harmless.json": JSON.stringify(harmless),
      "not-json.json": "openapi: 3.1.0\npaths: {}\n",
      "swagger.json": JSON.stringify({ swagger: "2.0", info: { title: "x", version: "1" }, paths: {} }),
      "no-paths.json": JSON.stringify({ openapi: "3.1.0", info: { title: "x", version: "1" } }),
    };
    for (const [name, text] of Object.entries(inputs)) {
      files[name] = path.join(dir, name);
      await writeFile(path.join(dir, name), text);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const code = await main(argv, { out: (t) => { stdout += t; }, err: (t) => { stderr += t; } });
    return { code, stdout, stderr };
  }
  const f = (name: string) => files[name] as string;

  it("prints one JSON document with --json and nothing else", async () => {
    const { code, stdout, stderr } = await cli(f("old.json"), f("breaking.json"), "--json");
    expect(code).toBe(0);
    expect(stderr).toBe("");
    const doc = JSON.parse(stdout) as { changes: Json[]; summary: Json };
    expect(Object.keys(doc)).toEqual(["changes", "summary"]);
    expect(doc.changes).toEqual([{
      level: "breaking",
      operation: "GET /items/{id} (getItem)",
      path: "/items/{id}",
      method: "get",
      location: "response 200 application/json body.size",
      change: "response-property-removed",
      detail: 'property "size" removed',
    }]);
    expect(doc.summary).toEqual({ breaking: 1, "maybe-breaking": 0, "non-breaking": 0, total: 1 });
  });

  it("exits 1 only when --fail-on's threshold is reached", async () => {
    expect((await cli(f("old.json"), f("breaking.json"), "--fail-on", "breaking")).code).toBe(1);
    expect((await cli(f("old.json"), f("maybe.json"), "--fail-on", "breaking")).code).toBe(0);
    expect((await cli(f("old.json"), f("maybe.json"), "--fail-on", "maybe-breaking")).code).toBe(1);
    expect((await cli(f("old.json"), f("harmless.json"), "--fail-on", "maybe-breaking")).code).toBe(0);
    const plain = await cli(f("old.json"), f("maybe.json"));
    expect(plain.code).toBe(0);
    expect(plain.stdout.trimEnd().split("\n").at(-1)).toBe("0 breaking, 1 maybe-breaking, 0 non-breaking");
  });

  it("refuses non-JSON and non-OpenAPI input with one line naming the file (exit 2)", async () => {
    const cases: Array<[string, RegExp]> = [
      ["not-json.json", /is not JSON/],
      ["swagger.json", /is not an OpenAPI 3\.0\/3\.1 document/],
      ["no-paths.json", /has no "paths" object/],
      ["missing.json", /cannot read .*missing\.json: ENOENT/],
    ];
    for (const [name, reason] of cases) {
      const file = path.join(dir, name);
      const { code, stdout, stderr } = await cli(f("old.json"), file);
      expect(code, name).toBe(2);
      expect(stdout, name).toBe("");
      expect(stderr, name).toContain(file);
      expect(stderr, name).toMatch(reason);
      expect(stderr.trimEnd().split("\n"), name).toHaveLength(1);
    }
  });

  it("exits 2 on usage errors", async () => {
    expect((await cli(f("old.json"))).code).toBe(2);
    expect((await cli(f("old.json"), f("old.json"), f("old.json"))).code).toBe(2);
    const badLevel = await cli(f("old.json"), f("old.json"), "--fail-on", "info");
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toMatch(/--fail-on must be/);
    expect((await cli(f("old.json"), f("old.json"), "--frobnicate")).code).toBe(2);
  });

  it("runs as a real process: --json --fail-on breaking exits 1 with pure JSON on stdout", async () => {
    const run = promisify(execFile);
    const script = path.resolve("scripts/spec-diff.ts");
    const failing = run(process.execPath, ["--import", "tsx", script, f("old.json"), f("breaking.json"), "--json", "--fail-on", "breaking"]);
    const passing = run(process.execPath, ["--import", "tsx", script, f("old.json"), f("harmless.json"), "--fail-on", "breaking"]);
    const [failed, passed] = await Promise.allSettled([failing, passing]);
    expect(failed.status).toBe("rejected");
    const error = (failed as PromiseRejectedResult).reason as { code: number; stdout: string };
    expect(error.code).toBe(1);
    expect((JSON.parse(error.stdout) as { summary: Json }).summary).toMatchObject({ breaking: 1 });
    expect(passed.status).toBe("fulfilled");
    expect((passed as PromiseFulfilledResult<{ stdout: string }>).value.stdout).toMatch(/^0 breaking, 0 maybe-breaking, 1 non-breaking$/m);
  });
});
