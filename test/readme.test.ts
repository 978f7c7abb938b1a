// The docs' TypeScript examples compile against the package's source with strict settings, their
// relative links lead somewhere, and the README names every option the code has; so the
// documentation cannot drift. "The docs": README.md, README.zh-CN.md, CONTRIBUTING.md, BENCHMARKS.md
// (links only: it has no code) and docs/*.md.
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../src/index.js";
import { ROOT } from "./helpers/spec.js";

/** Every Markdown file whose examples and links are checked, relative to the root. */
const DOCS = [
  "README.md",
  "README.zh-CN.md",
  "CONTRIBUTING.md",
  "BENCHMARKS.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

/**
 * Docs other engineers are writing at the same time as these links: a link to one of them may
 * lead nowhere until it lands. Nothing else may be missing.
 */
const PENDING_DOCS = new Set(["docs/kling-controls.md", "docs/spec-watch.md"]);

const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");
const readme = read("README.md");

/** The ```ts blocks of a Markdown text. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const examples = DOCS.flatMap((doc) =>
  tsBlocks(read(doc)).map((source, i) => ({ doc, i, name: `${doc.replace(/[^\w]+/g, "-")}-${i}`, source })),
);

const dir = path.join(ROOT, ".cache", "readme");

/** The compiler options of every example: strict, with the package's entries mapped to src/. */
const OPTIONS: ts.CompilerOptions = {
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
};

/**
 * Type-checks each source as its own module importing "xiexus-kling", "xiexus-kling/node" and
 * "xiexus-kling/testing" (mapped to src/), all in one program (the lib and src files are read
 * once); returns each one's diagnostics by name. Only the examples' own diagnostics count: the
 * sources are the project type-check's to judge.
 */
function compileAll(sources: ReadonlyArray<{ name: string; source: string }>): Map<string, string[]> {
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, string>();
  for (const { name, source } of sources) {
    const file = path.join(dir, `${name}.mts`);
    // `export {}` keeps a block without imports a module, so two blocks' names never collide.
    writeFileSync(file, `${source}\nexport {};\n`);
    files.set(file, name);
  }
  const program = ts.createProgram({ rootNames: [...files.keys()], options: OPTIONS });
  const found = new Map<string, string[]>([...files.values()].map((name) => [name, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file) {
      for (const list of found.values()) list.push(message); // a global error (bad options) fails every example
      continue;
    }
    const name = files.get(path.resolve(d.file.fileName));
    if (name === undefined) continue;
    found.get(name)!.push(`${name}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1} ${message}`);
  }
  return found;
}

/** A wrong example, compiled with the real ones: it must fail, alone (the others are not blamed). */
const BROKEN = {
  name: "broken",
  source: 'import { createKlingClient } from "xiexus-kling";\nconst url: string = (await createKlingClient().getImage2VideoTask("t")).url;\n',
};

let compiled: Map<string, string[]> | undefined;
/** The diagnostics of an example (or BROKEN), all compiled once on first use. */
const diagnostics = (name: string): string[] => (compiled ??= compileAll([...examples, BROKEN])).get(name)!;

/** GitHub's anchor for a heading: lower case, punctuation dropped (CJK kept), spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** The anchors of a Markdown text's headings (outside code blocks); repeated ones get -1, -2, ... as on GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = slug(heading!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The text without fenced code blocks (a `#` line there is a comment, not a heading). */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, "");
}

/** The text without fenced blocks and inline code, where a link is only an example. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, "");
}

/** Relative link targets of a Markdown text (web links and mail left out), as written. */
function links(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target));
}

/**
 * The broken links of `doc` (its path from the root): a file that does not exist (unless pending),
 * or an anchor no heading of the target makes. `readDoc` reads a file by its path from the root.
 */
function brokenLinks(doc: string, markdown: string, readDoc: (file: string) => string | undefined): string[] {
  const broken: string[] = [];
  for (const target of links(markdown)) {
    const [file, anchor] = target.split("#", 2) as [string, string | undefined];
    const resolved = file === "" ? doc : path.posix.normalize(path.posix.join(path.posix.dirname(doc), decodeURI(file)));
    if (PENDING_DOCS.has(resolved) && readDoc(resolved) === undefined) continue;
    const text = readDoc(resolved);
    if (text === undefined && !existsSync(path.join(ROOT, resolved))) broken.push(`${doc}: ${target} (no such file)`);
    else if (anchor !== undefined && (text === undefined || !anchors(text).has(anchor))) broken.push(`${doc}: ${target} (no such heading)`);
  }
  return broken;
}

/** Reads a file of the repository by its path from the root; undefined when it is not there. */
const readRepo = (file: string): string | undefined => (existsSync(path.join(ROOT, file)) && file.endsWith(".md") ? read(file) : undefined);

describe("README and docs", () => {
  it("have TypeScript examples, in the README and beyond it", () => {
    expect(tsBlocks(readme).length).toBeGreaterThan(0);
    expect(examples.filter((e) => e.doc.startsWith("docs/")).length).toBeGreaterThan(0);
    expect(examples.filter((e) => e.doc === "README.zh-CN.md").length).toBeGreaterThan(0);
  });

  it.each(examples.map((e) => [e.doc, e.i, e.name] as const))("%s example %i compiles with strict: true", (_doc, _i, name) => {
    expect(diagnostics(name)).toEqual([]);
  }, 120_000);

  it("a broken example would be caught, and blamed on itself only", () => {
    expect(diagnostics(BROKEN.name).join("\n")).toMatch(/^broken:2 .*not assignable to type 'string'/);
    expect(examples.filter((e) => diagnostics(e.name).some((d) => d.startsWith("broken:")))).toEqual([]);
  }, 120_000);

  it("every relative link leads to a file and a heading that exist", () => {
    expect(DOCS.flatMap((doc) => brokenLinks(doc, read(doc), readRepo))).toEqual([]);
  });

  it("a broken link or anchor would be caught", () => {
    const bad = "[a](docs/nowhere.md) [b](docs/cli.md#no-such-heading) [c](#runtimes) [d](#nope) `[e](missing.md)` [f](https://x.example/y.md)";
    expect(brokenLinks("README.md", bad, readRepo)).toEqual([
      "README.md: docs/nowhere.md (no such file)",
      "README.md: docs/cli.md#no-such-heading (no such heading)",
      "README.md: #nope (no such heading)",
    ]);
    expect(anchors("## A batch from a jobs file: `generate --jobs`\n## 退出码\n## 退出码\n")).toEqual(
      new Set(["a-batch-from-a-jobs-file-generate---jobs", "退出码", "退出码-1"]),
    );
  });

  it("the README links to every doc, the Chinese README and the docs still being written", () => {
    const targets = new Set(links(readme).map((t) => t.split("#")[0]));
    for (const doc of [...DOCS.filter((d) => d !== "README.md"), ...PENDING_DOCS]) expect(targets, doc).toContain(doc);
  });

  it("documents every option and its default", () => {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      expect(readme).toMatch(new RegExp(`\\| \`${name}\` \\| \`${typeof value === "string" ? `"${value}"` : value}\``));
    }
    for (const name of ["apiKey", "baseUrl", "fetch", "headers", "signal", "pollIntervalMs", "onUpdate"]) {
      expect(readme).toContain(`| \`${name}\` |`);
    }
  });

  it("shows the two set-up commands, as .ci/run runs them", () => {
    expect(readme).toContain("npm ci && npm run demo\nnpm test\n");
    const ci = read(".ci/run");
    expect(ci).toContain("npm ci && npm run demo ||");
    expect(ci).toMatch(/^npm test \|\|/m);
  });
});
