/**
 * Security requirements (global and per operation) and security schemes. Informational, as in
 * oasdiff: the generated types do not change, and the client sends its credential anyway.
 */
import { asRecord, show, type Emit, type Rec } from "./core.js";
import type { OperationRef } from "./operations.js";

/** Requirements keyed by their scheme names (`a+b` for "a and b"), each with its scopes. */
function requirements(value: unknown): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const requirement of Array.isArray(value) ? value : []) {
    const entries = Object.entries(asRecord(requirement));
    const key = entries.map(([name]) => name).sort().join("+") || "(none)";
    const scopes = new Set(entries.flatMap(([name, list]) => (Array.isArray(list) ? list : []).map((s) => `${name}:${String(s)}`)));
    out.set(key, scopes);
  }
  return out;
}

function compareRequirements(before: unknown, after: unknown, prefix: "api-security" | "api-global-security", location: string, emit: Emit): void {
  const was = requirements(before);
  const is = requirements(after);
  for (const [key, scopes] of is) {
    const old = was.get(key);
    if (!old) {
      emit(`${prefix}-added`, location, `security requirement ${key} added`);
      continue;
    }
    for (const scope of scopes) if (!old.has(scope)) emit(`${prefix}-scope-added`, location, `scope ${scope} added`);
    for (const scope of old) if (!scopes.has(scope)) emit(`${prefix}-scope-removed`, location, `scope ${scope} removed`);
  }
  for (const key of was.keys()) if (!is.has(key)) emit(`${prefix}-removed`, location, `security requirement ${key} removed`);
}

/** An operation's own `security` list. */
export function compareOperationSecurity(before: OperationRef, after: OperationRef, emit: Emit): void {
  compareRequirements(before.op.security, after.op.security, "api-security", "security", emit);
}

/** The document's global `security` and its `components.securitySchemes`. */
export function compareDocumentSecurity(oldDoc: Rec, newDoc: Rec, emit: Emit): void {
  compareRequirements(oldDoc.security, newDoc.security, "api-global-security", "security", emit);
  const was = asRecord(asRecord(oldDoc.components).securitySchemes);
  const is = asRecord(asRecord(newDoc.components).securitySchemes);
  for (const [name, scheme] of Object.entries(is)) {
    const old = was[name];
    if (old === undefined) emit("api-security-component-added", `securitySchemes.${name}`, `security scheme ${name} added`);
    else if (asRecord(old).type !== asRecord(scheme).type) {
      emit("api-security-component-type-changed", `securitySchemes.${name}`, `type changed from ${show(asRecord(old).type)} to ${show(asRecord(scheme).type)}`);
    }
  }
  for (const name of Object.keys(was)) if (!(name in is)) emit("api-security-component-removed", `securitySchemes.${name}`, `security scheme ${name} removed`);
}
