// The package as published: the build (one ESM and one CJS file per entry, with declarations),
// publint, attw and the tarball's exact file list. Each check is also run on a deliberately broken
// package or input, so it can fail.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { beforeAll, describe, expect, it } from "vitest";
import { asciiOnly, duplicatedDefinitions, ENTRIES, entrySpecifier, ENTRY_FILES, JS_FILES, outputFile, plainExports, pointAtEntries, publicExports, type Provider } from "../scripts/build.js";
import { CACHE, ROOT, run, type RunResult } from "./consumer/exec.js";
import { filesUnder, packageIssues, packedPackage, repack, unpack, type PackedPackage } from "./consumer/pack.js";

const SETUP_TIMEOUT = 240_000;
const WORK = resolve(CACHE, "packaging");
const RESOLUTIONS = ["node10", "node16-cjs", "node16-esm", "bundler"] as const;
/** The package.json subpaths with types, from the build's table of entries. */
const SUBPATHS = ENTRIES.filter((entry) => entry.types).map((entry) => entry.name);
const MAIN_SOURCE = resolve(ROOT, "src/index.ts");

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

/** A copy of the checkout's build inputs under .cache, with `edit` applied, built by scripts/build.ts. */
async function buildCopy(name: string, edit: (copy: string) => void): Promise<RunResult & { copy: string }> {
  const copy = join(WORK, name);
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy, { recursive: true });
  for (const item of ["src", "generated", "scripts/build.ts", "package.json", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(ROOT, item), join(copy, item), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  edit(copy);
  const result = await run(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build.ts"], { cwd: copy, timeoutMs: 120_000 });
  return { ...result, copy };
}

describe("the build", () => {
  it("writes one ESM and one CommonJS file per entry (the bin: ESM only), each with declarations", () => {
    const files = filesUnder(good);
    for (const entry of ENTRY_FILES) expect(files).toContain(entry);
    // One file per entry and format: no other JavaScript ships.
    expect(files.filter((f) => f.endsWith(".js"))).toEqual([...JS_FILES].sort());
    expect(JS_FILES).toEqual(expect.arrayContaining(["dist/esm/src/index.js", "dist/cjs/src/index.js", "dist/esm/src/cli/index.js"]));
    expect(JSON.parse(readFileSync(join(good, "dist/cjs/package.json"), "utf8"))).toEqual({ type: "commonjs" });
    expect(readFileSync(join(good, "dist/esm/src/index.js"), "utf8")).toMatch(/^export \{/m);
    for (const file of JS_FILES) {
      const text = readFileSync(join(good, file), "utf8");
      if (file.startsWith("dist/cjs/")) {
        expect(text, file).toMatch(/^"use strict";/);
        // Plain assignments (plainExports in scripts/build.ts), not esbuild's getters.
        expect(text, file).toContain('Object.defineProperty(exports, "__esModule", { value: true });');
        expect(text, file).not.toMatch(/__toCommonJS|__export\(|module\.exports\s*=/);
        expect(text, file).toMatch(/^exports\.\w+ = [\w$.]+;$/m);
        expect(text, file).not.toMatch(/import\.meta|^\s*(import|export)\s/m);
      } else {
        expect(text, file).toMatch(/^(import|export) /m);
        expect(text, file).not.toMatch(/\brequire\(|module\.exports/);
      }
      // ASCII only (asciiOnly in scripts/build.ts): V8 keeps the source as a one-byte string.
      expect(text, file).not.toMatch(/[^\x00-\x7f]/);
      // openapi-fetch is compiled into the main entry (BUNDLED_DEPENDENCIES): no file imports it.
      expect(text, file).not.toMatch(/from "openapi-fetch"|require\("openapi-fetch"\)/);
    }
    for (const format of ["esm", "cjs"] as const) {
      expect(readFileSync(join(good, `dist/${format}/src/index.js`), "utf8")).toContain("node_modules/openapi-fetch/dist/index.mjs");
    }
    // Its license travels with its code; the types consumers install are of the version compiled in.
    const license = readFileSync(join(ROOT, "node_modules/openapi-fetch/LICENSE"), "utf8").trim();
    expect(readFileSync(join(good, "LICENSE"), "utf8")).toContain(license);
    const installed = (JSON.parse(readFileSync(join(ROOT, "node_modules/openapi-fetch/package.json"), "utf8")) as { version: string }).version;
    expect(manifest.dependencies).toEqual({ "openapi-fetch": installed });
    // The generated types ship inside dist, where the declarations import them from.
    expect(files).toContain("dist/esm/generated/relay.d.ts");
    expect(files).toContain("dist/cjs/generated/relay.d.ts");
  });

  it("gives the later entries no copy of an earlier one: they import its file", () => {
    const mainNames = [...publicExports(MAIN_SOURCE).values()];
    expect(mainNames).toEqual(expect.arrayContaining(["KlingError", "createKlingClient", "TaskNotFoundError"]));
    ENTRIES.forEach((entry, i) => {
      const earlier = ENTRIES.slice(0, i);
      for (const format of entry.formats) {
        const file = outputFile(entry, format);
        const text = readFileSync(join(good, file), "utf8");
        if (i > 0) {
          // Every later entry sits one folder below the main one (src/testing/, src/node/, src/cli/).
          expect(text, file).toContain(format === "esm" ? 'from "../index.js"' : 'require("../index.js")');
        }
        for (const other of earlier) {
          const names = [...publicExports(resolve(ROOT, other.source)).values()];
          expect(duplicatedDefinitions(text, names), `${file} vs ${other.source}`).toEqual([]);
        }
      }
    });
    // The bin's downloads come from the node entry's file, not a copy of it.
    expect(readFileSync(join(good, "dist/esm/src/cli/index.js"), "utf8")).toContain('from "../node/index.js"');
  });

  it("would notice a copy of a public class or function in a sub-entry", () => {
    const names = ["KlingError", "createKlingClient", "DEFAULTS", "withRetry"];
    expect(duplicatedDefinitions("var KlingError = class extends Error {};\nfunction createKlingClient() {}", names)).toEqual(["KlingError", "createKlingClient"]);
    expect(duplicatedDefinitions("class KlingError extends Error {}\nconst withRetry = (f) => f;", names)).toEqual(["KlingError", "withRetry"]);
    // Imported, subclassed or a plain constant: no identity is copied.
    expect(duplicatedDefinitions('import { KlingError } from "../index.js";\nvar FileExistsError = class extends KlingError {};\nvar DEFAULTS = { a: 1 };', names)).toEqual([]);
  });

  it("writes CommonJS exports as plain assignments and drops the helpers left unused", () => {
    const esbuildOutput = [
      '"use strict";',
      "var __defProp = Object.defineProperty;",
      "var __export = (target, all) => {",
      "  for (var name in all)",
      "    __defProp(target, name, { get: all[name], enumerable: true });",
      "};",
      "var __toCommonJS = (mod) => __defProp({}, \"__esModule\", { value: true });",
      "var __toESM = (mod) => __defProp({}, \"default\", { value: mod });",
      "",
      "// src/index.ts",
      "var index_exports = {};",
      "__export(index_exports, {",
      "  KlingError: () => KlingError,",
      "  helper: () => import_other.helper",
      "});",
      "module.exports = __toCommonJS(index_exports);",
      "var import_other = __toESM(require(\"./other.js\"));",
      "var KlingError = class extends Error {};",
      "// Annotate the CommonJS export names for ESM import in node:",
      "0 && (module.exports = {",
      "  KlingError,",
      "  helper",
      "});",
      "",
    ].join("\n");
    const out = plainExports(esbuildOutput, "index.js");
    expect(out).toContain('Object.defineProperty(exports, "__esModule", { value: true });');
    expect(out.trimEnd().split("\n").slice(-2)).toEqual(["exports.KlingError = KlingError;", "exports.helper = import_other.helper;"]);
    // __export and __toCommonJS are gone; __toESM and the __defProp it uses stay.
    expect(out).not.toMatch(/__export|__toCommonJS|module\.exports|Annotate/);
    expect(out).toContain("var __toESM =");
    expect(out).toContain("var __defProp =");
    // An output of another shape is refused, not passed through with its getters.
    expect(() => plainExports('"use strict";\nmodule.exports = {};\n', "odd.js")).toThrow(/export block was not found/);
    expect(() => plainExports(esbuildOutput.replace("() => KlingError", "KlingError"), "odd.js")).toThrow(/unexpected export line/);
  });

  it("loading the main entry does not load Node's fetch (undici): only a request does", async () => {
    // Node defines fetch, Request, Response and Headers as lazy globals: the first read loads undici
    // (~20 ms). A child traps those reads during the import and prints which it saw.
    const touched = async (load: string): Promise<string[]> => {
      const program = [
        "const seen = [];",
        'for (const name of ["fetch", "Request", "Response", "Headers", "FormData"]) {',
        "  const own = Object.getOwnPropertyDescriptor(globalThis, name);",
        "  Object.defineProperty(globalThis, name, { configurable: true, get() { seen.push(name); return own.get ? own.get.call(globalThis) : own.value; } });",
        "}",
        load,
        "console.log(JSON.stringify(seen));",
      ].join("\n");
      const result = await run(process.execPath, ["--input-type=module", "-e", program], { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as string[];
    };
    const esm = pathToFileURL(join(good, "dist/esm/src/index.js")).href;
    const cjs = join(good, "dist/cjs/src/index.js");
    expect(await touched(`await import(${JSON.stringify(esm)});`)).toEqual([]);
    expect(await touched(`(await import("node:module")).createRequire(import.meta.url)(${JSON.stringify(cjs)});`)).toEqual([]);
    // The trap sees what it should: a module subclassing Response at its top, as this entry once did.
    expect(await touched("class Buffered extends Response {}")).toEqual(["Response"]);
  });

  it("gives CommonJS consumers ordinary properties they can spy on, as the ESM file's names", async () => {
    const cjs = createRequire(import.meta.url)(join(good, "dist/cjs/src/index.js")) as Record<string, unknown>;
    const esm = (await import(pathToFileURL(join(good, "dist/esm/src/index.js")).href)) as Record<string, unknown>;
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort());
    expect(Object.getOwnPropertyDescriptor(cjs, "createKlingClient")).toMatchObject({ writable: true, configurable: true, enumerable: true });
    // What jest.spyOn / vi.spyOn do: esbuild's getters (configurable: false) refused it.
    const original = cjs.createKlingClient;
    Object.defineProperty(cjs, "createKlingClient", { value: () => "spied", configurable: true, writable: true });
    expect((cjs.createKlingClient as () => string)()).toBe("spied");
    cjs.createKlingClient = original;
    expect(cjs.__esModule).toBe(true);
  });

  it("leaves no character outside ASCII", () => {
    expect(asciiOnly("// it\u2019s \u{1F600}\nconst a = 1;", "a.js")).toBe("// it\\u{2019}s \\u{1f600}\nconst a = 1;");
    expect(asciiOnly("plain", "a.js")).toBe("plain");
    // Outside a // comment it could be code (a regular expression, a string): refused, not rewritten.
    expect(() => asciiOnly('const a = 1;\nconst quote = /\u2019/;', "a.js")).toThrow(/a\.js:2: a character outside ASCII/);
  });

  it("points imports of earlier entries' names at their files and bundles the rest", () => {
    const node = resolve(ROOT, "src/node/index.ts");
    const providers: Provider[] = [
      { specifier: entrySpecifier(ENTRIES[0]!), source: MAIN_SOURCE, exports: publicExports(MAIN_SOURCE) },
      { specifier: "node-entry", source: node, exports: publicExports(node) },
    ];
    const main = JSON.stringify(entrySpecifier(ENTRIES[0]!));
    const file = resolve(ROOT, "src/example.ts");
    const source = [
      'import { APIError, isTaskNotExist } from "./errors.js";',
      'import { DEFAULTS as D, checkDuration } from "./options.js";',
      'import type { KlingError } from "./errors.js";',
      'import { sleep } from "./_sleep.js";',
      'export { TaskNotFoundError } from "./errors.js";',
      'import { downloadVideo } from "./node/index.js";',
    ].join("\n");
    const out = pointAtEntries(file, source, providers);
    expect(out).toContain(`import { APIError as APIError } from ${main};\nimport { isTaskNotExist } from "./errors.js";`);
    expect(out).toContain(`import { DEFAULTS as D } from ${main};\nimport { checkDuration } from "./options.js";`);
    expect(out).toContain('import type { KlingError } from "./errors.js";');
    expect(out).toContain('import { sleep } from "./_sleep.js";');
    expect(out).toContain(`export { TaskNotFoundError as TaskNotFoundError } from ${main};`);
    expect(out).toContain('import { downloadVideo as downloadVideo } from "node-entry";');
    // A name no earlier entry exports from that module is never redirected.
    expect(pointAtEntries(file, 'import { isLoopbackHost } from "./options.js";', providers)).toBe('import { isLoopbackHost } from "./options.js";');
  });

  it("fails loudly when the sources do not compile", async () => {
    const result = await buildCopy("broken-source", (copy) => {
      writeFileSync(join(copy, "src/index.ts"), `${readFileSync(join(ROOT, "src/index.ts"), "utf8")}\nexport const oops: number = "not a number";\n`);
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("tsc -p tsconfig.build.json failed");
    expect(result.stderr).toContain("TS2322");
    expect(existsSync(join(result.copy, "dist/esm/src/index.js"))).toBe(false);
  }, 120_000);

  it("fails when an entry's source is missing", async () => {
    const result = await buildCopy("missing-entry", (copy) => rmSync(join(copy, "src/testing/index.ts")));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("entry sources missing: src/testing/index.ts");
  }, 120_000);

  it("fails when a sub-entry would carry its own copy of a public class", async () => {
    // A namespace import cannot be pointed at the main entry name by name, so errors.ts is bundled.
    const result = await buildCopy("copied-class", (copy) => {
      const file = join(copy, "src/testing/index.ts");
      writeFileSync(file, `${readFileSync(file, "utf8")}\nimport * as errors from "../errors.js";\nexport const Copied = errors.KlingError;\n`);
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/dist\/esm\/src\/testing\/index\.js carries its own copy of .*KlingError.*: import them from src\/index\.ts by name/);
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
    expect(Object.keys(report.analysis.entrypoints).filter((e) => e !== "./package.json").sort()).toEqual([...SUBPATHS].sort());
    for (const entrypoint of SUBPATHS) {
      const dir = entrypoint === "." ? "" : `${entrypoint.slice(2)}/`;
      for (const kind of RESOLUTIONS) {
        const fileName = report.analysis.entrypoints[entrypoint]?.resolutions[kind]?.resolution?.fileName;
        const format = kind === "node16-esm" || kind === "bundler" ? "esm" : "cjs";
        expect(fileName, `${entrypoint} under ${kind}`).toMatch(new RegExp(`/dist/${format}/src/${dir}index\\.d\\.ts$`));
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
  it("ships only what a consumer needs: dist, the READMEs, CHANGELOG, LICENSE, package.json", async () => {
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

  it("lists exactly the expected files: one JS file per entry and format, a declaration per module", () => {
    const sources = ["src", "generated"].flatMap((dir) =>
      filesUnder(join(pkg.stage, dir))
        .filter((f) => f.endsWith(".ts") && !/\.test(-d)?\.ts$/.test(f))
        .map((f) => `${dir}/${f}`),
    );
    // The bin (src/cli/) has no declarations: nothing imports it.
    const declared = sources.filter((f) => !f.startsWith("src/cli/")).map((f) => f.replace(/\.ts$/, ".d.ts"));
    const expected = [
      "package.json",
      "README.md",
      "README.zh-CN.md",
      "CHANGELOG.md",
      "LICENSE",
      "dist/cjs/package.json",
      ...JS_FILES,
      ...declared.flatMap((f) => [`dist/esm/${f}`, `dist/cjs/${f}`]),
    ].sort();
    expect(pkg.files.map((f) => f.path).sort()).toEqual(expected);
    expect(expected.filter((f) => f.endsWith(".js"))).toHaveLength(7);
  });

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
