// The spec's own response schemas, compiled at test time from openapi/ (not from generated/),
// so the contract suite checks fixtures against the document itself.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

/** Root of the repository. */
export const ROOT = path.resolve(import.meta.dirname, "../..");

/** A parsed OpenAPI document (only what the tests read). */
export type SpecDoc = {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  servers?: Array<{ url: string }>;
} & Record<string, unknown>;

/** Reads openapi/<file>. */
export function loadSpec(file = "kling-image2video.json"): SpecDoc {
  return JSON.parse(readFileSync(path.join(ROOT, "openapi", file), "utf8")) as SpecDoc;
}

/** Compiles the JSON Schema of one response of `spec` (OpenAPI 3.1 = JSON Schema 2020-12). */
export function responseSchemaValidator(spec: SpecDoc, route: string, method: string, status: string): ValidateFunction {
  const schema = spec.paths[route]?.[method]?.responses[status]?.content?.["application/json"]?.schema;
  if (schema === undefined) throw new Error(`the spec has no JSON schema for ${method.toUpperCase()} ${route} ${status}`);
  // strict: false because the spec's schemas carry vendor keywords (x-apifox-orders).
  return new Ajv2020({ allErrors: true, strict: false }).compile(schema as object);
}

/** A recorded interaction from test/fixtures/. */
export interface Fixture {
  file: string;
  note: string;
  request: { method: string; path: string };
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Every recorded fixture, sorted by file name. */
export function loadFixtures(): Fixture[] {
  const dir = path.join(ROOT, "test", "fixtures");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Omit<Fixture, "file">) }));
}

/** The fixtures that do not conform to `spec`, with Ajv's complaint: the contract suite's verdict. */
export function nonConforming(spec: SpecDoc, route: string, fixtures: Fixture[]): Array<{ file: string; errors: string }> {
  const out: Array<{ file: string; errors: string }> = [];
  for (const fixture of fixtures) {
    let validate: ValidateFunction;
    try {
      validate = responseSchemaValidator(spec, route, fixture.request.method.toLowerCase(), String(fixture.status));
    } catch (error) {
      out.push({ file: fixture.file, errors: (error as Error).message });
      continue;
    }
    if (!validate(fixture.body)) {
      out.push({ file: fixture.file, errors: JSON.stringify(validate.errors) });
    }
  }
  return out;
}
