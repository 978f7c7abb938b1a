/**
 * Turns every OpenAPI 3.0/3.1 spec in `openapi/` (JSON, or YAML) into TypeScript under `generated/`.
 *
 * Before a spec is read, the project's overlays for it (`openapi/overlays/`) are applied and its remembered
 * selection (`openapi/spec-set.json`) keeps only the chosen operations and the components they reach
 * (scripts/spec-set.ts); what follows reads that result. The spec file itself stays as published.
 *
 * - `generated/<name>.ts` per spec: its `paths` / `operations` / `components` types (openapi-typescript);
 * - `generated/index.ts`: the whole spec set, the one module src/_spec.ts imports:
 *   - `paths`: every operation of every spec, per path AND method, from the spec that defines it;
 *     when several specs define the same operation they must mean the same (scripts/spec-normalize.ts
 *     `operationMeaning`), else generation fails naming both files; the first file (by name) is used;
 *   - `operations`, `components`: per operationId / component name, the first file (by name) that has it;
 *   - `schemas` + `responses` + `requests`: every JSON response schema (`application/json`, `*+json`)
 *     and every JSON request body schema as JSON Schema 2020-12 data (3.0 read as 2020-12,
 *     annotations dropped, `$ref`s as indexes into `schemas`), keyed path -> method -> status
 *     (responses) or path -> method (requests); -1 marks a documented answer or body with no JSON
 *     schema. src/_schema.ts interprets them (no validator library ships).
 *   No base URL is generated: it is pinned in src/options.ts (DEFAULT_BASE_URL). A spec whose
 *   `servers` name another URL gets a warning saying so; it is never applied.
 *
 * Defects that do not stop generation are warnings naming their location (file#pointer): duplicate
 * operationIds (the later ones are dropped from the copy openapi-typescript sees, so those operations
 * are typed inline in `paths` and not listed in `operations`), missing operationIds, unknown formats,
 * servers other than the pinned base URL, and Redocly's own warnings. What cannot be generated (an
 * unresolvable or external `$ref`, Redocly errors, two specs disagreeing on an operation, an overlay
 * action matching nothing, a selection entry matching nothing) fails naming its location.
 *
 * Usage: `tsx scripts/generate.ts [--check] [--spec-dir DIR] [--out-dir DIR]`
 * `--check` writes nothing and exits 1 naming each stale file when `generated/` is out of date.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { BaseResolver, createConfig, lintDocument, makeDocumentFromString, type Config } from "@redocly/openapi-core";
import openapiTS, { astToString } from "openapi-typescript";
import { parse as parseYaml } from "yaml";
import {
  deref,
  firstDifference,
  normalizeSchema,
  operationMeaning,
  pointerToken,
  resolvePointer,
  stableStringify,
  type JsonObject,
  type NormalizeContext,
} from "./spec-normalize.js";
import {
  describeSelection,
  effectiveSpec,
  OVERLAY_DIR,
  parseOverlay,
  parseSpecSetConfig,
  SPEC_SET_FILE,
  type Overlay,
  type SourceFile,
  type SpecSetConfig,
} from "./spec-set.js";
import { DEFAULT_BASE_URL, LONE_SURROGATE } from "../src/options.js";

/** The methods OpenAPI defines on a path item, in the order they are listed. */
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** File extensions read as specs. */
export const SPEC_EXTENSIONS = [".json", ".yaml", ".yml"];

/** The merged module's name; a spec may not be called `index`. */
const INDEX = "index.ts";

/** Formats of OpenAPI and JSON Schema; any other is reported (formats are annotations either way). */
const KNOWN_FORMATS = new Set([
  "int32", "int64", "float", "double", "byte", "binary", "password", "date", "date-time", "time", "duration",
  "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference",
  "uri-template", "uuid", "json-pointer", "relative-json-pointer", "regex",
]);

const COMPONENT_SECTIONS = ["schemas", "responses", "parameters", "requestBodies", "headers", "pathItems"] as const;

/** A generated file: where it goes (relative to the output dir) and what it holds. */
export interface GeneratedFile {
  name: string;
  content: string;
}

/** One spec to generate from: its path as named in headers (e.g. `openapi/relay.json`) and its text. */
export interface SpecInput {
  file: string;
  text: string;
}

/** Receives each warning, one line naming its location. */
export type Warn = (message: string) => void;

/** What `openapi/` holds besides the specs: overlays (`openapi/overlays/*`) and the remembered selection (`openapi/spec-set.json`). */
export interface SetExtras {
  overlays?: readonly SourceFile[];
  config?: SourceFile;
}

export type { SourceFile } from "./spec-set.js";

/** A parsed OpenAPI document (what the generator reads). */
export interface SpecDocument extends JsonObject {
  openapi: string;
  paths: Record<string, JsonObject>;
  servers?: Array<{ url?: unknown }>;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Parses one spec, JSON or YAML, and sanity-checks it; throws a message naming the file. */
export function parseSpec(fileName: string, raw: string): SpecDocument {
  // A byte-order mark is no content: JSON.parse would refuse it with an invisible character.
  const text = raw.replace(/^\uFEFF/, "");
  let doc: unknown;
  // JSON when it looks like JSON or the name says nothing else; YAML (a superset) otherwise.
  if (/^\s*[{[]/.test(text)) {
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new Error(`${fileName} is not JSON: ${(error as Error).message}`);
    }
  } else {
    try {
      doc = parseYaml(text, { maxAliasCount: 1000 });
    } catch (error) {
      throw new Error(`${fileName} is neither JSON nor YAML: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  if (!isObject(doc)) {
    throw new Error(`${fileName} is not an OpenAPI document: the top level is not an object`);
  }
  if (typeof doc.openapi !== "string" || !/^3\.[01]\.\d+$/.test(doc.openapi)) {
    throw new Error(`${fileName} is not an OpenAPI 3.0/3.1 document: "openapi" is ${JSON.stringify(doc.openapi)}`);
  }
  if (!isObject(doc.paths)) {
    throw new Error(`${fileName} is not an OpenAPI document: it has no "paths" object`);
  }
  return doc as SpecDocument;
}

/** The file-name rule of a spec: it names a generated module and an import, so no quotes, slashes or line breaks. */
export function checkSpecName(base: string, shown: string): void {
  if (!/^[\w. ()-]+$/.test(base) || base.startsWith(".")) {
    throw new Error(`${JSON.stringify(shown)} is not a usable spec name: letters, digits, space, ".", "_", "-" and parentheses only`);
  }
}

/** Deepest nesting of a spec read: far beyond any real one, well within the stack of every tool after us. */
const MAX_DEPTH = 200;

/**
 * What no spec may hold anywhere, extensions and examples included (every tool after us reads
 * those too): a `$ref` or discriminator mapping that leaves the document (it would be fetched or
 * read from disk), a string that is not well-formed Unicode (it cannot be written back as read),
 * nesting deeper than MAX_DEPTH.
 */
function scanDocument(file: string, doc: unknown): void {
  const outside = (ref: string, at: string): never => {
    throw new Error(`${file}#${at}: ${JSON.stringify(ref)} points outside the document; only local references (#/...) are read`);
  };
  const visit = (node: unknown, at: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new Error(`${file}#${at}: nested deeper than ${MAX_DEPTH} levels`);
    if (typeof node === "string") {
      if (LONE_SURROGATE.test(node)) throw new Error(`${file}#${at}: a string that is not well-formed Unicode (a lone surrogate)`);
      return;
    }
    if (Array.isArray(node)) return node.forEach((child, i) => visit(child, `${at}/${i}`, depth + 1));
    if (!isObject(node)) return;
    if (typeof node.$ref === "string" && !node.$ref.startsWith("#")) outside(node.$ref, `${at}/$ref`);
    if (isObject(node.discriminator) && isObject(node.discriminator.mapping)) {
      for (const [name, target] of Object.entries(node.discriminator.mapping)) {
        // A bare word names a component; anything with a path in it is a reference.
        if (typeof target === "string" && /[/#.:]/.test(target) && !target.startsWith("#")) {
          outside(target, `${at}/discriminator/mapping/${pointerToken(name)}`);
        }
      }
    }
    for (const [key, child] of Object.entries(node)) {
      if (LONE_SURROGATE.test(key)) throw new Error(`${file}#${at}: a key that is not well-formed Unicode (a lone surrogate)`);
      visit(child, `${at}/${pointerToken(key)}`, depth + 1);
    }
  };
  visit(doc, "", 0);
}

/** A response status key: a code, a range (`2XX`) or `default`. */
const STATUS_KEY = /^([1-5]\d\d|[1-5]XX|default)$/i;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function header(sources: readonly SourceFile[], role: string, note = ""): string {
  const named = sources.map((s) => `${s.file} (sha256 ${sha256(s.text)})`).join(", ") + note;
  return [`// Generated by scripts/generate.ts from ${named}. Do not edit:`, `// change the spec and run \`npm run generate\`. ${role}`, ""].join("\n");
}

let redoclyConfig: Promise<Config> | undefined;

/** openapi-typescript's own Redocly setup, except that a duplicate operationId warns (we fix it in the copy). */
function redocly(): Promise<Config> {
  redoclyConfig ??= createConfig(
    { rules: { "operation-operationId-unique": { severity: "warn" } } } as Parameters<typeof createConfig>[0],
    { extends: ["minimal"] } as Parameters<typeof createConfig>[1],
  );
  return redoclyConfig;
}

/** One operation of one spec. */
interface OperationEntry {
  spec: number;
  route: string;
  method: string;
  /** Its operationId in the copy openapi-typescript saw (null: typed inline in `paths`). */
  operationId: string | null;
}

/** A spec after linting: the copy openapi-typescript sees, its operations, its types. */
interface PreparedSpec {
  input: SpecInput;
  base: string;
  doc: SpecDocument;
  /** The overlays applied to it, in order. */
  overlays: Overlay[];
  operations: OperationEntry[];
  types: GeneratedFile;
}

/** Own checks, with the copy openapi-typescript gets: later duplicate operationIds removed. */
function lintOwn(input: SpecInput, doc: SpecDocument, index: number, warn: Warn): { copy: SpecDocument; operations: OperationEntry[] } {
  const copy = structuredClone(doc);
  const operations: OperationEntry[] = [];
  const firstUse = new Map<string, string>();
  // The key's destination is pinned in src/options.ts: a spec naming another host is reported, never applied.
  (Array.isArray(doc.servers) ? doc.servers : []).forEach((server: unknown, i) => {
    const url = isObject(server) && typeof server.url === "string" ? server.url : undefined;
    if (url === undefined || url.replace(/\/+$/, "") === DEFAULT_BASE_URL) return;
    warn(`${input.file}#/servers/${i}/url: ${lit(url)} is not the pinned base URL ${lit(DEFAULT_BASE_URL)} (DEFAULT_BASE_URL, src/options.ts): a maintainer decision, not applied`);
  });
  for (const [route, rawItem] of Object.entries(copy.paths)) {
    // OpenAPI's rule; it also keeps "__proto__" and "constructor" from becoming routes.
    if (!route.startsWith("/")) throw new Error(`${input.file}#/paths/${pointerToken(route)}: a path must start with "/"`);
    const item = deref(copy, rawItem, `${input.file}#/paths/${pointerToken(route)}`);
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const at = `${input.file}#/paths/${pointerToken(route)}/${method}`;
      // A `{name}` in the path with no `in: path` parameter for it is typed `path?: never`: no caller could fill it.
      const declared = new Set<string>();
      for (const list of [item.parameters, op.parameters]) {
        for (const raw of Array.isArray(list) ? list : []) {
          const parameter = deref(copy, raw, at);
          if (isObject(parameter) && parameter.in === "path" && typeof parameter.name === "string") declared.add(parameter.name);
        }
      }
      for (const [, name] of route.matchAll(/\{([^{}]+)\}/g)) {
        if (!declared.has(name!)) warn(`${at}: the path's {${name}} has no "in: path" parameter; calls cannot fill it`);
      }
      for (const status of Object.keys(isObject(op.responses) ? op.responses : {})) {
        if (!STATUS_KEY.test(status)) {
          throw new Error(`${at}/responses/${pointerToken(status)}: not a status code, a range like 2XX, or "default"`);
        }
      }
      let operationId: string | null = typeof op.operationId === "string" && op.operationId !== "" ? op.operationId : null;
      if (operationId === null) {
        warn(`${at}: no operationId; the operation is typed inline in paths`);
      } else if (firstUse.has(operationId)) {
        warn(`${at}: operationId ${JSON.stringify(operationId)} is already used by ${firstUse.get(operationId)}; this one is typed inline in paths`);
        delete op.operationId;
        operationId = null;
      } else {
        firstUse.set(operationId, `${method.toUpperCase()} ${route}`);
      }
      operations.push({ spec: index, route, method, operationId });
    }
  }
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) node.forEach((child, i) => walk(child, `${at}/${i}`));
    else if (isObject(node)) {
      if (typeof node.format === "string" && "type" in node && !KNOWN_FORMATS.has(node.format)) {
        warn(`${input.file}#${at}/format: unknown format ${JSON.stringify(node.format)} (an annotation: not checked)`);
      }
      for (const [key, child] of Object.entries(node)) {
        if (typeof child === "string" && key === "$ref") resolvePointer(doc, child, `${input.file}#${at}/$ref`);
        if (!key.startsWith("x-") && key !== "example" && key !== "examples") walk(child, `${at}/${pointerToken(key)}`);
      }
    }
  };
  walk(doc, "");
  return { copy, operations };
}

/** Lints with Redocly and generates one spec's types. */
async function prepareSpec(input: SpecInput, index: number, warn: Warn, set: ParsedExtras): Promise<PreparedSpec> {
  const published = parseSpec(input.file, input.text);
  const base = path.basename(input.file).replace(/\.(json|ya?ml)$/i, "");
  checkSpecName(base, input.file);
  scanDocument(input.file, published);
  if (`${base}.ts` === INDEX) throw new Error(`${input.file}: a spec may not be called "index" (generated/index.ts is the merged module)`);
  const name = path.basename(input.file);
  const overlays = set.overlays.filter((o) => o.spec === name);
  const { doc: effective, selection } = effectiveSpec(name, published, overlays, set.config, set.configFile);
  const doc = effective as SpecDocument;
  const { copy, operations } = lintOwn(input, doc, index, warn);

  const config = await redocly();
  const document = makeDocumentFromString(JSON.stringify(copy), path.resolve(input.file));
  let problems: Awaited<ReturnType<typeof lintDocument>>;
  try {
    problems = await lintDocument({ document, config: config.styleguide, externalRefResolver: new BaseResolver(config.resolve) });
  } catch (error) {
    throw new Error(`${input.file}: the OpenAPI linter failed on it: ${(error as Error).message}`);
  }
  const errors: string[] = [];
  for (const problem of problems) {
    if (problem.ruleId === "operation-operationId-unique") continue; // reported above, fixed in the copy
    const where = `${input.file}#${problem.location[0]?.pointer?.replace(/^#/, "") ?? ""}`;
    if (problem.severity === "error") errors.push(`${where}: ${problem.message}`);
    else warn(`${where}: ${problem.message}`);
  }
  if (errors.length) throw new Error(`${input.file} cannot be generated:\n  ${errors.join("\n  ")}`);

  let ast;
  try {
    // defaultNonNullable off: a `default` says what the server assumes when a property is absent,
    // so a request need not send it (and an answer may omit it).
    ast = await openapiTS(copy as unknown as Parameters<typeof openapiTS>[0], { silent: true, redocly: config, defaultNonNullable: false });
  } catch (error) {
    throw new Error(`${input.file}: openapi-typescript failed: ${(error as Error).message}`);
  }
  const note = selection ? `; operations selected by ${set.configFile} (${describeSelection(selection)})` : "";
  const role = selection ? "Types of the selected paths and operations and the components they reach." : "Types of every path, operation and component.";
  const types = header([input, ...overlays], role, note) + "\n" + astToString(ast);
  return { input, base, doc, overlays, operations, types: { name: `${base}.ts`, content: types } };
}

/** Whether a media type carries JSON: `application/json` or `*\/*+json`, parameters allowed. */
export function isJsonMediaType(type: string): boolean {
  return /^[\w.-]+\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i.test(type.trim());
}

/** `schema` with every `{ $ref: n }` pointing at `renumber[n]`. */
function renumberRefs(schema: unknown, renumber: readonly number[]): unknown {
  if (Array.isArray(schema)) return schema.map((item) => renumberRefs(item, renumber));
  if (!isObject(schema)) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === "$ref" && typeof value === "number" ? renumber[value] : key === "enum" || key === "const" ? value : renumberRefs(value, renumber),
    ]),
  );
}

/** Collects response schemas as shared 2020-12 data. */
class SchemaTable {
  readonly schemas: unknown[] = [];
  private readonly byPointer = new Map<string, number>();
  private readonly byText = new Map<string, number>();

  constructor(private readonly warn: Warn) {}

  /** Index of `schema` (found at `at` in spec `spec`), adding it and what it references. */
  add(spec: PreparedSpec, schema: unknown, at: string): number {
    const normalized = normalizeSchema(schema, at, this.context(spec));
    if (isObject(normalized) && typeof normalized.$ref === "number" && Object.keys(normalized).length === 1) return normalized.$ref;
    return this.intern(normalized);
  }

  /** Merges definitions equal in content (e.g. a component and the same schema written inline); returns old index -> new. */
  compact(): number[] {
    let total = this.schemas.map((_, i) => i);
    for (;;) {
      const first = new Map<string, number>();
      const same = this.schemas.map((schema, i) => {
        const text = stableStringify(schema);
        if (!first.has(text)) first.set(text, i);
        return first.get(text)!;
      });
      if (same.every((to, i) => to === i)) return total;
      const kept = same.map((to, i) => (to === i ? i : -1)).filter((i) => i >= 0);
      const renumber = same.map((to) => kept.indexOf(to));
      this.schemas.splice(0, this.schemas.length, ...kept.map((i) => renumberRefs(this.schemas[i], renumber)));
      total = total.map((i) => renumber[i]!);
    }
  }

  private intern(schema: unknown): number {
    const text = stableStringify(schema);
    const known = this.byText.get(text);
    if (known !== undefined) return known;
    this.schemas.push(schema);
    this.byText.set(text, this.schemas.length - 1);
    return this.schemas.length - 1;
  }

  private context(spec: PreparedSpec): NormalizeContext {
    const ctx: NormalizeContext = {
      mode: "validate",
      is30: spec.doc.openapi.startsWith("3.0"),
      warn: (message) => this.warn(`${spec.input.file}#${message}`),
      ref: (target, at) => {
        const key = `${spec.input.file}${target}`;
        let index = this.byPointer.get(key);
        if (index === undefined) {
          index = this.schemas.length;
          this.schemas.push(true); // reserved first, so a recursive reference finds it
          this.byPointer.set(key, index);
          this.schemas[index] = normalizeSchema(resolvePointer(spec.doc, target, `${spec.input.file}#${at}`), target.slice(1), ctx);
        }
        return { $ref: index };
      },
    };
    return ctx;
  }
}

const lit = (text: string): string => JSON.stringify(text);

/**
 * JSON data as a JavaScript literal. In a literal `"__proto__": x` sets the prototype instead of a
 * key (JSON.parse makes it a key), so that one key is written computed. In compact JSON a key
 * follows `{` or `,`, which inside a string would sit behind an escaped quote.
 */
export function dataLiteral(value: unknown): string {
  return JSON.stringify(value).replace(/([{,])"__proto__":/g, '$1["__proto__"]:');
}

/** The overlays and the selection, read and checked against the set they apply to. */
interface ParsedExtras {
  overlays: Overlay[];
  config?: SpecSetConfig;
  configFile: string;
}

const byFile = <T extends { file: string }>(a: T, b: T): number => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0);

/** Parses the overlays and the selection; each must name a spec of the set, so none is left behind when a spec goes. */
function parseExtras(sorted: readonly SpecInput[], extras: SetExtras): ParsedExtras {
  const dirOfSpecs = path.posix.dirname(sorted[0]!.file);
  const names = new Set(sorted.map((s) => path.basename(s.file)));
  const overlays = [...(extras.overlays ?? [])].sort(byFile).map((source) => {
    const overlay = parseOverlay(source.file, source.text, dirOfSpecs);
    // The overlay's own values become part of the spec: the same rules (no outside $ref, ...).
    scanDocument(source.file, { actions: overlay.actions });
    if (!names.has(overlay.spec)) {
      throw new Error(`${source.file}: extends ${overlay.spec}, which is not in ${dirOfSpecs}/; delete the overlay or point it at the spec that replaced it`);
    }
    return overlay;
  });
  const configFile = extras.config?.file ?? path.posix.join(dirOfSpecs, SPEC_SET_FILE);
  const config = extras.config ? parseSpecSetConfig(extras.config.file, extras.config.text) : undefined;
  for (const spec of Object.keys(config?.select ?? {})) {
    if (!names.has(spec)) throw new Error(`${configFile}#/select/${pointerToken(spec)}: selects from ${spec}, which is not in ${dirOfSpecs}/; remove the entry`);
  }
  return { overlays, config, configFile };
}

/**
 * Generates every file for a set of specs (sorted by file name), with the overlays and the
 * selection of `extras` applied; pure: the same input gives the same bytes.
 */
export async function generateSpecs(inputs: readonly SpecInput[], warn: Warn = () => undefined, extras: SetExtras = {}): Promise<GeneratedFile[]> {
  if (inputs.length === 0) throw new Error("no spec to generate from");
  const sorted = [...inputs].sort(byFile);
  const set = parseExtras(sorted, extras);
  const specs: PreparedSpec[] = [];
  for (const [i, input] of sorted.entries()) specs.push(await prepareSpec(input, i, warn, set));
  const bases = new Map<string, string>();
  for (const s of specs) {
    const other = bases.get(s.base);
    if (other) throw new Error(`${other} and ${s.input.file} would both generate generated/${s.base}.ts; rename one`);
    bases.set(s.base, s.input.file);
  }

  // Operations: per path and method, the first spec that defines it; the others must mean the same.
  const owners = new Map<string, OperationEntry>();
  const meanings = new Map<string, unknown>();
  const meaningOf = (entry: OperationEntry): unknown => {
    const key = `${entry.spec} ${entry.method} ${entry.route}`;
    if (!meanings.has(key)) {
      const s = specs[entry.spec]!;
      meanings.set(key, operationMeaning(s.doc, entry.route, entry.method, s.input.file));
    }
    return meanings.get(key);
  };
  for (const s of specs) {
    for (const entry of s.operations) {
      const key = `${entry.method} ${entry.route}`;
      const owner = owners.get(key);
      if (!owner) {
        owners.set(key, entry);
        continue;
      }
      const difference = firstDifference(meaningOf(owner), meaningOf(entry));
      if (difference !== undefined) {
        throw new Error(
          `${entry.method.toUpperCase()} ${entry.route} is defined by ${specs[owner.spec]!.input.file} and ${s.input.file} ` +
            `with different meanings (first difference at ${difference}); make them agree or remove it from one`,
        );
      }
    }
  }

  // Response schemas of every operation, from the spec that owns it.
  const table = new SchemaTable(warn);
  const responses: Record<string, Record<string, Record<string, number>>> = {};
  for (const entry of owners.values()) {
    const s = specs[entry.spec]!;
    const at = `/paths/${pointerToken(entry.route)}/${entry.method}/responses`;
    const item = deref(s.doc, s.doc.paths[entry.route], `${s.input.file}#/paths/${pointerToken(entry.route)}`) as JsonObject;
    const op = item[entry.method] as JsonObject;
    for (const [status, raw] of Object.entries(isObject(op.responses) ? op.responses : {})) {
      const response = deref(s.doc, raw, `${s.input.file}#${at}/${pointerToken(status)}`) as JsonObject;
      const content = isObject(response.content) ? response.content : {};
      const json = Object.keys(content).find((type) => type.trim().toLowerCase().startsWith("application/json")) ?? Object.keys(content).find(isJsonMediaType);
      const media = json === undefined ? undefined : content[json];
      const schema = isObject(media) && media.schema !== undefined ? media.schema : json === undefined ? undefined : true;
      ((responses[entry.route] ??= {})[entry.method] ??= {})[/^\dxx$/i.test(status) ? status.toUpperCase() : status] =
        schema === undefined ? -1 : table.add(s, schema, `${at}/${pointerToken(status)}/content/${pointerToken(json!)}/schema`);
    }
  }

  // Request body schemas, so a create body can be checked before it is sent (and by the fake relay).
  const requests: Record<string, Record<string, number>> = {};
  for (const entry of owners.values()) {
    const s = specs[entry.spec]!;
    const at = `/paths/${pointerToken(entry.route)}/${entry.method}/requestBody`;
    const item = deref(s.doc, s.doc.paths[entry.route], `${s.input.file}#/paths/${pointerToken(entry.route)}`) as JsonObject;
    const op = item[entry.method] as JsonObject;
    if (op.requestBody === undefined) continue;
    const body = deref(s.doc, op.requestBody, `${s.input.file}#${at}`) as JsonObject;
    const content = isObject(body.content) ? body.content : {};
    const json = Object.keys(content).find((type) => type.trim().toLowerCase().startsWith("application/json")) ?? Object.keys(content).find(isJsonMediaType);
    const media = json === undefined ? undefined : content[json];
    const schema = isObject(media) && media.schema !== undefined ? media.schema : json === undefined ? undefined : true;
    (requests[entry.route] ??= {})[entry.method] = schema === undefined ? -1 : table.add(s, schema, `${at}/content/${pointerToken(json!)}/schema`);
  }

  const renumber = table.compact();
  for (const byMethod of Object.values(responses)) {
    for (const byStatus of Object.values(byMethod)) {
      for (const [status, index] of Object.entries(byStatus)) if (index >= 0) byStatus[status] = renumber[index]!;
    }
  }
  for (const byMethod of Object.values(requests)) {
    for (const [method, index] of Object.entries(byMethod)) if (index >= 0) byMethod[method] = renumber[index]!;
  }

  // Types: explicit per path and method, so the type-checker does no mapping over the spec set.
  const alias = (s: PreparedSpec): string => `S${specs.indexOf(s)}`;
  const routes = new Map<string, Map<string, OperationEntry>>();
  for (const entry of owners.values()) {
    if (!routes.has(entry.route)) routes.set(entry.route, new Map());
    routes.get(entry.route)!.set(entry.method, entry);
  }
  const lines: string[] = [header([...sorted, ...set.overlays], "The whole spec set: merged types, response and request body schemas.")];
  for (const s of specs) lines.push(`import type * as ${alias(s)} from ${lit(`./${s.base}.js`)};`);
  lines.push("", "/** Every path of every spec; each method from the spec that defines it (the first by file name when several do). */");
  lines.push("export interface paths {");
  for (const [route, methods] of routes) {
    const first = [...methods.values()][0]!;
    const ref = (entry: OperationEntry): string => `${alias(specs[entry.spec]!)}.paths[${lit(route)}]`;
    lines.push(`    ${lit(route)}: {`);
    lines.push(`        parameters: ${ref(first)}["parameters"];`);
    for (const method of METHODS) {
      const entry = methods.get(method);
      lines.push(entry ? `        ${method}: ${ref(entry)}[${lit(method)}];` : `        ${method}?: never;`);
    }
    lines.push("    };");
  }
  lines.push("}");
  lines.push("", "/** Every operation with an operationId, by id; the first spec by file name wins. */", "export interface operations {");
  const seenIds = new Set<string>();
  for (const s of specs) {
    for (const entry of s.operations) {
      if (entry.operationId === null || seenIds.has(entry.operationId)) continue;
      seenIds.add(entry.operationId);
      lines.push(`    ${lit(entry.operationId)}: ${alias(s)}.operations[${lit(entry.operationId)}];`);
    }
  }
  lines.push("}");
  lines.push("", "/** Every component of every spec, by section and name; the first spec by file name wins. */", "export interface components {");
  for (const section of COMPONENT_SECTIONS) {
    const members: string[] = [];
    const seen = new Set<string>();
    for (const s of specs) {
      const names = isObject(s.doc.components) && isObject(s.doc.components[section]) ? Object.keys(s.doc.components[section]) : [];
      for (const name of names) {
        if (seen.has(name)) continue;
        seen.add(name);
        members.push(`        ${lit(name)}: ${alias(s)}.components[${lit(section)}][${lit(name)}];`);
      }
    }
    if (members.length) lines.push(`    ${section}: {`, ...members, "    };");
    else lines.push(`    ${section}: never;`);
  }
  lines.push("}");
  lines.push(
    "",
    "/** The JSON response and request body schemas as JSON Schema 2020-12 data; `{ $ref: n }` points at `schemas[n]`. */",
    "export const schemas: readonly unknown[] = [",
    ...table.schemas.map((schema) => `    ${dataLiteral(schema)},`),
    "];",
    "",
    "/** path -> method -> status (`200`, `2XX`, `default`) -> index in `schemas`; -1: an answer without a JSON schema. */",
    "export const responses: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, number>>>>>> = " +
      JSON.stringify(responses, null, 4) +
      ";",
    "",
    "/** path -> method -> index in `schemas` of the JSON request body; -1: a body without a JSON schema (multipart, binary). */",
    "export const requests: Readonly<Record<string, Readonly<Record<string, number>>>> = " + JSON.stringify(requests, null, 4) + ";",
    "",
  );
  return [...specs.map((s) => s.types), { name: INDEX, content: lines.join("\n") }];
}

/** Generates the files for one spec on its own (its types and the index of a set of one). */
export async function generateSpec(file: string, text: string, warn?: Warn): Promise<GeneratedFile[]> {
  return generateSpecs([{ file, text }], warn);
}

/** Whether a file name in a spec directory is read as a spec (the remembered selection is not). */
export function isSpecFileName(name: string): boolean {
  return SPEC_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext)) && !name.startsWith(".") && name !== SPEC_SET_FILE;
}

/** Reads the spec files of `dir` (sorted by name), each named `<shown>/<name>`; `[]` when there is no such directory. */
async function readSources(dir: string, shown: string, keep: (name: string) => boolean): Promise<SourceFile[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const names = entries.filter((e) => e.isFile() && keep(e.name)).map((e) => e.name).sort();
  return Promise.all(names.map(async (name) => ({ file: path.posix.join(shown, name), text: await readFile(path.join(dir, name), "utf8") })));
}

/** Reads every spec file in `specDir` (sorted by name). */
export async function readSpecs(specDir: string): Promise<SpecInput[]> {
  const specs = await readSources(specDir, path.basename(specDir), isSpecFileName);
  if (specs.length === 0) throw new Error(`no spec (${SPEC_EXTENSIONS.join(", ")}) in ${specDir}`);
  return specs;
}

/** Reads the overlays (`<specDir>/overlays/`) and the remembered selection (`<specDir>/spec-set.json`) of a spec directory. */
export async function readExtras(specDir: string): Promise<SetExtras> {
  const shown = path.basename(specDir);
  const overlays = await readSources(path.join(specDir, OVERLAY_DIR), path.posix.join(shown, OVERLAY_DIR), (name) => SPEC_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext)) && !name.startsWith("."));
  const text = await readFile(path.join(specDir, SPEC_SET_FILE), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  return { overlays, config: text === undefined ? undefined : { file: path.posix.join(shown, SPEC_SET_FILE), text } };
}

/** Generates the files for every spec in `specDir`, with its overlays and remembered selection. */
export async function generateAll(specDir: string, warn?: Warn): Promise<GeneratedFile[]> {
  return generateSpecs(await readSpecs(specDir), warn, await readExtras(specDir));
}

/** Compares generated files with what is on disk: the names that differ, are missing, or are orphans. */
export async function staleFiles(outDir: string, files: GeneratedFile[]): Promise<string[]> {
  const stale: string[] = [];
  const wanted = new Set(files.map((f) => f.name));
  for (const file of files) {
    const current = await readFile(path.join(outDir, file.name), "utf8").catch(() => null);
    if (current !== file.content) stale.push(file.name);
  }
  const present = await readdir(outDir).catch(() => [] as string[]);
  for (const name of present.sort()) {
    if (name.endsWith(".ts") && !wanted.has(name)) stale.push(name);
  }
  return stale;
}

/** Writes the stale files (each to a temp file, then renamed) and removes orphans; returns how many changed. */
export async function writeGenerated(outDir: string, files: GeneratedFile[]): Promise<number> {
  const stale = await staleFiles(outDir, files);
  await mkdir(outDir, { recursive: true });
  const wanted = new Map(files.map((f) => [f.name, f]));
  for (const name of stale) {
    const file = wanted.get(name);
    if (!file) {
      await rm(path.join(outDir, name), { force: true });
      continue;
    }
    const temporary = path.join(outDir, `.${name}.${process.pid}.tmp`);
    await writeFile(temporary, file.content);
    await rename(temporary, path.join(outDir, name));
  }
  return stale.length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      check: { type: "boolean", default: false },
      "spec-dir": { type: "string", default: "openapi" },
      "out-dir": { type: "string", default: "generated" },
    },
  });
  const specDir = values["spec-dir"];
  const outDir = values["out-dir"];
  const files = await generateAll(specDir, (message) => console.error(`warning: ${message}`));
  if (values.check) {
    const stale = await staleFiles(outDir, files);
    if (stale.length === 0) {
      console.log(`generated/ is up to date with ${specDir}/ (${files.length} files)`);
      return;
    }
    for (const name of stale) console.error(`stale: ${path.posix.join(outDir, name)}`);
    console.error(`${outDir}/ does not match ${specDir}/: run \`npm run generate\` and commit the result.`);
    process.exitCode = 1;
    return;
  }
  const changed = await writeGenerated(outDir, files);
  console.log(`wrote ${changed} of ${files.length} files in ${outDir}/`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
