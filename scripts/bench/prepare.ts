// Bundles what the measured processes run into .cache/bench, so the bench needs no prior
// `npm run build` and no tsx loader runs inside a measured process. Bare imports (openapi-fetch,
// ky, axios) stay external and load from node_modules, as they would for a consumer.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { CACHE, ROOT } from "./paths.js";

/** The bundles, by name (each is `.cache/bench/<name>.mjs`). */
export const BUNDLES = {
  server: "scripts/bench/server.ts",
  "requests-worker": "scripts/bench/requests-worker.ts",
  "waits-worker": "scripts/bench/waits-worker.ts",
  "hostile-worker": "scripts/bench/hostile-worker.ts",
  "batch-worker": "scripts/bench/batch-worker.ts",
  "download-worker": "scripts/bench/download-worker.ts",
  "create-worker": "scripts/bench/create-worker.ts",
  "create-requests-worker": "scripts/bench/create-requests-worker.ts",
  "generate-videos-worker": "scripts/bench/generate-videos-worker.ts",
} as const;

/** Path of one bundle. */
export function bundlePath(name: keyof typeof BUNDLES): string {
  return join(CACHE, `${name}.mjs`);
}

/** Builds the named bundles, by default every one (single-file ESM for Node 20). */
export async function prepare(names: ReadonlyArray<keyof typeof BUNDLES> = Object.keys(BUNDLES) as Array<keyof typeof BUNDLES>): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(names.map((name) => [name, join(ROOT, BUNDLES[name])])),
    outdir: CACHE,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
}
