/**
 * Value constraints that do not change a schema's shape: numeric and size limits (3.0's boolean
 * exclusiveMinimum/Maximum read as 3.1's numbers), `pattern`, `format`, `default` and
 * `discriminator`. Rule levels live in rules.ts; this family only says which one fired.
 */
import { isRecord, sameJson, show, type NormalSchema, type Rec, type WalkContext } from "./core.js";

/** A limit keyword and its rule-name stem (rules.ts knows which side each bounds). */
interface Limit {
  keyword: string;
  name: string;
}

const LIMITS: readonly Limit[] = [
  { keyword: "maximum", name: "max" },
  { keyword: "exclusiveMaximum", name: "exclusive-max" },
  { keyword: "maxLength", name: "max-length" },
  { keyword: "maxItems", name: "max-items" },
  { keyword: "maxProperties", name: "max-properties" },
  { keyword: "maxContains", name: "max-contains" },
  { keyword: "minimum", name: "min" },
  { keyword: "exclusiveMinimum", name: "exclusive-min" },
  { keyword: "minLength", name: "min-length" },
  { keyword: "minItems", name: "min-items" },
  { keyword: "minProperties", name: "min-properties" },
  { keyword: "minContains", name: "min-contains" },
];

/** The schema's limits as numbers, 3.0's `exclusiveMaximum: true` moving `maximum` to the exclusive bound. */
function limitsOf(schema: Rec): Map<string, number> {
  const out = new Map<string, number>();
  for (const { keyword } of LIMITS) {
    const value = schema[keyword];
    if (typeof value === "number") out.set(keyword, value);
  }
  for (const [flag, bound] of [["exclusiveMaximum", "maximum"], ["exclusiveMinimum", "minimum"]] as const) {
    if (schema[flag] === true && typeof schema[bound] === "number") {
      out.set(flag, schema[bound]);
      out.delete(bound);
    }
  }
  return out;
}

/** Patterns that match every string: a pattern changed to one of them constrains nothing any more. */
const ANY_STRING: ReadonlySet<string> = new Set([".*", "^.*$", "^.*", ".*$"]);

/** Reports every constraint that changed between `before` and `after`. */
export function compareConstraints(ctx: WalkContext, before: NormalSchema, after: NormalSchema, location: string, subject: string): void {
  const oldLimits = limitsOf(before.raw);
  const newLimits = limitsOf(after.raw);
  for (const { keyword, name } of LIMITS) {
    const was = oldLimits.get(keyword);
    const is = newLimits.get(keyword);
    if (was === is) continue;
    if (was === undefined) ctx.emit(`${subject}-${name}-set`, location, `${keyword} set to ${show(is)}`);
    else if (is === undefined) ctx.emit(`${subject}-${name}-unset`, location, `${keyword} ${show(was)} removed`);
    else {
      const grew = is > was;
      const verb = grew ? "increased" : "decreased";
      ctx.emit(`${subject}-${name}-${verb}`, location, `${keyword} ${verb} from ${show(was)} to ${show(is)}`);
    }
  }

  // An empty pattern matches everything: the same as none.
  const patternOf = (schema: Rec) => (typeof schema.pattern === "string" && schema.pattern !== "" ? schema.pattern : undefined);
  const [oldPattern, newPattern] = [patternOf(before.raw), patternOf(after.raw)];
  if (oldPattern !== newPattern) {
    if (oldPattern === undefined) ctx.emit(`${subject}-pattern-added`, location, `pattern ${show(newPattern)} added`);
    else if (newPattern === undefined) ctx.emit(`${subject}-pattern-removed`, location, `pattern ${show(oldPattern)} removed`);
    else if (ANY_STRING.has(newPattern)) ctx.emit(`${subject}-pattern-generalized`, location, `pattern changed from ${show(oldPattern)} to ${show(newPattern)}, which matches any string`);
    else ctx.emit(`${subject}-pattern-changed`, location, `pattern changed from ${show(oldPattern)} to ${show(newPattern)}`);
  }

  const [oldFormat, newFormat] = [before.raw.format, after.raw.format];
  if (oldFormat !== newFormat) {
    if (oldFormat === undefined) ctx.emit(`${subject}-format-added`, location, `format ${show(newFormat)} added`);
    else if (newFormat === undefined) ctx.emit(`${subject}-format-removed`, location, `format ${show(oldFormat)} removed`);
    else ctx.emit(`${subject}-format-changed`, location, `format changed from ${show(oldFormat)} to ${show(newFormat)}`);
  }

  const hadDefault = "default" in before.raw;
  const hasDefault = "default" in after.raw;
  if (hadDefault && !hasDefault) ctx.emit(`${subject}-default-value-removed`, location, `default ${show(before.raw.default)} removed`);
  else if (!hadDefault && hasDefault) ctx.emit(`${subject}-default-value-added`, location, `default ${show(after.raw.default)} added`);
  else if (hadDefault && !sameJson(before.raw.default, after.raw.default)) {
    ctx.emit(`${subject}-default-value-changed`, location, `default changed from ${show(before.raw.default)} to ${show(after.raw.default)}`);
  }

  const [oldDisc, newDisc] = [before.raw.discriminator, after.raw.discriminator];
  if (isRecord(oldDisc) || isRecord(newDisc)) {
    if (!isRecord(oldDisc)) ctx.emit(`${subject}-discriminator-added`, location, `discriminator ${show(newDisc)} added`);
    else if (!isRecord(newDisc)) ctx.emit(`${subject}-discriminator-removed`, location, `discriminator ${show(oldDisc)} removed`);
    else {
      if (oldDisc.propertyName !== newDisc.propertyName) {
        ctx.emit(`${subject}-discriminator-property-name-changed`, location, `discriminator property changed from ${show(oldDisc.propertyName)} to ${show(newDisc.propertyName)}`);
      }
      if (!sameJson(oldDisc.mapping ?? {}, newDisc.mapping ?? {})) {
        ctx.emit(`${subject}-discriminator-mapping-changed`, location, `discriminator mapping changed from ${show(oldDisc.mapping ?? {})} to ${show(newDisc.mapping ?? {})}`);
      }
    }
  }
}
