// The packed package at run time: imported with `import` and with `require` under Node 20 (this
// process's node), 22 and 24 (binaries from the npm registry's node-<platform>-<arch> package),
// each making a real call to a loopback server started here, and the creates every runtime cell
// makes (test/runtimes/checks.js) against the runtime matrix's loopback relay; plus the browser
// bundle's contents and size budget.
import { once } from "node:events";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUDGETS } from "../scripts/bench/budgets.js";
import { bundleSize } from "../scripts/bundle-size.js";
import { cleanEnv, ROOT, run, type RunResult } from "./consumer/exec.js";
import { nodeBinary, npmProject } from "./consumer/install.js";
import { packedPackage } from "./consumer/pack.js";
import { createExpectations, expectCreates, type CreateExpectations } from "./runtimes/creates.js";
import { RELAY_API_KEY, startRelay, type Relay } from "./runtimes/relay.js";

/** Browser bundle of the main entry, openapi-fetch included, min+gzip: the regression budget (see its definition). */
const BUNDLE_BUDGET_BYTES = BUDGETS.bundleCodeGzipBudgetBytes;
const SETUP_TIMEOUT = 300_000;
const API_KEY = "sk-runtime-smoke";
const VERSION = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string }).version;
const TASK_PATH = "/kling/v1/videos/image2video/";

interface Fixture {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(resolve(ROOT, "test/fixtures", name), "utf8")) as Fixture;
const COMPLETED = fixture("task-completed.json");
const NOT_FOUND = fixture("task-not-found.json");

// The smoke programs: one call, its outcome as one JSON line, and where the package resolved to.
// A third argument "http" sends the call with xiexus-kling/node's nodeHttpGet instead of fetch.
const SMOKE_ESM = `import { createKlingClient, KlingError } from "xiexus-kling";
import { nodeHttpGet } from "xiexus-kling/node";
import * as testing from "xiexus-kling/testing";
const [port, taskId, transport] = process.argv.slice(2);
const resolved = import.meta.resolve("xiexus-kling");
const httpGet = transport === "http" ? nodeHttpGet : undefined;
const kling = createKlingClient({ apiKey: "${API_KEY}", baseUrl: "http://127.0.0.1:" + port, maxRetries: 0, httpGet });
try {
  const task = await kling.getImage2VideoTask(taskId);
  console.log(JSON.stringify({ node: process.version, resolved, testing: typeof testing.createFakeRelay, task }));
} catch (error) {
  console.log(JSON.stringify({ node: process.version, resolved, error: error.name, isKlingError: error instanceof KlingError }));
  process.exitCode = 1;
}
`;
const SMOKE_CJS = `const { createKlingClient, KlingError } = require("xiexus-kling");
const { nodeHttpGet } = require("xiexus-kling/node");
const testing = require("xiexus-kling/testing");
const [port, taskId, transport] = process.argv.slice(2);
const resolved = require.resolve("xiexus-kling");
const httpGet = transport === "http" ? nodeHttpGet : undefined;
const kling = createKlingClient({ apiKey: "${API_KEY}", baseUrl: "http://127.0.0.1:" + port, maxRetries: 0, httpGet });
kling.getImage2VideoTask(taskId).then(
  (task) => console.log(JSON.stringify({ node: process.version, resolved, testing: typeof testing.createFakeRelay, task })),
  (error) => {
    console.log(JSON.stringify({ node: process.version, resolved, error: error.name, isKlingError: error instanceof KlingError }));
    process.exitCode = 1;
  },
);
`;

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
}

let server: Server;
let port: number;
const seen: Seen[] = [];
let app: string;
let relay: Relay;
let creates: CreateExpectations;

beforeAll(async () => {
  relay = await startRelay();
  creates = await createExpectations();
  server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    const answer = req.url === `${TASK_PATH}missing` ? NOT_FOUND : COMPLETED;
    res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;

  const pkg = await packedPackage();
  app = await npmProject("runtime", "app", pkg.sha256.slice(0, 12), [pkg.tarball]);
  writeFileSync(join(app, "smoke.mjs"), SMOKE_ESM);
  writeFileSync(join(app, "smoke.cjs"), SMOKE_CJS);
  for (const file of ["main.mjs", "checks.js"]) copyFileSync(resolve(ROOT, "test/runtimes", file), join(app, file));
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (server?.listening) {
    server.close();
    await once(server, "close");
  }
  await relay?.close();
});

/** Runs a smoke program with `node` and parses the JSON line it printed. */
async function smoke(
  node: string,
  script: string,
  taskId: string,
  transport: "fetch" | "http",
): Promise<{ result: RunResult; line: Record<string, unknown> }> {
  const result = await run(node, [script, String(port), taskId, transport], { cwd: app, env: cleanEnv(), timeoutMs: 60_000 });
  const last = result.stdout.trim().split("\n").pop() ?? "";
  let line: Record<string, unknown> = {};
  try {
    line = JSON.parse(last) as Record<string, unknown>;
  } catch {
    // Left empty: the assertions below then show the whole output.
  }
  return { result, line };
}

const NODES = [20, 22, 24] as const;

describe.each(NODES)("Node %i", (major) => {
  let node: string;

  beforeAll(async () => {
    // Node 20 is the one running these tests; the others come from the registry.
    node = major === 20 ? process.execPath : await nodeBinary(major);
  }, SETUP_TIMEOUT);

  it("is the Node it claims to be", async () => {
    const version = await run(node, ["--version"]);
    expect(version.stdout.trim()).toMatch(new RegExp(`^v${major}\\.`));
  });

  for (const [style, script, build] of [
    ["import", "smoke.mjs", "dist/esm/src/index.js"],
    ["require", "smoke.cjs", "dist/cjs/src/index.js"],
  ] as const) {
    for (const transport of ["fetch", "http"] as const) {
      it(`${style} (${transport}): the ${build.split("/")[1]} build fetches a task from a loopback server`, async () => {
        const before = seen.length;
        const { result, line } = await smoke(node, script, "kling-smoke-1", transport);
        expect(result.code, result.output).toBe(0);
        expect(line.node).toMatch(new RegExp(`^v${major}\\.`));
        expect(String(line.resolved)).toContain(`node_modules/xiexus-kling/${build}`);
        expect(line.testing).toBe("function");
        expect(line.task).toEqual(COMPLETED.body);
        const request = seen.slice(before).at(-1);
        expect(request?.method).toBe("GET");
        expect(request?.url).toBe(`${TASK_PATH}kling-smoke-1`);
        expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
        // Which road it took: Node's fetch (its bundled undici) sends "User-Agent: node", node:http sends none.
        expect(request?.headers["user-agent"]).toBe(transport === "http" ? undefined : "node");
      });

      it(`${style} (${transport}): a 404 rejects with the package's own TaskNotFoundError`, async () => {
        const { result, line } = await smoke(node, script, "missing", transport);
        expect(result.code, result.output).toBe(1);
        expect(line).toMatchObject({ error: "TaskNotFoundError", isKlingError: true });
      });
    }
  }

  // One create per form of the image's bytes, streamed (Node sends request bodies as streams).
  it("creates: the image as a Uint8Array, an ArrayBuffer and a Blob reaches the relay byte for byte, streamed", async () => {
    const cell = `node-${major}`;
    const result = await run(node, ["main.mjs", "creates", relay.url, RELAY_API_KEY, cell], { cwd: app, env: cleanEnv(), timeoutMs: 60_000 });
    const line = result.stdout.trim().split("\n").pop() ?? "";
    expect(result.code, result.output).toBe(0);
    const observed = JSON.parse(line) as Record<string, unknown>;
    expectCreates(observed, relay.creates, cell, "streamed", creates);
    // The relay's record of the framing would tell a body sent as one string.
    expect(() => expectCreates(observed, relay.creates, cell, "string", creates)).toThrow(/creates the relay received/);
  });

  it("runs the xiexus-kling bin (the ESM build of src/cli/index.ts)", async () => {
    const result = await run(node, [join(app, "node_modules/.bin/xiexus-kling"), "--version"], { cwd: app });
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toContain(VERSION);
  });
});

describe("browser bundle of the main entry", () => {
  it("has no Node built-in, openapi-fetch included", async () => {
    const entry = join(app, "browser-entry.mjs");
    writeFileSync(entry, 'export * from "xiexus-kling";\n');
    const size = await bundleSize(entry);
    console.log(`browser bundle of the packed xiexus-kling: ${size.gzipBytes} B min+gzip, ${size.minifiedBytes} B minified`);
    expect(size.nodeImports).toEqual([]);
    expect(size.code).not.toMatch(/["'`]node:/);
    expect(size.inputs.some((input) => input.includes("node_modules/xiexus-kling/dist/esm/"))).toBe(true);
    // openapi-fetch arrives inside our file (compiled in by the build), not as a package of its own.
    expect(size.inputs.some((input) => input.includes("node_modules/openapi-fetch/"))).toBe(false);
    expect(size.code).toContain("onError: must return new Response() or instance of Error");
  });

  it(`its own code fits ${BUNDLE_BUDGET_BYTES} B min+gzip, openapi-fetch included, the spec data apart`, async () => {
    const code = await bundleSize(resolve(ROOT, "src/index.ts"), { withoutSpecData: true });
    const whole = await bundleSize(resolve(ROOT, "src/index.ts"));
    console.log(`main entry: ${code.gzipBytes} B of code + ${whole.gzipBytes - code.gzipBytes} B of spec data, min+gzip (budget ${BUNDLE_BUDGET_BYTES} B)`);
    // The stub really left the data out (the request schema's `fps: { type: "integer" }` is only in the data).
    expect(whole.code).toContain('fps:{type:"integer"}');
    expect(code.code).not.toContain('fps:{type:"integer"}');
    // The per-file shares the bench lists add up to the bundle, less esbuild's own glue.
    const shared = whole.bytesByInput.reduce((sum, [, bytes]) => sum + bytes, 0);
    expect(shared).toBeLessThanOrEqual(whole.minifiedBytes);
    expect(shared).toBeGreaterThan(whole.minifiedBytes * 0.95);
    expect(whole.bytesByInput.map(([input]) => input)).toContain("src/wait-many.ts");
    expect(code.gzipBytes, `${code.gzipBytes} B min+gzip`).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
  });

  it("would notice a Node built-in: xiexus-kling/testing imports node:http", async () => {
    const entry = join(app, "browser-testing-entry.mjs");
    writeFileSync(entry, 'export * from "xiexus-kling/testing";\n');
    const size = await bundleSize(entry);
    expect(size.nodeImports).toContain("node:http");
  });
});
