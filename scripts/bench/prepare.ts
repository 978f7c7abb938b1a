// Bundles what the measured processes run into .cache/bench, so the bench needs no prior
// `npm run build` and no tsx loader runs inside a measured process. Bare imports (openapi-fetch,
// ky, axios) stay external and load from node_modules, as they would for a consumer.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
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
  "generate-videos-images-worker": "scripts/bench/generate-videos-images-worker.ts",
  "generate-videos-images-worker-read": "scripts/bench/generate-videos-images-worker.ts",
} as const;

type BundleName = keyof typeof BUNDLES;

const IMAGE_FILE_MODULE = /[\\/]src[\\/]node[\\/]image-file\.ts$/;
const OPEN_IMAGE_FILE = "export async function openImageFile(";

/**
 * The library as it was before openImageFile streamed files: every `openImageFile` in the bundle
 * (generateVideos opens each job's image with it) is `readImageFile`, which reads the file whole,
 * so a create streams its base64 from bytes in memory. Only for "before" figures; fails loudly if
 * src/node/image-file.ts no longer has the function it replaces.
 */
const readWholeImageFiles: Plugin = {
  name: "read-whole-image-files",
  setup(b) {
    b.onLoad({ filter: IMAGE_FILE_MODULE }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(OPEN_IMAGE_FILE)) throw new Error(`${args.path}: no "${OPEN_IMAGE_FILE}" to replace for the read-whole bundle`);
      const altered = source.replace(OPEN_IMAGE_FILE, "async function openImageFileStreamed(");
      return { contents: `${altered}\nvoid openImageFileStreamed;\nexport { readImageFile as openImageFile };\n`, loader: "ts" };
    });
  },
};

/** Bundles built with the library changed on purpose, to measure what it did before a change. */
const PLUGINS: Partial<Record<BundleName, Plugin[]>> = {
  "generate-videos-images-worker-read": [readWholeImageFiles],
};

/** Path of one bundle. */
export function bundlePath(name: BundleName): string {
  return join(CACHE, `${name}.mjs`);
}

function buildBundles(names: readonly BundleName[], plugins: Plugin[] = []): Promise<unknown> {
  return build({
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
    plugins,
  });
}

/** Builds the named bundles, by default every one (single-file ESM for Node 20); an altered one on its own. */
export async function prepare(names: readonly BundleName[] = Object.keys(BUNDLES) as BundleName[]): Promise<void> {
  await mkdir(CACHE, { recursive: true });
  const plain = names.filter((name) => !PLUGINS[name]);
  if (plain.length) await buildBundles(plain);
  for (const name of names) {
    const plugins = PLUGINS[name];
    if (plugins) await buildBundles([name], plugins);
  }
}
