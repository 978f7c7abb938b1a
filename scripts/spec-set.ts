/**
 * What `openapi/` holds besides the specs, and what generation does with it before reading a spec:
 *
 * - `openapi/spec-set.json`, the remembered selection: per spec file, which operations are generated
 *   (by path prefix, tag or operationId; an operation matching any of them is kept). Written by
 *   `spec:update --select-*`, read by every `generate`. A spec without an entry is generated whole.
 * - `openapi/overlays/*.json` (or `.yaml`), the project's own fixes to the relay's specs, as
 *   OpenAPI Overlay 1.0 documents: `extends` names the spec (relative to the overlay, so
 *   `../relay.json`), each action's `target` is an RFC 9535 JSONPath. Applied to the published spec,
 *   file by file in name order and action by action, before the selection. An action whose target
 *   matches nothing fails generation naming the overlay and the action: the defect it fixed is gone,
 *   so the overlay is deleted rather than left to rot.
 *
 * After the selection, the components no kept operation reaches are removed (an own walk over
 * `$ref`s, discriminator mappings and security requirements: Redocly's `filter-in` cannot select by
 * path prefix, and its `remove-unused-components` keeps every `allOf` schema and security scheme).
 */
import path from "node:path";
import { exec, type JsonValue } from "jsonpath-rfc9535";
import { parse as parseYaml } from "yaml";
import { pointerToken, type JsonObject } from "./spec-normalize.js";

/** The remembered selection's file name inside the spec directory; never read as a spec. */
export const SPEC_SET_FILE = "spec-set.json";

/** The overlays' directory inside the spec directory. */
export const OVERLAY_DIR = "overlays";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** Which operations of one spec are generated; an operation matching any criterion is kept. */
export interface Selection {
  /** Path templates starting with one of these (`/kling/v1/videos/`). */
  pathPrefixes?: string[];
  /** Operations carrying one of these tags. */
  tags?: string[];
  /** Operations with one of these operationIds. */
  operationIds?: string[];
}

/** `openapi/spec-set.json`: the selection per spec file name (`relay.json`). */
export interface SpecSetConfig {
  select: Record<string, Selection>;
}

/** A file read from the spec directory: its path as shown in messages (`openapi/overlays/x.json`) and its text. */
export interface SourceFile {
  file: string;
  text: string;
}

/** One Overlay 1.0 action, as read. */
export interface OverlayAction {
  target: string;
  description?: string;
  update?: unknown;
  remove?: boolean;
}

/** A parsed overlay: where it is, which spec it extends (a file name in the spec directory), its actions. */
export interface Overlay {
  file: string;
  text: string;
  spec: string;
  actions: OverlayAction[];
}

/** What one overlay action did: how many nodes it matched and what it did to them. */
export interface ActionEffect {
  overlay: string;
  action: number;
  description?: string;
  target: string;
  matched: number;
}

const SELECTION_KEYS = ["pathPrefixes", "tags", "operationIds"] as const;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function parseJsonOrYaml(file: string, text: string): unknown {
  const body = text.replace(/^\uFEFF/, "");
  try {
    return /^\s*[{[]/.test(body) ? JSON.parse(body) : parseYaml(body, { maxAliasCount: 1000 });
  } catch (error) {
    throw new Error(`${file} cannot be read: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** Reads and checks `spec-set.json`; throws naming the file and the offending entry. */
export function parseSpecSetConfig(file: string, text: string): SpecSetConfig {
  const raw = parseJsonOrYaml(file, text);
  if (!isObject(raw) || !isObject(raw.select)) throw new Error(`${file}: expected { "select": { "<spec file>": { ... } } }`);
  for (const key of Object.keys(raw)) {
    if (key !== "select" && key !== "$comment") throw new Error(`${file}: unknown key ${JSON.stringify(key)} (only "select" and "$comment")`);
  }
  const select: Record<string, Selection> = {};
  for (const [spec, value] of Object.entries(raw.select)) {
    const at = `${file}#/select/${pointerToken(spec)}`;
    if (!isObject(value)) throw new Error(`${at}: a selection is an object of ${SELECTION_KEYS.join(", ")}`);
    const selection: Selection = {};
    for (const [key, list] of Object.entries(value)) {
      if (!(SELECTION_KEYS as readonly string[]).includes(key)) {
        throw new Error(`${at}: unknown key ${JSON.stringify(key)} (one of ${SELECTION_KEYS.join(", ")})`);
      }
      if (!Array.isArray(list) || !list.every((item) => typeof item === "string" && item !== "")) {
        throw new Error(`${at}/${key}: a list of non-empty strings`);
      }
      if (list.length) selection[key as keyof Selection] = [...new Set(list as string[])];
    }
    if (!SELECTION_KEYS.some((key) => selection[key]?.length)) throw new Error(`${at}: an empty selection would keep nothing; remove the entry to keep the whole spec`);
    select[spec] = selection;
  }
  return { select };
}

/** `spec-set.json`'s text for `config`: keys sorted, so writing it twice gives the same bytes. */
export function formatSpecSetConfig(config: SpecSetConfig): string {
  const select: Record<string, Selection> = {};
  for (const spec of Object.keys(config.select).sort()) {
    const selection = config.select[spec]!;
    const out: Selection = {};
    for (const key of SELECTION_KEYS) if (selection[key]?.length) out[key] = [...selection[key]!];
    select[spec] = out;
  }
  const comment =
    "Which operations of each spec are generated (an operation matching any entry is kept); written by `npm run spec:update -- <file> --select-path/--select-tag/--select-operation`. Overlays live in openapi/overlays/.";
  return `${JSON.stringify({ $comment: comment, select }, null, 2)}\n`;
}

/** The selection as one line: `paths /kling/v1/videos/; tags Kling`. */
export function describeSelection(selection: Selection): string {
  const parts: string[] = [];
  if (selection.pathPrefixes?.length) parts.push(`paths ${selection.pathPrefixes.join(", ")}`);
  if (selection.tags?.length) parts.push(`tags ${selection.tags.join(", ")}`);
  if (selection.operationIds?.length) parts.push(`operationIds ${selection.operationIds.join(", ")}`);
  return parts.join("; ");
}

/** Reads and checks one Overlay 1.0 document; `file` is its path as shown, `dirOfSpecs` the spec directory as shown. */
export function parseOverlay(file: string, text: string, dirOfSpecs: string): Overlay {
  const raw = parseJsonOrYaml(file, text);
  if (!isObject(raw)) throw new Error(`${file}: an overlay is an object`);
  if (typeof raw.overlay !== "string" || !/^1\.0\.\d+$/.test(raw.overlay)) {
    throw new Error(`${file}: not an Overlay 1.0 document ("overlay" is ${JSON.stringify(raw.overlay)})`);
  }
  if (!isObject(raw.info) || typeof raw.info.title !== "string" || typeof raw.info.version !== "string") {
    throw new Error(`${file}: "info" needs a title and a version`);
  }
  // `extends` is a URI reference resolved against the overlay's own location; only a spec file of
  // the same directory tree is accepted, so an overlay never fetches or reads anything else.
  if (typeof raw.extends !== "string" || /^[a-z][a-z0-9+.-]*:|^\//i.test(raw.extends)) {
    throw new Error(`${file}: "extends" must name the spec it fixes, relative to the overlay (e.g. "../relay.json")`);
  }
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), raw.extends));
  const prefix = `${dirOfSpecs}/`;
  const spec = resolved.startsWith(prefix) ? resolved.slice(prefix.length) : "";
  if (spec === "" || spec.includes("/")) {
    throw new Error(`${file}: "extends" ${JSON.stringify(raw.extends)} is not a spec file in ${dirOfSpecs}/`);
  }
  if (!Array.isArray(raw.actions) || raw.actions.length === 0) throw new Error(`${file}: "actions" must be a non-empty list`);
  const actions = raw.actions.map((action, i): OverlayAction => {
    const at = `${file} action ${i + 1}`;
    if (!isObject(action) || typeof action.target !== "string" || !action.target.startsWith("$")) {
      throw new Error(`${at}: "target" must be a JSONPath starting with "$"`);
    }
    if (action.remove !== undefined && typeof action.remove !== "boolean") throw new Error(`${at}: "remove" is a boolean`);
    if (action.remove !== true && action.update === undefined) throw new Error(`${at}: neither "update" nor "remove: true"; it would do nothing`);
    return {
      target: action.target,
      description: typeof action.description === "string" ? action.description : undefined,
      update: action.update,
      remove: action.remove === true,
    };
  });
  return { file, text, spec, actions };
}

/** Undoes a normalized path's key escapes (RFC 9535 section 2.7), as jsonpath-rfc9535 reports keys. */
function unescapeKey(key: string): string {
  const simple: Record<string, string> = { "'": "'", "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", '"': '"' };
  return key.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escape: string) =>
    escape.length === 5 ? String.fromCharCode(parseInt(escape.slice(1), 16)) : (simple[escape] ?? escape),
  );
}

/** `update` merged into `target`: objects member by member, recursively; anything else replaces. */
function merge(target: JsonObject, update: JsonObject): void {
  for (const [key, value] of Object.entries(update)) {
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (isObject(current) && isObject(value)) merge(current, value);
    else Object.defineProperty(target, key, { value: structuredClone(value), enumerable: true, writable: true, configurable: true });
  }
}

/**
 * Applies `overlay` to `doc` in place, action by action (Overlay 1.0: a target selects objects or
 * arrays; `update` merges into an object or appends to an array; `remove` deletes the node from its
 * parent). Throws naming the overlay and the action when a target matches nothing, is not valid
 * JSONPath, or selects what the action cannot change.
 */
export function applyOverlay(doc: JsonObject, overlay: Overlay): ActionEffect[] {
  const effects: ActionEffect[] = [];
  overlay.actions.forEach((action, i) => {
    const name = `${overlay.file} action ${i + 1}${action.description ? ` (${action.description})` : ""}`;
    const found: Array<{ value: JsonValue; at: Array<string | number> }> = [];
    try {
      exec(doc as JsonValue, action.target, (value, at) => found.push({ value, at: at.map((k) => (typeof k === "string" ? unescapeKey(k) : k)) }));
    } catch (error) {
      throw new Error(`${name}: target ${JSON.stringify(action.target)} is not an RFC 9535 JSONPath: ${(error as Error).message}`);
    }
    if (found.length === 0) {
      throw new Error(
        `${name}: target ${JSON.stringify(action.target)} matches nothing in ${overlay.spec}; ` +
          "the spec no longer has what this overlay fixes: check the relay's change and delete the overlay (or the action)",
      );
    }
    // Deepest and last first, so removing one node never shifts the place of another.
    found.sort((a, b) => b.at.length - a.at.length || compareSteps(b.at, a.at));
    for (const { value, at } of found) {
      if (value === null || typeof value !== "object") {
        throw new Error(`${name}: target ${JSON.stringify(action.target)} selects a ${value === null ? "null" : typeof value} at ${show(at)}; Overlay 1.0 targets objects or arrays`);
      }
      if (action.remove) {
        if (at.length === 0) throw new Error(`${name}: the whole document cannot be removed`);
        const parent = at.slice(0, -1).reduce<unknown>((node, key) => (node as JsonObject)[key as string], doc);
        const last = at[at.length - 1]!;
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete (parent as JsonObject)[last as string];
      } else if (Array.isArray(value)) {
        value.push(structuredClone(action.update) as JsonValue);
      } else if (isObject(action.update)) {
        merge(value as JsonObject, action.update);
      } else {
        throw new Error(`${name}: "update" must be an object to merge into the object at ${show(at)}`);
      }
    }
    effects.push({ overlay: overlay.file, action: i + 1, description: action.description, target: action.target, matched: found.length });
  });
  return effects;
}

function compareSteps(a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return typeof a[i] === "number" && typeof b[i] === "number" ? (a[i] as number) - (b[i] as number) : String(a[i]) < String(b[i]) ? -1 : 1;
  }
  return a.length - b.length;
}

function show(at: ReadonlyArray<string | number>): string {
  return `#/${at.map((k) => pointerToken(String(k))).join("/")}`;
}

/** One operation's coordinates and what selection looks at. */
interface OperationView {
  route: string;
  method: string;
  operationId?: string;
  tags: string[];
}

function operationsOf(doc: JsonObject): OperationView[] {
  const views: OperationView[] = [];
  for (const [route, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const resolved = resolveLocal(doc, item);
    if (!isObject(resolved)) continue;
    for (const method of METHODS) {
      const op = resolved[method];
      if (!isObject(op)) continue;
      views.push({
        route,
        method,
        operationId: typeof op.operationId === "string" ? op.operationId : undefined,
        tags: Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === "string") : [],
      });
    }
  }
  return views;
}

function resolveLocal(doc: JsonObject, node: unknown): unknown {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === "string" && hops < 32; hops++) {
    const target = refTarget(doc, current.$ref);
    if (target === undefined) return current;
    current = target;
  }
  return current;
}

function refTarget(doc: JsonObject, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as JsonObject)[key];
  }
  return node;
}

function matches(view: OperationView, selection: Selection): boolean {
  return (
    (selection.pathPrefixes ?? []).some((prefix) => view.route.startsWith(prefix)) ||
    (selection.tags ?? []).some((tag) => view.tags.includes(tag)) ||
    (view.operationId !== undefined && (selection.operationIds ?? []).includes(view.operationId))
  );
}

/**
 * The operations of `doc` that `selection` keeps, the others removed (a path left with none is
 * removed), then the components nothing kept reaches. `where` names the selection in errors: every
 * criterion must match an operation, since one that matches none is a typo or a path the relay renamed
 * (`strict` false skips that check: an older file compared against need not have them all).
 * Returns a new document; `doc` is untouched.
 */
export function selectOperations(doc: JsonObject, selection: Selection, where: string, strict = true): JsonObject {
  const views = operationsOf(doc);
  for (const key of strict ? SELECTION_KEYS : []) {
    for (const value of selection[key] ?? []) {
      const one: Selection = { [key]: [value] };
      if (!views.some((view) => matches(view, one))) {
        const what = key === "pathPrefixes" ? "path prefix" : key === "tags" ? "tag" : "operationId";
        throw new Error(`${where}: the ${what} ${JSON.stringify(value)} matches no operation; fix or remove it`);
      }
    }
  }
  const out = structuredClone(doc);
  const paths: JsonObject = {};
  for (const [route, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const kept = views.filter((view) => view.route === route && matches(view, selection));
    if (kept.length === 0) continue;
    // A path item behind a $ref is copied in, so only its kept methods remain.
    const resolved = structuredClone(resolveLocal(doc, item)) as JsonObject;
    for (const method of METHODS) if (!kept.some((view) => view.method === method)) delete resolved[method];
    paths[route] = resolved;
  }
  out.paths = paths;
  delete out.webhooks;
  pruneComponents(out);
  return out;
}

const COMPONENT_REF = /^#\/components\/([^/]+)\/([^/]+)/;

/** Removes, in place, every component that `paths`, `webhooks` and `security` do not reach. */
export function pruneComponents(doc: JsonObject): void {
  if (!isObject(doc.components)) return;
  const components = doc.components;
  const reached = new Set<string>();
  const queue: unknown[] = [];
  const reach = (section: string, name: string): void => {
    const key = `${section}/${name}`;
    if (reached.has(key)) return;
    reached.add(key);
    const sectionNode = components[section];
    if (isObject(sectionNode) && Object.hasOwn(sectionNode, name)) queue.push(sectionNode[name]);
  };
  const requirements = (list: unknown): void => {
    for (const requirement of Array.isArray(list) ? list : []) {
      for (const name of Object.keys(isObject(requirement) ? requirement : {})) reach("securitySchemes", name);
    }
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isObject(node)) return;
    if (typeof node.$ref === "string") {
      const m = COMPONENT_REF.exec(node.$ref);
      if (m) reach(decodeToken(m[1]!), decodeToken(m[2]!));
    }
    if (isObject(node.discriminator) && isObject(node.discriminator.mapping)) {
      for (const target of Object.values(node.discriminator.mapping)) {
        if (typeof target !== "string") continue;
        const m = COMPONENT_REF.exec(target);
        if (m) reach(decodeToken(m[1]!), decodeToken(m[2]!));
        else if (!target.includes("/")) reach("schemas", target);
      }
    }
    if (Array.isArray(node.security)) requirements(node.security);
    for (const child of Object.values(node)) visit(child);
  };
  requirements(doc.security);
  visit(doc.paths);
  visit(doc.webhooks);
  while (queue.length) visit(queue.shift());
  for (const [section, members] of Object.entries(components)) {
    if (!isObject(members)) continue;
    for (const name of Object.keys(members)) if (!reached.has(`${section}/${name}`)) delete members[name];
    if (Object.keys(members).length === 0) delete components[section];
  }
}

function decodeToken(token: string): string {
  return decodeURIComponent(token).replace(/~1/g, "/").replace(/~0/g, "~");
}

/** The operations of `doc`, as `METHOD path` strings (for messages and supersede checks). */
export function operationKeys(doc: JsonObject): string[] {
  return operationsOf(doc).map((view) => `${view.method} ${view.route}`);
}

/** `doc` with only the operations whose `method path` key is in `keys` (components untouched). */
export function onlyOperations(doc: JsonObject, keys: ReadonlySet<string>, keep: boolean): JsonObject {
  const out = structuredClone(doc);
  const paths: JsonObject = {};
  for (const [route, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const resolved = structuredClone(resolveLocal(doc, item)) as JsonObject;
    let any = false;
    for (const method of METHODS) {
      if (!isObject(resolved[method])) continue;
      if (keys.has(`${method} ${route}`) === keep) any = true;
      else delete resolved[method];
    }
    if (any) paths[route] = resolved;
  }
  out.paths = paths;
  delete out.webhooks;
  return out;
}

/** The spec, overlaid and selected, as generation sees it; `effects` lists what each overlay action matched. */
export function effectiveSpec(
  specName: string,
  doc: JsonObject,
  overlays: readonly Overlay[],
  config: SpecSetConfig | undefined,
  configFile: string,
): { doc: JsonObject; effects: ActionEffect[]; selection?: Selection } {
  const out = structuredClone(doc);
  const effects: ActionEffect[] = [];
  for (const overlay of overlays) if (overlay.spec === specName) effects.push(...applyOverlay(out, overlay));
  const selection = config?.select[specName];
  if (!selection) return { doc: out, effects };
  return { doc: selectOperations(out, selection, `${configFile}#/select/${pointerToken(specName)}`), effects, selection };
}
