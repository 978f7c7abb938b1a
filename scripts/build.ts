// Builds dist/: the ESM build (tsconfig.build.json) and the CommonJS build
// (tsconfig.build.cjs.json), each with its own declarations, through the TypeScript API.
// Any diagnostic, or an entry point missing afterwards, fails the build with exit code 1.
// `npm run build` cleans dist/ first (rimraf), so no file of an older layout survives.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The files package.json points at (main, types, exports, bin); each must exist after a build. */
export const ENTRY_FILES = [
  "dist/esm/src/index.js",
  "dist/esm/src/index.d.ts",
  "dist/cjs/src/index.js",
  "dist/cjs/src/index.d.ts",
  "dist/esm/src/testing/index.js",
  "dist/esm/src/testing/index.d.ts",
  "dist/cjs/src/testing/index.js",
  "dist/cjs/src/testing/index.d.ts",
  "dist/esm/src/cli.js",
] as const;

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

/** Runs both builds into `root`/dist and checks the result; throws with the compiler's messages. */
export function build(root: string = ROOT): void {
  for (const config of ["tsconfig.build.json", "tsconfig.build.cjs.json"]) {
    const errors = compile(join(root, config));
    if (errors) throw new Error(`tsc -p ${config} failed:\n${errors}`);
  }
  // dist/cjs sits under package.json's "type": "module"; this marks its .js and .d.ts as CommonJS.
  mkdirSync(join(root, "dist/cjs"), { recursive: true });
  writeFileSync(join(root, "dist/cjs/package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);

  const missing = ENTRY_FILES.filter((file) => !existsSync(join(root, file)));
  if (missing.length) throw new Error(`build finished but these entry files are missing: ${missing.join(", ")}`);

  const cjsIndex = readFileSync(join(root, "dist/cjs/src/index.js"), "utf8");
  if (/^\s*(import|export)\s/m.test(cjsIndex)) throw new Error("dist/cjs/src/index.js is not CommonJS");

  // npm sets the mode on install; this makes the bin runnable from a checkout too.
  chmodSync(join(root, "dist/esm/src/cli.js"), 0o755);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const started = Date.now();
    build();
    console.log(`built dist/ (esm + cjs) in ${Date.now() - started} ms`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
