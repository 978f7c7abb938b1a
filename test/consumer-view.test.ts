// The package as a consumer installs it: `xiexus-kling`, `xiexus-kling/testing` and
// `xiexus-kling/node` imported (and required) by name, which Node resolves to this very package
// through package.json `exports` (self-reference). That needs the build: this test relies on
// `npm run build` having run (npm ci runs it as the `prepare` step). Without dist/ it fails and
// says so; it is never skipped.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
// Types only (erased): the values below come from the built package.
import type * as Lib from "../src/index.js";
import type * as NodeEntry from "../src/node/index.js";
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
let nodeEntry: typeof NodeEntry;
const require = createRequire(import.meta.url);

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
  nodeEntry = (await importByName(`${pkg.name}/node`)) as typeof NodeEntry;
});

/** What an entry's downloadVideo rejects with for a URL that is not one (before any request). */
async function badDownload(entry: typeof NodeEntry): Promise<unknown> {
  return entry.downloadVideo("not a url", path.join(ROOT, ".cache/never-written.mp4")).then(
    () => new Error("downloadVideo accepted a bad URL"),
    (error: unknown) => error,
  );
}

describe("one set of classes across entries", () => {
  it("ESM: xiexus-kling/node throws the main entry's InvalidArgumentError, and its own errors are KlingErrors", async () => {
    const error = await badDownload(nodeEntry);
    expect(error).toBeInstanceOf(lib.InvalidArgumentError);
    expect(error).toBeInstanceOf(lib.KlingError);
    expect(nodeEntry.FileExistsError.prototype).toBeInstanceOf(lib.InvalidArgumentError);
  });

  it("CommonJS: the same through require", async () => {
    const cjsLib = require(pkg.name) as typeof Lib;
    const cjsNode = require(`${pkg.name}/node`) as typeof NodeEntry;
    const cjsTesting = require(`${pkg.name}/testing`) as typeof Testing;
    expect(require.resolve(pkg.name)).toContain(`${path.sep}dist${path.sep}cjs${path.sep}`);
    expect(typeof cjsTesting.createFakeRelay).toBe("function");
    const error = await badDownload(cjsNode);
    expect(error).toBeInstanceOf(cjsLib.InvalidArgumentError);
    expect(error).toBeInstanceOf(cjsLib.KlingError);
    expect(cjsNode.FileExistsError.prototype).toBeInstanceOf(cjsLib.KlingError);
  });

  it("would fail for an entry bundled with its own copy of the classes", async () => {
    // The same source bundled naively (errors.ts inlined): its errors are not the main entry's.
    const outfile = path.join(ROOT, ".cache/consumer-view/node-with-own-classes.mjs");
    mkdirSync(path.dirname(outfile), { recursive: true });
    await build({ entryPoints: [path.join(ROOT, "src/node/index.ts")], outfile, bundle: true, format: "esm", platform: "node", packages: "external", logLevel: "silent" });
    const copy = (await import(pathToFileURL(outfile).href)) as typeof NodeEntry;
    const error = await badDownload(copy);
    expect((error as Error).name).toBe("InvalidArgumentError");
    expect(error).not.toBeInstanceOf(lib.KlingError);
  });
});

describe("xiexus-kling, /testing and /node, imported by name", () => {
  it("resolve to the built files, and the main entry does not carry the fake relay", () => {
    expect(typeof lib.createKlingClient).toBe("function");
    expect(typeof testing.createFakeRelay).toBe("function");
    expect(typeof nodeEntry.downloadVideo).toBe("function");
    expect(Object.keys(lib)).not.toContain("createFakeRelay");
    expect(Object.keys(lib)).not.toContain("downloadVideo");
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
    // The one command, run from the ESM build of src/cli/index.ts.
    expect(pkg.bin).toEqual({ "xiexus-kling": "./dist/esm/src/cli/index.js" });
    const child = spawn(process.execPath, [path.join(ROOT, pkg.bin!["xiexus-kling"]!), "--version"], { cwd: ROOT });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stdout).toBe(`${pkg.version}\n`);
  });
});
