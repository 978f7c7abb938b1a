// The main entry as browsers and workerd get it: an esbuild bundle (ESM, platform "browser") of
// the installed package, and the list of globals that bundle reads from its host, found by
// ESLint's scope analysis (`no-undef`), so `globalThis.process?.env` and `typeof process` count as
// guarded and a bare `process.env`, `Buffer.from` or `require(...)` does not.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { Linter } from "eslint";

/** Host globals only Node (or a Node-compat layer) has: the main entry must not read any unguarded. */
export const NODE_ONLY_GLOBALS = ["process", "Buffer", "require", "module", "exports", "__dirname", "__filename", "global", "setImmediate", "clearImmediate"];

/** Bundles `export * from "<specifier>"` as resolved from the project `app`; returns the code. */
export async function browserBundle(app: string, specifier = "xiexus-kling"): Promise<string> {
  const entry = join(app, `bundle-entry-${specifier.replace(/\W+/g, "-")}.mjs`);
  writeFileSync(entry, `export * from ${JSON.stringify(specifier)};\n`);
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: app,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${specifier}`);
  return output.text;
}

/** One global a module reads without declaring it. */
export interface FreeGlobal {
  name: string;
  line: number;
  /** The same line tests `typeof <name>` first (openapi-fetch's `typeof process === "object" && process...`). */
  guarded: boolean;
}

/** Every read of a global the module `code` does not declare (beyond ECMAScript's own), in order. */
export function freeGlobals(code: string): FreeGlobal[] {
  const messages = new Linter().verify(code, [
    { languageOptions: { ecmaVersion: "latest", sourceType: "module" }, rules: { "no-undef": "error" } },
  ]);
  const fatal = messages.find((m) => m.fatal);
  if (fatal) throw new Error(`cannot parse the bundle: ${fatal.message} at ${fatal.line}:${fatal.column}`);
  const lines = code.split("\n");
  return messages.flatMap((m) => {
    const name = m.ruleId === "no-undef" ? /'(.+)' is not defined/.exec(m.message)?.[1] : undefined;
    if (!name) return [];
    const before = (lines[m.line - 1] ?? "").slice(0, m.column - 1);
    return [{ name, line: m.line, guarded: new RegExp(`typeof\\s+${name}\\b`).test(before) }];
  });
}

/** The names of `freeGlobals` read at least once without a guard, sorted. */
export function unguardedGlobals(code: string): string[] {
  return [...new Set(freeGlobals(code).filter((g) => !g.guarded).map((g) => g.name))].sort();
}
