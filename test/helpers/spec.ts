// The specs' own response and request body schemas, compiled at test time with Ajv from openapi/
// (not from generated/), so the contract suite checks fixtures against the documents themselves, as
// generation reads them: the project's overlays applied, the remembered selection kept. Any number
// of specs may sit in openapi/: an operation is looked up in the spec that defines it.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { isSpecFileName, parseSpec } from "../../scripts/generate.js";
import { normalizeSchema, pointerToken, resolvePointer, type NormalizeContext } from "../../scripts/spec-normalize.js";
import { effectiveSpec, OVERLAY_DIR, parseOverlay, parseSpecSetConfig, SPEC_SET_FILE } from "../../scripts/spec-set.js";

/** Root of the repository. */
export const ROOT = path.resolve(import.meta.dirname, "../..");

/** A parsed OpenAPI document (only what the tests read). */
export type SpecDoc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: { content?: Record<string, { schema: unknown }> } }>
  >;
  servers?: Array<{ url: string }>;
} & Record<string, unknown>;

/** The spec files in `dir` (default openapi/), sorted by name: not the remembered selection, not the overlays. */
export function specFiles(dir = path.join(ROOT, "openapi")): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && isSpecFileName(e.name)).map((e) => e.name).sort();
}

/** Reads one spec (JSON or YAML) from `dir` (default openapi/), as published. */
export function loadSpec(file: string, dir = path.join(ROOT, "openapi")): SpecDoc {
  return parseSpec(file, readFileSync(path.join(dir, file), "utf8")) as unknown as SpecDoc;
}

/** One spec of `dir` as generation reads it: its overlays applied, its remembered selection kept. */
export function loadEffectiveSpec(file: string, dir = path.join(ROOT, "openapi")): SpecDoc {
  const shown = path.basename(dir);
  const overlayDir = path.join(dir, OVERLAY_DIR);
  const overlays = existsSync(overlayDir)
    ? readdirSync(overlayDir)
        .filter((f) => /\.(json|ya?ml)$/i.test(f) && !f.startsWith("."))
        .sort()
        .map((f) => parseOverlay(`${shown}/${OVERLAY_DIR}/${f}`, readFileSync(path.join(overlayDir, f), "utf8"), shown))
    : [];
  const configPath = path.join(dir, SPEC_SET_FILE);
  const config = existsSync(configPath) ? parseSpecSetConfig(`${shown}/${SPEC_SET_FILE}`, readFileSync(configPath, "utf8")) : undefined;
  return effectiveSpec(file, loadSpec(file, dir), overlays, config, `${shown}/${SPEC_SET_FILE}`).doc as unknown as SpecDoc;
}

/** The first spec (by file name) in openapi/ defining `method route`, as generation reads it: the one the generated types use. */
export function specDefining(route: string, method = "get"): { file: string; spec: SpecDoc } {
  for (const file of specFiles()) {
    const spec = loadEffectiveSpec(file);
    if (spec.paths[route]?.[method]) return { file, spec };
  }
  throw new Error(`no spec in openapi/ defines ${method.toUpperCase()} ${route}`);
}

/** The path template of `spec` that a concrete request path matches (`/x/{id}` for `/x/42`); an exact path wins. */
export function routeOf(spec: SpecDoc, method: string, requestPath: string): string | undefined {
  const routes = Object.keys(spec.paths).filter((route) => spec.paths[route]?.[method.toLowerCase()]);
  if (routes.includes(requestPath)) return requestPath;
  return routes.find((route) => {
    const pattern = route.split(/\{[^{}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^/]+");
    return new RegExp(`^${pattern}$`).test(requestPath);
  });
}

/**
 * A response schema as one self-contained JSON Schema 2020-12 document: 3.0 read as 2020-12
 * (scripts/spec-normalize.ts), every `$ref` target under `$defs`.
 */
export function responseJsonSchema(spec: SpecDoc, route: string, method: string, status: string): object {
  const media = spec.paths[route]?.[method]?.responses[status]?.content ?? {};
  return selfContained(spec, media, `/paths/${pointerToken(route)}/${method}/responses/${status}`, `${method.toUpperCase()} ${route} ${status}`);
}

/** A request body schema as one self-contained JSON Schema 2020-12 document (see responseJsonSchema). */
export function requestJsonSchema(spec: SpecDoc, route: string, method: string): object {
  const media = spec.paths[route]?.[method]?.requestBody?.content ?? {};
  return selfContained(spec, media, `/paths/${pointerToken(route)}/${method}/requestBody`, `${method.toUpperCase()} ${route} request body`);
}

function selfContained(spec: SpecDoc, media: Record<string, { schema: unknown }>, at: string, what: string): object {
  const type = Object.keys(media).find((t) => /json/i.test(t));
  const schema = type === undefined ? undefined : media[type]?.schema;
  if (schema === undefined) throw new Error(`the spec has no JSON schema for ${what}`);
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
  const root = normalizeSchema(schema, at, ctx);
  return typeof root === "boolean" ? { $defs: defs, ...(root ? {} : { not: {} }) } : { $defs: defs, ...(root as object) };
}

/** Compiles the JSON Schema of one response of `spec` with Ajv. */
export function responseSchemaValidator(spec: SpecDoc, route: string, method: string, status: string): ValidateFunction {
  return new Ajv2020({ allErrors: true, strict: true }).compile(responseJsonSchema(spec, route, method, status));
}

/** Compiles the JSON Schema of one request body of `spec` with Ajv. */
export function requestSchemaValidator(spec: SpecDoc, route: string, method: string): ValidateFunction {
  return new Ajv2020({ allErrors: true, strict: true }).compile(requestJsonSchema(spec, route, method));
}

/** A recorded interaction from test/fixtures/: a create's `request.body` is what was sent. */
export interface Fixture {
  file: string;
  note: string;
  request: { method: string; path: string; body?: unknown };
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

/**
 * The fixtures that do not conform to `spec` (by default the spec of openapi/ defining each one's
 * operation, as generation reads it), with Ajv's complaint: the contract suite's verdict. Each
 * answer is checked against its status's schema, and a create's request body against the body schema.
 */
export function nonConforming(fixtures: Fixture[], spec?: SpecDoc): Array<{ file: string; errors: string }> {
  const out: Array<{ file: string; errors: string }> = [];
  for (const fixture of fixtures) {
    const method = fixture.request.method.toLowerCase();
    try {
      const doc = spec ?? specFor(fixture);
      const route = routeOf(doc, method, fixture.request.path);
      if (route === undefined) throw new Error(`the spec has no ${fixture.request.method} operation for ${fixture.request.path}`);
      const validate = responseSchemaValidator(doc, route, method, String(fixture.status));
      if (!validate(fixture.body)) {
        out.push({ file: fixture.file, errors: JSON.stringify(validate.errors) });
        continue;
      }
      if (fixture.request.body !== undefined) {
        const request = requestSchemaValidator(doc, route, method);
        if (!request(fixture.request.body)) out.push({ file: fixture.file, errors: `request body: ${JSON.stringify(request.errors)}` });
      }
    } catch (error) {
      out.push({ file: fixture.file, errors: (error as Error).message });
    }
  }
  return out;
}

/** The spec of openapi/ (as generation reads it) that defines the operation a fixture recorded. */
export function specFor(fixture: Fixture): SpecDoc {
  const method = fixture.request.method.toLowerCase();
  for (const file of specFiles()) {
    const spec = loadEffectiveSpec(file);
    if (routeOf(spec, method, fixture.request.path) !== undefined) return spec;
  }
  throw new Error(`no spec in openapi/ defines ${fixture.request.method} ${fixture.request.path}`);
}
