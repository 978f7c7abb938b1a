// The size a browser app pays for an entry: an esbuild browser bundle (ESM, minified, every
// dependency included), gzipped at level 9. Used by test/runtimes.test.ts (the budget) and the
// benchmark. Node built-ins are left out of the bundle and listed, so a caller can fail on them.
import { builtinModules } from "node:module";
import { gzipSync } from "node:zlib";
import { build, type Plugin } from "esbuild";

/** What `bundleSize` measured. */
export interface BundleSize {
  /** Minified bundle, bytes. */
  minifiedBytes: number;
  /** Minified bundle after gzip level 9, bytes. */
  gzipBytes: number;
  /** Node built-in modules the entry imports (`node:fs`, `http`...); empty for a browser-safe entry. */
  nodeImports: string[];
  /** Every input file of the bundle, relative to the working directory. */
  inputs: string[];
  /** Minified bytes each input file contributes to the bundle, largest first. */
  bytesByInput: Array<[input: string, bytes: number]>;
  /** The minified bundle. */
  code: string;
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * The generated spec data (response schemas, base URL) replaced by empty tables: what the package's
 * own code costs, whatever spec set `openapi/` holds. The data grows with the specs by design.
 */
const WITHOUT_SPEC_DATA: Plugin = {
  name: "without-spec-data",
  setup(plugin) {
    plugin.onLoad({ filter: /[\\/]generated[\\/]index\.ts$/ }, () => ({
      contents: "export const schemas = []; export const responses = {}; export const requests = {};",
      loader: "ts",
    }));
  },
};

/** Bundles `entry` for the browser (esbuild, ESM, minified) and measures it raw and gzipped; `withoutSpecData` leaves generated/index.ts's tables out (sources only). */
export async function bundleSize(entry: string, options: { withoutSpecData?: boolean } = {}): Promise<BundleSize> {
  const nodeImports = new Set<string>();
  const recordBuiltins: Plugin = {
    name: "record-node-builtins",
    setup(plugin) {
      plugin.onResolve({ filter: /^[\w:/-]+$/ }, (args) => {
        if (!args.path.startsWith("node:") && !BUILTINS.has(args.path)) return undefined;
        nodeImports.add(args.path);
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: options.withoutSpecData ? [recordBuiltins, WITHOUT_SPEC_DATA] : [recordBuiltins],
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  return {
    minifiedBytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents, { level: 9 }).byteLength,
    nodeImports: [...nodeImports].sort(),
    inputs: Object.keys(result.metafile.inputs).sort(),
    bytesByInput: Object.entries(Object.values(result.metafile.outputs)[0]?.inputs ?? {})
      .map(([input, { bytesInOutput }]): [string, number] => [input, bytesInOutput])
      .sort((a, b) => b[1] - a[1]),
    code: output.text,
  };
}
