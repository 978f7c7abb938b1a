// Builds dist/: one JavaScript file per entry and format (esbuild bundles), plus the declarations
// (tsc, emitDeclarationOnly), for ESM in dist/esm and CommonJS in dist/cjs (marked by its own
// package.json). One file per entry because Node loads a bundle about as fast as openapi-fetch,
// and the tsc tree of 16 files about 2.3 times slower (BENCHMARKS.md, "Import"); openapi-fetch is
// compiled into the main entry's files (BUNDLED_DEPENDENCIES), its license appended to LICENSE.
// The later entries (testing, node, the CLI) do not carry their own copy of what an earlier entry
// exports: every import of such a name is pointed at that entry's file (an external relative
// import), so `instanceof KlingError` holds across entries in ESM and in CommonJS alike.
// Any diagnostic, esbuild warning, missing entry or failed check exits with code 1; `npm run build`
// cleans dist/ first (rimraf), so no file of an older layout survives.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build as esbuild, type Metafile, type Plugin } from "esbuild";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The module formats shipped, each in its own folder of dist/. */
export type Format = "esm" | "cjs";

/** One entry point of the package. */
export interface Entry {
  /** The package.json subpath (`.`, `./testing`, ...) or `bin` for the command line. */
  name: string;
  /** The source file, relative to the repository root. */
  source: string;
  /** The formats it ships in; the bin runs the ESM file only (it reads import.meta.url). */
  formats: readonly Format[];
  /** Whether it has declarations (the bin has none: nothing imports it). */
  types: boolean;
}

/** Every entry point, the main one first: the others import its file. */
export const ENTRIES: readonly Entry[] = [
  { name: ".", source: "src/index.ts", formats: ["esm", "cjs"], types: true },
  { name: "./testing", source: "src/testing/index.ts", formats: ["esm", "cjs"], types: true },
  { name: "./node", source: "src/node/index.ts", formats: ["esm", "cjs"], types: true },
  { name: "bin", source: "src/cli/index.ts", formats: ["esm"], types: false },
];

const MAIN = ENTRIES[0]!;

/** Where an entry's JavaScript goes: `dist/<format>/<source>.js`, beside its declarations. */
export function outputFile(entry: Entry, format: Format): string {
  return `dist/${format}/${entry.source.replace(/\.ts$/, ".js")}`;
}

/** Where an entry's declarations go. */
export function declarationFile(entry: Entry, format: Format): string {
  return `dist/${format}/${entry.source.replace(/\.ts$/, ".d.ts")}`;
}

/** The files package.json points at (main, types, exports, bin); each must exist after a build. */
export const ENTRY_FILES: readonly string[] = ENTRIES.flatMap((entry) =>
  entry.formats.flatMap((format) => [outputFile(entry, format), ...(entry.types ? [declarationFile(entry, format)] : [])]),
);

/** Every JavaScript file the build writes: exactly one per entry and format. */
export const JS_FILES: readonly string[] = ENTRIES.flatMap((entry) => entry.formats.map((format) => outputFile(entry, format)));

/** The bin's files: run, not imported, so they export nothing. */
const BIN_FILES: readonly string[] = ENTRIES.filter((entry) => entry.name === "bin").flatMap((entry) => entry.formats.map((format) => outputFile(entry, format)));

const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => "\n",
};

/** Compiles one tsconfig; returns its diagnostics formatted (empty when it emitted cleanly). */
export function compile(configPath: string): string {
  const diagnostics: ts.Diagnostic[] = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => diagnostics.push(d),
  });
  if (!parsed) return ts.formatDiagnosticsWithColorAndContext(diagnostics, host);
  diagnostics.push(...parsed.errors);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, projectReferences: parsed.projectReferences });
  diagnostics.push(...ts.getPreEmitDiagnostics(program));
  const emitted = program.emit();
  diagnostics.push(...emitted.diagnostics);
  if (emitted.emitSkipped && diagnostics.length === 0) return `${configPath}: emit skipped`;
  return diagnostics.length ? ts.formatDiagnosticsWithColorAndContext(diagnostics, host) : "";
}

const parse = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);

/** `./x.js` imported from `from` -> the absolute path of its .ts source. */
const sourceOf = (from: string, specifier: string): string => resolve(dirname(from), specifier).replace(/\.js$/, ".ts");

/**
 * An entry's runtime exports: `module#name` (the module that defines it, absolute path) -> the name
 * the entry exports it under. Read from its `export { ... } from` lines and its own `export`
 * declarations (`export function x`, `export const x`, `export class X`).
 */
export function publicExports(entrySource: string): Map<string, string> {
  const exports = new Map<string, string>();
  for (const statement of parse(entrySource).statements) {
    if (ts.isExportDeclaration(statement)) {
      if (statement.isTypeOnly || !statement.moduleSpecifier || !statement.exportClause || !ts.isNamedExports(statement.exportClause)) continue;
      const module = sourceOf(entrySource, (statement.moduleSpecifier as ts.StringLiteral).text);
      for (const element of statement.exportClause.elements) {
        if (!element.isTypeOnly) exports.set(`${module}#${(element.propertyName ?? element.name).text}`, element.name.text);
      }
      continue;
    }
    const exported = ts.canHaveModifiers(statement) && ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) {
      exports.set(`${entrySource}#${statement.name.text}`, statement.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name)) exports.set(`${entrySource}#${declaration.name.text}`, declaration.name.text);
      }
    }
  }
  return exports;
}

/** An entry whose file other entries import instead of bundling its code again. */
export interface Provider {
  /** The specifier rewritten imports use; the build maps it to the provider's file. */
  specifier: string;
  /** Absolute path of its source. */
  source: string;
  /** What it exports (see publicExports). */
  exports: ReadonlyMap<string, string>;
}

/** The specifier that stands for an entry's file in rewritten sources. */
export const entrySpecifier = (entry: Entry): string => `xiexus-kling-entry:${entry.source}`;

/**
 * Rewrites a source file's imports (and `export ... from`) of names an earlier entry exports so
 * they come from that entry's file (the first provider that has the name); every other name keeps
 * its import and is bundled. Default and namespace imports stay as they are (the identity check
 * below catches a class they would copy).
 */
export function pointAtEntries(file: string, text: string, providers: readonly Provider[]): string {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const statement of source.statements) {
    const isImport = ts.isImportDeclaration(statement);
    if (!isImport && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) continue;
    let elements: readonly (ts.ImportSpecifier | ts.ExportSpecifier)[];
    if (isImport) {
      const clause = statement.importClause;
      if (!clause || clause.isTypeOnly || clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) continue;
      elements = clause.namedBindings.elements;
    } else {
      if (statement.isTypeOnly || !statement.exportClause || !ts.isNamedExports(statement.exportClause)) continue;
      elements = statement.exportClause.elements;
    }
    const module = sourceOf(file, specifier.text);
    const groups = new Map<string, string[]>();
    const kept: string[] = [];
    for (const element of elements) {
      const original = (element.propertyName ?? element.name).text;
      let target: string | undefined;
      for (const provider of element.isTypeOnly ? [] : providers) {
        const publicName = module === provider.source ? original : provider.exports.get(`${module}#${original}`);
        if (publicName === undefined) continue;
        target = provider.specifier;
        groups.set(target, [...(groups.get(target) ?? []), `${publicName} as ${element.name.text}`]);
        break;
      }
      if (target === undefined) kept.push(element.getText(source));
    }
    if (groups.size === 0) continue;
    const keyword = isImport ? "import" : "export";
    const lines = [...groups].map(([target, names]) => `${keyword} { ${names.join(", ")} } from ${JSON.stringify(target)};`);
    if (kept.length) lines.push(`${keyword} { ${kept.join(", ")} } from ${JSON.stringify(specifier.text)};`);
    edits.push({ start: statement.getStart(source), end: statement.getEnd(), text: lines.join("\n") });
  }
  let result = text;
  for (const edit of edits.reverse()) result = result.slice(0, edit.start) + edit.text + result.slice(edit.end);
  return result;
}

/**
 * Names an earlier entry exports that `code` (a later entry's bundle) defines again as a class or a
 * function: a second copy of a class breaks `instanceof`, and of a function, the client it builds.
 * (A copied constant, such as an inlined options table, carries no identity and is not reported.)
 */
export function duplicatedDefinitions(code: string, publicNames: Iterable<string>): string[] {
  const names = new Set(publicNames);
  const found = new Set<string>();
  const patterns = [
    /\bclass\s+([A-Za-z_$][\w$]*)/g,
    /\bfunction\*?\s+([A-Za-z_$][\w$]*)\s*\(/g,
    /\b(?:var|let|const)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:class\b|function\b|async\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) if (names.has(match[1]!)) found.add(match[1]!);
  }
  return [...found].sort();
}

/** True when `code` has a top-level ESM `import`/`export` statement or `import.meta`. */
const looksLikeEsm = (code: string): boolean => /^(import|export)\s|^import\s*\{|import\.meta/m.test(code);

/**
 * Dependencies compiled into the main entry's files instead of imported. openapi-fetch is: a cold
 * import that then resolves and loads a second package pays a second package resolution (measured
 * 1.40x openapi-fetch's own ESM import, against 1.10-1.20x with it inside; BENCHMARKS.md, "Import").
 * package.json pins it exactly, so the declarations consumers install (which import its types)
 * describe the code that runs.
 */
export const BUNDLED_DEPENDENCIES: readonly string[] = ["openapi-fetch"];

/**
 * Every other package stays an import. In CommonJS output a default import of one gets its
 * `exports.default` when it marks itself `__esModule`, as TypeScript's esModuleInterop reads it:
 * esbuild reads our sources as Node ESM ("type": "module"), where a default import of CommonJS is
 * the whole `module.exports`. So each such dependency is seen through a module outside the package
 * (a plugin namespace, not Node ESM) that re-exports it.
 */
const dependencies = (format: Format): Plugin => ({
  name: "dependencies",
  setup(plugin) {
    plugin.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("xiexus-kling-entry:")) return undefined;
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      const name = args.path.startsWith("@") ? args.path.split("/", 2).join("/") : args.path.split("/")[0]!;
      if (BUNDLED_DEPENDENCIES.includes(name) && args.namespace !== "interop") return undefined;
      if (format === "esm" || args.namespace === "interop") return { path: args.path, external: true };
      return { path: args.path, namespace: "interop" };
    });
    plugin.onLoad({ filter: /.*/, namespace: "interop" }, (args) => ({
      contents: `import * as dependency from ${JSON.stringify(args.path)};\nexport * from ${JSON.stringify(args.path)};\nexport default dependency.default;\n`,
      loader: "js",
    }));
  },
});

/**
 * esbuild's CommonJS output exports through getters (`__export` into an object, then
 * `module.exports = __toCommonJS(...)`, which copies each one as another getter). Written instead as
 * plain `exports.name = value;` after the code, as openapi-fetch's own CommonJS file does, a cold
 * `require` is ~0.3-0.5 ms faster of ~7 (BENCHMARKS.md, "Import"). Every export is a class, function
 * or const bound once, so the values assigned at the end are what the getters would have returned.
 * Throws when esbuild's block is not found, so a new esbuild cannot silently keep the getters.
 */
export function plainExports(code: string, file: string): string {
  const block = /^var (\w+) = \{\};\n__export\(\1, \{\n?([^}]*?)\n?\}\);\nmodule\.exports = __toCommonJS\(\1\);\n/m.exec(code);
  if (!block) throw new Error(`${file}: esbuild's CommonJS export block was not found (see plainExports in scripts/build.ts)`);
  const lines = block[2]!.split("\n").filter((line) => line.trim() !== "");
  const assignments = lines.map((line) => {
    const pair = /^\s*([\w$]+): \(\) => ([\w$.]+),?$/.exec(line);
    if (!pair) throw new Error(`${file}: unexpected export line ${JSON.stringify(line)} (see plainExports in scripts/build.ts)`);
    return `exports.${pair[1]} = ${pair[2]};`;
  });
  // esbuild's note of the names for Node's ESM import of CommonJS (its lexer reads `exports.x =` as well).
  const annotation = /\n\/\/ Annotate the CommonJS export names for ESM import in node:\n0 && \(module\.exports = \{[^}]*\}\);\n/;
  const body = code.replace(block[0], 'Object.defineProperty(exports, "__esModule", { value: true });\n').replace(annotation, "\n");
  return dropUnusedHelpers(`${body}${assignments.length ? `\n${assignments.join("\n")}\n` : ""}`);
}

/** Removes esbuild's top-of-file helpers (`var __name = ...` up to the next one) that nothing references any more. */
function dropUnusedHelpers(code: string): string {
  const end = code.indexOf("\n\n");
  let helpers = code.slice(0, end + 1);
  const rest = code.slice(end + 1);
  for (let changed = true; changed; ) {
    changed = false;
    for (const helper of helpers.matchAll(/^var (__\w+) = [\s\S]*?\n(?=var __|(?![\s\S]))/gm)) {
      const uses = `${helpers}${rest}`.match(new RegExp(`\\b${helper[1]}\\b`, "g"))?.length ?? 0;
      if (uses > 1) continue;
      helpers = helpers.replace(helper[0], "");
      changed = true;
      break;
    }
  }
  return `${helpers}${rest}`;
}

/**
 * Writes `code` with every character outside ASCII escaped. esbuild's `charset: "ascii"` escapes
 * strings, identifiers and regular expressions but keeps comments as they are; one curly quote in a
 * comment makes V8 hold the whole file as a two-byte string, read and parsed more slowly (measured:
 * ~0.35 ms of a cold `require`). What is left after esbuild is in `//` comments, written there as
 * `\u{...}` text; anything else throws, since rewriting it could change what the code means.
 */
export function asciiOnly(code: string, file: string): string {
  return code
    .split("\n")
    .map((line, index) => {
      const at = line.search(/[^\x00-\x7f]/u);
      if (at === -1) return line;
      if (!line.slice(0, at).includes("//")) throw new Error(`${file}:${index + 1}: a character outside ASCII outside a // comment`);
      return line.replace(/[^\x00-\x7f]/gu, (char) => `\\u{${char.codePointAt(0)!.toString(16)}}`);
    })
    .join("\n");
}

/** Runs esbuild for one entry and format; returns the metafile. Warnings fail the build. */
async function bundle(root: string, entry: Entry, format: Format, entryPlugins: Plugin[]): Promise<Metafile> {
  const plugins = [...entryPlugins, dependencies(format)];
  const result = await esbuild({
    absWorkingDir: root,
    entryPoints: [join(root, entry.source)],
    outfile: join(root, outputFile(entry, format)),
    bundle: true,
    format,
    // The main entry is universal: "neutral" refuses a Node built-in in its graph.
    platform: entry === MAIN ? "neutral" : "node",
    target: "es2022",
    // Which packages are compiled in and which stay imports: the `dependencies` plugin.
    // Not minified: readable stack traces. Measured: minifying saves ~0.4 ms of a cold require of
    // ~7 ms (the "minified" rows of BENCHMARKS.md, Import): V8's cost follows the number of tokens
    // and functions more than the bytes.
    minify: false,
    legalComments: "none",
    // Strings and identifiers escaped; asciiOnly (below) takes care of the comments.
    charset: "ascii",
    metafile: true,
    logLevel: "silent",
    plugins,
  });
  if (result.warnings.length) {
    throw new Error(`esbuild warned on ${entry.source} (${format}):\n${result.warnings.map((w) => `${w.location?.file ?? ""}:${w.location?.line ?? ""} ${w.text}`).join("\n")}`);
  }
  return result.metafile;
}

/** The plugin for a later entry: names earlier entries export come from their files of the same format. */
function entriesPlugin(root: string, entry: Entry, format: Format, providers: readonly Provider[]): Plugin {
  const srcDir = join(root, "src") + sep;
  const outDir = dirname(join(root, outputFile(entry, format)));
  const fileOf = new Map(
    ENTRIES.filter((e) => e.formats.includes(format)).map((e) => {
      const path = relative(outDir, join(root, outputFile(e, format))).split(sep).join("/");
      return [entrySpecifier(e), path.startsWith(".") ? path : `./${path}`] as const;
    }),
  );
  return {
    name: "earlier-entries",
    setup(plugin) {
      plugin.onResolve({ filter: /^xiexus-kling-entry:/ }, (args) => {
        const path = fileOf.get(args.path);
        if (!path) throw new Error(`${entry.source} (${format}) imports ${args.path}, which has no ${format} file`);
        return { path, external: true };
      });
      plugin.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!args.path.startsWith(srcDir)) return undefined;
        const own = providers.find((p) => p.source === args.path);
        if (own) throw new Error(`${entry.source} bundles the entry ${relative(root, own.source)} itself; import from it by name instead`);
        return { contents: pointAtEntries(args.path, readFileSync(args.path, "utf8"), providers), loader: "ts" };
      });
    },
  };
}

/** Loads every JavaScript file in a fresh Node (ESM by import, CJS by require); throws on failure. */
function loadEach(root: string): void {
  const program = [
    'import { createRequire } from "node:module";',
    "const require = createRequire(import.meta.url);",
    "const names = new Map();",
    `const bins = new Set(${JSON.stringify(BIN_FILES.map((f) => join(root, f)))});`,
    `for (const file of ${JSON.stringify(JS_FILES.map((f) => join(root, f)))}) {`,
    '  const loaded = file.includes("/dist/cjs/") ? require(file) : await import(new URL("file://" + file).href);',
    '  if (!bins.has(file) && Object.keys(loaded).length === 0) throw new Error(file + " exports nothing");',
    // The CommonJS file of an entry exports exactly the names its ESM file does (plainExports).
    '  const entry = file.replace(/\\/dist\\/(esm|cjs)\\//, "/dist/");',
    '  const keys = Object.keys(loaded).filter((key) => key !== "default").sort().join(", ");',
    '  if (names.has(entry) && names.get(entry) !== keys) throw new Error(file + " exports " + keys + "; the other format: " + names.get(entry));',
    "  names.set(entry, keys);",
    // Builds a client (no request): it calls openapi-fetch's default export, which CJS interop can get wrong.
    '  if (loaded.createKlingClient) loaded.createKlingClient({ apiKey: "sk-build-check", baseUrl: "http://127.0.0.1:9" });',
    "}",
  ].join("\n");
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", program], { cwd: root, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`a built file does not load:\n${result.stderr}`);
}

/** Builds `root`/dist (declarations, then each entry's bundles) and checks the result; throws with the reason. */
export async function build(root: string = ROOT): Promise<void> {
  const missingSources = ENTRIES.filter((entry) => !existsSync(join(root, entry.source)));
  if (missingSources.length) throw new Error(`entry sources missing: ${missingSources.map((e) => e.source).join(", ")}`);

  const errors = compile(join(root, "tsconfig.build.json"));
  if (errors) throw new Error(`tsc -p tsconfig.build.json failed:\n${errors}`);
  // The bin has no types export; the declarations of its folder would only ship unused.
  rmSync(join(root, "dist/esm/src/cli"), { recursive: true, force: true });
  // The same declarations, read as CommonJS: dist/cjs/package.json says so for its .js and .d.ts.
  cpSync(join(root, "dist/esm"), join(root, "dist/cjs"), { recursive: true });
  writeFileSync(join(root, "dist/cjs/package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);

  const providers: Provider[] = [];
  for (const entry of ENTRIES) {
    const source = join(root, entry.source);
    const exports = publicExports(source);
    for (const format of entry.formats) {
      const meta = await bundle(root, entry, format, providers.length ? [entriesPlugin(root, entry, format, providers)] : []);
      const file = outputFile(entry, format);
      if (entry === MAIN && format === "esm") {
        const exported = Object.values(meta.outputs)[0]?.exports ?? [];
        const lost = [...exports.values()].filter((name) => !exported.includes(name));
        if (lost.length) throw new Error(`${file} does not export ${lost.join(", ")}`);
      }
      const written = asciiOnly(readFileSync(join(root, file), "utf8"), file);
      const code = format === "cjs" ? plainExports(written, file) : written;
      writeFileSync(join(root, file), code);
      for (const provider of providers) {
        const copies = duplicatedDefinitions(code, provider.exports.values());
        if (copies.length) {
          throw new Error(`${file} carries its own copy of ${copies.join(", ")}: import them from ${relative(root, provider.source)} by name`);
        }
      }
    }
    providers.push({ specifier: entrySpecifier(entry), source, exports });
  }

  const missing = ENTRY_FILES.filter((file) => !existsSync(join(root, file)));
  if (missing.length) throw new Error(`build finished but these entry files are missing: ${missing.join(", ")}`);
  for (const file of JS_FILES) {
    const code = readFileSync(join(root, file), "utf8");
    const esm = looksLikeEsm(code);
    if (file.startsWith("dist/cjs/") && (esm || !code.includes('Object.defineProperty(exports, "__esModule"'))) throw new Error(`${file} is not CommonJS`);
    if (file.startsWith("dist/esm/") && (!esm || /\brequire\(|module\.exports/.test(code))) throw new Error(`${file} is not ESM`);
  }
  loadEach(root);

  // npm sets the mode on install; this makes the bin runnable from a checkout too.
  const bin = ENTRIES.find((entry) => entry.name === "bin");
  if (bin) chmodSync(join(root, outputFile(bin, "esm")), 0o755);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = Date.now();
  build().then(
    () => console.log(`built dist/ (${JS_FILES.length} files: one per entry and format, + declarations) in ${Date.now() - started} ms`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
