// The README's TypeScript examples compile against the package's source with strict settings,
// and the README names every option the code has; so the documentation cannot drift.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../src/index.js";
import { ROOT } from "./helpers/spec.js";

const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

let previous: ts.Program | undefined; // reused, so the lib files are parsed once

/** Type-checks `source` as a module importing "xiexus-kling" and "xiexus-kling/testing" (mapped to src/); returns the diagnostics. */
function compile(source: string, name: string): string[] {
  const dir = path.join(ROOT, ".cache", "readme");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.mts`);
  writeFileSync(file, source);
  const program = ts.createProgram({ rootNames: [file], oldProgram: previous, options: {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    typeRoots: [path.join(ROOT, "node_modules", "@types")],
    paths: {
      "xiexus-kling": [path.join(ROOT, "src", "index.ts")],
      "xiexus-kling/testing": [path.join(ROOT, "src", "testing", "index.ts")],
      "xiexus-kling/node": [path.join(ROOT, "src", "node", "index.ts")],
    },
  } });
  previous = program;
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

describe("README", () => {
  it("has TypeScript examples", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b, i) => [i, b] as const))("example %i compiles with strict: true", (i, block) => {
    expect(compile(block, `example-${i}`)).toEqual([]);
  }, 60_000);

  it("a broken example would be caught", () => {
    const broken = 'import { createKlingClient } from "xiexus-kling";\nconst url: string = (await createKlingClient().getImage2VideoTask("t")).url;\n';
    expect(compile(broken, "broken").join("\n")).toMatch(/not assignable to type 'string'/);
  }, 60_000);

  it("documents every option and its default", () => {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(readme).toMatch(new RegExp(`\\| \`${name}\` \\| \`${typeof value === "string" ? `"${value}"` : value}\``));
    }
    for (const name of ["apiKey", "baseUrl", "fetch", "headers", "signal", "pollIntervalMs", "onUpdate"]) {
      expect(readme).toContain(`| \`${name}\` |`);
    }
  });

  it("shows the two set-up commands", () => {
    expect(readme).toContain("npm ci && npm run demo\nnpm test\n");
  });
});
