/** Request parameters (path, query, header, cookie), path-level ones included. */
import { asRecord, deref, isRecord, show, type Emit, type Rec } from "./core.js";
import { compareParameterLifecycle, parameterRemovedRule } from "./deprecation.js";
import { templateNames, type OperationRef } from "./operations.js";
import { compareSchema, walkContext } from "./schemas.js";

interface ParameterInfo {
  /** `in.name`, as the spec spells it. */
  key: string;
  in: string;
  required: boolean;
  raw: Rec;
  schema: unknown;
}

/**
 * Path-level and operation-level parameters by `in.name`; the operation's override the path's.
 * `renames` maps a path parameter's name to the one it is matched under (its name in the other version).
 */
function parametersOf(doc: Rec, ref: OperationRef, renames: ReadonlyMap<string, string> = new Map()): Map<string, ParameterInfo> {
  const params = new Map<string, ParameterInfo>();
  const all = [
    ...(Array.isArray(ref.item.parameters) ? ref.item.parameters : []),
    ...(Array.isArray(ref.op.parameters) ? ref.op.parameters : []),
  ];
  for (const raw of all) {
    const param = deref(doc, raw).value;
    if (typeof param.name !== "string" || typeof param.in !== "string") continue;
    const key = `${param.in}.${param.name}`;
    // Header names are case-insensitive: matched lower-cased, shown as spelled.
    const match = param.in === "header" ? key.toLowerCase() : param.in === "path" ? `path.${renames.get(param.name) ?? param.name}` : key;
    let schema = param.schema;
    if (schema === undefined && isRecord(param.content)) schema = asRecord(Object.values(param.content)[0]).schema;
    params.set(match, { key, in: param.in, required: param.required === true || param.in === "path", raw: param, schema });
  }
  return params;
}

/**
 * Path parameters renamed between two templates of one shape (`/items/{id}` -> `/items/{itemId}`):
 * matched by position, as a template's names are; old name -> new name.
 */
function pathRenames(before: OperationRef, after: OperationRef, emit: Emit): Map<string, string> {
  const renames = new Map<string, string>();
  if (before.path === after.path) return renames;
  const newNames = templateNames(after.path);
  for (const [i, name] of templateNames(before.path).entries()) {
    const next = newNames[i];
    if (next === undefined || next === name) continue;
    renames.set(name, next);
    emit("path-parameter-renamed", `parameter path.${next}`, `path parameter ${show(name)} renamed to ${show(next)}: ${before.path} is now ${after.path}`);
  }
  return renames;
}

/** Parameters removed, added, renamed in the path, made required or optional, deprecated, and their schemas. */
export function compareParameters(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const oldParams = parametersOf(oldDoc, before, pathRenames(before, after, emit));
  const newParams = parametersOf(newDoc, after);
  for (const [match, param] of oldParams) {
    const key = param.key;
    if (!newParams.has(match)) emit(parameterRemovedRule(param.raw), `parameter ${key}`, `${param.required ? "required" : "optional"} parameter ${key} removed`);
  }
  for (const [match, param] of newParams) {
    const key = param.key;
    const old = oldParams.get(match);
    const location = `parameter ${key}`;
    if (!old) {
      const rule = param.in === "path" ? "new-request-path-parameter" : param.required ? "new-required-request-parameter" : "new-optional-request-parameter";
      emit(rule, location, `${param.required ? "required" : "optional"} parameter ${key} added`);
      continue;
    }
    if (!old.required && param.required) emit("request-parameter-became-required", location, `parameter ${key} became required (was optional)`);
    else if (old.required && !param.required) emit("request-parameter-became-optional", location, `parameter ${key} became optional (was required)`);
    compareParameterLifecycle(old.raw, param.raw, key, emit);
    compareSchema(walkContext(oldDoc, newDoc, emit, "request", "request-parameter", "request-parameter-property"), old.schema, param.schema, location, true);
  }
}
