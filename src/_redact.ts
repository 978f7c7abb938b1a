// Makes sure a secret never leaves the client inside an error: a relay or proxy that echoes the
// Authorization header back (in a body, a header or a low-level error message) gets it scrubbed.
const REDACTED = "[redacted]";

/** Returns a function that replaces every occurrence of `secret` in strings, deep in plain data (none when there is no secret). */
export function createRedactor(key: string | null): <T>(value: T) => T {
  if (!key) return <T>(value: T): T => value;
  const secret = key;
  function scrub(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === "string") return value.includes(secret) ? value.split(secret).join(REDACTED) : value;
    if (value === null || typeof value !== "object" || seen.has(value)) return value;
    seen.add(value);
    if (value instanceof Headers) {
      const out = new Headers();
      value.forEach((v, k) => out.append(k, scrub(v, seen) as string));
      return out;
    }
    if (value instanceof Error) {
      if (!String(value.message).includes(secret) && !String(value.stack).includes(secret)) {
        const cause = (value as { cause?: unknown }).cause;
        return cause === undefined || scrub(cause, seen) === cause ? value : new Error(value.message, { cause: scrub(cause, seen) });
      }
      const copy = new Error(scrub(value.message, seen) as string, { cause: scrub((value as { cause?: unknown }).cause, seen) });
      copy.name = value.name;
      copy.stack = scrub(value.stack, seen) as string;
      return copy;
    }
    if (Array.isArray(value)) return value.map((item) => scrub(item, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, seen);
    return out;
  }
  // A string (the common case: a body) needs no cycle guard.
  return <T>(value: T): T => (typeof value === "string" ? scrub(value, undefined as never) : scrub(value, new WeakSet())) as T;
}
