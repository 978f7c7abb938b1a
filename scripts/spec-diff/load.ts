/**
 * Reads an OpenAPI 3.0/3.1 document from JSON or YAML text, refusing anything else with a
 * one-line reason that names the file (or the URL: spec-fetch.ts downloads under its limits).
 */
import { parse as parseYaml } from "yaml";
import { isUrl, readSpecSource, SpecReadError } from "../spec-fetch.js";

/** A parsed OpenAPI document: the top level as a plain object. */
export type SpecDoc = Record<string, unknown>;

function isYamlName(fileName: string): boolean {
  return /\.ya?ml$/i.test(fileName);
}

/** How YAML is read: `maxAliasCount` bounds alias expansion (-1: unbounded, for local files). */
export interface ParseOptions {
  maxAliasCount?: number;
}

/** The alias bound for downloaded text: a "billion laughs" body under the byte cap must not expand without end. */
export const REMOTE_MAX_ALIAS_COUNT = 1000;

/**
 * Parses and checks spec text. `.json` files must be JSON, `.yaml`/`.yml` files YAML; any other
 * name is tried as JSON, then YAML. Throws an Error whose message names `fileName`.
 */
export function parseSpecText(fileName: string, raw: string, options: ParseOptions = {}): SpecDoc {
  // A byte-order mark is no content (JSON.parse refuses it with an invisible character).
  const text = raw.replace(/^\uFEFF/, "");
  let doc: unknown;
  const json = !isYamlName(fileName);
  try {
    doc = JSON.parse(text);
  } catch (jsonError) {
    if (json && /\.json$/i.test(fileName)) throw new Error(`${fileName} is not JSON: ${(jsonError as Error).message}`);
    try {
      // Specs in the wild reuse anchors freely; one document only.
      doc = parseYaml(text, { maxAliasCount: options.maxAliasCount ?? -1, uniqueKeys: false });
    } catch (yamlError) {
      throw new Error(`${fileName} is not JSON or YAML: ${(yamlError as Error).message}`);
    }
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error(`${fileName} is not an OpenAPI document: the top level is not an object`);
  }
  const spec = doc as SpecDoc;
  if (typeof spec.openapi !== "string" || !/^3\.[01]\.\d+/.test(spec.openapi)) {
    throw new Error(`${fileName} is not an OpenAPI 3.0/3.1 document: "openapi" is ${JSON.stringify(spec.openapi)}`);
  }
  if (spec.paths === null || typeof spec.paths !== "object" || Array.isArray(spec.paths)) {
    throw new Error(`${fileName} is not an OpenAPI document: it has no "paths" object`);
  }
  return spec;
}

/** Reads and checks one spec file or http(s) URL, or returns the one-line reason it is refused. */
export async function loadSpec(file: string): Promise<{ doc: SpecDoc } | { error: string }> {
  let text: string;
  try {
    text = (await readSpecSource(file)).bytes.toString("utf8");
  } catch (error) {
    return { error: error instanceof SpecReadError ? error.message : `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
  try {
    return { doc: parseSpecText(file, text, isUrl(file) ? { maxAliasCount: REMOTE_MAX_ALIAS_COUNT } : {}) };
  } catch (error) {
    // Parsers quote the offending text, newlines included; the refusal stays one line.
    return { error: (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ") };
  }
}
