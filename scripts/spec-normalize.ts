/**
 * What a spec's schemas mean, without how they are written: used by scripts/generate.ts for the
 * runtime schema data (validate mode) and to compare one operation across spec files (compare
 * mode). Both read OpenAPI 3.0 schemas as JSON Schema 2020-12:
 * - `nullable: true` becomes `"null"` in `type` (and in `enum`); without a `type`, `anyOf [.., null]`;
 * - boolean `exclusiveMinimum` / `exclusiveMaximum` become the 2020-12 numbers;
 * - a 3.0 `$ref` ignores its siblings (as 3.0 says); a 3.1 `$ref` with siblings is `allOf`;
 * - annotations (`title`, `description`, `example(s)`, `x-…`, ...) are dropped.
 */

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

/** Keywords the runtime interpreter (src/_schema.ts) asserts; everything else is dropped from its data. */
export const ASSERTED = new Set([
  "type", "enum", "const", "properties", "patternProperties", "required", "additionalProperties",
  "items", "prefixItems", "allOf", "anyOf", "oneOf", "not",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
  "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
]);

/** Assertions of 2020-12 the interpreter does not implement: dropped with a warning (validation is then looser). */
const UNSUPPORTED = new Set([
  "contains", "minContains", "maxContains", "if", "then", "else", "dependentRequired", "dependentSchemas",
  "dependencies", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
]);

/** Annotations that change the generated types (`format: binary`): kept when comparing operations. */
const TYPE_SHAPING = new Set(["format"]);

const SCHEMA_MAPS = new Set(["properties", "patternProperties"]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties", "not"]);

/** How a `$ref` is replaced: inlined (compare) or pointed at a shared definition (validate). */
export interface NormalizeContext {
  mode: "validate" | "compare";
  /** true for an OpenAPI 3.0 document. */
  is30: boolean;
  /** Replaces `{ $ref }` found at `at` (a JSON pointer). */
  ref(target: string, at: string): unknown;
  /** Reports a defect that does not stop generation. */
  warn(message: string): void;
}

/** Escapes one JSON pointer token. */
export function pointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Resolves a local `$ref` ("#/a/b") in `doc`; throws when it is external or points nowhere. */
export function resolvePointer(doc: unknown, ref: string, where: string): unknown {
  if (!ref.startsWith("#")) throw new Error(`${where}: ${JSON.stringify(ref)} points outside the document, which cannot be generated`);
  let node: unknown = doc;
  const tokens = ref === "#" ? [] : ref.slice(2).split("/");
  for (const raw of tokens) {
    const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, token)) {
      throw new Error(`${where}: ${JSON.stringify(ref)} points nowhere in the document`);
    }
    node = (node as JsonObject)[token];
  }
  return node;
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `schema` (at pointer `at`) as JSON Schema 2020-12 with only what `ctx.mode` needs. */
export function normalizeSchema(schema: unknown, at: string, ctx: NormalizeContext): unknown {
  if (typeof schema === "boolean") return schema;
  if (!isObject(schema)) throw new Error(`${at}: a schema must be an object or a boolean, got ${JSON.stringify(schema)}`);
  if (typeof schema.$ref === "string") {
    const target = ctx.ref(schema.$ref, at);
    const siblings = Object.keys(schema).filter((k) => k !== "$ref" && !k.startsWith("x-"));
    if (ctx.is30 || siblings.length === 0) return target;
    const rest = { ...schema };
    delete rest.$ref;
    const others = normalizeSchema(rest, at, ctx);
    return others === true ? target : { allOf: [target, others] };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith("x-")) continue;
    const here = `${at}/${pointerToken(key)}`;
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, normalizeSchema(sub, `${here}/${pointerToken(name)}`, ctx)]),
      );
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub, i) => normalizeSchema(sub, `${here}/${i}`, ctx));
    } else if (SCHEMA_VALUES.has(key)) {
      out[key] = normalizeSchema(value, here, ctx);
    } else if (key === "required" && Array.isArray(value)) {
      if (value.length) out[key] = [...new Set(value as string[])].sort();
    } else if (key === "type") {
      out[key] = Array.isArray(value) ? [...new Set(value as string[])].sort() : value;
    } else if (key === "pattern" && typeof value === "string") {
      try {
        new RegExp(value, "u");
        out[key] = value;
      } catch {
        ctx.warn(`${here}: pattern ${JSON.stringify(value)} is not a valid Unicode regular expression; it is not checked at runtime`);
      }
    } else if (ASSERTED.has(key) || (ctx.mode === "compare" && TYPE_SHAPING.has(key))) {
      out[key] = value;
    } else if (UNSUPPORTED.has(key)) {
      if (ctx.mode === "validate") ctx.warn(`${here}: "${key}" is not checked at runtime (the response validator does not implement it)`);
      else out[key] = value;
    }
  }
  // 3.0's boolean exclusive bounds, as the 2020-12 numbers.
  for (const [bound, limit] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (typeof out[bound] === "boolean") {
      if (out[bound] === true && typeof out[limit] === "number") {
        out[bound] = out[limit];
        delete out[limit];
      } else delete out[bound];
    }
  }
  if (schema.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"].sort();
    else if (Array.isArray(out.type)) out.type = [...new Set([...(out.type as string[]), "null"])].sort();
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    if (out.type === undefined && out.enum === undefined && out.const === undefined && Object.keys(out).length > 0) {
      return { anyOf: [out, { type: "null" }] };
    }
  }
  return Object.keys(out).length === 0 ? true : out;
}

/** JSON with object keys sorted: equal meaning gives equal text. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The first JSON pointer where two canonical values differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, at = ""): string | undefined {
  if (stableStringify(a) === stableStringify(b)) return undefined;
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const found = firstDifference(a[key], b[key], `${at}/${pointerToken(key)}`);
      if (found !== undefined) return found;
    }
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) {
      const found = firstDifference(a[i], b[i], `${at}/${i}`);
      if (found !== undefined) return found;
    }
  }
  return at || "/";
}

/** A schema inliner for compare mode: `$ref`s resolved, recursion marked by depth. */
export function compareContext(doc: unknown, is30: boolean, file: string): NormalizeContext {
  const stack: string[] = [];
  const ctx: NormalizeContext = {
    mode: "compare",
    is30,
    warn: () => undefined,
    ref(target, at) {
      const seen = stack.indexOf(target);
      if (seen >= 0) return { $recursive: stack.length - seen };
      stack.push(target);
      try {
        return normalizeSchema(resolvePointer(doc, target, `${file}#${at}`), target.slice(1), ctx);
      } finally {
        stack.pop();
      }
    },
  };
  return ctx;
}

/** Resolves a `$ref` object (parameter, response, request body, ...) until it is not one. */
export function deref(doc: unknown, value: unknown, where: string): unknown {
  let node = value;
  for (let hops = 0; isObject(node) && typeof node.$ref === "string"; hops++) {
    if (hops > 32) throw new Error(`${where}: $ref cycle`);
    node = resolvePointer(doc, node.$ref, where);
  }
  return node;
}

function normalizeContent(doc: unknown, content: unknown, at: string, ctx: NormalizeContext): JsonObject | undefined {
  if (!isObject(content) || Object.keys(content).length === 0) return undefined;
  const out: JsonObject = {};
  for (const [type, media] of Object.entries(content)) {
    const m = isObject(media) ? media : {};
    out[type.toLowerCase()] = {
      schema: m.schema === undefined ? undefined : normalizeSchema(m.schema, `${at}/${pointerToken(type)}/schema`, ctx),
      encoding: m.encoding,
    };
  }
  return out;
}

/**
 * What an operation means for its types and validators: parameters (path-level merged in, sorted),
 * request body and responses, with `$ref`s resolved and annotations, operationId, tags, security
 * and servers dropped. Two specs may define the same operation only when these are equal.
 */
export function operationMeaning(doc: JsonObject, route: string, method: string, file: string): unknown {
  const is30 = String(doc.openapi).startsWith("3.0");
  const ctx = compareContext(doc, is30, file);
  const base = `#/paths/${pointerToken(route)}`;
  const item = deref(doc, (doc.paths as JsonObject)[route], `${file}${base}`) as JsonObject;
  const op = item[method] as JsonObject;
  const params = new Map<string, unknown>();
  for (const [list, at] of [[item.parameters, `${base}/parameters`], [op.parameters, `${base}/${method}/parameters`]] as const) {
    if (!Array.isArray(list)) continue;
    list.forEach((raw, i) => {
      const p = deref(doc, raw, `${file}${at}/${i}`) as JsonObject;
      const where = String(p.in);
      const name = where === "header" ? String(p.name).toLowerCase() : String(p.name);
      params.set(`${where} ${name}`, {
        in: where,
        name,
        required: where === "path" || p.required === true,
        schema: p.schema === undefined ? undefined : normalizeSchema(p.schema, `${at}/${i}/schema`, ctx),
        content: normalizeContent(doc, p.content, `${at}/${i}/content`, ctx),
        style: p.style,
        explode: p.explode,
      });
    });
  }
  const body = op.requestBody === undefined ? undefined : (deref(doc, op.requestBody, `${file}${base}/${method}/requestBody`) as JsonObject);
  const responses: JsonObject = {};
  for (const [status, raw] of Object.entries(isObject(op.responses) ? op.responses : {})) {
    const at = `${base}/${method}/responses/${pointerToken(status)}`;
    const r = deref(doc, raw, `${file}${at}`) as JsonObject;
    const headers: JsonObject = {};
    for (const [name, h] of Object.entries(isObject(r.headers) ? r.headers : {})) {
      const header = deref(doc, h, `${file}${at}/headers/${pointerToken(name)}`) as JsonObject;
      headers[name.toLowerCase()] = {
        required: header.required === true,
        schema: header.schema === undefined ? undefined : normalizeSchema(header.schema, `${at}/headers/${pointerToken(name)}/schema`, ctx),
      };
    }
    responses[/^\dxx$/i.test(status) ? status.toUpperCase() : status] = {
      content: normalizeContent(doc, r.content, `${at}/content`, ctx),
      headers: Object.keys(headers).length ? headers : undefined,
    };
  }
  return JSON.parse(
    stableStringify({
      parameters: [...params.keys()].sort().map((k) => params.get(k)),
      requestBody: body && { required: body.required === true, content: normalizeContent(doc, body.content, `${base}/${method}/requestBody/content`, ctx) },
      responses,
    }),
  ) as unknown;
}
