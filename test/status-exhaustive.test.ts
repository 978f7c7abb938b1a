// A status the relay adds cannot slip through: with "paused" added to the task's status enum in a
// temp copy of the project (as "cancelled" was added by the relay's 2026-08 spec), regenerating makes
// the type-check fail at every table that decides what a status means: the one table
// (src/_status.ts; compat's aliases map every status it names to itself), and the CLI's when it keys
// one by the status type; the same copy without the added status type-checks clean.
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAll, writeGenerated } from "../scripts/generate.js";
import { copyProject } from "./helpers/project-copy.js";
import { ROOT } from "./helpers/spec.js";

const STATUSES = ["queued", "in_progress", "completed", "failed", "cancelled"];

let copy: string;

beforeAll(async () => {
  copy = await copyProject("status-");
}, 60_000);

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

/** Adds `status` to every enum in the copy's specs that lists exactly the task statuses. */
async function addStatus(status: string): Promise<number> {
  let changed = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (Array.isArray(o.enum) && o.enum.length === STATUSES.length && STATUSES.every((s) => (o.enum as unknown[]).includes(s))) {
        o.enum = [...o.enum, status];
        changed++;
      }
      Object.values(o).forEach(visit);
    }
  };
  for (const name of (await readdir(path.join(copy, "openapi"))).filter((f) => f.endsWith(".json") && f !== "spec-set.json")) {
    const file = path.join(copy, "openapi", name);
    const doc = JSON.parse(await readFile(file, "utf8")) as unknown;
    visit(doc);
    await writeFile(file, JSON.stringify(doc, null, 2) + "\n");
  }
  return changed;
}

/** The copy's src/ type-checked with the project's compiler options: `file: message` per error. */
function typeCheckSrc(): string[] {
  const src = path.join(copy, "src");
  const roots = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => path.join(src, f));
  const program = ts.createProgram(roots, {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ["node"],
    typeRoots: [path.join(ROOT, "node_modules", "@types")],
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? path.relative(copy, d.file.fileName) : "?"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
}

/** The files that must name the new status: the one table, and the CLI's if keyed by the status type. */
function decidingFiles(): string[] {
  const files = ["src/_status.ts"];
  const cli = path.join(ROOT, "src", "cli");
  for (const name of readdirSync(cli).filter((f) => f.endsWith(".ts"))) {
    if (/Record<(Image2Video|Video)TaskStatus|in (Image2Video|Video)TaskStatus/.test(readFileSync(path.join(cli, name), "utf8"))) files.push(`src/cli/${name}`);
  }
  return files.sort();
}

describe("a status the spec adds", () => {
  it("type-checks clean as generated today (so the failure below is the new status's)", async () => {
    await writeGenerated(path.join(copy, "generated"), await generateAll(path.join(copy, "openapi")));
    expect(typeCheckSrc()).toEqual([]);
  }, 120_000);

  it("fails the type-check, naming every table that decides what a status means", async () => {
    expect(await addStatus("paused")).toBeGreaterThan(0);
    await writeGenerated(path.join(copy, "generated"), await generateAll(path.join(copy, "openapi")));
    expect(await readFile(path.join(copy, "generated", "index.ts"), "utf8")).toContain('"paused"');
    const errors = typeCheckSrc();
    expect([...new Set(errors.map((e) => e.split(":")[0]))].sort()).toEqual(decidingFiles());
    for (const file of decidingFiles()) {
      expect(errors.find((e) => e.startsWith(file)), file).toMatch(/paused/);
    }
  }, 120_000);
});
