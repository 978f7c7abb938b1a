/**
 * Compares two OpenAPI 3.x specs and reports what changed for consumers of a generated client,
 * classed like oasdiff: `breaking` (ERR), `maybe-breaking` (WARN), `non-breaking` (INFO).
 *
 * Usage: `tsx scripts/spec-diff.ts <old.json> <new.json> [--json] [--fail-on breaking|maybe-breaking]`
 * Exit codes: 0 done; 1 `--fail-on` threshold reached; 2 usage error or invalid input.
 *
 * Operations are matched by method and exact path template: renaming a path parameter changes the
 * path string consumers pass to openapi-fetch, so it shows up as one operation removed and one added.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { parseSpec } from "./generate.js";

/** How much a change can hurt a consumer: oasdiff's ERR / WARN / INFO. */
export type ChangeLevel = "breaking" | "maybe-breaking" | "non-breaking";

/** One change between two specs, as printed by `--json`. */
export interface SpecChange {
  level: ChangeLevel;
  /** `GET /path (operationId)`, or `(document)` for document-wide changes such as servers. */
  operation: string;
  path: string;
  method: string;
  /** Where in the operation: `parameter query.limit`, `response 200 application/json body.status`, ... */
  location: string;
  /** A stable identifier such as `response-property-removed`. */
  change: string;
  detail: string;
}

/** Counts per level. */
export interface ChangeSummary {
  breaking: number;
  "maybe-breaking": number;
  "non-breaking": number;
  total: number;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

const DOCUMENT = "(document)";

type Rec = Record<string, unknown>;

function isRecord(value: unknown): value is Rec {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function asRecord(value: unknown): Rec {
  return isRecord(value) ? value : {};
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
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

interface Resolved {
  value: Rec;
  /** The last `$ref` followed, when any. */
  ref?: string;
  /** A `$ref` that could not be followed (external file, or dangling). */
  unresolved?: string;
}

/** Follows a chain of `$ref`s (bounded, so a ref loop cannot hang the diff). */
function deref(doc: Rec, value: unknown): Resolved {
  let node = asRecord(value);
  let ref: string | undefined;
  for (let hops = 0; hops < 32 && typeof node.$ref === "string"; hops++) {
    const target = resolvePointer(doc, node.$ref);
    if (!isRecord(target)) return { value: {}, ref, unresolved: node.$ref };
    ref = node.$ref;
    node = target;
  }
  return ref === undefined ? { value: node } : { value: node, ref };
}

/** A schema with `$ref`s followed and `allOf` merged: the parts the diff looks at. */
interface NormalSchema {
  ref?: string;
  unresolved?: string;
  /** undefined = no `type` constraint (anything). */
  types?: Set<string>;
  enum?: unknown[];
  properties: Map<string, unknown>;
  required: Set<string>;
  items?: unknown;
  variants?: { kind: "oneOf" | "anyOf"; list: unknown[] };
  readOnly: boolean;
  writeOnly: boolean;
}

function typesOf(schema: Rec): Set<string> | undefined {
  let types: Set<string> | undefined;
  if (typeof schema.type === "string") types = new Set([schema.type]);
  else if (Array.isArray(schema.type)) types = new Set(schema.type.filter((t): t is string => typeof t === "string"));
  // OpenAPI 3.0 spells "or null" as `nullable: true`; 3.1 puts "null" in the type array.
  if (types && schema.nullable === true) types.add("null");
  return types;
}

function normalize(doc: Rec, raw: unknown, depth = 0): NormalSchema {
  const { value: schema, ref, unresolved } = deref(doc, raw);
  const out: NormalSchema = {
    properties: new Map(Object.entries(asRecord(schema.properties))),
    required: new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []),
    readOnly: schema.readOnly === true,
    writeOnly: schema.writeOnly === true,
  };
  if (ref !== undefined) out.ref = ref;
  if (unresolved !== undefined) out.unresolved = unresolved;
  const types = typesOf(schema);
  if (types) out.types = types;
  if (Array.isArray(schema.enum)) out.enum = schema.enum;
  else if ("const" in schema) out.enum = [schema.const];
  if ("items" in schema) out.items = schema.items;
  if (Array.isArray(schema.oneOf)) out.variants = { kind: "oneOf", list: schema.oneOf };
  else if (Array.isArray(schema.anyOf)) out.variants = { kind: "anyOf", list: schema.anyOf };
  // allOf: a value must satisfy every member, so their properties, requirements and types combine.
  if (Array.isArray(schema.allOf) && depth < 16) {
    for (const member of schema.allOf) {
      const part = normalize(doc, member, depth + 1);
      for (const [name, child] of part.properties) if (!out.properties.has(name)) out.properties.set(name, child);
      for (const name of part.required) out.required.add(name);
      if (part.types) out.types = out.types ? new Set([...out.types].filter((t) => covers(part.types as Set<string>, t))) : part.types;
      out.enum ??= part.enum;
      if (out.items === undefined && part.items !== undefined) out.items = part.items;
      out.variants ??= part.variants;
      out.readOnly ||= part.readOnly;
      out.writeOnly ||= part.writeOnly;
    }
  }
  return out;
}

/** Whether a value of JSON type `t` is allowed by the type set `set` (integers are numbers). */
function covers(set: Set<string>, t: string): boolean {
  return set.has(t) || (t === "integer" && set.has("number"));
}

type TypeRelation = "same" | "widened" | "narrowed" | "changed";

function relate(before: Set<string> | undefined, after: Set<string> | undefined): TypeRelation {
  if (!before && !after) return "same";
  if (!before) return "narrowed";
  if (!after) return "widened";
  const afterCoversBefore = [...before].every((t) => covers(after, t));
  const beforeCoversAfter = [...after].every((t) => covers(before, t));
  if (afterCoversBefore && beforeCoversAfter) return "same";
  if (afterCoversBefore) return "widened";
  if (beforeCoversAfter) return "narrowed";
  return "changed";
}

function typeText(types: Set<string> | undefined): string {
  return types ? [...types].join("|") : "any";
}

type Direction = "request" | "response";

/** Where a schema walk reports to, and how it names what it finds. */
interface WalkContext {
  oldDoc: Rec;
  newDoc: Rec;
  direction: Direction;
  /** Change-id prefix for the schema root, e.g. `response-body`, `request-parameter`. */
  rootSubject: string;
  /** Change-id prefix for properties below the root, e.g. `response-property`. */
  nestedSubject: string;
  emit: (level: ChangeLevel, location: string, change: string, detail: string) => void;
  /** `$ref` pairs on the current walk, so recursive schemas terminate. */
  active: Set<string>;
}

function isVisible(schema: NormalSchema, direction: Direction): boolean {
  // A client never sends readOnly properties and never receives writeOnly ones.
  return direction === "request" ? !schema.readOnly : !schema.writeOnly;
}

function compareSchema(ctx: WalkContext, oldRaw: unknown, newRaw: unknown, location: string, isRoot: boolean, depth = 0): void {
  if (depth > 64) return;
  const before = normalize(ctx.oldDoc, oldRaw);
  const after = normalize(ctx.newDoc, newRaw);
  const subject = isRoot ? ctx.rootSubject : ctx.nestedSubject;

  if (before.unresolved !== undefined || after.unresolved !== undefined) {
    if (before.unresolved !== after.unresolved) {
      ctx.emit("maybe-breaking", location, `${subject}-schema-changed`,
        `schema reference changed from ${before.unresolved ?? before.ref ?? "inline"} to ${after.unresolved ?? after.ref ?? "inline"} (not followed)`);
    }
    return;
  }
  const pair = `${before.ref ?? ""}\u0000${after.ref ?? ""}`;
  if ((before.ref !== undefined || after.ref !== undefined) && ctx.active.has(pair)) return;
  ctx.active.add(pair);
  try {
    const relation = compareTypes(ctx, before, after, location, subject);
    // An unrelated type (object to string, say) is one change; its old members are not news.
    if (relation === "changed") return;
    const typeReported = relation !== "same";
    compareEnums(ctx, before, after, location, subject);
    compareProperties(ctx, before, after, location, depth);
    if (before.items !== undefined || after.items !== undefined) {
      compareSchema(ctx, before.items, after.items, `${location}[]`, false, depth + 1);
    }
    compareVariants(ctx, before, after, location, subject, typeReported, depth);
  } finally {
    ctx.active.delete(pair);
  }
}

function compareTypes(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): TypeRelation {
  const relation = relate(before.types, after.types);
  if (relation === "same") return relation;
  const detail = `type ${relation} from ${typeText(before.types)} to ${typeText(after.types)}`;
  if (ctx.direction === "response") {
    // Any response type change is breaking. Widening (e.g. adding "null" to a 3.1 type array, or
    // number over integer) hands consumers values their code and the generated types never
    // allowed for; narrowing changes the regenerated types, so type guards and exhaustive checks
    // written against the old type stop compiling.
    ctx.emit("breaking", location, `${subject}-type-${relation}`, detail);
  } else {
    // A request that accepts more still accepts everything the client sent before.
    ctx.emit(relation === "widened" ? "non-breaking" : "breaking", location, `${subject}-type-${relation}`, detail);
  }
  return relation;
}

function compareEnums(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): void {
  const response = ctx.direction === "response";
  if (!before.enum && !after.enum) return;
  if (!before.enum && after.enum) {
    // A response restricted to a set of values is still what consumers handled; a request is not.
    ctx.emit(response ? "non-breaking" : "breaking", location, `${subject}-enum-added`, `now restricted to ${show(after.enum)}`);
    return;
  }
  if (before.enum && !after.enum) {
    ctx.emit(response ? "maybe-breaking" : "non-breaking", location, `${subject}-enum-removed`, `no longer restricted to ${show(before.enum)}`);
    return;
  }
  const oldValues = new Set((before.enum ?? []).map(show));
  const newValues = new Set((after.enum ?? []).map(show));
  for (const value of newValues) {
    if (oldValues.has(value)) continue;
    // A response value nobody handled yet breaks exhaustive switches over the generated union.
    ctx.emit(response ? "maybe-breaking" : "non-breaking", location, `${subject}-enum-value-added`, `enum value ${value} added`);
  }
  for (const value of oldValues) {
    if (newValues.has(value)) continue;
    ctx.emit(response ? "non-breaking" : "breaking", location, `${subject}-enum-value-removed`, `enum value ${value} removed`);
  }
}

function compareProperties(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, depth: number): void {
  const response = ctx.direction === "response";
  const subject = ctx.nestedSubject;
  const visible = (schema: NormalSchema, doc: Rec, name: string): boolean => {
    const raw = schema.properties.get(name);
    return raw !== undefined && isVisible(normalize(doc, raw), ctx.direction);
  };
  const names = [...new Set([...before.properties.keys(), ...after.properties.keys()])];
  for (const name of names) {
    const where = `${location}.${name}`;
    const had = visible(before, ctx.oldDoc, name);
    const has = visible(after, ctx.newDoc, name);
    const wasRequired = before.required.has(name);
    const isRequired = after.required.has(name);
    if (had && !has) {
      // Request side: the client may still send it; servers usually ignore unknown fields, but one
      // that rejects additional properties would fail, and the regenerated type no longer has it.
      ctx.emit(response ? "breaking" : "maybe-breaking", where, `${subject}-removed`, `property "${name}" removed`);
      continue;
    }
    if (!had && has) {
      const level: ChangeLevel = response || !isRequired ? "non-breaking" : "breaking";
      ctx.emit(level, where, `${subject}-added`, `${isRequired ? "required" : "optional"} property "${name}" added`);
      continue;
    }
    if (!had || !has) continue;
    if (wasRequired && !isRequired) {
      // Response: consumers that read it unconditionally now meet undefined.
      ctx.emit(response ? "breaking" : "non-breaking", where, `${subject}-became-optional`, `property "${name}" became optional (was required)`);
    } else if (!wasRequired && isRequired) {
      ctx.emit(response ? "non-breaking" : "breaking", where, `${subject}-became-required`, `property "${name}" became required (was optional)`);
    }
    compareSchema(ctx, before.properties.get(name), after.properties.get(name), where, false, depth + 1);
  }
}

function variantKey(raw: unknown, index: number): string {
  const ref = asRecord(raw).$ref;
  return typeof ref === "string" ? ref : `#${index}`;
}

function compareVariants(
  ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string, typeReported: boolean, depth: number,
): void {
  const response = ctx.direction === "response";
  if (!before.variants && !after.variants) return;
  if (!before.variants || !after.variants || before.variants.kind !== after.variants.kind) {
    if (!typeReported) {
      ctx.emit("maybe-breaking", location, `${subject}-composition-changed`,
        `composition changed from ${before.variants?.kind ?? "none"} to ${after.variants?.kind ?? "none"}`);
    }
    return;
  }
  const kind = after.variants.kind;
  const oldByKey = new Map(before.variants.list.map((v, i) => [variantKey(v, i), v]));
  const newByKey = new Map(after.variants.list.map((v, i) => [variantKey(v, i), v]));
  for (const [key, variant] of newByKey) {
    const old = oldByKey.get(key);
    if (old === undefined) {
      // Another response shape widens what consumers must handle; another accepted request shape does not.
      ctx.emit(response ? "breaking" : "non-breaking", location, `${subject}-variant-added`, `${kind} variant ${key} added`);
    } else {
      compareSchema(ctx, old, variant, `${location}(${kind} ${key})`, false, depth + 1);
    }
  }
  for (const key of oldByKey.keys()) {
    if (!newByKey.has(key)) {
      ctx.emit(response ? "non-breaking" : "breaking", location, `${subject}-variant-removed`, `${kind} variant ${key} removed`);
    }
  }
}

interface OperationRef {
  path: string;
  method: string;
  op: Rec;
  item: Rec;
}

function operationsOf(doc: Rec): Map<string, OperationRef> {
  const ops = new Map<string, OperationRef>();
  for (const [route, rawItem] of Object.entries(asRecord(doc.paths))) {
    const item = deref(doc, rawItem).value;
    for (const method of METHODS) {
      const op = item[method];
      if (isRecord(op)) ops.set(`${method} ${route}`, { path: route, method, op, item });
    }
  }
  return ops;
}

function label(ref: OperationRef): string {
  const id = ref.op.operationId;
  return `${ref.method.toUpperCase()} ${ref.path}${typeof id === "string" ? ` (${id})` : ""}`;
}

interface ParameterInfo {
  key: string;
  required: boolean;
  schema: unknown;
}

/** Path-level and operation-level parameters by `in.name`; the operation's override the path's. */
function parametersOf(doc: Rec, ref: OperationRef): Map<string, ParameterInfo> {
  const params = new Map<string, ParameterInfo>();
  const all = [
    ...(Array.isArray(ref.item.parameters) ? ref.item.parameters : []),
    ...(Array.isArray(ref.op.parameters) ? ref.op.parameters : []),
  ];
  for (const raw of all) {
    const param = deref(doc, raw).value;
    if (typeof param.name !== "string" || typeof param.in !== "string") continue;
    const key = `${param.in}.${param.name}`;
    let schema = param.schema;
    if (schema === undefined && isRecord(param.content)) {
      schema = asRecord(Object.values(param.content)[0]).schema;
    }
    params.set(key, { key, required: param.required === true || param.in === "path", schema });
  }
  return params;
}

function contentOf(doc: Rec, raw: unknown): Map<string, unknown> {
  return new Map(Object.entries(asRecord(deref(doc, raw).value.content)).map(([type, media]) => [type, asRecord(media).schema]));
}

type Emit = (level: ChangeLevel, location: string, change: string, detail: string) => void;

function walk(oldDoc: Rec, newDoc: Rec, emit: Emit, direction: Direction, rootSubject: string, nestedSubject: string): WalkContext {
  return { oldDoc, newDoc, direction, rootSubject, nestedSubject, emit, active: new Set() };
}

function compareParameters(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const oldParams = parametersOf(oldDoc, before);
  const newParams = parametersOf(newDoc, after);
  for (const [key, param] of oldParams) {
    if (!newParams.has(key)) {
      // Maybe, not surely, breaking: at runtime servers ignore unknown parameters, but callers
      // that still pass it stop compiling once the client is regenerated.
      emit("maybe-breaking", `parameter ${key}`, "request-parameter-removed", `${param.required ? "required" : "optional"} parameter ${key} removed`);
    }
  }
  for (const [key, param] of newParams) {
    const old = oldParams.get(key);
    const location = `parameter ${key}`;
    if (!old) {
      emit(param.required ? "breaking" : "non-breaking", location, "request-parameter-added", `${param.required ? "required" : "optional"} parameter ${key} added`);
      continue;
    }
    if (!old.required && param.required) {
      emit("breaking", location, "request-parameter-became-required", `parameter ${key} became required (was optional)`);
    } else if (old.required && !param.required) {
      emit("non-breaking", location, "request-parameter-became-optional", `parameter ${key} became optional (was required)`);
    }
    compareSchema(walk(oldDoc, newDoc, emit, "request", "request-parameter", "request-parameter-property"), old.schema, param.schema, location, true);
  }
}

function compareRequestBody(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const hadBody = before.op.requestBody !== undefined;
  const hasBody = after.op.requestBody !== undefined;
  const oldRequired = deref(oldDoc, before.op.requestBody).value.required === true;
  const newRequired = deref(newDoc, after.op.requestBody).value.required === true;
  if (!hadBody && !hasBody) return;
  if (hadBody && !hasBody) {
    emit("maybe-breaking", "request body", "request-body-removed", "request body removed");
    return;
  }
  if (!hadBody) {
    emit(newRequired ? "breaking" : "non-breaking", "request body", "request-body-added", `${newRequired ? "required" : "optional"} request body added`);
    return;
  }
  if (!oldRequired && newRequired) emit("breaking", "request body", "request-body-became-required", "request body became required (was optional)");
  if (oldRequired && !newRequired) emit("non-breaking", "request body", "request-body-became-optional", "request body became optional (was required)");
  const oldContent = contentOf(oldDoc, before.op.requestBody);
  const newContent = contentOf(newDoc, after.op.requestBody);
  for (const type of oldContent.keys()) {
    if (!newContent.has(type)) emit("breaking", `request ${type}`, "request-body-media-type-removed", `request media type ${type} no longer accepted`);
  }
  for (const [type, schema] of newContent) {
    if (!oldContent.has(type)) {
      emit("non-breaking", `request ${type}`, "request-body-media-type-added", `request media type ${type} now accepted`);
      continue;
    }
    compareSchema(walk(oldDoc, newDoc, emit, "request", "request-body", "request-property"), oldContent.get(type), schema, `request ${type} body`, true);
  }
}

function compareResponses(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const oldResponses = asRecord(before.op.responses);
  const newResponses = asRecord(after.op.responses);
  for (const status of Object.keys(oldResponses)) {
    if (!(status in newResponses)) {
      // Consumers branching on this status keep compiling only until they regenerate.
      emit("maybe-breaking", `response ${status}`, "response-status-removed", `response status ${status} removed`);
    }
  }
  for (const [status, response] of Object.entries(newResponses)) {
    if (!(status in oldResponses)) {
      // A status consumers never handled can now arrive.
      emit("maybe-breaking", `response ${status}`, "response-status-added", `response status ${status} added`);
      continue;
    }
    const oldContent = contentOf(oldDoc, oldResponses[status]);
    const newContent = contentOf(newDoc, response);
    for (const type of oldContent.keys()) {
      if (!newContent.has(type)) emit("breaking", `response ${status} ${type}`, "response-media-type-removed", `response ${status} no longer returns ${type}`);
    }
    for (const [type, schema] of newContent) {
      if (!oldContent.has(type)) {
        emit("maybe-breaking", `response ${status} ${type}`, "response-media-type-added", `response ${status} may now return ${type}`);
        continue;
      }
      compareSchema(walk(oldDoc, newDoc, emit, "response", "response-body", "response-property"), oldContent.get(type), schema, `response ${status} ${type} body`, true);
    }
  }
}

function serverUrls(doc: Rec): string[] {
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  return servers.map((s) => asRecord(s).url).filter((u): u is string => typeof u === "string");
}

function compareServers(oldDoc: Rec, newDoc: Rec, emit: Emit): void {
  const before = serverUrls(oldDoc);
  const after = serverUrls(newDoc);
  const reported = new Set<string>();
  if (before[0] !== after[0]) {
    // servers[0] is the generated client's defaultBaseUrl: callers relying on it move hosts.
    emit("maybe-breaking", "servers[0]", "default-server-changed", `default base URL changed from ${before[0] ?? "(none)"} to ${after[0] ?? "(none)"}`);
    for (const url of [before[0], after[0]]) if (url !== undefined) reported.add(url);
  }
  for (const url of before) {
    if (!after.includes(url) && !reported.has(url)) emit("maybe-breaking", "servers", "server-removed", `server ${url} removed`);
  }
  for (const url of after) {
    if (!before.includes(url) && !reported.has(url)) emit("maybe-breaking", "servers", "server-added", `server ${url} added`);
  }
}

/** Lists every change from `oldDoc` to `newDoc` (parsed OpenAPI 3.x documents), in document order. */
export function diffSpecs(oldDoc: object, newDoc: object): SpecChange[] {
  const oldRec = asRecord(oldDoc);
  const newRec = asRecord(newDoc);
  const changes: SpecChange[] = [];
  const emitter = (operation: string, route: string, method: string): Emit => (level, location, change, detail) => {
    changes.push({ level, operation, path: route, method, location, change, detail });
  };

  compareServers(oldRec, newRec, emitter(DOCUMENT, "", ""));

  const oldOps = operationsOf(oldRec);
  const newOps = operationsOf(newRec);
  for (const key of new Set([...oldOps.keys(), ...newOps.keys()])) {
    const before = oldOps.get(key);
    const after = newOps.get(key);
    if (before && !after) {
      emitter(label(before), before.path, before.method)("breaking", "operation", "operation-removed", "operation removed");
      continue;
    }
    if (!before && after) {
      emitter(label(after), after.path, after.method)("non-breaking", "operation", "operation-added", "operation added");
      continue;
    }
    if (!before || !after) continue;
    const emit = emitter(label(after), after.path, after.method);
    if (before.op.operationId !== after.op.operationId) {
      // The generated `operations` type is keyed by operationId.
      emit("maybe-breaking", "operation", "operation-id-changed",
        `operationId changed from ${show(before.op.operationId ?? null)} to ${show(after.op.operationId ?? null)}`);
    }
    if (before.op.deprecated !== true && after.op.deprecated === true) {
      emit("non-breaking", "operation", "operation-deprecated", "operation deprecated");
    }
    compareParameters(oldRec, newRec, before, after, emit);
    compareRequestBody(oldRec, newRec, before, after, emit);
    compareResponses(oldRec, newRec, before, after, emit);
  }
  return changes;
}

/** Counts changes per level. */
export function summarize(changes: readonly SpecChange[]): ChangeSummary {
  const summary: ChangeSummary = { breaking: 0, "maybe-breaking": 0, "non-breaking": 0, total: changes.length };
  for (const change of changes) summary[change.level]++;
  return summary;
}

/** The one-line summary: `N breaking, N maybe-breaking, N non-breaking`. */
export function summaryLine(changes: readonly SpecChange[]): string {
  const s = summarize(changes);
  return `${s.breaking} breaking, ${s["maybe-breaking"]} maybe-breaking, ${s["non-breaking"]} non-breaking`;
}

const TAGS: Record<ChangeLevel, string> = { breaking: "ERR", "maybe-breaking": "WARN", "non-breaking": "INFO" };

/** Renders changes for people: grouped by operation, one aligned line per change, then the summary line. */
export function formatChanges(changes: readonly SpecChange[]): string {
  const lines: string[] = [];
  if (changes.length === 0) lines.push("no changes");
  const groups = new Map<string, SpecChange[]>();
  for (const change of changes) {
    const group = groups.get(change.operation) ?? [];
    group.push(change);
    groups.set(change.operation, group);
  }
  const changeWidth = Math.max(0, ...changes.map((c) => c.change.length));
  const locationWidth = Math.max(0, ...changes.map((c) => c.location.length));
  for (const [operation, group] of groups) {
    lines.push(operation);
    for (const c of group) {
      lines.push(`  ${TAGS[c.level].padEnd(4)}  ${c.change.padEnd(changeWidth)}  ${c.location.padEnd(locationWidth)}  ${c.detail}`);
    }
  }
  lines.push(summaryLine(changes));
  return lines.join("\n") + "\n";
}

/** Where `main` writes; tests pass their own. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const USAGE = "usage: spec-diff <old.json> <new.json> [--json] [--fail-on breaking|maybe-breaking]";

/** Reads and validates one spec file, or returns the one-line reason it is refused. */
export async function loadSpec(file: string): Promise<{ doc: object } | { error: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { error: `cannot read ${file}: ${code ?? (error instanceof Error ? error.message : String(error))}` };
  }
  try {
    return { doc: parseSpec(file, text) };
  } catch (error) {
    // JSON.parse quotes the offending text, newlines included; the refusal stays one line.
    return { error: (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ") };
  }
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Output = defaultOutput): Promise<number> {
  let values: { json?: boolean; "fail-on"?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        "fail-on": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`spec-diff: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const failOn = values["fail-on"];
  if (failOn !== undefined && failOn !== "breaking" && failOn !== "maybe-breaking") {
    io.err(`spec-diff: --fail-on must be "breaking" or "maybe-breaking", not ${show(failOn)}\n${USAGE}\n`);
    return 2;
  }
  const [oldFile, newFile] = positionals;
  if (oldFile === undefined || newFile === undefined || positionals.length !== 2) {
    io.err(`spec-diff: expected two spec files, got ${positionals.length}\n${USAGE}\n`);
    return 2;
  }
  const before = await loadSpec(oldFile);
  const after = await loadSpec(newFile);
  for (const loaded of [before, after]) {
    if ("error" in loaded) {
      io.err(`spec-diff: ${loaded.error}\n`);
      return 2;
    }
  }
  if (!("doc" in before) || !("doc" in after)) return 2;

  const changes = diffSpecs(before.doc, after.doc);
  if (values.json) {
    io.out(JSON.stringify({ changes, summary: summarize(changes) }, null, 2) + "\n");
  } else {
    io.out(formatChanges(changes));
  }
  const summary = summarize(changes);
  if (failOn === "breaking" && summary.breaking > 0) return 1;
  if (failOn === "maybe-breaking" && summary.breaking + summary["maybe-breaking"] > 0) return 1;
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`spec-diff: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
