// Section 3: minified + gzipped browser bundle of the main entry against openapi-fetch, ky and
// axios bundled the same way (each library's whole public surface, as its entry exports it),
// all measured by scripts/bundle-size.ts, the function the bundle budget test uses.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bundleSize, type BundleSize } from "../bundle-size.js";
import { BUDGETS, atMost, verdict } from "./budgets.js";
import { CACHE, ROOT } from "./paths.js";
import { fmtBytes, fmtRatio } from "./stats.js";
import type { Row, SectionResult } from "./table.js";

/** Runs the section. */
export async function benchBundle(): Promise<SectionResult> {
  const dir = join(CACHE, "entries");
  await mkdir(dir, { recursive: true });
  const entryFor = async (pkg: string): Promise<string> => {
    const file = join(dir, `${pkg}.ts`);
    await writeFile(file, `export * from "${pkg}";\nexport { default } from "${pkg}";\n`);
    return file;
  };
  const subjects: Array<[string, string]> = [
    ["openapi-fetch (baseline)", await entryFor("openapi-fetch")],
    ["xiexus-kling (src/index.ts, openapi-fetch included)", join(ROOT, "src/index.ts")],
    ["ky", await entryFor("ky")],
    ["axios", await entryFor("axios")],
  ];
  const sizes: BundleSize[] = [];
  for (const [, entry] of subjects) sizes.push(await bundleSize(entry));
  const base = sizes[0]!.gzipBytes;
  const rows = subjects.map(([name], i): Row => {
    const { gzipBytes, minifiedBytes } = sizes[i]!;
    const isKling = name.startsWith("xiexus-kling");
    return {
      section: "3. Bundle",
      subject: name,
      value: `${fmtBytes(gzipBytes)} min+gzip (${fmtBytes(minifiedBytes)} min)`,
      ratio: fmtRatio(gzipBytes / base),
      target: isKling ? `<= ${fmtBytes(BUDGETS.bundleGzipBytes)} min+gzip` : "",
      status: isKling ? verdict(atMost(gzipBytes, BUDGETS.bundleGzipBytes)) : "",
    };
  });
  const kling = sizes[subjects.findIndex(([name]) => name.startsWith("xiexus-kling"))]!;
  const shares = kling.bytesByInput
    .filter(([, bytes]) => bytes >= 500)
    .map(([input, bytes]) => `${input.replace(/^.*node_modules\//, "").replace(/\/dist\/index\.mjs$/, "")} ${fmtBytes(bytes)}`);
  return {
    rows,
    notes: [
      `Where xiexus-kling's ${fmtBytes(kling.minifiedBytes)} of minified code come from (files of 500 B or more, before gzip): ${shares.join(", ")}.`,
      "Bundle: `bundleSize` of scripts/bundle-size.ts (esbuild browser bundle, ESM, minified, gzip level 9); each library's " +
        "entry re-exports its whole public surface; xiexus-kling is src/index.ts with openapi-fetch bundled in. " +
        "6 kB is read as 6,000 bytes.",
    ],
  };
}
