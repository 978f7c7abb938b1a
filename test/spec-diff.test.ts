import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyOverlaysTolerant, diffSpecs, FOLD_NON_BREAKING_AFTER, formatChanges, formatStaleActions, main, RULES, summarize } from "../scripts/spec-diff.js";
import { parseOverlay } from "../scripts/spec-set.js";
import type { ChangeLevel, SpecChange } from "../scripts/spec-diff.js";
import { main as oasdiffMain, score } from "../scripts/spec-diff-oasdiff.js";
import { emitterFor } from "../scripts/spec-diff/core.js";
import { stringify as stringifyYaml } from "yaml";

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

/** The relay's combined file as published: 39 paths, the Kling task schemas shared by both task routes. */
const REPO_SPEC = path.resolve("openapi/relay.json");
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

  /** The GET moved to `/items/{itemId}`, its path parameter renamed with it; `edit` changes the operation. */
  const renamed = (edit: (op: ReturnType<typeof getOp>) => void = () => undefined) => {
    const doc = baseDoc();
    const op = getOp(doc);
    (op.parameters[0] as Json).name = "itemId";
    edit(op);
    doc.paths["/items/{itemId}"] = doc.paths["/items/{id}"] as Record<string, Json>;
    delete doc.paths["/items/{id}"];
    return doc;
  };

  it("matches an operation whose path parameter was renamed, and reports the rename as breaking", () => {
    // The template is a key of the generated `paths`: callers passing "/items/{id}" stop compiling.
    const changes = diffSpecs(baseDoc(), renamed());
    expect(changes.map((c) => `${c.level} ${c.change} ${c.path} ${c.location}`)).toEqual([
      "breaking path-parameter-renamed /items/{itemId} parameter path.itemId",
    ]);
    expect(changes[0]?.detail).toBe('path parameter "id" renamed to "itemId": /items/{id} is now /items/{itemId}');
  });

  it("still compares what a renamed path parameter and its operation carry", () => {
    const before = baseDoc();
    Object.assign(getOp(before).parameters[0] as Json, { deprecated: true, "x-sunset": "2030-01-01", schema: { type: "string", default: "2" } });
    const after = renamed((op) => {
      Object.assign(op.parameters[0] as Json, { deprecated: true, schema: { type: "string", default: "1" } });
      op.parameters.pop();
    });
    expect(levels(diffSpecs(before, after))).toEqual([
      "breaking path-parameter-renamed", "breaking request-parameter-default-value-changed",
      "breaking request-parameter-sunset-deleted", "maybe-breaking request-parameter-removed",
    ]);
  });

  it("pairs templates that differ only in names once per document; a second one of the same shape is its own operation", () => {
    // OpenAPI forbids two templates of one shape; the spec may still have them: nothing is paired twice.
    const twice = baseDoc();
    twice.paths["/items/{name}"] = { get: { responses: {} } };
    expect(diffSpecs(twice, twice)).toEqual([]);
    expect(diffSpecs(twice, baseDoc()).map((c) => `${c.level} ${c.change} ${c.path}`)).toEqual(["breaking operation-removed /items/{name}"]);
    expect(diffSpecs(baseDoc(), twice).map((c) => `${c.level} ${c.change} ${c.path}`)).toEqual(["non-breaking operation-added /items/{name}"]);
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
      "new-required-request-parameter", "breaking",
    );
    expect(required.location).toBe("parameter header.X-Tenant");
    expectOne((d) => { getOp(d).parameters.push({ name: "verbose", in: "query", schema: { type: "boolean" } }); }, "new-optional-request-parameter", "non-breaking");
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

  it("classes parameter type changes: changed and narrowed are breaking, widened or nullable is not", () => {
    const setType = (type: unknown) => (d: Doc) => { (getOp(d).parameters[1] as Json).schema = { type }; };
    const changedType = expectOne(setType("string"), "request-parameter-type-changed", "breaking");
    expect(changedType.detail).toBe("type changed from integer to string");
    expectOne(setType("number"), "request-parameter-type-generalized", "non-breaking");
    expectOne(setType(["integer", "null"]), "request-parameter-became-nullable", "non-breaking");
    const doc = baseDoc();
    (getOp(doc).parameters[1] as Json).schema = { type: "number" };
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["breaking request-parameter-type-specialized"]);
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
  it("classes status codes: a success removed breaks, an error removed does not, any added is maybe-breaking", () => {
    expectOne((d) => { delete getOp(d).responses["200"]; }, "response-success-status-removed", "breaking");
    const added = expectOne((d) => { getOp(d).responses["404"] = { description: "missing" }; }, "response-non-success-status-added", "maybe-breaking");
    expect(added.location).toBe("response 404");
    const withError = baseDoc();
    getOp(withError).responses["404"] = { description: "missing" };
    expect(diffSpecs(withError, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["non-breaking response-non-success-status-removed"]);
    expectOne((d) => { getOp(d).responses["202"] = { description: "accepted" }; }, "response-success-status-added", "maybe-breaking");
  });

  it("classes a removed response property as breaking, following $ref into components", () => {
    const removed = expectOne((d) => { delete item(d).properties.size; }, "response-property-removed", "breaking");
    expect(removed).toMatchObject({
      operation: "GET /items/{id} (getItem)",
      location: "response 200 application/json body.size",
      detail: 'property "size" removed',
    });
  });

  it("classes response type changes: changed and widened are breaking, narrowed is not", () => {
    const c = expectOne((d) => { item(d).properties.size = { type: "string" }; }, "response-property-type-changed", "breaking");
    expect(c.detail).toBe("type changed from integer to string");
    // Every value of the narrower type still fits the code written for the old one.
    const narrowed = expectOne((d) => { item(d).properties.note = { type: "string" }; }, "response-property-became-not-nullable", "non-breaking");
    expect(narrowed.detail).toBe("type narrowed from string|null to string");
    expectOne((d) => { item(d).properties.size = { type: "number" }; }, "response-property-type-generalized", "breaking");
    const doc = baseDoc();
    item(doc).properties.size = { type: "number" };
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["non-breaking response-property-type-specialized"]);
  });

  it("classes adding null to a 3.1 response type array (and 3.0 nullable) as breaking", () => {
    const nulled = expectOne((d) => { item(d).properties.size = { type: ["integer", "null"] }; }, "response-property-became-nullable", "breaking");
    expect(nulled.detail).toBe("type widened from integer to integer|null");
    expectOne((d) => { item(d).properties.size = { type: "integer", nullable: true }; }, "response-property-became-nullable", "breaking");
    expect(changed((d) => { item(d).properties.note = { type: "string", nullable: true }; })).toEqual([]);
  });

  it("classes required-ness changes in responses", () => {
    expectOne((d) => { item(d).required = ["id"]; }, "response-property-became-optional", "breaking");
    expectOne((d) => { item(d).required.push("size"); }, "response-property-became-required", "non-breaking");
  });

  it("classes new response properties, optional or required, as non-breaking", () => {
    const optional = expectOne((d) => { item(d).properties.progress = { type: "number" }; }, "response-optional-property-added", "non-breaking");
    expect(optional.detail).toBe('optional property "progress" added');
    expectOne((d) => {
      item(d).properties.progress = { type: "number" };
      item(d).required.push("progress");
    }, "response-required-property-added", "non-breaking");
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
    const withVariants = (kind: "oneOf" | "anyOf", list: Json[]) => {
      const doc = baseDoc();
      item(doc).properties.size = { [kind]: list };
      return doc;
    };
    const box = { type: "object", properties: { n: { type: "integer" } } };
    for (const [kind, stem] of [["oneOf", "one-of"], ["anyOf", "any-of"]] as const) {
      const one = withVariants(kind, [box]);
      const two = withVariants(kind, [box, { $ref: "#/components/schemas/Status" }]);
      expect(diffSpecs(one, two).map((c) => `${c.level} ${c.change}`)).toEqual([`breaking response-property-${stem}-added`]);
      expect(diffSpecs(two, one).map((c) => `${c.level} ${c.change}`)).toEqual([`non-breaking response-property-${stem}-removed`]);
    }
    // oneOf of bare types is a list of types: compared as one.
    expect(diffSpecs(withVariants("oneOf", [{ type: "integer" }]), withVariants("anyOf", [{ type: "integer" }, { type: "string" }]))
      .map((c) => `${c.level} ${c.change}`)).toEqual(["breaking response-property-type-generalized"]);
  });
});

describe("diffSpecs: request bodies", () => {
  it("classes new request properties by required-ness", () => {
    expectOne((d) => {
      newItem(d).properties.owner = { type: "string" };
      newItem(d).required.push("owner");
    }, "new-required-request-property", "breaking");
    const optional = expectOne((d) => { newItem(d).properties.owner = { type: "string" }; }, "new-optional-request-property", "non-breaking");
    expect(optional).toMatchObject({ operation: "POST /items (createItem)", location: "request application/json body.owner" });
    expectOne((d) => { delete newItem(d).properties.weight; }, "request-property-removed", "maybe-breaking");
  });

  it("mirrors the response rules for request enums, types and required-ness", () => {
    expectOne((d) => { newItem(d).properties.kind = { type: "string", enum: ["a"] }; }, "request-property-enum-value-removed", "breaking");
    expectOne((d) => { newItem(d).properties.kind = { type: "string", enum: ["a", "b", "c"] }; }, "request-property-enum-value-added", "non-breaking");
    expectOne((d) => { newItem(d).properties.weight = { type: "number" }; }, "request-property-type-generalized", "non-breaking");
    expectOne((d) => { newItem(d).properties.weight = { type: "string" }; }, "request-property-type-changed", "breaking");
    expectOne((d) => { newItem(d).required.push("kind"); }, "request-property-became-required", "breaking");
  });

  it("classes request body presence and media types", () => {
    const post = (d: Doc) => d.paths["/items"]?.post as Json & { requestBody: Json & { content: Json } };
    expectOne((d) => { post(d).requestBody.required = false; }, "request-body-became-optional", "non-breaking");
    // openapi-fetch types `body` as never once the spec has none: callers sending one stop compiling.
    expectOne((d) => { delete (post(d) as Json).requestBody; }, "request-body-removed", "breaking");
    expect(changed((d) => { post(d).requestBody.content = { "application/x-www-form-urlencoded": {} }; }).map((c) => `${c.level} ${c.change}`)).toEqual([
      "breaking request-body-media-type-removed",
      "non-breaking request-body-media-type-added",
    ]);
    const doc = baseDoc();
    delete (post(doc) as Json).requestBody;
    expect(diffSpecs(doc, baseDoc()).map((c) => `${c.level} ${c.change}`)).toEqual(["breaking request-body-added-required"]);
    expect(changed((d) => { (getOp(d).responses["200"] as { content: Json }).content = { "text/plain": {} }; }).map((c) => `${c.level} ${c.change}`)).toEqual([
      "breaking response-media-type-removed",
      "maybe-breaking response-media-type-added",
    ]);
  });

  it("ignores readOnly properties' presence and required-ness on the request side", () => {
    expect(changed((d) => { newItem(d).properties.created = { type: "string", readOnly: true }; newItem(d).required.push("created"); })).toEqual([]);
  });

  it("still compares the values of a property a side does not carry: readOnly in a request, writeOnly in a response", () => {
    // The generated request type still has a readOnly property and the request validator checks what
    // is sent, so a tighter value breaks callers who send it; OpenAPI scopes only `required` to one side.
    const created = (schema: Json) => {
      const doc = baseDoc();
      newItem(doc).properties.created = { readOnly: true, ...schema };
      item(doc).properties.created = { readOnly: true, ...schema };
      item(doc).properties.secret = { writeOnly: true, ...schema };
      return doc;
    };
    expect(levels(diffSpecs(created({ type: "string" }), created({ type: "string", pattern: "^[a-z]+$" })))).toEqual([
      "breaking request-property-pattern-added", "non-breaking response-property-pattern-added", "non-breaking response-property-pattern-added",
    ]);
    expect(levels(diffSpecs(created({ type: "string" }), created({ type: "integer" })))).toEqual([
      "breaking request-property-type-changed", "breaking response-property-type-changed", "breaking response-property-type-changed",
    ]);
    // Becoming readOnly is the property leaving the request, as before.
    expect(levels(diffSpecs(created({ type: "string", readOnly: false }), created({ type: "string" })).filter((c) => c.change.startsWith("request")))).toEqual([
      "maybe-breaking request-property-removed",
    ]);
  });
});

const postOp = (d: Doc) => d.paths["/items"]?.post as Json & { requestBody: Json & { content: Record<string, { schema: Json }> }; responses: Record<string, Json> };
const levels = (changes: SpecChange[]) => changes.map((c) => `${c.level} ${c.change}`).sort();

describe("diffSpecs: constraints (limits, pattern, format, default)", () => {
  /** The same schema on the request side (NewItem.name) and the response side (Item.id). */
  const bothSides = (schema: Json) => {
    const doc = baseDoc();
    newItem(doc).properties.name = schema;
    item(doc).properties.id = schema;
    return doc;
  };

  it("tightening a limit breaks requests, loosening it breaks responses", () => {
    const long = bothSides({ type: "string", maxLength: 10 });
    const short = bothSides({ type: "string", maxLength: 5 });
    expect(levels(diffSpecs(long, short))).toEqual(["breaking request-property-max-length-decreased", "non-breaking response-property-max-length-decreased"]);
    expect(levels(diffSpecs(short, long))).toEqual(["breaking response-property-max-length-increased", "non-breaking request-property-max-length-increased"]);
    expect(levels(diffSpecs(bothSides({ type: "integer", minimum: 1 }), bothSides({ type: "integer", minimum: 3 }))))
      .toEqual(["breaking request-property-min-increased", "non-breaking response-property-min-increased"]);
    // A new limit on a request may or may not exclude what callers send; dropped on a response, anything can arrive.
    expect(levels(diffSpecs(bothSides({ type: "string" }), short))).toEqual(["maybe-breaking request-property-max-length-set", "non-breaking response-property-max-length-set"]);
    expect(levels(diffSpecs(short, bothSides({ type: "string" })))).toEqual(["breaking response-property-max-length-unset", "non-breaking request-property-max-length-unset"]);
    expect(diffSpecs(short, bothSides({ type: "string", maxLength: 5 }))).toEqual([]);
  });

  it("reads 3.0's boolean exclusiveMaximum as 3.1's number", () => {
    const weight = (schema: Json) => { const doc = baseDoc(); newItem(doc).properties.weight = schema; return doc; };
    const old30 = weight({ type: "integer", maximum: 10, exclusiveMaximum: true });
    expect(diffSpecs(old30, weight({ type: "integer", exclusiveMaximum: 10 }))).toEqual([]);
    expect(levels(diffSpecs(old30, weight({ type: "integer", exclusiveMaximum: 8 })))).toEqual(["breaking request-property-exclusive-max-decreased"]);
    expect(levels(diffSpecs(old30, weight({ type: "integer", maximum: 10, exclusiveMaximum: false })))).toEqual([
      "maybe-breaking request-property-max-set", "non-breaking request-property-exclusive-max-unset",
    ]);
  });

  it("a new pattern or format breaks requests, not responses; dropping one breaks responses only for format", () => {
    expect(levels(diffSpecs(bothSides({ type: "string" }), bothSides({ type: "string", pattern: "^[a-z]+$" }))))
      .toEqual(["breaking request-property-pattern-added", "non-breaking response-property-pattern-added"]);
    expect(levels(diffSpecs(bothSides({ type: "string", pattern: "^[a-z]+$" }), bothSides({ type: "string" }))))
      .toEqual(["non-breaking request-property-pattern-removed", "non-breaking response-property-pattern-removed"]);
    expect(levels(diffSpecs(bothSides({ type: "string" }), bothSides({ type: "string", format: "uuid" }))))
      .toEqual(["breaking request-property-format-added", "non-breaking response-property-format-added"]);
    expect(levels(diffSpecs(bothSides({ type: "string", format: "uuid" }), bothSides({ type: "string" }))))
      .toEqual(["breaking response-property-format-removed", "non-breaking request-property-format-removed"]);
    expect(diffSpecs(bothSides({ type: "string", format: "uuid", pattern: "" }), bothSides({ type: "string", format: "uuid" }))).toEqual([]);
    // A pattern now matching any string frees every value, like dropping it.
    expect(levels(diffSpecs(bothSides({ type: "string", pattern: "^[a-z]+$" }), bothSides({ type: "string", pattern: ".*" }))))
      .toEqual(["non-breaking request-property-pattern-generalized", "non-breaking response-property-pattern-generalized"]);
    expect(levels(diffSpecs(bothSides({ type: "string", pattern: "^[a-z]+$" }), bothSides({ type: "string", pattern: "^[a-z]*$" }))))
      .toEqual(["maybe-breaking request-property-pattern-changed", "non-breaking response-property-pattern-changed"]);
  });

  it("a parameter's default changes what calls omitting it mean; a body property's does not", () => {
    expectOne((d) => { (getOp(d).parameters[1] as { schema: Json }).schema.default = 20; }, "request-parameter-default-value-added", "breaking");
    expectOne((d) => { newItem(d).properties.weight = { type: "integer", default: 1 }; }, "request-property-default-value-added", "non-breaking");
    expect(changed((d) => { newItem(d).properties.weight = { type: "integer", description: "grams" }; })).toEqual([]);
  });
});

describe("diffSpecs: composition (allOf, oneOf wrapping, const)", () => {
  it("a constraining allOf member breaks a request body; an annotating one or one on a response does not", () => {
    const added = changed((d) => { (newItem(d) as Json).allOf = [{ type: "object", required: ["sku"], properties: { sku: { type: "string" } } }]; });
    expect(levels(added)).toContain("breaking request-body-all-of-added");
    expect(levels(changed((d) => { (newItem(d) as Json).allOf = [{ description: "an item to create" }]; })))
      .toEqual(["non-breaking request-body-all-of-added-annotation-only"]);
    const response = changed((d) => { (item(d) as Json).allOf = [{ type: "object", properties: { extra: { type: "string" } } }]; });
    expect(levels(response)).toContain("non-breaking response-body-all-of-added");
    expect(response.filter((c) => c.level !== "non-breaking")).toEqual([]);
    const doc = baseDoc();
    (newItem(doc) as Json).allOf = [{ type: "object", required: ["sku"], properties: { sku: { type: "string" } } }];
    expect(levels(diffSpecs(doc, baseDoc()))).toContain("maybe-breaking request-body-all-of-removed");
  });

  it("a request body wrapped in oneOf is one breaking change, not its properties moving", () => {
    const wrap = (d: Doc) => {
      postOp(d).requestBody.content["application/json"] = { schema: { oneOf: [
        { type: "object", required: ["name"], properties: { name: { type: "string" }, kind: { type: "string" } } },
        { type: "object", required: ["weight"], properties: { weight: { type: "integer" } } },
      ] } };
    };
    expectOne(wrap, "request-body-wrapped-in-one-of", "breaking");
    const wrapped = baseDoc();
    wrap(wrapped);
    expect(levels(diffSpecs(wrapped, baseDoc()))).not.toContain("breaking request-body-wrapped-in-one-of");
  });

  it("a changed const is one change, not an enum value added and removed", () => {
    const withConst = (value: unknown) => { const doc = baseDoc(); doc.components.schemas.Status = { type: "string", const: value } as never; return doc; };
    expect(levels(diffSpecs(withConst("queued"), withConst("done")))).toEqual(["breaking response-property-const-changed"]);
    expect(diffSpecs(withConst("queued"), withConst("queued"))).toEqual([]);
    const open = baseDoc();
    open.components.schemas.Status = { type: "string" } as never;
    expect(levels(diffSpecs(withConst("queued"), open))).toEqual(["breaking response-property-const-removed"]);
    expect(levels(diffSpecs(open, withConst("queued")))).toEqual(["non-breaking response-property-const-added"]);
  });

  it("terminates on $ref cycles through properties and allOf, and still finds the change inside", () => {
    const cyclic = (leafType: string) => {
      const doc = baseDoc();
      const schemas = doc.components.schemas as Record<string, Json>;
      schemas.A = { allOf: [{ $ref: "#/components/schemas/B" }], properties: { b: { $ref: "#/components/schemas/B" }, leaf: { type: leafType } } };
      schemas.B = { allOf: [{ $ref: "#/components/schemas/A" }], properties: { a: { $ref: "#/components/schemas/A" } } };
      item(doc).properties.tree = { $ref: "#/components/schemas/A" };
      return doc;
    };
    expect(diffSpecs(cyclic("string"), cyclic("string"))).toEqual([]);
    const found = diffSpecs(cyclic("string"), cyclic("integer"));
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((c) => c.change === "response-property-type-changed" && c.location.endsWith(".leaf"))).toBe(true);
  });

  it("walks additionalProperties and 3.1 sub-schema keywords", () => {
    const labels = (value: Json) => { const doc = baseDoc(); item(doc).properties.labels = { type: "object", additionalProperties: value }; return doc; };
    const c = diffSpecs(labels({ type: "string" }), labels({ type: "integer" }));
    expect(c.map((x) => `${x.level} ${x.change} ${x.location}`)).toEqual(["breaking response-property-type-changed response 200 application/json body.labels{}"]);
    const tags = (extra: Json) => { const doc = baseDoc(); newItem(doc).properties.tags = { type: "array", items: { type: "string" }, ...extra }; return doc; };
    expect(levels(diffSpecs(tags({}), tags({ contains: { const: "x" } })))).toEqual(["breaking request-property-contains-added"]);
    expect(levels(diffSpecs(tags({ contains: { const: "x" } }), tags({})))).toEqual(["non-breaking request-property-contains-removed"]);
  });
});

describe("diffSpecs: security", () => {
  it("reports requirement and scheme changes as non-breaking, and nothing when unchanged", () => {
    const secured = (scopes: string[]) => {
      const doc = baseDoc() as Doc & { components: Json; security?: Json[] };
      (doc.components as Json).securitySchemes = { bearer: { type: "http", scheme: "bearer" }, oauth: { type: "oauth2", flows: {} } };
      (getOp(doc as Doc) as Json).security = [{ oauth: scopes }];
      doc.security = [{ bearer: [] }];
      return doc;
    };
    expect(diffSpecs(secured(["read"]), secured(["read"]))).toEqual([]);
    expect(levels(diffSpecs(secured(["read"]), secured(["read", "write"])))).toEqual(["non-breaking api-security-scope-added"]);
    expect(levels(diffSpecs(baseDoc(), secured([])))).toEqual([
      "non-breaking api-global-security-added", "non-breaking api-security-added", "non-breaking api-security-component-added", "non-breaking api-security-component-added",
    ]);
    const retyped = secured([]);
    ((retyped.components as Json).securitySchemes as Record<string, Json>).bearer = { type: "apiKey", in: "header", name: "X-Key" };
    expect(levels(diffSpecs(secured([]), retyped))).toEqual(["non-breaking api-security-component-type-changed"]);
  });
});

describe("diffSpecs: deprecation, sunset and stability", () => {
  const opWith = (extra: Json) => { const doc = baseDoc(); Object.assign(getOp(doc), extra); return doc; };

  it("deprecating is informational; a sunset promise dropped or moved earlier breaks", () => {
    expect(levels(diffSpecs(baseDoc(), opWith({ deprecated: true })))).toEqual(["non-breaking endpoint-deprecated"]);
    expect(levels(diffSpecs(opWith({ deprecated: true }), baseDoc()))).toEqual(["non-breaking endpoint-reactivated"]);
    const until = (date: string) => opWith({ deprecated: true, "x-sunset": date });
    expect(levels(diffSpecs(until("2031-01-01"), opWith({ deprecated: true })))).toEqual(["breaking sunset-deleted"]);
    expect(levels(diffSpecs(until("2031-01-01"), until("2030-06-01")))).toEqual(["breaking api-sunset-date-changed-too-small"]);
    expect(diffSpecs(until("2031-01-01"), until("2032-01-01"))).toEqual([]);
    expect(levels(diffSpecs(until("2031-01-01"), until("next spring")))).toEqual(["breaking api-path-sunset-parse"]);
  });

  it("removing before the promised sunset breaks; after it, a deprecated parameter goes quietly", () => {
    const param = (extra: Json) => { const doc = baseDoc(); Object.assign(getOp(doc).parameters[1] as Json, extra); return doc; };
    const dropped = baseDoc();
    getOp(dropped).parameters.pop();
    expect(levels(diffSpecs(param({ deprecated: true, "x-sunset": "9999-12-31" }), dropped))).toEqual(["breaking request-parameter-removed-before-sunset"]);
    expect(levels(diffSpecs(param({ deprecated: true, "x-sunset": "2000-01-01" }), dropped))).toEqual(["non-breaking request-parameter-removed-with-deprecation"]);
    expect(levels(diffSpecs(param({}), dropped))).toEqual(["maybe-breaking request-parameter-removed"]);
    const gone = baseDoc();
    delete (gone.paths as Record<string, unknown>)["/items/{id}"];
    expect(levels(diffSpecs(opWith({ deprecated: true, "x-sunset": "9999-12-31" }), gone))).toEqual(["breaking api-removed-before-sunset"]);
    // Past its sunset the operation still leaves the generated types: callers' code breaks (our call, not oasdiff's).
    expect(levels(diffSpecs(opWith({ deprecated: true, "x-sunset": "2000-01-01" }), gone))).toEqual(["breaking operation-removed"]);
  });

  it("a lower or invalid x-stability-level breaks; a higher one does not", () => {
    const level = (value: unknown) => opWith({ "x-stability-level": value });
    expect(levels(diffSpecs(level("stable"), level("beta")))).toEqual(["breaking api-stability-decreased"]);
    expect(levels(diffSpecs(level("beta"), level("stable")))).toEqual(["non-breaking api-stability-increased"]);
    expect(levels(diffSpecs(level("beta"), level("gamma")))).toEqual(["breaking api-invalid-stability-level"]);
    expect(diffSpecs(level("beta"), level("beta"))).toEqual([]);
  });
});

describe("diffSpecs: response headers and webhooks", () => {
  const withHeaders = (headers: Json) => { const doc = baseDoc(); getOp(doc).responses["200"] = { ...getOp(doc).responses["200"], headers }; return doc; };

  it("classes response headers like response properties, names case-insensitive", () => {
    const both = withHeaders({ "X-Request-Id": { required: true, schema: { type: "string" } }, "X-Trace": { schema: { type: "string" } } });
    expect(levels(diffSpecs(both, withHeaders({ "X-Trace": { schema: { type: "string" } } })))).toEqual(["breaking required-response-header-removed"]);
    expect(levels(diffSpecs(both, withHeaders({ "x-request-id": { required: true, schema: { type: "string" } } })))).toEqual(["maybe-breaking optional-response-header-removed"]);
    expect(levels(diffSpecs(withHeaders({}), both))).toEqual(["non-breaking response-header-added", "non-breaking response-header-added"]);
    expect(diffSpecs(both, withHeaders({ "x-request-id": { required: true, schema: { type: "string" } }, "x-trace": { schema: { type: "string" } } }))).toEqual([]);
  });

  it("compares 3.1 webhooks like operations", () => {
    const hooked = () => {
      const doc = baseDoc() as Doc & { webhooks: Json };
      doc.webhooks = { itemReady: { post: { requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } } }, responses: { "200": { description: "ok" } } } } };
      return doc;
    };
    expect(levels(diffSpecs(hooked(), baseDoc()))).toEqual(["breaking webhook-removed"]);
    expect(levels(diffSpecs(baseDoc(), hooked()))).toEqual(["non-breaking webhook-added"]);
    const required = hooked();
    (((required.webhooks.itemReady as Json).post as Json).requestBody as Json).required = true;
    expect(levels(diffSpecs(hooked(), required))).toEqual(["breaking request-body-became-required"]);
  });
});

describe("the rule registry", () => {
  it("gives every rule a level, a side and a reason, and says why wherever we differ from oasdiff", () => {
    const entries = Object.entries(RULES);
    expect(entries.length).toBeGreaterThan(300);
    for (const [id, rule] of entries) {
      expect(["breaking", "maybe-breaking", "non-breaking"], id).toContain(rule.level);
      expect(["request", "response", "none"], id).toContain(rule.direction);
      expect(rule.reason.length, id).toBeGreaterThan(5);
      if (rule.deliberate !== undefined) expect(rule.deliberate, id).toMatch(/oasdiff/);
    }
    expect(RULES["response-property-removed"]).toMatchObject({ level: "breaking", oasdiff: expect.arrayContaining(["response-optional-property-removed"]) });
  });

  it("refuses a rule id that is not in the registry (a family cannot invent a level)", () => {
    const emit = emitterFor([], "GET /x", "/x", "get");
    expect(() => emit("response-property-vanished", "body", "?")).toThrow(/not in the registry/);
  });
});

describe("spec:diff:oasdiff scorer (on a corpus written here, shaped like oasdiff's)", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "oasdiff-corpus-"));
    await mkdir(path.join(root, "checker"));
    await mkdir(path.join(root, "data"));
    const spec = (props: Json) => stringifyYaml({
      openapi: "3.0.3", info: { title: "t", version: "1" },
      paths: { "/a": { get: { responses: { "200": { description: "ok", content: { "application/json": { schema: { type: "object", properties: props } } } } } } } },
    });
    await writeFile(path.join(root, "data", "two.yaml"), spec({ a: { type: "string" }, b: { type: "string" } }));
    await writeFile(path.join(root, "data", "one.yaml"), spec({ a: { type: "string" } }));
    await writeFile(path.join(root, "data", "one-moved.yaml"), spec({ a: { type: "string" } }).replace("paths:", "servers:\n  - url: https://eu.example.test\npaths:"));
    await writeFile(path.join(root, "checker", "rules.go"), [
      "func GetAllRules() BackwardCompatibilityRules {",
      "\tnewBackwardCompatibilityRule(GoneId, ERR, GoneCheck, DirectionResponse, AreaSchema, KindExistence, ActionRemove),",
      "\tnewBackwardCompatibilityRule(NewId, INFO, GoneCheck, DirectionResponse, AreaSchema, KindExistence, ActionAdd),",
      "\tnewBackwardCompatibilityRule(AddedId, INFO, AddedCheck, DirectionNone, AreaPaths, KindExistence, ActionAdd),",
      "}",
    ].join("\n"));
    await writeFile(path.join(root, "checker", "check_gone.go"), 'const (\n\tGoneId = "response-property-removed"\n\tNewId = "response-optional-property-added"\n\tAddedId = "endpoint-added"\n)\n');
    const goTest = (name: string, from: string, to: string, body: string) =>
      `func ${name}(t *testing.T) {\n\ts1, err := open("../data/${from}")\n\ts2, err := open("../data/${to}")\n${body}\n}\n`;
    await writeFile(path.join(root, "checker", "check_gone_test.go"), [
      goTest("TestGone", "two.yaml", "one.yaml", "\trequireSingleApiChange(t, checker.ApiChange{Id: checker.GoneId}, errs)"),
      goTest("TestNew", "one.yaml", "two.yaml", "\trequireSingleApiChange(t, checker.ApiChange{Id: checker.NewId}, errs)"),
      goTest("TestSame", "one.yaml", "one.yaml", "\trequire.Empty(t, errs)"),
      // One check ran: our servers finding (a call of ours that no oasdiff id names) is not its business.
      goTest("TestOneCheck", "one.yaml", "one-moved.yaml", "\terrs := checker.CheckBackwardCompatibility(singleCheckConfig(checker.AddedCheck), d, osm)\n\trequire.Empty(t, errs)"),
      // Some of oasdiff's tests spell the id they read instead of naming its constant.
      goTest("TestSpelled", "two.yaml", "one.yaml", '\trequire.Len(t, errs, 1)\n\trequire.Equal(t, "response-property-removed", errs[0].GetId())'),
      goTest("TestEdited", "one.yaml", "one.yaml", "\ts2.Spec.Paths = nil\n\trequire.Empty(t, errs)"),
    ].join("\n"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("replays each Go test's YAML pair, reads expected levels from rules.go and skips what it cannot replay", async () => {
    const { cases, skipped } = await score(root);
    expect(cases.map((c) => `${c.test.split(":")[1]} ${c.expected} ${c.ours}`)).toEqual(["TestGone ERR ERR", "TestNew INFO INFO", "TestSame INFO INFO", "TestOneCheck INFO INFO", "TestSpelled ERR ERR"]);
    expect([...skipped]).toEqual([["edits a loaded spec in Go", 1]]);
    let out = "";
    expect(await oasdiffMain([root], (t) => { out += t; })).toBe(0);
    expect(out).toMatch(/^covered: 5\/5 agree \(100\.0%\)/m);
  });

  it("fails under the threshold and lists the disagreement", async () => {
    const file = path.join(root, "checker", "check_gone_test.go");
    const good = await readFile(file, "utf8");
    // A test whose expectation we do not meet: oasdiff expects a breaking removal where we see an addition.
    await writeFile(file, good + `func TestMismatch(t *testing.T) {\n\ts1, err := open("../data/one.yaml")\n\ts2, err := open("../data/two.yaml")\n\trequireSingleApiChange(t, checker.ApiChange{Id: checker.GoneId}, errs)\n}\n`);
    try {
      let out = "";
      expect(await oasdiffMain([root], (t) => { out += t; })).toBe(1);
      expect(out).toMatch(/^covered: 5\/6 agree .* 1 breaking classed lower {2}<- FAIL$/m);
      expect(out).toMatch(/TestMismatch: oasdiff ERR \[response-property-removed\], ours INFO \[INFO response-optional-property-added\]/);
    } finally {
      await writeFile(file, good);
    }
  });
});

describe("diffSpecs on the real spec", () => {
  let real: Json;
  beforeAll(async () => {
    real = JSON.parse(await readFile(REPO_SPEC, "utf8")) as Json;
  });

  const schemas = (doc: Json) => (doc.components as { schemas: Record<string, { properties: Record<string, Json> }> }).schemas;

  it("finds no change against itself and classes a realistic update", () => {
    expect(diffSpecs(real, structuredClone(real))).toEqual([]);
    const next = structuredClone(real);
    const task = schemas(next).VideoTaskResponse as { properties: Record<string, Json> };
    (task.properties.status as { enum: string[] }).enum.push("paused");
    delete task.properties.url;
    task.properties.progress = { type: "number" };
    (schemas(next).ErrorResponse?.properties.error as { properties: Record<string, Json> }).properties.param = { type: "integer" };
    const all = diffSpecs(real, next);
    // A shared component's change is reported in every operation that uses it.
    expect(all.filter((c) => c.change === "response-property-removed").map((c) => c.path).sort()).toEqual([
      KLING_PATH, "/kling/v1/videos/text2video/{task_id}", "/v1/video/generations/{task_id}",
    ]);
    const changes = all.filter((c) => c.path === KLING_PATH);
    expect(changes.map((c) => `${c.level} ${c.change} ${c.location}`)).toEqual([
      "maybe-breaking response-property-enum-value-added response 200 application/json body.status",
      "breaking response-property-removed response 200 application/json body.url",
      "non-breaking response-optional-property-added response 200 application/json body.progress",
      "breaking response-property-type-changed response 404 application/json body.error.param",
    ]);
    expect(changes.every((c) => c.operation === `GET ${KLING_PATH} (getKlingImage2Video)`)).toBe(true);
    const text = formatChanges(changes);
    // Grouped by level, breaking first, then by operation.
    expect(text.split("\n").slice(0, 2)).toEqual(["== breaking (2) ==", `GET ${KLING_PATH} (getKlingImage2Video)`]);
    expect(text.indexOf("== maybe-breaking (1) ==")).toBeGreaterThan(text.indexOf("== breaking (2) =="));
    expect(text.indexOf("== non-breaking (1) ==")).toBeGreaterThan(text.indexOf("== maybe-breaking (1) =="));
    expect(text).toMatch(/^ {2}ERR {3}response-property-removed +response 200 application\/json body\.url +property "url" removed$/m);
    expect(text.trimEnd().split("\n").at(-1)).toBe("2 breaking, 1 maybe-breaking, 1 non-breaking");
    expect(summarize(changes)).toEqual({ breaking: 2, "maybe-breaking": 1, "non-breaking": 1, total: 4 });
  });
});

describe("formatChanges folds repeats of a non-breaking rule, never a breaking one", () => {
  const change = (level: ChangeLevel, rule: string, i: number): SpecChange => ({
    level,
    operation: "(document)",
    path: "",
    method: "",
    location: `securitySchemes.S${i}`,
    change: rule,
    detail: `security scheme S${i} ${level === "breaking" ? "removed" : "added"}`,
  });
  const added = Array.from({ length: 40 }, (_, i) => change("non-breaking", "api-security-component-added", i));
  const removed = Array.from({ length: 5 }, (_, i) => change("breaking", "api-security-component-removed", i));

  it("lists the first FOLD_NON_BREAKING_AFTER one by one and counts the rest in one line", () => {
    const text = formatChanges([...added, ...removed]);
    const lines = text.split("\n");
    expect(lines.filter((l) => /security scheme S\d+ added/.test(l))).toHaveLength(FOLD_NON_BREAKING_AFTER);
    expect(text).toMatch(new RegExp(`api-security-component-added +… +and ${40 - FOLD_NON_BREAKING_AFTER} more like this`));
    // Every breaking change is still there, one line each, and the totals count everything.
    expect(lines.filter((l) => /security scheme S\d+ removed/.test(l))).toHaveLength(5);
    expect(lines.at(-2)).toBe("5 breaking, 0 maybe-breaking, 40 non-breaking");
  });

  it("does not fold a rule that fires only FOLD_NON_BREAKING_AFTER times", () => {
    const text = formatChanges(added.slice(0, FOLD_NON_BREAKING_AFTER));
    expect(text).not.toContain("more like this");
  });

  it("formats a diff of 200,000 changes (a spread of that many arguments overflowed the call)", () => {
    const many = Array.from({ length: 200_000 }, (_, i) => change("breaking", "api-security-component-removed", i));
    const text = formatChanges(many);
    expect(text.trimEnd().split("\n").at(-1)).toBe("200000 breaking, 0 maybe-breaking, 0 non-breaking");
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
      "old.yaml": stringifyYaml(baseDoc()),
      "bad.yaml": "openapi: [3.1.0\npaths: {\n",
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

  it("reads YAML specs (.yaml, .yml) as well as JSON, and refuses broken YAML", async () => {
    const same = await cli(f("old.yaml"), f("old.json"));
    expect(same.stdout).toMatch(/^no changes$/m);
    expect((await cli(f("old.yaml"), f("breaking.json"), "--fail-on", "breaking")).code).toBe(1);
    const broken = await cli(f("old.json"), f("bad.yaml"));
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/bad\.yaml is not JSON or YAML/);
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

describe("applyOverlaysTolerant: every action that no longer applies, listed at once", () => {
  it("skips and lists each failing action (by its number in the file), applies the others, and leaves the input alone", () => {
    const doc = baseDoc();
    const before = structuredClone(doc);
    const overlay = parseOverlay(
      "openapi/overlays/fixes.json",
      JSON.stringify({
        overlay: "1.0.0",
        info: { title: "fixes", version: "1" },
        extends: "../spec.json",
        actions: [
          { target: "$.components.schemas.Gone", description: "fixed upstream", remove: true },
          { target: "$.components.schemas.Item.properties", update: { extra: { type: "string" } } },
          { target: "$.info.title", update: { x: 1 } },
        ],
      }),
      "openapi",
    );
    const { doc: out, stale } = applyOverlaysTolerant(doc, [overlay]);
    expect(stale.map((s) => s.action)).toEqual([1, 3]);
    expect(formatStaleActions(stale)[0]).toBe(
      'openapi/overlays/fixes.json action 1 (fixed upstream): target "$.components.schemas.Gone" matches nothing: the spec no longer has what this action fixes (the relay fixed it?); delete the action, or the overlay',
    );
    expect(stale[1]!.reason).toMatch(/^target "\$\.info\.title" selects a string/);
    expect(((out.components as Json).schemas as Record<string, Json>).Item!.properties).toHaveProperty("extra");
    expect(doc).toEqual(before);
    expect(applyOverlaysTolerant(doc, []).stale).toEqual([]);
  });
});
