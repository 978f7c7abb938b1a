// src/_schema.ts, the JSON Schema interpreter that reads generated/index.ts's data: per-keyword
// behaviour (each with a body it must reject), and a differential property test against Ajv,
// compiled from the same normalized data, for every JSON response schema of every test spec.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSpecs, readSpecs, type SpecInput } from "../scripts/generate.js";
import { schemaIssues } from "../src/_schema.js";
import { responseIssues } from "../src/_spec.js";
import { ROOT } from "./helpers/spec.js";

type Schema = boolean | Record<string, unknown>;
type Data = { schemas: readonly unknown[]; responses: Record<string, Record<string, Record<string, number>>> };

/** Issues of `data` against `schema`, which may point into `defs` (`{ $ref: n }`). */
const issues = (schema: Schema, data: unknown, defs: unknown[] = []) => schemaIssues([...defs, schema], defs.length, data);
const valid = (schema: Schema, data: unknown, defs: unknown[] = []) => issues(schema, data, defs).length === 0;

describe("keywords", () => {
  it("type: one or several, integer, null; reports where and what", () => {
    expect(valid({ type: "integer" }, 3)).toBe(true);
    expect(valid({ type: "integer" }, 3.5)).toBe(false);
    expect(valid({ type: "number" }, 3.5)).toBe(true);
    expect(valid({ type: ["string", "null"] }, null)).toBe(true);
    expect(valid({ type: ["string", "null"] }, 1)).toBe(false);
    expect(valid({ type: "object" }, [])).toBe(false);
    expect(valid({ type: "array" }, {})).toBe(false);
    expect(issues({ type: "object", properties: { a: { type: "string" } } }, { a: 1 })).toEqual([
      { instancePath: "/a", schemaPath: "#/properties/a/type", keyword: "type", params: { type: "string" }, message: "must be string" },
    ]);
  });

  it("enum and const compare JSON values deeply", () => {
    expect(valid({ enum: ["a", { b: [1] }] }, { b: [1] })).toBe(true);
    expect(valid({ enum: ["a", { b: [1] }] }, { b: [2] })).toBe(false);
    expect(valid({ enum: [1, null] }, null)).toBe(true);
    expect(valid({ const: { a: 1 } }, { a: 1 })).toBe(true);
    expect(valid({ const: { a: 1 } }, { a: 1, b: 2 })).toBe(false);
    expect(valid({ const: [1] }, { 0: 1 })).toBe(false);
  });

  it("properties, required, additionalProperties (false or a schema), patternProperties", () => {
    const s = { type: "object", properties: { a: { type: "integer" } }, patternProperties: { "^x-": { type: "string" } }, required: ["a"], additionalProperties: false };
    expect(valid(s, { a: 1, "x-y": "z" })).toBe(true);
    expect(issues(s, {}).map((i) => [i.keyword, i.params])).toEqual([["required", { missingProperty: "a" }]]);
    expect(issues(s, { a: 1, b: 2 }).map((i) => [i.keyword, i.params])).toEqual([["additionalProperties", { additionalProperty: "b" }]]);
    expect(issues(s, { a: 1, "x-y": 2 }).map((i) => i.instancePath)).toEqual(["/x-y"]);
    expect(valid({ required: ["toString"] }, {})).toBe(false); // own properties only
    expect(issues({ additionalProperties: { type: "number" } }, { "a/b~c": "no" }).map((i) => i.instancePath)).toEqual(["/a~1b~0c"]);
    expect(valid({ minProperties: 1, maxProperties: 2 }, { a: 1 })).toBe(true);
    expect(valid({ minProperties: 1 }, {})).toBe(false);
    expect(valid({ maxProperties: 1 }, { a: 1, b: 2 })).toBe(false);
  });

  it("items, prefixItems, minItems, maxItems, uniqueItems", () => {
    const s = { type: "array", prefixItems: [{ type: "string" }], items: { type: "integer" }, minItems: 1, maxItems: 3 };
    expect(valid(s, ["a", 1, 2])).toBe(true);
    expect(issues(s, [1]).map((i) => i.instancePath)).toEqual(["/0"]);
    expect(issues(s, ["a", "b"]).map((i) => i.instancePath)).toEqual(["/1"]);
    expect(valid(s, [])).toBe(false);
    expect(valid(s, ["a", 1, 2, 3])).toBe(false);
    expect(valid({ uniqueItems: true }, [1, { a: 1 }, { a: 2 }])).toBe(true);
    expect(valid({ uniqueItems: true }, [{ a: 1 }, { a: 1 }])).toBe(false);
    expect(valid({ uniqueItems: false }, [1, 1])).toBe(true);
  });

  it("numbers: minimum, maximum, exclusive bounds, multipleOf", () => {
    expect(valid({ minimum: 1, maximum: 2 }, 1)).toBe(true);
    expect(valid({ minimum: 1 }, 0.5)).toBe(false);
    expect(valid({ maximum: 2 }, 2.5)).toBe(false);
    expect(valid({ exclusiveMinimum: 1 }, 1)).toBe(false);
    expect(valid({ exclusiveMaximum: 2 }, 2)).toBe(false);
    expect(valid({ exclusiveMaximum: 2 }, 1.9)).toBe(true);
    expect(valid({ multipleOf: 0.5 }, 2.5)).toBe(true);
    expect(valid({ multipleOf: 2 }, 3)).toBe(false);
    expect(valid({ minimum: 5 }, "not a number")).toBe(true); // limits apply to their own type only
  });

  it("strings: lengths in code points, pattern with the Unicode flag", () => {
    expect(valid({ maxLength: 2 }, "😀😀")).toBe(true); // 4 UTF-16 units, 2 code points
    expect(valid({ maxLength: 1 }, "😀😀")).toBe(false);
    expect(valid({ minLength: 3 }, "ab")).toBe(false);
    expect(valid({ pattern: "^\\p{L}+$" }, "héllo")).toBe(true);
    expect(valid({ pattern: "^\\p{L}+$" }, "hello1")).toBe(false);
    expect(valid({ pattern: "^a" }, "ba")).toBe(false);
  });

  it("allOf, anyOf, oneOf, not, boolean schemas, and recursive $ref", () => {
    expect(valid({ allOf: [{ type: "integer" }, { minimum: 2 }] }, 1)).toBe(false);
    expect(valid({ anyOf: [{ type: "integer" }, { type: "string" }] }, "a")).toBe(true);
    expect(valid({ anyOf: [{ type: "integer" }, { type: "string" }] }, null)).toBe(false);
    expect(valid({ oneOf: [{ type: "integer" }, { minimum: 0 }] }, 1)).toBe(false); // both match
    expect(valid({ oneOf: [{ type: "integer" }, { minimum: 0 }] }, -1)).toBe(true);
    expect(valid({ not: { type: "null" } }, null)).toBe(false);
    expect(valid(false, 1)).toBe(false);
    expect(valid(true, 1)).toBe(true);
    const tree = { type: "object", properties: { children: { type: "array", items: { $ref: 0 } } }, required: ["name"] };
    expect(valid({ $ref: 0 }, { name: "a", children: [{ name: "b", children: [] }] }, [tree])).toBe(true);
    const deep = issues({ $ref: 0 }, { name: "a", children: [{ children: [] }] }, [tree]);
    expect(deep.map((i) => [i.instancePath, i.schemaPath, i.keyword])).toEqual([["/children/0", "#/$defs/0/required", "required"]]);
  });

  it("format is an annotation: not asserted", () => {
    expect(valid({ type: "string", format: "email" }, "not an email")).toBe(true);
  });
});

describe("responseIssues (src/_spec.ts)", () => {
  it("looks a status up exactly; undefined when the spec has no JSON schema for it", () => {
    const route = "/kling/v1/videos/image2video/{task_id}";
    expect(responseIssues(route, "GET", 200, { status: "queued" })).toEqual([]);
    expect(responseIssues(route, "get", "200", { status: "nope" })?.[0]?.instancePath).toBe("/status");
    expect(responseIssues(route, "get", 404, { error: { code: 5 } })?.[0]?.instancePath).toBe("/error/code");
    expect(responseIssues(route, "get", 500, {})).toBeUndefined();
    expect(responseIssues(route, "post", 200, {})).toBeUndefined();
    expect(responseIssues("/nowhere", "get", 200, {})).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Differential: the interpreter agrees with Ajv on random bodies, schema-shaped and not.

let tmp: string;
const specSets: Array<{ name: string; data: Data }> = [];

beforeAll(async () => {
  await mkdir(path.join(ROOT, ".cache"), { recursive: true });
  tmp = await mkdtemp(path.join(ROOT, ".cache", "schema-"));
  const relayLike: SpecInput = { file: "openapi/relay-like.json", text: await readFile(path.join(ROOT, "test/fixtures/specs/relay-like.json"), "utf8") };
  for (const [name, inputs] of [["openapi/", await readSpecs(path.join(ROOT, "openapi"))], ["relay-like", [relayLike]]] as const) {
    const files = await generateSpecs(inputs);
    const dir = await mkdtemp(path.join(tmp, "set-"));
    for (const f of files) await writeFile(path.join(dir, f.name), f.content);
    specSets.push({ name, data: (await import(path.join(dir, "index.ts"))) as Data });
  }
}, 60_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The data as one Ajv document: `{ $ref: n }` -> `#/$defs/dn`. */
function ajvDocument(schemas: readonly unknown[], root: number): object {
  const rewrite = (s: unknown): unknown =>
    Array.isArray(s) ? s.map(rewrite)
      : s && typeof s === "object"
        ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === "$ref" ? `#/$defs/d${v as number}` : k === "enum" || k === "const" ? v : rewrite(v)]))
        : s;
  return { $defs: Object.fromEntries(schemas.map((s, i) => [`d${i}`, rewrite(s)])), $ref: `#/$defs/d${root}` };
}

/** Bodies shaped by the schema (so deep keywords are reached), with random JSON mixed in. */
function bodies(schema: unknown, defs: readonly unknown[], depth = 0): fc.Arbitrary<unknown> {
  const noise = fc.jsonValue({ maxDepth: 2 });
  if (depth > 5 || typeof schema !== "object" || schema === null) return noise;
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === "number") return bodies(defs[s.$ref], defs, depth + 1);
  const options: Array<fc.Arbitrary<unknown>> = [];
  if (Array.isArray(s.enum)) options.push(fc.constantFrom(...(s.enum as unknown[])));
  if ("const" in s) options.push(fc.constant(s.const));
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(s[key])) options.push(...(s[key] as unknown[]).map((sub) => bodies(sub, defs, depth + 1)));
  }
  const types = ([] as unknown[]).concat(s.type ?? []);
  for (const type of types) {
    if (type === "string") options.push(typeof s.pattern === "string" ? fc.stringMatching(new RegExp(s.pattern, "u")) : fc.string({ maxLength: 6 }));
    if (type === "integer") options.push(fc.integer({ min: -3, max: 12 }));
    if (type === "number") options.push(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -3, max: 3 })));
    if (type === "boolean") options.push(fc.boolean());
    if (type === "null") options.push(fc.constant(null));
    if (type === "array") options.push(fc.array(bodies(s.items ?? true, defs, depth + 1), { maxLength: 3 }));
    if (type === "object") {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const record = fc.record(Object.fromEntries(Object.entries(props).map(([k, sub]) => [k, bodies(sub, defs, depth + 1)])), { requiredKeys: [] });
      const extra = fc.dictionary(fc.constantFrom("x", "y", "x-a"), bodies(s.additionalProperties ?? true, defs, depth + 1), { maxKeys: 1 });
      options.push(fc.tuple(record, fc.option(extra, { freq: 4 })).map(([r, e]) => ({ ...r, ...(e ?? {}) })));
    }
  }
  // Mostly schema-shaped, so nested keywords are reached; random JSON now and then.
  return fc.oneof({ arbitrary: noise, weight: 1 }, ...options.map((arbitrary) => ({ arbitrary, weight: 4 })));
}

/** Runs the differential property for one response schema; resolves with fast-check's verdict. */
function agree(schemas: readonly unknown[], root: number, interpreterSchemas: readonly unknown[] = schemas) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false }).compile(ajvDocument(schemas, root));
  return fc.check(
    fc.property(bodies(schemas[root], schemas), (body) => (schemaIssues(interpreterSchemas, root, body).length === 0) === ajv(body)),
    { numRuns: 300, seed: 20251123 },
  );
}

describe("differential against Ajv", () => {
  it("agrees on every JSON response schema of every test spec", () => {
    let checked = 0;
    for (const { name, data } of specSets) {
      const roots = new Set(Object.values(data.responses).flatMap((m) => Object.values(m).flatMap((st) => Object.values(st))).filter((i) => i >= 0));
      expect(roots.size, name).toBeGreaterThan(0);
      for (const root of roots) {
        const verdict = agree(data.schemas, root);
        expect(verdict.failed, `${name} schemas[${root}]: ${fc.defaultReportMessage(verdict) ?? ""}`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it("has teeth: an interpreter reading different data (required dropped, an enum shortened) is caught", () => {
    const relay = specSets.find((s) => s.name === "relay-like")!.data;
    const models = relay.responses["/v1/models"]!.get!["200"]!;
    const noRequired = relay.schemas.map((s) => (s && typeof s === "object" ? { ...(s as object), required: undefined } : s));
    expect(agree(relay.schemas, models, noRequired).failed).toBe(true);
    const task = relay.responses["/kling/v1/videos/text2video/{task_id}"]!.get!["200"]!;
    const shortEnum = JSON.parse(JSON.stringify(relay.schemas).replace('"enum":["queued","in_progress","completed","failed"]', '"enum":["queued","in_progress","completed"]')) as unknown[];
    expect(agree(relay.schemas, task, shortEnum).failed).toBe(true);
  });
});
