// The packed package on the runtimes besides Node: Bun, Deno, workerd (two compatibility dates)
// and headless Chromium, each from the npm registry (test/runtimes/hosts.ts), each running the
// same checks (test/runtimes/checks.js) against a loopback relay started here. Every cell starts
// in the background as soon as the shared setup is done, so the cells run side by side; each test
// awaits its cell's observations and compares them with what the package promises.
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv, CACHE, ROOT, run, type RunResult } from "./consumer/exec.js";
import { npmProject } from "./consumer/install.js";
import { packedPackage } from "./consumer/pack.js";
import { browserBundle, freeGlobals, NODE_ONLY_GLOBALS, unguardedGlobals } from "./runtimes/bundle.js";
import { createExpectations, expectCreates, type CreateExpectations, type Framing } from "./runtimes/creates.js";
import { background, bunBinary, denoBinary, launchChromium, workerdBinary, type Background, type Browser } from "./runtimes/hosts.js";
import { CREATE_PATHS, createdTaskId, RELAY_API_KEY, startRelay, type Relay } from "./runtimes/relay.js";
import { COMPATIBILITY_DATES, startWorkerd, type Workerd } from "./runtimes/workerd.js";

const SETUP_TIMEOUT = 600_000;
const VERSION = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string }).version;
const CELL_TIMEOUT = 600_000;
const COMPLETED_URL = (
  JSON.parse(readFileSync(resolve(ROOT, "test/fixtures/task-completed.json"), "utf8")) as { body: { url: string } }
).body.url;

/** Deno permissions: the library with explicit options needs only the network to the relay. */
const DENO_LIBRARY = ["--allow-net=127.0.0.1"];
/** ...plus the two variables it reads when options leave them out. */
const DENO_LIBRARY_ENV = [...DENO_LIBRARY, "--allow-env=XIEXUS_API_KEY,XIEXUS_BASE_URL"];
/** The CLI's `status` and `wait`: the network, and the environment (XIEXUS_*, NO_COLOR, TERM). */
const DENO_CLI = ["--allow-net=127.0.0.1", "--allow-env"];
/** `--version` also reads the package's package.json. */
const DENO_CLI_VERSION = ["--allow-env", "--allow-read"];
/** The variables the CLI documents: enough for `status` (TERM is optional). */
const DENO_CLI_SCOPED_ENV = ["--allow-net=127.0.0.1", "--allow-env=XIEXUS_API_KEY,XIEXUS_BASE_URL,NO_COLOR"];

/** Web APIs every runtime of the matrix has; the main entry's bundle may read these and nothing else. */
const WEB_GLOBALS = new Set([
  "AbortController", "AbortSignal", "DOMException", "FormData", "Headers", "Request", "Response", "URL", "URLSearchParams",
  "TextEncoder", "TextDecoder", "ReadableStream", "Blob", "console", "fetch", "setTimeout", "clearTimeout", "queueMicrotask",
  "structuredClone", "crypto", "atob", "btoa",
]);

/** A fresh Chromium profile per run. */
const PROFILE = join(CACHE, "runtime-other", "chromium-profile");

type Observations = Record<string, Record<string, unknown> & { classes?: string[] }>;

let relay: Relay;
let creates: CreateExpectations;
let app: string;
let bundle: string;
let bin: string;
let cellsStarted = false;

/** Lazily started, shared work: started by the first caller, awaited by every later one. */
function shared<T>(start: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    if (!promise) {
      promise = start();
      promise.catch(() => undefined); // reported by the test that awaits it
    }
    return promise;
  };
}

function parseLine(result: RunResult, what: string): Observations {
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Observations;
  } catch {
    throw new Error(`${what} printed no JSON line (exit ${result.code}):\n${result.output}`);
  }
}

/** Runs a runtime binary and fails with a clear message when it cannot start at all. */
async function runtime(binary: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(binary, args, { cwd: app, env: cleanEnv(env), timeoutMs: 120_000 });
}

/**
 * How each cell sends an image's base64 (src/create.ts streams it where `process.versions.node` is
 * a string: Node, Bun, Deno, and workerd once nodejs_compat is on by default).
 */
const FRAMING = {
  bun: "streamed",
  deno: "streamed",
  "workerd-2024-09-23": "string",
  "workerd-2026-11-01": "streamed",
  chromium: "string",
} as const satisfies Record<string, Framing>;
type Cell = keyof typeof FRAMING;

/** Compares one cell's observations with what the package promises on every runtime. */
function expectChecks(results: Observations, cell: Cell, framing: Framing = FRAMING[cell]): void {
  expect(results.get, "getImage2VideoTask").toEqual({ taskId: `${cell}-get`, status: "completed", url: COMPLETED_URL });
  expect(results.wait, "waitForImage2VideoTask").toEqual({
    status: "completed",
    url: COMPLETED_URL,
    updates: ["queued", "in_progress", "completed"],
  });
  expect(results.notFound, "404").toMatchObject({ name: "TaskNotFoundError", status: 404, classes: ["KlingError", "APIError", "TaskNotFoundError"] });
  expect(results.unauthorized, "401").toMatchObject({
    name: "AuthenticationError",
    status: 401,
    classes: ["KlingError", "APIError", "AuthenticationError"],
  });
  expect(results.abortRequest, "abort mid-request").toMatchObject({ sameReason: true });
  expect(results.abortWait, "abort mid-pause").toMatchObject({ sameReason: true });
  expect(results.timeout, "per-attempt timeout").toMatchObject({
    name: "APIConnectionTimeoutError",
    classes: ["KlingError", "APIConnectionError", "APIConnectionTimeoutError"],
  });
  expect(results.nullKey, "apiKey: null").toMatchObject({ name: "AuthenticationError", status: 401 });
  expect(results.missingKey, 'apiKey: ""').toEqual({ threw: expect.objectContaining({ name: "InvalidArgumentError", classes: ["KlingError", "InvalidArgumentError"] }) });
  const requests = (suffix: string) => relay.requests.filter((r) => r.taskId === `${cell}-${suffix}`);
  expect(requests("get").map((r) => r.authorization)).toEqual([`Bearer ${RELAY_API_KEY}`]);
  expect(requests("wait")).toHaveLength(3);
  // A keyless client sends no Authorization header at all, not an empty or "Bearer null" one.
  expect(requests("nokey").map((r) => r.authorization)).toEqual([undefined]);
  expectCreates(results, relay.creates, cell, framing, creates);
}

const bunCell = shared(async () => {
  const bun = await bunBinary();
  return {
    version: (await runtime(bun, ["--version"])).stdout.trim(),
    checks: parseLine(await runtime(bun, ["main.mjs", "checks", relay.url, RELAY_API_KEY, "bun"]), "bun checks"),
    fake: parseLine(await runtime(bun, ["main.mjs", "fake"]), "bun fake relay"),
    cli: (await cliAgainstFakeRelay(bun, ["main.mjs", "relay"], [[bin]]))[0]!,
  };
});

const denoCell = shared(async () => {
  const deno = await denoBinary();
  const [checks, withoutEnv, fromEnv, fake, [cli, cliNetOnly, cliScopedEnv], cliVersion, cliVersionNoRead] = await Promise.all([
    runtime(deno, ["run", ...DENO_LIBRARY, "main.mjs", "checks", relay.url, RELAY_API_KEY, "deno"]),
    runtime(deno, ["run", ...DENO_LIBRARY, "main.mjs", "default"]),
    runtime(deno, ["run", ...DENO_LIBRARY_ENV, "main.mjs", "env", "deno"], { XIEXUS_API_KEY: RELAY_API_KEY, XIEXUS_BASE_URL: relay.url }),
    runtime(deno, ["run", ...DENO_LIBRARY, "main.mjs", "fake"]),
    cliAgainstFakeRelay(deno, ["run", ...DENO_LIBRARY, "main.mjs", "relay"], [
      ["run", ...DENO_CLI, bin],
      ["run", "--allow-net=127.0.0.1", bin],
      ["run", ...DENO_CLI_SCOPED_ENV, bin],
    ]),
    runtime(deno, ["run", ...DENO_CLI_VERSION, bin, "--version"]),
    runtime(deno, ["run", "--allow-env", bin, "--version"]),
  ]);
  return {
    version: (await runtime(deno, ["--version"])).stdout.split("\n")[0]?.trim(),
    checks: parseLine(checks, "deno checks"),
    withoutEnv: parseLine(withoutEnv, "deno without --allow-env"),
    fromEnv: parseLine(fromEnv, "deno env"),
    fake: parseLine(fake, "deno fake relay"),
    cli: cli!,
    cliNetOnly: cliNetOnly!,
    cliScopedEnv: cliScopedEnv!,
    cliVersion,
    cliVersionNoRead,
  };
});

/** Starts the fake relay under a runtime (`relayArgs`), then the CLI's `status` under it once per entry of `cliArgs`. */
async function cliAgainstFakeRelay(binary: string, relayArgs: string[], cliArgs: string[][]): Promise<RunResult[]> {
  const server = background(binary, relayArgs, { cwd: app });
  try {
    const { url, apiKey, taskId } = JSON.parse(await server.firstLine(60_000)) as { url: string; apiKey: string; taskId: string };
    return await Promise.all(
      cliArgs.map((args) => runtime(binary, [...args, "status", taskId, "--json", "--base-url", url], { XIEXUS_API_KEY: apiKey })),
    );
  } finally {
    await server.stop();
  }
}

const workerdCell = shared(async (): Promise<Workerd & { version: string }> => {
  const binary = await workerdBinary();
  const version = (await run(binary, ["--version"])).stdout.trim();
  const started = await startWorkerd({
    binary,
    dir: join(CACHE, "runtime-other", "workerd-run"),
    bundle,
    relayUrl: relay.url,
    apiKey: RELAY_API_KEY,
    allowedOrigin: relay.url,
  });
  return { ...started, version };
});

/** The process's output once it matches `pattern`, or as it is after `timeoutMs` (the assertion then shows it). */
async function outputMatching(proc: Background, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return proc.output();
}

async function askWorker(base: string, query: Record<string, string>): Promise<{ compatibilityDate: string; results: Observations }> {
  const response = await fetch(`${base}/?${new URLSearchParams(query)}`);
  const text = await response.text();
  if (!response.ok) throw new Error(`worker answered ${response.status}: ${text}`);
  return JSON.parse(text) as { compatibilityDate: string; results: Observations };
}

const chromiumCell = shared(async (): Promise<{ browser: Browser; version: string; checks: Observations; errors: string[] }> => {
  rmSync(PROFILE, { recursive: true, force: true });
  const browser = await launchChromium(PROFILE);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error.message)));
  await page.goto(`${relay.url}/`);
  const checks = await page.evaluate<Observations>(
    `(async () => {
      const kling = await import("/kling.mjs");
      const { runChecks } = await import("/checks.js");
      return runChecks(kling, ${JSON.stringify({ baseUrl: relay.url, apiKey: RELAY_API_KEY, cell: "chromium" })});
    })()`,
  );
  return { browser, version: await browser.version(), checks, errors };
});

beforeAll(async () => {
  relay = await startRelay();
  creates = await createExpectations();
  const pkg = await packedPackage();
  app = await npmProject("runtime-other", "app", pkg.sha256.slice(0, 12), [pkg.tarball]);
  for (const file of ["main.mjs", "checks.js"]) copyFileSync(resolve(ROOT, "test/runtimes", file), join(app, file));
  // The bin as the package declares it, not a dist path known here.
  const manifest = JSON.parse(readFileSync(join(app, "node_modules/xiexus-kling/package.json"), "utf8")) as { bin: Record<string, string> };
  const binPath = manifest.bin["xiexus-kling"];
  if (!binPath) throw new Error("the package declares no xiexus-kling bin");
  bin = join(app, "node_modules/xiexus-kling", binPath);
  bundle = await browserBundle(app);
  relay.serve("/", '<!doctype html><meta charset="utf-8"><title>xiexus-kling runtime matrix</title>', "text/html");
  relay.serve("/kling.mjs", bundle, "text/javascript");
  relay.serve("/checks.js", readFileSync(resolve(ROOT, "test/runtimes/checks.js"), "utf8"), "text/javascript");
  // Every cell starts now, side by side; the tests below await them.
  for (const cell of [bunCell, denoCell, workerdCell, chromiumCell]) void cell().catch(() => undefined);
  cellsStarted = true;
}, SETUP_TIMEOUT);

afterAll(async () => {
  // Only what was started is stopped: asking a cell that never ran would start it now.
  if (cellsStarted) await Promise.allSettled([
    workerdCell().then((w) => w.process.stop()),
    chromiumCell().then(async (c) => {
      await c.browser.close();
      rmSync(PROFILE, { recursive: true, force: true });
    }),
  ]);
  await relay?.close();
}, 60_000);

describe("Bun", () => {
  it("runs every check on the packed package", async () => {
    const { version, checks } = await bunCell();
    console.log(`Bun ${version}; host ${JSON.stringify(checks.host)}`);
    expect(version).toMatch(/^1\./);
    expectChecks(checks, "bun");
  }, CELL_TIMEOUT);

  it("runs the fake relay of xiexus-kling/testing", async () => {
    const { fake } = await bunCell();
    expect(fake).toEqual({ status: "completed", updates: ["queued", "in_progress", "completed"], requests: 3 });
  }, CELL_TIMEOUT);

  it("runs the CLI's status against the fake relay", async () => {
    const { cli } = await bunCell();
    expect(cli.code, cli.output).toBe(0);
    // The demo task moves on with each request, and the scoped-env run below polls it too.
    expect(["queued", "in_progress"]).toContain((JSON.parse(cli.stdout) as { status?: unknown }).status);
  }, CELL_TIMEOUT);

  it("would notice a broken cell: its observations with one check spoiled are refused", async () => {
    const { checks } = await bunCell();
    const spoiled = (key: string, value: unknown): Observations => ({ ...checks, [key]: { ...checks[key], ...(value as object) } });
    expect(() => expectChecks(spoiled("abortRequest", { sameReason: false }), "bun")).toThrow(/abort mid-request/);
    expect(() => expectChecks(spoiled("notFound", { classes: ["TaskNotFoundError"] }), "bun")).toThrow(/404/);
    expect(() => expectChecks(spoiled("timeout", { name: "APIConnectionError" }), "bun")).toThrow(/timeout/);
    expect(() => expectChecks(checks, "deno")).toThrow(/getImage2VideoTask/);
    expect(() => expectChecks(spoiled("create", { matches: [true, false, true] }), "bun")).toThrow(/creates/);
    expect(() => expectChecks(spoiled("createRefused", { name: "APIConnectionError" }), "bun")).toThrow(/a text file as the image/);
    expect(() => expectChecks(spoiled("createQuota", { classes: ["KlingError", "APIError", "PermissionDeniedError"] }), "bun")).toThrow(/403/);
    // Sent as one string where it should have streamed: the relay's record of the framing tells.
    expect(() => expectChecks(checks, "bun", "string")).toThrow(/creates the relay received from bun/);
  }, CELL_TIMEOUT);
});

describe("Deno", () => {
  it(`runs every check with only ${DENO_LIBRARY.join(" ")}`, async () => {
    const { version, checks } = await denoCell();
    console.log(`${version}; host ${JSON.stringify(checks.host)}`);
    expect(version).toMatch(/^deno 2\./);
    expectChecks(checks, "deno");
  }, CELL_TIMEOUT);

  it("createKlingClient({ apiKey }) works without --allow-env (the environment counts as unset)", async () => {
    const { withoutEnv } = await denoCell();
    expect(withoutEnv).toEqual({ created: true });
  }, CELL_TIMEOUT);

  it(`reads XIEXUS_API_KEY and XIEXUS_BASE_URL with ${DENO_LIBRARY_ENV.at(-1)}`, async () => {
    const { fromEnv } = await denoCell();
    expect(fromEnv).toEqual({ status: "completed" });
    expect(relay.requests.filter((r) => r.taskId === "deno-env").map((r) => r.authorization)).toEqual([`Bearer ${RELAY_API_KEY}`]);
  }, CELL_TIMEOUT);

  it("runs the fake relay of xiexus-kling/testing", async () => {
    const { fake } = await denoCell();
    expect(fake).toEqual({ status: "completed", updates: ["queued", "in_progress", "completed"], requests: 3 });
  }, CELL_TIMEOUT);

  it(`runs the CLI's status against the fake relay with ${DENO_CLI.join(" ")}`, async () => {
    const { cli } = await denoCell();
    expect(cli.code, cli.output).toBe(0);
    // The demo task moves on with each request, and the scoped-env run below polls it too.
    expect(["queued", "in_progress"]).toContain((JSON.parse(cli.stdout) as { status?: unknown }).status);
  }, CELL_TIMEOUT);

  it(`runs the CLI's --version with ${DENO_CLI_VERSION.join(" ")}; without --allow-read it fails saying so`, async () => {
    const { cliVersion, cliVersionNoRead } = await denoCell();
    expect(cliVersion.code, cliVersion.output).toBe(0);
    expect(cliVersion.stdout).toContain(VERSION);
    expect(cliVersionNoRead.code, cliVersionNoRead.output).not.toBe(0);
    expect(cliVersionNoRead.stderr).toMatch(/--allow-read/);
  }, CELL_TIMEOUT);

  it("the CLI with only --allow-net fails loudly: a non-zero exit and a message naming the missing permission", async () => {
    const { cliNetOnly } = await denoCell();
    expect(cliNetOnly.code, cliNetOnly.output).not.toBe(0);
    expect(cliNetOnly.stdout, cliNetOnly.output).toBe("");
    expect(cliNetOnly.stderr, cliNetOnly.output).toMatch(/--allow-(env|read)/);
  }, CELL_TIMEOUT);

  // The CLI reads TERM and NO_COLOR only if it may: a scoped --allow-env is enough.
  it(`the CLI's status with only the variables it documents (${DENO_CLI_SCOPED_ENV.at(-1)})`, async () => {
    const { cliScopedEnv } = await denoCell();
    expect(cliScopedEnv.code, cliScopedEnv.output).toBe(0);
    expect(["queued", "in_progress"]).toContain((JSON.parse(cliScopedEnv.stdout) as { status?: unknown }).status);
  }, CELL_TIMEOUT);
});

describe.each(COMPATIBILITY_DATES)("workerd, compatibility date %s, globalOutbound to loopback", (date) => {
  it("runs every check inside a fetch handler", async () => {
    const workerd = await workerdCell();
    const cell = `workerd-${date}` as const;
    const answer = await askWorker(workerd.checks[date], { mode: "checks", baseUrl: relay.url, cell });
    console.log(`${workerd.version} at ${date}; host ${JSON.stringify(answer.results.host)}`);
    expect(answer.compatibilityDate).toBe(date);
    expectChecks(answer.results, cell);
    // Before nodejs_compat became the default, timers are plain numbers: that path is covered here too.
    if (date === "2024-09-23") expect(answer.results.host).toMatchObject({ timer: "number", process: "undefined" });
  }, CELL_TIMEOUT);

  it("a keyless client (apiKey: null) reaches the relay through the proxy worker, which adds the key", async () => {
    const workerd = await workerdCell();
    const cell = `workerd-${date}`;
    const answer = await askWorker(workerd.checks[date], { mode: "proxy", proxyUrl: workerd.proxy, cell });
    expect(answer.results).toEqual({ taskId: `${cell}-proxied`, status: "completed" });
    expect(relay.requests.filter((r) => r.taskId === `${cell}-proxied`).map((r) => r.authorization)).toEqual([`Bearer ${RELAY_API_KEY}`]);
  }, CELL_TIMEOUT);
});

describe("workerd without globalOutbound", () => {
  it("cannot reach loopback: the request fails as an APIConnectionError, not a crash", async () => {
    const workerd = await workerdCell();
    const cell = "workerd-no-outbound";
    const answer = await askWorker(workerd.noOutbound, { mode: "one", baseUrl: relay.url, cell });
    expect(answer.results).toMatchObject({ name: "APIConnectionError", classes: ["KlingError", "APIConnectionError"] });
    console.log(`workerd without globalOutbound: ${String(answer.results.message)}`);
    expect(relay.requests.some((r) => r.taskId === `${cell}-get`)).toBe(false);
    // workerd names the refusal only in its own log, not to the worker; the line may reach its
    // stderr pipe a moment after the worker has answered.
    expect(await outputMatching(workerd.process, /is not allowed/, 10_000)).toMatch(/is not allowed/);
  }, CELL_TIMEOUT);
});

describe("headless Chromium", () => {
  it("runs every check in a page served from the relay's origin", async () => {
    const { version, checks, errors } = await chromiumCell();
    console.log(`${version}; host ${JSON.stringify(checks.host)}`);
    expect(version).toMatch(/Chrome\/\d+\./);
    expectChecks(checks, "chromium");
    // A browser host: no Node globals, and timers are numbers.
    expect(checks.host).toEqual({ timer: "number", process: "undefined", Buffer: "undefined", require: "undefined" });
    expect(errors).toEqual([]);
  }, CELL_TIMEOUT);

  it("a keyless client (apiKey: null) reaches the relay through the proxy worker, across origins", async () => {
    const [{ browser }, workerd] = await Promise.all([chromiumCell(), workerdCell()]);
    const page = await browser.newPage();
    await page.goto(`${relay.url}/`);
    const result = await page.evaluate<Record<string, unknown>>(
      `(async () => {
        const kling = await import("/kling.mjs");
        const { runProxyCheck } = await import("/checks.js");
        return runProxyCheck(kling, ${JSON.stringify({ proxyUrl: workerd.proxy, cell: "chromium" })});
      })()`,
    );
    expect(result).toEqual({ taskId: "chromium-proxied", status: "completed" });
    const seen = relay.requests.filter((r) => r.taskId === "chromium-proxied");
    // The key reached the relay only from the proxy: the page's request carried none (see nullKey).
    expect(seen.map((r) => r.authorization)).toEqual([`Bearer ${RELAY_API_KEY}`]);
    expect(seen.map((r) => r.origin)).toEqual([undefined]);
  }, CELL_TIMEOUT);
});

describe("the main entry's browser bundle", () => {
  it("reads only web globals from its host: no unguarded process, Buffer, require or node: import", () => {
    const globals = unguardedGlobals(bundle);
    console.log(`host globals the main entry reads: ${globals.join(", ")}`);
    expect(globals.filter((name) => NODE_ONLY_GLOBALS.includes(name))).toEqual([]);
    expect(globals.filter((name) => !WEB_GLOBALS.has(name))).toEqual([]);
    expect(bundle).not.toMatch(/\bfrom\s*["']node:|import\(\s*["']node:|require\(\s*["']/);
  });

  it("would notice an unguarded Node global", () => {
    const code = 'export const a = process.env.X;\nexport const b = typeof Buffer === "function" ? Buffer.from("x") : null;\n';
    expect(unguardedGlobals(code)).toEqual(["process"]);
    expect(freeGlobals(code).filter((g) => g.name === "Buffer").every((g) => g.guarded)).toBe(true);
  });
});

describe("the loopback relay's creates", () => {
  const post = (path: string, body: BodyInit, apiKey = RELAY_API_KEY) =>
    fetch(`${relay.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
  const [image2video, text2video] = CREATE_PATHS;
  const mine = () => relay.creates.filter((c) => c.prompt?.startsWith("relay-self ") || c.prompt === undefined);

  it("hashes the decoded image and tells a streamed body from one with a length", async () => {
    const image = new TextEncoder().encode("any bytes: the relay does not judge the image");
    const json = JSON.stringify({ model: "kling-v1", prompt: "relay-self streamed", image: btoa(String.fromCharCode(...image)) });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(json);
        controller.enqueue(bytes.subarray(0, 10));
        controller.enqueue(bytes.subarray(10));
        controller.close();
      },
    });
    const streamed = await post(image2video, stream);
    expect(await streamed.json()).toEqual({ task_id: createdTaskId(image), status: "queued" });
    const whole = await post(text2video, JSON.stringify({ model: "kling-v1", prompt: "relay-self whole" }));
    expect(await whole.json()).toEqual({ task_id: "created-none", status: "queued" });
    expect(mine().slice(-2)).toMatchObject([
      { path: image2video, chunked: true, contentLength: false, imageBytes: image.byteLength },
      { path: text2video, chunked: false, contentLength: true, imageBytes: undefined },
    ]);
  });

  it("refuses a create without prompt, with an image that is not base64, or with a wrong key, in the gateway's shape", async () => {
    const noPrompt = await post(text2video, JSON.stringify({ model: "kling-v1" }));
    expect(noPrompt.status).toBe(400);
    expect(await noPrompt.json()).toEqual({ code: "invalid_request", message: "prompt is required", data: null });
    const badImage = await post(image2video, JSON.stringify({ model: "kling-v1", prompt: "relay-self bad", image: "aGk=aGk=" }));
    expect(badImage.status).toBe(400);
    expect(await badImage.json()).toMatchObject({ code: "invalid_request", data: null });
    const wrongKey = await post(text2video, JSON.stringify({ model: "kling-v1", prompt: "relay-self key" }), "sk-not-the-key");
    expect(wrongKey.status).toBe(401);
    expect(mine().slice(-3).map((c) => [c.status, c.taskId])).toEqual([
      [400, undefined],
      [400, undefined],
      [401, undefined],
    ]);
  });
});
