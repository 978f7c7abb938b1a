// The package as a consumer installs it: `xiexus-kling` and `xiexus-kling/testing` imported by
// name, which Node resolves to this very package through package.json `exports` (self-reference).
// That needs the build: this test relies on `npm run build` having run (npm ci runs it as the
// `prepare` step). Without dist/ it fails and says so; it is never skipped.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
// Types only (erased): the values below come from the built package.
import type * as Lib from "../src/index.js";
import type * as Testing from "../src/testing/index.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  bin?: Record<string, string>;
};
const BUILD_HINT = "run `npm run build` first (npm ci runs it as the prepare step)";

let lib: typeof Lib;
let testing: typeof Testing;

/** Imports a module by package name; a variable keeps tsc from resolving it against dist/ at type-check time. */
async function importByName(specifier: string): Promise<unknown> {
  try {
    return (await import(specifier)) as unknown;
  } catch (error) {
    throw new Error(`cannot import ${specifier} by name: ${BUILD_HINT}. (${String(error)})`, { cause: error });
  }
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, "dist"))) throw new Error(`dist/ is missing: ${BUILD_HINT}`);
  lib = (await importByName(pkg.name)) as typeof Lib;
  testing = (await importByName(`${pkg.name}/testing`)) as typeof Testing;
});

describe("xiexus-kling and xiexus-kling/testing, imported by name", () => {
  it("resolve to the built files, and the main entry does not carry the fake relay", () => {
    expect(typeof lib.createKlingClient).toBe("function");
    expect(typeof testing.createFakeRelay).toBe("function");
    expect(Object.keys(lib)).not.toContain("createFakeRelay");
    expect(import.meta.resolve(pkg.name)).toContain("/dist/");
  });

  it("work together: the demo task completes, an unknown one is TaskNotFoundError", async () => {
    const relay = await testing.createFakeRelay();
    try {
      const client = lib.createKlingClient({ apiKey: relay.apiKey, baseUrl: relay.url });
      const task = await client.waitForImage2VideoTask(testing.DEMO_TASK_ID, { pollIntervalMs: 5 });
      expect(task).toEqual(testing.COMPLETED_TASK);
      await expect(client.getImage2VideoTask("kling-task-missing")).rejects.toBeInstanceOf(lib.TaskNotFoundError);
      await expect(
        lib.createKlingClient({ apiKey: "sk-wrong", baseUrl: relay.url }).getImage2VideoTask(testing.DEMO_TASK_ID),
      ).rejects.toBeInstanceOf(lib.AuthenticationError);
    } finally {
      await relay.close();
    }
    expect(relay.listening).toBe(false);
  });

  it("ship a bin that runs from dist and knows its version", async () => {
    const bin = pkg.bin?.["xiexus-kling"];
    expect(bin, "package.json needs bin.xiexus-kling").toBeDefined();
    const child = spawn(process.execPath, [path.join(ROOT, bin!), "--version"], { cwd: ROOT });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stdout).toBe(`${pkg.version}\n`);
  });
});
