/**
 * The schema walk: types and nullability, enums and const, properties (presence, required-ness,
 * deprecation), array items, additionalProperties, oneOf/anyOf/allOf. Follows `$ref`s, stops on
 * cycles, and hands value constraints to constraints.ts.
 */
import { compareConstraints } from "./constraints.js";
import { sunsetOf } from "./deprecation.js";
import {
  ANNOTATIONS, asRecord, covers, normalize, sameJson, show,
  type Direction, type Emit, type NormalSchema, type Rec, type WalkContext,
} from "./core.js";

/** A walk over one schema pair, reporting with `rootSubject` at the top and `nestedSubject` below. */
export function walkContext(oldDoc: Rec, newDoc: Rec, emit: Emit, direction: Direction, rootSubject: string, nestedSubject: string): WalkContext {
  return { oldDoc, newDoc, direction, rootSubject, nestedSubject, emit, active: new Set() };
}

type TypeRelation = "same" | "generalized" | "specialized" | "changed";

function relate(before: Set<string> | undefined, after: Set<string> | undefined): TypeRelation {
  if (!before && !after) return "same";
  if (!before) return "specialized";
  if (!after) return "generalized";
  const afterCoversBefore = [...before].every((t) => covers(after, t));
  const beforeCoversAfter = [...after].every((t) => covers(before, t));
  if (afterCoversBefore && beforeCoversAfter) return "same";
  if (afterCoversBefore) return "generalized";
  if (beforeCoversAfter) return "specialized";
  return "changed";
}

function typeText(types: Set<string> | undefined): string {
  return types ? [...types].join("|") : "any";
}

/** Whether a property belongs to this side's presence and required-ness (its value is compared either way). */
function isVisible(schema: NormalSchema, direction: Direction): boolean {
  // A client need not send readOnly properties and is not sent writeOnly ones.
  return direction === "request" ? !schema.readOnly : !schema.writeOnly;
}

/** Compares two schemas (raw, `$ref`s allowed) and reports every change below `location`. */
export function compareSchema(ctx: WalkContext, oldRaw: unknown, newRaw: unknown, location: string, isRoot: boolean, depth = 0): void {
  if (depth > 64) return;
  const before = normalize(ctx.oldDoc, oldRaw);
  const after = normalize(ctx.newDoc, newRaw);
  const subject = isRoot ? ctx.rootSubject : ctx.nestedSubject;

  if (before.unresolved !== undefined || after.unresolved !== undefined) {
    if (before.unresolved !== after.unresolved) {
      ctx.emit(`${subject}-schema-changed`, location,
        `schema reference changed from ${before.unresolved ?? before.ref ?? "inline"} to ${after.unresolved ?? after.ref ?? "inline"} (not followed)`);
    }
    return;
  }
  const pair = `${before.ref ?? ""}\u0000${after.ref ?? ""}`;
  if ((before.ref !== undefined || after.ref !== undefined) && ctx.active.has(pair)) return;
  ctx.active.add(pair);
  try {
    if (wrappedInOneOf(ctx, oldRaw, before, after, location, subject)) return;
    const relation = compareTypes(ctx, before, after, location, subject);
    // An unrelated type (object to string, say) is one change; its old members are not news.
    if (relation === "changed") return;
    compareEnums(ctx, before, after, location, subject);
    compareConstraints(ctx, before, after, location, subject);
    compareProperties(ctx, before, after, location, depth);
    if (before.items !== undefined || after.items !== undefined) {
      compareSchema(ctx, before.items, after.items, `${location}[]`, false, depth + 1);
    }
    if (before.additionalProperties !== undefined && after.additionalProperties !== undefined) {
      compareSchema(ctx, before.additionalProperties, after.additionalProperties, `${location}{}`, false, depth + 1);
    }
    if (before.not !== undefined && after.not !== undefined) {
      compareSchema(ctx, before.not, after.not, `${location}(not)`, false, depth + 1);
    }
    compareSubschemas(ctx, before, after, location, subject, depth);
    compareVariants(ctx, before, after, location, subject, relation !== "same", depth);
    compareAllOf(ctx, before, after, location, subject);
  } finally {
    ctx.active.delete(pair);
  }
}

/**
 * A concrete object became a oneOf whose choices carry its properties: one restructuring, reported
 * once, instead of every property looking removed (oasdiff's "wrapped in oneOf").
 */
function wrappedInOneOf(ctx: WalkContext, oldRaw: unknown, before: NormalSchema, after: NormalSchema, location: string, subject: string): boolean {
  if (before.variants || !after.variants || after.variants.kind !== "oneOf" || after.properties.size > 0) return false;
  const oldRef = asRecord(oldRaw).$ref;
  const wrapped = after.variants.list.some((member) => {
    if (typeof oldRef === "string" && asRecord(member).$ref === oldRef) return true;
    const choice = normalize(ctx.newDoc, member);
    return before.properties.size > 0 && [...before.properties.keys()].some((name) => choice.properties.has(name));
  });
  if (!wrapped) return false;
  ctx.emit(`${subject}-wrapped-in-one-of`, location, `schema wrapped in a oneOf of ${after.variants.list.length} choice(s)`);
  return true;
}

/** Keywords holding sub-schemas, walked like properties; added or removed, each is a rule. */
const SUBSCHEMAS: ReadonlyArray<{ keyword: string; name: string; shape: "one" | "list" | "map" }> = [
  { keyword: "if", name: "if", shape: "one" },
  { keyword: "then", name: "then", shape: "one" },
  { keyword: "else", name: "else", shape: "one" },
  { keyword: "contains", name: "contains", shape: "one" },
  { keyword: "propertyNames", name: "property-names", shape: "one" },
  { keyword: "unevaluatedProperties", name: "unevaluated-properties", shape: "one" },
  { keyword: "unevaluatedItems", name: "unevaluated-items", shape: "one" },
  { keyword: "contentSchema", name: "content-schema", shape: "one" },
  { keyword: "prefixItems", name: "prefix-items", shape: "list" },
  { keyword: "patternProperties", name: "pattern-property", shape: "map" },
  { keyword: "dependentSchemas", name: "dependent-schema", shape: "map" },
];

function compareSubschemas(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string, depth: number): void {
  for (const { keyword, name, shape } of SUBSCHEMAS) {
    const was = before.raw[keyword];
    const is = after.raw[keyword];
    if (was === undefined && is === undefined) continue;
    if (shape === "one") {
      if (was === undefined) ctx.emit(`${subject}-${name}-added`, location, `${keyword} added`);
      else if (is === undefined) ctx.emit(`${subject}-${name}-removed`, location, `${keyword} removed`);
      else compareSchema(ctx, was, is, `${location}(${keyword})`, false, depth + 1);
    } else if (shape === "list") {
      const [a, b] = [Array.isArray(was) ? was : [], Array.isArray(is) ? is : []];
      if (b.length > a.length) ctx.emit(`${subject}-${name}-added`, location, `${keyword} grew from ${a.length} to ${b.length}`);
      else if (b.length < a.length) ctx.emit(`${subject}-${name}-removed`, location, `${keyword} shrank from ${a.length} to ${b.length}`);
      for (let i = 0; i < Math.min(a.length, b.length); i++) compareSchema(ctx, a[i], b[i], `${location}(${keyword} ${i})`, false, depth + 1);
    } else {
      const [a, b] = [asRecord(was), asRecord(is)];
      for (const key of Object.keys(b)) {
        if (!(key in a)) ctx.emit(`${subject}-${name}-added`, location, `${keyword} ${show(key)} added`);
        else compareSchema(ctx, a[key], b[key], `${location}(${keyword} ${key})`, false, depth + 1);
      }
      for (const key of Object.keys(a)) if (!(key in b)) ctx.emit(`${subject}-${name}-removed`, location, `${keyword} ${show(key)} removed`);
    }
  }
  const [oldDeps, newDeps] = [asRecord(before.raw.dependentRequired), asRecord(after.raw.dependentRequired)];
  for (const key of new Set([...Object.keys(oldDeps), ...Object.keys(newDeps)])) {
    if (!(key in oldDeps)) ctx.emit(`${subject}-dependent-required-added`, location, `dependentRequired ${show(key)} added`);
    else if (!(key in newDeps)) ctx.emit(`${subject}-dependent-required-removed`, location, `dependentRequired ${show(key)} removed`);
    else if (!sameJson(oldDeps[key], newDeps[key])) ctx.emit(`${subject}-dependent-required-changed`, location, `dependentRequired ${show(key)} changed`);
  }
  for (const [keyword, name] of [["contentMediaType", "content-media-type"], ["contentEncoding", "content-encoding"]] as const) {
    if (before.raw[keyword] !== after.raw[keyword]) {
      ctx.emit(`${subject}-${name}-changed`, location, `${keyword} changed from ${show(before.raw[keyword] ?? null)} to ${show(after.raw[keyword] ?? null)}`);
    }
  }
}

function compareTypes(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): TypeRelation {
  let relation = relate(before.types, after.types);
  // A parameter travels as text: a string parameter becoming a number or boolean accepts a subset
  // of what it did. (The reverse stays "changed": openapi-fetch callers passing numbers stop compiling.)
  const scalar = (t: string) => t === "number" || t === "integer" || t === "boolean" || t === "null";
  if (relation === "changed" && subject.startsWith("request-parameter") && before.types?.has("string") && [...(after.types ?? [])].every(scalar)) {
    relation = "specialized";
  }
  if (relation === "same") return relation;
  const detail = `type ${relation === "changed" ? "changed" : relation === "generalized" ? "widened" : "narrowed"} from ${typeText(before.types)} to ${typeText(after.types)}`;
  // Only "null" joined or left: say so, the way 3.0's `nullable` reads.
  const withoutNull = (s: Set<string> | undefined) => (s ? new Set([...s].filter((t) => t !== "null")) : s);
  if (before.types && after.types && relate(withoutNull(before.types), withoutNull(after.types)) === "same") {
    ctx.emit(`${subject}-${after.types.has("null") ? "became-nullable" : "became-not-nullable"}`, location, detail);
    return relation;
  }
  ctx.emit(`${subject}-type-${relation}`, location, detail);
  return relation;
}

function compareEnums(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): void {
  if (before.hasConst || after.hasConst) {
    if (!before.hasConst) ctx.emit(`${subject}-const-added`, location, `now the constant ${show(after.const)}`);
    else if (!after.hasConst) ctx.emit(`${subject}-const-removed`, location, `no longer the constant ${show(before.const)}`);
    else if (!sameJson(before.const, after.const)) ctx.emit(`${subject}-const-changed`, location, `constant changed from ${show(before.const)} to ${show(after.const)}`);
  }
  const extensible = (schema: NormalSchema) => (Array.isArray(schema.raw["x-extensible-enum"]) ? schema.raw["x-extensible-enum"].map(show) : []);
  const stillExtensible = new Set(extensible(after));
  for (const value of extensible(before)) {
    if (!stillExtensible.has(value)) ctx.emit(`${subject}-x-extensible-enum-value-removed`, location, `x-extensible-enum value ${value} removed`);
  }
  if (!before.enum && !after.enum) return;
  if (!before.enum && after.enum) {
    ctx.emit(`${subject}-became-enum`, location, `now restricted to ${show(after.enum)}`);
    return;
  }
  if (before.enum && !after.enum) {
    ctx.emit(`${subject}-enum-removed`, location, `no longer restricted to ${show(before.enum)}`);
    return;
  }
  const oldValues = new Set((before.enum ?? []).map(show));
  const newValues = new Set((after.enum ?? []).map(show));
  for (const value of newValues) {
    if (!oldValues.has(value)) ctx.emit(`${subject}-enum-value-added`, location, `enum value ${value} added`);
  }
  for (const value of oldValues) {
    if (!newValues.has(value)) ctx.emit(`${subject}-enum-value-removed`, location, `enum value ${value} removed`);
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
      ctx.emit(`${subject}-removed`, where, `property "${name}" removed`);
      continue;
    }
    if (!had && has) {
      const kind = isRequired ? "required" : "optional";
      ctx.emit(response ? `response-${kind}-property-added` : `new-${kind}-request-property`, where, `${kind} property "${name}" added`);
      continue;
    }
    if (!had || !has) {
      // Not carried on this side in either version (readOnly in a request, writeOnly in a response):
      // OpenAPI scopes `required` to the other side, so presence and required-ness say nothing here.
      // Its value still does: the generated type keeps the property and the validators check it.
      if (before.properties.has(name) && after.properties.has(name)) {
        compareSchema(ctx, before.properties.get(name), after.properties.get(name), where, false, depth + 1);
      }
      continue;
    }
    if (wasRequired && !isRequired) ctx.emit(`${subject}-became-optional`, where, `property "${name}" became optional (was required)`);
    else if (!wasRequired && isRequired) ctx.emit(`${subject}-became-required`, where, `property "${name}" became required (was optional)`);
    const wasDeprecated = normalize(ctx.oldDoc, before.properties.get(name)).deprecated;
    const isDeprecated = normalize(ctx.newDoc, after.properties.get(name)).deprecated;
    if (!wasDeprecated && isDeprecated) {
      const sunset = sunsetOf(normalize(ctx.newDoc, after.properties.get(name)).raw);
      if (sunset === "invalid") ctx.emit(`${subject}-deprecated-sunset-invalid`, where, `property "${name}" deprecated with an x-sunset that is not a date`);
      else ctx.emit(`${subject}-deprecated`, where, `property "${name}" deprecated`);
    }
    else if (wasDeprecated && !isDeprecated) ctx.emit(`${subject}-reactivated`, where, `property "${name}" no longer deprecated`);
    compareSchema(ctx, before.properties.get(name), after.properties.get(name), where, false, depth + 1);
  }
}

/** `$ref` members by ref; inline members by their position among the inline ones. */
function keyed(list: readonly unknown[]): Map<string, unknown> {
  let inline = 0;
  return new Map(list.map((member) => {
    const ref = asRecord(member).$ref;
    return [typeof ref === "string" ? ref : `#${inline++}`, member];
  }));
}

function compareVariants(
  ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string, typeReported: boolean, depth: number,
): void {
  if (!before.variants && !after.variants) return;
  if (!before.variants || !after.variants || before.variants.kind !== after.variants.kind) {
    if (!before.variants && after.variants && !typeReported) {
      const kind = after.variants.kind === "oneOf" ? "one-of" : "any-of";
      ctx.emit(`${subject}-${kind}-added`, location, `${after.variants.kind} with ${after.variants.list.length} choice(s) added`);
    } else if (before.variants && !after.variants && !typeReported) {
      const kind = before.variants.kind === "oneOf" ? "one-of" : "any-of";
      ctx.emit(`${subject}-${kind}-removed`, location, `${before.variants.kind} with ${before.variants.list.length} choice(s) removed`);
    } else if (!typeReported) {
      ctx.emit(`${subject}-composition-changed`, location, `composition changed from ${before.variants?.kind ?? "none"} to ${after.variants?.kind ?? "none"}`);
    }
    return;
  }
  const kind = after.variants.kind;
  const stem = kind === "oneOf" ? "one-of" : "any-of";
  const oldByKey = keyed(before.variants.list);
  const newByKey = keyed(after.variants.list);
  for (const [key, variant] of newByKey) {
    const old = oldByKey.get(key);
    if (old === undefined) ctx.emit(`${subject}-${stem}-added`, location, `${kind} choice ${key} added`);
    else compareSchema(ctx, old, variant, `${location}(${kind} ${key})`, false, depth + 1);
  }
  for (const key of oldByKey.keys()) {
    if (!newByKey.has(key)) ctx.emit(`${subject}-${stem}-removed`, location, `${kind} choice ${key} removed`);
  }
}

function annotationOnly(doc: Rec, member: unknown): boolean {
  return Object.keys(normalize(doc, member).raw).every((k) => ANNOTATIONS.has(k) || k.startsWith("x-"));
}

/** allOf members added or dropped; what they contribute is already compared through the merged view. */
function compareAllOf(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): void {
  if (before.allOf.length === 0 && after.allOf.length === 0) return;
  const oldByKey = keyed(before.allOf);
  const newByKey = keyed(after.allOf);
  for (const [key, member] of newByKey) {
    if (oldByKey.has(key)) continue;
    const suffix = annotationOnly(ctx.newDoc, member) ? "all-of-added-annotation-only" : "all-of-added";
    ctx.emit(`${subject}-${suffix}`, location, `allOf member ${key} added`);
  }
  for (const [key, member] of oldByKey) {
    if (newByKey.has(key)) continue;
    const suffix = annotationOnly(ctx.oldDoc, member) ? "all-of-removed-annotation-only" : "all-of-removed";
    ctx.emit(`${subject}-${suffix}`, location, `allOf member ${key} removed`);
  }
}
