// Makes sure a secret never leaves the client inside an error: a relay or proxy that echoes the
// Authorization header back (in a body, a header or a low-level error message) gets it scrubbed.

/**
 * The forms a key takes in text: itself, and as JSON writes it where `/` is escaped (PHP's
 * json_encode), when it has a `/`. A key is token68 (options.ts), so JSON escapes nothing else in it.
 */
export function secretForms(key: string): string[] {
  return key.includes("/") ? [key, key.replace(/\//g, "\\/")] : [key];
}

/** Replaces every form of the key in `text` with [redacted]; a text holding none (every answer, nearly) is scanned once per form and kept. */
export function scrubText(text: string, forms: readonly string[]): string {
  for (const form of forms) if (text.includes(form)) text = text.split(form).join("[redacted]");
  return text;
}

/** Returns a function that replaces every form of `key` in strings, deep in plain data (none when there is no key). */
export function createRedactor(key: string | null): <T>(value: T) => T {
  if (!key) return <T>(value: T): T => value;
  const forms = secretForms(key);
  const clean = (text: unknown): boolean => scrubText(String(text), forms) === String(text);
  return <T>(value: T): T => {
    const seen = new Map<object, unknown>();
    // Plain data (a parsed body) is copied with a work list of its own, not by recursion: a hostile
    // answer nested 100,000 levels deep must not overflow the call stack. `scrub` hands out an
    // object's empty copy and queues it; the loop below fills the copies in.
    const work: Array<[object, object]> = [];
    const scrub = (value: unknown): unknown => {
      if (typeof value == "string") return scrubText(value, forms);
      // (The empty string was a string above: only other primitives are falsy here.)
      if (!value || typeof value != "object") return value;
      if (seen.has(value)) return seen.get(value);
      if (value instanceof Headers) return new Headers([...value].map(([k, v]): [string, string] => [k, scrubText(v, forms)]));
      if (value instanceof Error) {
        seen.set(value, value);
        const { message, stack, cause } = value as Error & { cause?: unknown };
        if (clean(message) && clean(stack)) {
          const scrubbed = scrub(cause);
          return scrubbed === cause ? value : new Error(message, { cause: scrubbed });
        }
        const copy = new Error(scrub(message) as string, { cause: scrub(cause) });
        copy.name = value.name;
        copy.stack = scrub(stack) as string;
        return copy;
      }
      const copy = Array.isArray(value) ? [] : {};
      seen.set(value, copy);
      work.push([value, copy]);
      return copy;
    };
    const out = scrub(value);
    // A queue: the loop also reaches the pairs queued while it runs.
    for (const [source, copy] of work) {
      // Defined, not assigned: JSON.parse makes "__proto__" an own key, and assigning it would
      // swap the copy's prototype instead (the key gone, its contents inherited).
      for (const [k, v] of Object.entries(source)) Object.defineProperty(copy, k, { value: scrub(v), writable: true, enumerable: true, configurable: true });
    }
    return out as T;
  };
}
