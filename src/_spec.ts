// The one seam between hand-written code and generated/: everything the runtime knows about the
// spec set arrives through here, from generated/index.ts (the merged output of every spec). The
// default base URL is not among it: it is pinned in src/options.ts (DEFAULT_BASE_URL).
import { requests, responses, schemas } from "../generated/index.js";
import { schemaIssues, type ValidationIssue } from "./_schema.js";

export type { paths, operations, components } from "../generated/index.js";
export type { ValidationIssue } from "./_schema.js";

/** The problems of `body` against the schema at `index` (none there: undefined, or a negative index). */
function issuesAt(index: number | undefined, body: unknown): ValidationIssue[] | undefined {
  // (undefined >= 0 is false.)
  return index! >= 0 ? schemaIssues(schemas, index!, body) : undefined;
}

/**
 * The problems of a JSON body against the spec's schema for that answer: `[]` when it conforms,
 * undefined when the spec gives that answer no JSON schema (binary, text, undocumented). The status
 * is looked up as the exact code, then its range (`2XX`), then `default`.
 */
export function responseIssues(path: string, method: string, status: number | string, body: unknown): ValidationIssue[] | undefined {
  const byStatus = responses[path]?.[method.toLowerCase()];
  const code = String(status);
  return issuesAt(byStatus?.[code] ?? byStatus?.[code[0] + "XX"] ?? byStatus?.default, body);
}

/**
 * The problems of a JSON request body against the spec's schema for that operation's body: `[]`
 * when it conforms, undefined when the operation documents no JSON body (none, multipart, binary).
 */
export function requestIssues(path: string, method: string, body: unknown): ValidationIssue[] | undefined {
  return issuesAt(requests[path]?.[method.toLowerCase()], body);
}

/** The property names the spec documents for an operation's JSON request body; undefined when it documents none. */
export function requestProperties(path: string, method: string): string[] | undefined {
  // (No index: schemas["undefined"], which no array has.)
  let schema = schemas[requests[path]?.[method.toLowerCase()] as number] as { $ref?: number; properties?: object } | undefined;
  if (typeof schema?.$ref == "number") schema = schemas[schema.$ref] as typeof schema;
  return schema?.properties ? Object.keys(schema.properties) : undefined;
}
