// The package as published: the build (ESM + CJS, each with declarations), publint, attw and the
// tarball's file list. Each check is also run on a deliberately broken package, so it can fail.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { beforeAll, describe, expect, it } from "vitest";
import { ENTRY_FILES } from "../scripts/build.js";
import { CACHE, ROOT, run, type RunResult } from "./consumer/exec.js";
import { filesUnder, packageIssues, packedPackage, repack, unpack, type PackedPackage } from "./consumer/pack.js";

const SETUP_TIMEOUT = 240_000;
const WORK = resolve(CACHE, "packaging");
const RESOLUTIONS = ["node10", "node16-cjs", "node16-esm", "bundler"] as const;

type Manifest = Record<string, unknown> & { exports: Record<string, Record<string, Record<string, string>>> };

let pkg: PackedPackage;
/** The tarball, extracted. */
let good: string;
let manifest: Manifest;
/** A copy whose `require` condition points at the ESM declarations: wrong for CJS consumers. */
let brokenTarball: string;

beforeAll(async () => {
  pkg = await packedPackage();
  good = await unpack(pkg.tarball, join(WORK, "good"));
  manifest = JSON.parse(readFileSync(join(good, "package.json"), "utf8")) as Manifest;

  const brokenDir = join(WORK, "broken");
  const broken = await unpack(pkg.tarball, brokenDir);
  const wrong = structuredClone(manifest);
  const root = wrong.exports["."];
  if (!root?.require || !root.import) throw new Error("package.json has no exports['.'].require/import");
  root.require.types = root.import.types as string;
  wrong.main = "./dist/cjs/src/missing.js";
  writeFileSync(join(broken, "package.json"), JSON.stringify(wrong, null, 2));
  brokenTarball = await repack(brokenDir, "broken");
}, SETUP_TIMEOUT);

async function attw(tarball: string): Promise<{ result: RunResult; report: AttwReport }> {
  const cli = resolve(ROOT, "node_modules/@arethetypeswrong/cli/dist/index.js");
  const result = await run(process.execPath, [cli, tarball, "--format", "json", "--profile", "strict"], { timeoutMs: 120_000 });
  return { result, report: JSON.parse(result.stdout) as AttwReport };
}

interface AttwReport {
  analysis: {
    problems: Array<{ kind: string }>;
    entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
  };
  problems: Record<string, unknown[]>;
}

describe("the build", () => {
  it("writes an ESM and a CommonJS build, each with its own declarations", () => {
    const files = filesUnder(good);
    for (const entry of ENTRY_FILES) expect(files).toContain(entry);
    expect(JSON.parse(readFileSync(join(good, "dist/cjs/package.json"), "utf8"))).toEqual({ type: "commonjs" });
    expect(readFileSync(join(good, "dist/esm/src/index.js"), "utf8")).toMatch(/^export \{/m);
    const cjs = files.filter((f) => f.startsWith("dist/cjs/") && f.endsWith(".js"));
    expect(cjs.length).toBeGreaterThan(5);
    for (const file of cjs) {
      const text = readFileSync(join(good, file), "utf8");
      expect(text, file).toContain('"use strict"');
      expect(text, file).not.toMatch(/import\.meta|^\s*(import|export)\s/m);
    }
    // The generated types ship inside dist, where the declarations import them from.
    expect(files).toContain("dist/esm/generated/kling-image2video.d.ts");
    expect(files).toContain("dist/cjs/generated/kling-image2video.d.ts");
  });

  it("fails loudly when the sources do not compile", async () => {
    const copy = join(WORK, "broken-source");
    rmSync(copy, { recursive: true, force: true });
    mkdirSync(copy, { recursive: true });
    for (const item of ["src", "generated", "scripts/build.ts", "package.json", "tsconfig.json", "tsconfig.build.json", "tsconfig.build.cjs.json"]) {
      cpSync(join(ROOT, item), join(copy, item), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
    writeFileSync(join(copy, "src/index.ts"), `${readFileSync(join(ROOT, "src/index.ts"), "utf8")}\nexport const oops: number = "not a number";\n`);
    const result = await run(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build.ts"], { cwd: copy, timeoutMs: 120_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("tsc -p tsconfig.build.json failed");
    expect(result.stderr).toContain("TS2322");
    expect(existsSync(join(copy, "dist/esm/src/index.js"))).toBe(false);
  }, 120_000);
});

describe("publint", () => {
  const lint = async (tarball: string): Promise<string[]> => {
    const bytes = readFileSync(tarball);
    const { messages, pkg: json } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      level: "suggestion",
      strict: true,
    });
    return messages.map((m) => `${m.type} ${m.code}: ${formatMessage(m, json, { color: false }) ?? ""}`);
  };

  it("has nothing to say about the tarball (not even a suggestion)", async () => {
    expect(await lint(pkg.tarball)).toEqual([]);
  });

  it("reports a broken package", async () => {
    const messages = await lint(brokenTarball);
    expect(messages.some((m) => m.includes("FILE_DOES_NOT_EXIST"))).toBe(true);
    expect(messages.some((m) => m.includes("EXPORTS_TYPES_INVALID_FORMAT"))).toBe(true);
  });
});

describe("are the types wrong (attw)", () => {
  it(`finds no problem for ${RESOLUTIONS.join(", ")}`, async () => {
    const { result, report } = await attw(pkg.tarball);
    expect(report.analysis.problems).toEqual([]);
    expect(report.problems).toEqual({});
    expect(result.code, result.output).toBe(0);
    for (const entrypoint of [".", "./testing"]) {
      for (const kind of RESOLUTIONS) {
        const fileName = report.analysis.entrypoints[entrypoint]?.resolutions[kind]?.resolution?.fileName;
        const format = kind === "node16-esm" || kind === "bundler" ? "esm" : "cjs";
        expect(fileName, `${entrypoint} under ${kind}`).toMatch(new RegExp(`/dist/${format}/src/(testing/)?index\\.d\\.ts$`));
      }
    }
  }, 120_000);

  it("reports a package whose require condition gets the ESM declarations", async () => {
    const { result, report } = await attw(brokenTarball);
    expect(result.code).not.toBe(0);
    // "FalseESM": ESM declarations describing the CommonJS file that `require` loads.
    expect(report.analysis.problems.map((p) => p.kind)).toContain("FalseESM");
  }, 120_000);
});

describe("npm pack", () => {
  it("ships only what a consumer needs: dist, README, CHANGELOG, LICENSE, package.json", async () => {
    const files = pkg.files.map((f) => f.path);
    expect(packageIssues(files, manifest)).toEqual([]);
    expect(files).toContain("README.md");
    expect(files).toContain("dist/esm/src/index.js");
    expect(files).toContain("dist/cjs/src/index.js");
    // The same list as `npm pack --dry-run`, which is what `npm publish` would upload.
    const dry = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: pkg.stage, timeoutMs: 60_000 });
    expect(dry.code, dry.output).toBe(0);
    const [listed] = JSON.parse(dry.stdout) as Array<{ files: Array<{ path: string }> }>;
    expect(packageIssues(listed?.files.map((f) => f.path) ?? [], manifest)).toEqual([]);
  }, 60_000);

  it("would notice sources, tests, configs and missing entries", () => {
    const files = ["package.json", "README.md", "LICENSE", "src/index.ts", "test/x.test.ts", "tsconfig.build.json", "openapi/spec.json", "notes.txt", ...pkg.files.map((f) => f.path).filter((p) => p !== "dist/cjs/src/index.d.ts" && p !== "CHANGELOG.md")];
    const issues = packageIssues(files, manifest);
    expect(issues).toEqual(
      expect.arrayContaining([
        "ships src/index.ts",
        "ships test/x.test.ts",
        "ships tsconfig.build.json",
        "ships openapi/spec.json",
        "ships notes.txt, which no consumer needs",
        "does not ship dist/cjs/src/index.d.ts",
        "does not ship CHANGELOG.md",
      ]),
    );
  });
});
