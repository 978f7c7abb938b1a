// The specs' own response schemas, compiled at test time with Ajv from openapi/ (not from
// generated/), so the contract suite checks fixtures against the documents themselves. Any number
// of specs may sit in openapi/: an operation is looked up in the spec that defines it.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { parseSpec } from "../../scripts/generate.js";
import { normalizeSchema, pointerToken, resolvePointer, type NormalizeContext } from "../../scripts/spec-normalize.js";

/** Root of the repository. */
export const ROOT = path.resolve(import.meta.dirname, "../..");

/** A parsed OpenAPI document (only what the tests read). */
export type SpecDoc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  servers?: Array<{ url: string }>;
} & Record<string, unknown>;

/** The spec files in `dir` (default openapi/), sorted by name. */
export function specFiles(dir = path.join(ROOT, "openapi")): string[] {
  return readdirSync(dir).filter((f) => /\.(json|ya?ml)$/i.test(f) && !f.startsWith(".")).sort();
}

/** Reads one spec (JSON or YAML) from `dir` (default openapi/). */
export function loadSpec(file: string, dir = path.join(ROOT, "openapi")): SpecDoc {
  return parseSpec(file, readFileSync(path.join(dir, file), "utf8")) as unknown as SpecDoc;
}

/** The first spec (by file name) in openapi/ defining `method route`: the one the generated types use. */
export function specDefining(route: string, method = "get"): { file: string; spec: SpecDoc } {
  for (const file of specFiles()) {
    const spec = loadSpec(file);
    if (spec.paths[route]?.[method]) return { file, spec };
  }
  throw new Error(`no spec in openapi/ defines ${method.toUpperCase()} ${route}`);
}

/**
 * A response schema as one self-contained JSON Schema 2020-12 document: 3.0 read as 2020-12
 * (scripts/spec-normalize.ts), every `$ref` target under `$defs`.
 */
export function responseJsonSchema(spec: SpecDoc, route: string, method: string, status: string): object {
  const media = spec.paths[route]?.[method]?.responses[status]?.content ?? {};
  const type = Object.keys(media).find((t) => /json/i.test(t));
  const schema = type === undefined ? undefined : media[type]?.schema;
  if (schema === undefined) throw new Error(`the spec has no JSON schema for ${method.toUpperCase()} ${route} ${status}`);
  const defs: Record<string, unknown> = {};
  const names = new Map<string, string>();
  const ctx: NormalizeContext = {
    mode: "validate",
    is30: spec.openapi.startsWith("3.0"),
    warn: () => undefined,
    ref(target, at) {
      let name = names.get(target);
      if (name === undefined) {
        name = `d${names.size}`;
        names.set(target, name);
        defs[name] = normalizeSchema(resolvePointer(spec, target, at), target.slice(1), ctx);
      }
      return { $ref: `#/$defs/${name}` };
    },
  };
  const at = `/paths/${pointerToken(route)}/${method}/responses/${status}`;
  const root = normalizeSchema(schema, at, ctx);
  return typeof root === "boolean" ? { $defs: defs, ...(root ? {} : { not: {} }) } : { $defs: defs, ...(root as object) };
}

/** Compiles the JSON Schema of one response of `spec` with Ajv. */
export function responseSchemaValidator(spec: SpecDoc, route: string, method: string, status: string): ValidateFunction {
  return new Ajv2020({ allErrors: true, strict: true }).compile(responseJsonSchema(spec, route, method, status));
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
