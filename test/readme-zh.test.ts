// README.md and README.zh-CN.md are written apart (the Chinese one for the relay's users, not word
// for word), so nothing but this test keeps them in step: both must name the same public functions,
// classes, types and client methods, and list the same CLI exit codes (the CLI's own table).
import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import { ROOT } from "./helpers/spec.js";

const ENTRIES = ["src/index.ts", "src/node/index.ts", "src/testing/index.ts"].map((file) => path.join(ROOT, file));
const SRC = path.join(ROOT, "src") + path.sep;

const read = (file: string): string => readFileSync(path.join(ROOT, file), "utf8");
const english = read("README.md");
const chinese = read("README.zh-CN.md");

/**
 * The package's public names: every export of the three entry points, and the client's own
 * methods (`generateImage2Video`, ...; openapi-fetch's `GET`, `use`, ... are not ours to document).
 * Read with the type checker, so a helper derived from a route description counts like a written one.
 */
function publicNames(): Set<string> {
  const program = ts.createProgram({
    rootNames: ENTRIES,
    options: {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: ["node"],
      typeRoots: [path.join(ROOT, "node_modules", "@types")],
    },
  });
  const checker = program.getTypeChecker();
  const names = new Set<string>();
  for (const entry of ENTRIES) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
    for (const exported of checker.getExportsOfModule(module)) {
      names.add(exported.name);
      if (exported.name !== "KlingClient") continue;
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const member of checker.getDeclaredTypeOfSymbol(target).getProperties()) {
        if (member.declarations?.some((d) => d.getSourceFile().fileName.startsWith(SRC))) names.add(member.name);
      }
    }
  }
  return names;
}

/** The identifiers written as code in a Markdown document: fenced blocks and `inline` spans, never prose. */
function codeIdentifiers(markdown: string): Set<string> {
  const fence = /^```[^\n]*\n([\s\S]*?)^```/gm;
  const code = [...markdown.matchAll(fence)].map((m) => m[1]!);
  code.push(...[...markdown.replace(fence, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  return new Set(code.flatMap((text) => text.match(/[A-Za-z_$][\w$]*/g) ?? []));
}

/** The public names a document mentions, sorted. */
function mentioned(markdown: string, names: ReadonlySet<string>): string[] {
  return [...codeIdentifiers(markdown)].filter((name) => names.has(name)).sort();
}

/** What one README names and the other does not. */
function compareNames(a: string, b: string, names: ReadonlySet<string>): { onlyFirst: string[]; onlySecond: string[] } {
  const first = mentioned(a, names);
  const second = mentioned(b, names);
  return { onlyFirst: first.filter((n) => !second.includes(n)), onlySecond: second.filter((n) => !first.includes(n)) };
}

/**
 * The exit codes of a document's exit-code table: the table whose first header cell is "exit code"
 * (or 退出码), each row's first cell read for its numbers ("129, 130, 143" is three). Sorted.
 */
function exitCodes(markdown: string): number[] {
  const lines = markdown.split("\n");
  const header = lines.findIndex((line) => /^\|\s*(exit code|退出码)\s*\|/i.test(line));
  if (header < 0) return [];
  const codes: number[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    const first = line.split("|")[1] ?? "";
    codes.push(...(first.match(/\d+/g) ?? []).map(Number));
  }
  return [...new Set(codes)].sort((x, y) => x - y);
}

const names = publicNames();
const cliCodes = [...new Set(Object.values(EXIT_CODES))].sort((x, y) => x - y);

describe("README.zh-CN.md keeps step with README.md", () => {
  it("links to the other one at the top", () => {
    expect(english.split("\n").slice(0, 5).join("\n")).toContain("(README.zh-CN.md)");
    expect(chinese.split("\n").slice(0, 5).join("\n")).toContain("(README.md)");
  });

  it("reads the public names from the entry points, the client's methods included", () => {
    for (const name of ["createKlingClient", "generateImage2Video", "waitForText2VideoTasks", "downloadVideo", "generateVideos", "createFakeRelay", "TaskFailedError"]) {
      expect(names).toContain(name);
    }
    expect(names).not.toContain("GET"); // openapi-fetch's, not ours
    expect(mentioned(english, names).length).toBeGreaterThan(20);
  });

  it("both name the same public functions, classes and types", () => {
    expect(compareNames(english, chinese, names)).toEqual({ onlyFirst: [], onlySecond: [] });
  });

  it("a name missing on either side is caught", () => {
    const dropped = "generateVideos";
    expect(mentioned(chinese, names)).toContain(dropped);
    const withoutIt = chinese.replaceAll(dropped, "somethingElse");
    expect(compareNames(english, withoutIt, names)).toEqual({ onlyFirst: [dropped], onlySecond: [] });
    expect(compareNames(withoutIt, english, names)).toEqual({ onlyFirst: [], onlySecond: [dropped] });
    // Prose does not count: a name must be written as code.
    expect(mentioned("generateVideos, `createKlingClient()`", names)).toEqual(["createKlingClient"]);
  });

  it("both list every exit code of the CLI, and only those", () => {
    expect(exitCodes(english)).toEqual(cliCodes);
    expect(exitCodes(chinese)).toEqual(cliCodes);
    expect(exitCodes(read("docs/cli.md"))).toEqual(cliCodes);
  });

  it("a missing or extra exit code is caught", () => {
    const withoutEleven = chinese.replace(/^\| 11 \|.*\n/m, "");
    expect(withoutEleven).not.toBe(chinese);
    expect(exitCodes(withoutEleven)).toEqual(cliCodes.filter((code) => code !== 11));
    const withThirteen = english.replace(/^(\| 12 \|.*\n)/m, "$1| 13 | new |\n");
    expect(exitCodes(withThirteen)).toContain(13);
    expect(exitCodes("no table here")).toEqual([]);
  });
});
