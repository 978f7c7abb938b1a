/**
 * Operations and the document's servers. Operations are matched by method and path template
 * without its parameter names (`/items/{id}` and `/items/{itemId}` are one operation, as oasdiff
 * matches them), so a renamed path parameter is one change (parameters.ts reports it as breaking:
 * the template is a key of the generated `paths`) and everything else in the operation is still
 * compared, instead of vanishing into "one operation removed, one added".
 */
import { asRecord, deref, isRecord, show, type Emit, type Rec } from "./core.js";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** One operation of a document. */
export interface OperationRef {
  path: string;
  method: string;
  op: Rec;
  item: Rec;
}

/** A path template without its parameter names: `/items/{id}` -> `/items/{}`. */
export function templateShape(route: string): string {
  return route.replace(/\{[^{}]*\}/g, "{}");
}

/** A path template's parameter names, in order: `/a/{x}/b/{y}` -> `["x", "y"]`. */
export function templateNames(route: string): string[] {
  return [...route.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] as string);
}

/**
 * Every operation of `doc`, keyed `method <template shape>`; 3.1 webhooks as `method webhook:<name>`.
 * OpenAPI forbids two templates of one shape; where a document has them anyway, the first (in
 * document order) takes the shared key and the others their exact template, so none is paired twice.
 */
export function operationsOf(doc: Rec): Map<string, OperationRef> {
  const ops = new Map<string, OperationRef>();
  const items = [
    ...Object.entries(asRecord(doc.paths)),
    ...Object.entries(asRecord(doc.webhooks)).map(([name, item]) => [`webhook:${name}`, item] as const),
  ];
  for (const [route, rawItem] of items) {
    const item = deref(doc, rawItem).value;
    const shape = route.startsWith("webhook:") ? route : templateShape(route);
    for (const method of METHODS) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const key = ops.has(`${method} ${shape}`) ? `${method} \u0000${route}` : `${method} ${shape}`;
      ops.set(key, { path: route, method, op, item });
    }
  }
  return ops;
}

/** `GET /path (operationId)`. */
export function label(ref: OperationRef): string {
  const id = ref.op.operationId;
  return `${ref.method.toUpperCase()} ${ref.path}${typeof id === "string" ? ` (${id})` : ""}`;
}

/** operationId changes of an operation present on both sides. */
export function compareOperationId(before: OperationRef, after: OperationRef, emit: Emit): void {
  if (before.op.operationId !== after.op.operationId) {
    emit("operation-id-changed", "operation", `operationId changed from ${show(before.op.operationId ?? null)} to ${show(after.op.operationId ?? null)}`);
  }
}

function serverUrls(doc: Rec): string[] {
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  return servers.map((s) => asRecord(s).url).filter((u): u is string => typeof u === "string");
}

/** Server list changes; servers[0] is the generated client's default base URL. */
export function compareServers(oldDoc: Rec, newDoc: Rec, emit: Emit): void {
  const before = serverUrls(oldDoc);
  const after = serverUrls(newDoc);
  const reported = new Set<string>();
  if (before[0] !== after[0]) {
    emit("default-server-changed", "servers[0]", `default base URL changed from ${before[0] ?? "(none)"} to ${after[0] ?? "(none)"}`);
    for (const url of [before[0], after[0]]) if (url !== undefined) reported.add(url);
  }
  for (const url of before) {
    if (!after.includes(url) && !reported.has(url)) emit("server-removed", "servers", `server ${url} removed`);
  }
  for (const url of after) {
    if (!before.includes(url) && !reported.has(url)) emit("server-added", "servers", `server ${url} added`);
  }
}
