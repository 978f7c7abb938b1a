// Makes sure a secret never leaves the client inside an error: a relay or proxy that echoes the
// Authorization header back (in a body, a header or a low-level error message) gets it scrubbed.
const REDACTED = "[redacted]";

/**
 * The forms a key takes in text: itself, and as JSON writes it where `/` is escaped (PHP's
 * json_encode). A key is token68 (options.ts), so JSON escapes nothing else in it.
 */
export function secretForms(key: string): string[] {
  return key.includes("/") ? [key, key.replace(/\//g, "\\/")] : [key];
}

/** Replaces every form of the key in `text` with [redacted]. */
export function scrubText(text: string, forms: readonly string[]): string {
  for (const form of forms) if (text.includes(form)) text = text.split(form).join(REDACTED);
  return text;
}

/** Returns a function that replaces every form of `key` in strings, deep in plain data (none when there is no key). */
export function createRedactor(key: string | null): <T>(value: T) => T {
  if (!key) return <T>(value: T): T => value;
  const forms = secretForms(key);
  function scrub(value: unknown, seen: Map<object, unknown>): unknown {
    if (typeof value === "string") return scrubText(value, forms);
    if (value === null || typeof value !== "object") return value;
    if (seen.has(value)) return seen.get(value);
    if (value instanceof Headers) {
      const out = new Headers();
      value.forEach((v, k) => out.append(k, scrub(v, seen) as string));
      return out;
    }
    if (value instanceof Error) {
      seen.set(value, value);
      if (scrubText(String(value.message), forms) === String(value.message) && scrubText(String(value.stack), forms) === String(value.stack)) {
        const cause = (value as { cause?: unknown }).cause;
        return cause === undefined || scrub(cause, seen) === cause ? value : new Error(value.message, { cause: scrub(cause, seen) });
      }
      const copy = new Error(scrub(value.message, seen) as string, { cause: scrub((value as { cause?: unknown }).cause, seen) });
      copy.name = value.name;
      copy.stack = scrub(value.stack, seen) as string;
      return copy;
    }
    // Plain data (a parsed body) is walked with a stack of its own: a hostile answer nested
    // 100,000 levels deep must not overflow the call stack.
    const root: Record<string, unknown> = Array.isArray(value) ? ([] as unknown as Record<string, unknown>) : {};
    seen.set(value, root);
    const work: Array<[object, Record<string, unknown>]> = [[value, root]];
    for (let item = work.pop(); item; item = work.pop()) {
      const [source, out] = item;
      for (const [k, v] of Object.entries(source)) {
        let copy: unknown;
        if (v === null || typeof v !== "object" || v instanceof Headers || v instanceof Error || seen.has(v)) {
          copy = scrub(v, seen);
        } else {
          copy = Array.isArray(v) ? [] : {};
          seen.set(v, copy);
          work.push([v, copy as Record<string, unknown>]);
        }
        // Defined, not assigned: JSON.parse makes "__proto__" an own key, and assigning it would
        // swap the copy's prototype instead (the key gone, its contents inherited).
        Object.defineProperty(out, k, { value: copy, writable: true, enumerable: true, configurable: true });
      }
    }
    return root;
  }
  // A string (the common case: a body) needs no cycle guard.
  return <T>(value: T): T => (typeof value === "string" ? scrub(value, undefined as never) : scrub(value, new Map())) as T;
}
