/**
 * What every rule family shares: the change record, `$ref` resolution with cycle guards, the
 * normalized view of a schema, and the emitter that takes a rule id and looks its level up in
 * the registry (rules.ts), so no family decides a level on its own.
 */
import { RULES, type ChangeLevel } from "./rules.js";

export type { ChangeLevel } from "./rules.js";

/** One change between two specs, as printed by `--json`. */
export interface SpecChange {
  level: ChangeLevel;
  /** `GET /path (operationId)`, or `(document)` for document-wide changes such as servers. */
  operation: string;
  path: string;
  method: string;
  /** Where in the operation: `parameter query.limit`, `response 200 application/json body.status`, ... */
  location: string;
  /** The rule id, a key of `RULES` (oasdiff's id where one maps), e.g. `response-property-removed`. */
  change: string;
  detail: string;
}

/** A JSON object. */
export type Rec = Record<string, unknown>;

/** Whether `value` is a JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Rec {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `value` when it is an object, else `{}`. */
export function asRecord(value: unknown): Rec {
  return isRecord(value) ? value : {};
}

/** A value as compact JSON, for details. */
export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Deep equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}

/** Resolves a local JSON pointer (`#/components/...`); undefined for external or dangling refs. */
function resolvePointer(doc: Rec, ref: string): unknown {
  if (!ref.startsWith("#")) return undefined;
  let node: unknown = doc;
  const pointer = ref.slice(1);
  if (pointer === "") return doc;
  for (const raw of pointer.split("/").slice(1)) {
    const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else return undefined;
  }
  return node;
}

/** A node with its `$ref` chain followed. */
export interface Resolved {
  value: Rec;
  /** The last `$ref` followed, when any. */
  ref?: string;
  /** A `$ref` that could not be followed (external file, or dangling). */
  unresolved?: string;
}

/** Follows a chain of `$ref`s (bounded, so a ref loop cannot hang the diff). */
export function deref(doc: Rec, value: unknown): Resolved {
  let node = asRecord(value);
  let ref: string | undefined;
  for (let hops = 0; hops < 32 && typeof node.$ref === "string"; hops++) {
    const target = resolvePointer(doc, node.$ref);
    if (!isRecord(target)) return ref === undefined ? { value: {}, unresolved: node.$ref } : { value: {}, ref, unresolved: node.$ref };
    ref = node.$ref;
    // 3.1 allows siblings next to $ref (description, ...): the target wins where both speak.
    const siblings = Object.fromEntries(Object.entries(node).filter(([key]) => key !== "$ref"));
    node = Object.keys(siblings).length > 0 ? { ...siblings, ...target } : target;
  }
  return ref === undefined ? { value: node } : { value: node, ref };
}

/** Keywords that describe a schema without constraining values: an allOf member of only these changes nothing. */
export const ANNOTATIONS = new Set(["description", "title", "example", "examples", "deprecated", "externalDocs", "$comment", "x-extensible-enum"]);

/** A schema with `$ref`s followed and `allOf` merged: the parts the walk looks at. */
export interface NormalSchema {
  /** The schema object itself (after `$ref`), for keyword families such as constraints. */
  raw: Rec;
  ref?: string;
  unresolved?: string;
  /** undefined = no `type` constraint (anything). Includes "null" for 3.0 `nullable: true`. */
  types?: Set<string>;
  enum?: unknown[];
  hasConst: boolean;
  const?: unknown;
  properties: Map<string, unknown>;
  required: Set<string>;
  items?: unknown;
  additionalProperties?: unknown;
  not?: unknown;
  variants?: { kind: "oneOf" | "anyOf"; list: unknown[] };
  /** The raw `allOf` members, by key, for the allOf family. */
  allOf: unknown[];
  readOnly: boolean;
  writeOnly: boolean;
  deprecated: boolean;
}

function typesOf(schema: Rec): Set<string> | undefined {
  let types: Set<string> | undefined;
  if (typeof schema.type === "string") types = new Set([schema.type]);
  else if (Array.isArray(schema.type)) types = new Set(schema.type.filter((t): t is string => typeof t === "string"));
  // OpenAPI 3.0 spells "or null" as `nullable: true`; 3.1 puts "null" in the type array.
  if (types && schema.nullable === true) types.add("null");
  return types;
}

/** Follows `$ref`s and merges `allOf` members into one view of the schema. */
export function normalize(doc: Rec, raw: unknown, depth = 0): NormalSchema {
  const { value: schema, ref, unresolved } = deref(doc, raw);
  const out: NormalSchema = {
    raw: schema,
    properties: new Map(Object.entries(asRecord(schema.properties))),
    required: new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []),
    allOf: Array.isArray(schema.allOf) ? schema.allOf : [],
    hasConst: "const" in schema,
    readOnly: schema.readOnly === true,
    writeOnly: schema.writeOnly === true,
    deprecated: schema.deprecated === true,
  };
  if (out.hasConst) out.const = schema.const;
  if (ref !== undefined) out.ref = ref;
  if (unresolved !== undefined) out.unresolved = unresolved;
  const types = typesOf(schema);
  if (types) out.types = types;
  if (Array.isArray(schema.enum)) out.enum = schema.enum;
  if ("items" in schema) out.items = schema.items;
  if (isRecord(schema.additionalProperties)) out.additionalProperties = schema.additionalProperties;
  if (isRecord(schema.not)) out.not = schema.not;
  if (Array.isArray(schema.oneOf)) out.variants = { kind: "oneOf", list: schema.oneOf };
  else if (Array.isArray(schema.anyOf)) out.variants = { kind: "anyOf", list: schema.anyOf };
  // oneOf/anyOf of bare types is a list of types (openapi-typescript emits the same union), so
  // `oneOf: [{type: string}, {type: integer}]` compares like `type: [string, integer]`.
  const bareTypes = out.variants && !out.types ? out.variants.list.map((member) => deref(doc, member).value) : [];
  if (bareTypes.length > 0 && bareTypes.every((m) => typeof m.type === "string" && Object.keys(m).every((k) => k === "type" || k === "nullable" || ANNOTATIONS.has(k)))) {
    out.types = new Set(bareTypes.flatMap((m) => [...(typesOf(m) ?? [])]));
    delete out.variants;
  }
  // allOf: a value must satisfy every member, so their properties, requirements and types combine.
  if (out.allOf.length > 0 && depth < 16) {
    for (const member of out.allOf) {
      const part = normalize(doc, member, depth + 1);
      for (const [name, child] of part.properties) if (!out.properties.has(name)) out.properties.set(name, child);
      for (const name of part.required) out.required.add(name);
      if (part.types) out.types = out.types ? new Set([...out.types].filter((t) => covers(part.types as Set<string>, t))) : part.types;
      out.enum ??= part.enum;
      if (!out.hasConst && part.hasConst) {
        out.hasConst = true;
        out.const = part.const;
      }
      if (out.items === undefined && part.items !== undefined) out.items = part.items;
      out.additionalProperties ??= part.additionalProperties;
      out.variants ??= part.variants;
      out.readOnly ||= part.readOnly;
      out.writeOnly ||= part.writeOnly;
    }
  }
  return out;
}

/** Whether a value of JSON type `t` is allowed by the type set `set` (integers are numbers). */
export function covers(set: Set<string>, t: string): boolean {
  return set.has(t) || (t === "integer" && set.has("number"));
}

/** Which side of the wire a schema is on. */
export type Direction = "request" | "response";

/** Reports one change: the level comes from the rule registry. */
export type Emit = (rule: string, location: string, detail: string) => void;

/** Where a schema walk reports to, and how it names what it finds. */
export interface WalkContext {
  oldDoc: Rec;
  newDoc: Rec;
  direction: Direction;
  /** Rule-id prefix for the schema root, e.g. `response-body`, `request-parameter`. */
  rootSubject: string;
  /** Rule-id prefix for properties below the root, e.g. `response-property`. */
  nestedSubject: string;
  emit: Emit;
  /** `$ref` pairs on the current walk, so recursive schemas terminate. */
  active: Set<string>;
}

/** Builds the emitter for one operation; throws on a rule id missing from the registry (a bug). */
export function emitterFor(changes: SpecChange[], operation: string, route: string, method: string): Emit {
  return (rule, location, detail) => {
    const entry = RULES[rule];
    if (entry === undefined) throw new Error(`spec-diff: rule ${rule} is not in the registry`);
    changes.push({ level: entry.level, operation, path: route, method, location, change: rule, detail });
  };
}
