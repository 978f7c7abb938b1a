// A small JSON Schema 2020-12 interpreter for the response schemas scripts/generate.ts writes as
// data (generated/index.ts): a few hundred bytes instead of a validator library or generated code.
// The subset is what real specs use: type, enum, const, properties, patternProperties, required,
// additionalProperties, items, prefixItems, allOf, anyOf, oneOf, not, the numeric and length limits,
// pattern (Unicode), uniqueItems and `$ref` (an index into the shared schema list). `format` is an
// annotation, as 2020-12 defaults to: not asserted. Lengths count code points, as Ajv does.

/** One problem found in a body: where (JSON pointer), which keyword failed and why (Ajv's error shape). */
export interface ValidationIssue {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type Schema = boolean | Record<string, unknown>;
type Obj = Record<string, unknown>;

// Short local names: the minifier cannot shorten globals, and this file is counted in the bundle budget.
const isArray = Array.isArray;
const keysOf = Object.keys;
const own = Object.hasOwn;
/** A value's JSON type: typeof, with null and arrays told apart from objects. */
const typeOf = (d: unknown): string => (d === null ? "null" : isArray(d) ? "array" : typeof d);
/** Whether a value is a JSON object (not null, not an array). */
export const isObject = (d: unknown): d is Obj => typeOf(d) == "object";
/** A non-empty string, else undefined (the shared reading of an optional word in an answer). */
export const text = (d: unknown): string | undefined => (typeof d == "string" && d ? d : undefined);
const esc = (k: string): string => k.replace(/~/g, "~0").replace(/\//g, "~1");

/** JSON equality (what enum, const and uniqueItems compare with). */
const equal = (a: unknown, b: unknown): boolean =>
  a === b ||
  // (Two nulls are ===; one null's type is "null", unlike any object's.)
  typeof a == "object" && typeOf(a) == typeOf(b) &&
    keysOf(a as Obj).length == keysOf(b as Obj).length && keysOf(a as Obj).every((k) => own(b as Obj, k) && equal((a as Obj)[k], (b as Obj)[k]));

/** The JSON type each limit bounds, by the keyword's 4th letter: (min|max)imum, -Length, -Items, -Properties. */
const BOUNDED: Obj = { i: "number", L: "string", I: "array", P: "object" };
/** What a (min|max)imum, -Length, -Items or -Properties keyword bounds: the number itself, or the size (a string's code points, an array's items, an object's properties). */
const size = (k: string, d: unknown): number => (k[3] == "i" ? (d as number) : (k[3] == "P" ? keysOf(d as Obj) : [...(d as string)]).length);
/** A pattern keyword's test (the Unicode flag, as 2020-12 asks). */
const matches = (r: string, p: string): boolean => new RegExp(r, "u").test(p);

/** One issue, in Ajv's shape. */
export const issue = (instancePath: string, schemaPath: string, keyword: string, params: Obj = {}, message = "must satisfy " + keyword): ValidationIssue =>
  ({ instancePath, schemaPath, keyword, params, message });

/** The schema list `$ref` indexes: the one schemaIssues was given (a check runs to its end, nothing interleaves). */
let defs: readonly unknown[] = [];

function check(schema: Schema, d: unknown, at: string, sp: string, out: ValidationIssue[]): void {
  const fail = (keyword: string, params?: Obj, message?: string): number => out.push(issue(at, sp + "/" + keyword, keyword, params, message));
  if (schema === false) fail("false schema");
  const sub = (path: string, s: unknown, data: unknown, where = at): void => check(s as Schema, data, where, sp + "/" + path, out);
  const passes = (path: string, s: unknown): boolean => {
    const found: ValidationIssue[] = [];
    check(s as Schema, d, at, sp + "/" + path, found);
    return !found.length;
  };
  for (const k in schema as Obj) {
    const v = (schema as Obj)[k] as never;
    if (k == "$ref") check(defs[v] as Schema, d, at, "#/$defs/" + v, out);
    else if (k == "type") {
      if (!([] as string[]).concat(v).some((t) => typeOf(d) == t || (t == "integer" && Number.isInteger(d)))) fail(k, { type: v }, "must be " + v);
    } else if (k == "enum") {
      if (!(v as unknown[]).some((x) => equal(x, d))) fail(k, { allowedValues: v });
    } else if (k == "const") {
      if (!equal(v, d)) fail(k, { allowedValue: v });
    } else if (k == "allOf") (v as unknown[]).map((s, i) => sub(k + "/" + i, s, d));
    else if (k == "anyOf") {
      if (!(v as unknown[]).some((s, i) => passes(k + "/" + i, s))) fail(k);
    } else if (k == "oneOf") {
      if ((v as unknown[]).filter((s, i) => passes(k + "/" + i, s)).length != 1) fail(k);
    } else if (k == "not") {
      if (passes(k, v)) fail(k);
    } else if (
      // The keywords whose issue's params are { limit }: the bounds, the number tests, pattern, uniqueItems.
      /^m(in|ax)(imum|Length|Items|Properties)$/.test(k)
        ? typeOf(d) == BOUNDED[k[3] as string] && (k[1] == "i" ? size(k, d) < v : size(k, d) > v)
        : typeof d == "number"
          ? k == "exclusiveMinimum" ? d <= v : k == "exclusiveMaximum" ? d >= v : k == "multipleOf" && d / v !== parseInt((d / v) as never)
          : typeof d == "string"
            ? k == "pattern" && !matches(v, d)
            : k == "uniqueItems" && v && isArray(d) && d.some((x, i) => d.some((y, j) => j < i && equal(x, y)))
    )
      fail(k, { limit: v });
    else if (isArray(d)) {
      if (k == "prefixItems") (v as unknown[]).map((s, i) => i < d.length && sub(k + "/" + i, s, d[i], at + "/" + i));
      else if (k == "items") d.map((x, i) => i < ((schema as Obj).prefixItems as [] | undefined ?? []).length || sub(k, v, x, at + "/" + i));
    } else if (isObject(d)) {
      if (k == "required") for (const p of v as string[]) if (!own(d, p)) fail(k, { missingProperty: p }, `must have required property '${p}'`);
      for (const p of keysOf(d)) {
        const where = at + "/" + esc(p);
        if (k == "properties" && own(v, p)) sub(k + "/" + esc(p), (v as Obj)[p], d[p], where);
        if (k == "patternProperties") for (const r in v as Obj) if (matches(r, p)) sub(k + "/" + esc(r), (v as Obj)[r], d[p], where);
        // Only the keys neither properties nor patternProperties name.
        if (k == "additionalProperties" && !own((schema as Obj).properties ?? {}, p) && !keysOf((schema as Obj).patternProperties ?? {}).some((r) => matches(r, p))) {
          if (v === false) fail(k, { additionalProperty: p });
          else sub(k, v, d[p], where);
        }
      }
    }
  }
}

/** The problems of `data` against `defs[root]` (an empty list when it conforms). */
export function schemaIssues(schemas: readonly unknown[], root: number, data: unknown): ValidationIssue[] {
  defs = schemas;
  const out: ValidationIssue[] = [];
  try {
    check(defs[root] as Schema, data, "", "#", out);
  } catch (error) {
    // A recursive schema walked by data nested deeper than the call stack: an answer, not a bug.
    if (!(error instanceof RangeError)) throw error;
    return [issue("", "#", "depth", {}, "is nested too deeply to check")];
  }
  return out;
}
