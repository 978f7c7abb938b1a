// The runtimes of the matrix, all from the npm registry and cached under .cache/: Bun, Deno and
// workerd as single binaries taken out of their packages' tarballs (no install script runs), and
// headless Chromium from @sparticuz/chromium (which unpacks itself into the temp dir at its first
// launch) driven by puppeteer-core over a pipe. Versions are pinned: the README's table names them.
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cleanEnv } from "../consumer/exec.js";
import { npmBinary, npmProject } from "../consumer/install.js";

/** The pinned registry packages of each runtime. */
export const RUNTIMES = {
  bun: { spec: "@oven/bun-linux-x64@1.4.5", path: "package/bin/bun" },
  deno: { spec: "@deno/linux-x64-glibc@2.9.6", path: "package/deno" },
  workerd: { spec: "@cloudflare/workerd-linux-64@1.20261117.1", path: "package/bin/workerd" },
  chromium: { specs: ["@sparticuz/chromium@153.0.0", "puppeteer-core@25.16.0"] },
} as const;

function linuxX64(what: string): void {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`the ${what} cell needs linux-x64 (its registry package is that build); this is ${process.platform}-${process.arch}`);
  }
}

/** The Bun binary. */
export async function bunBinary(): Promise<string> {
  linuxX64("Bun");
  return npmBinary(RUNTIMES.bun.spec, RUNTIMES.bun.path);
}

/** The Deno binary. */
export async function denoBinary(): Promise<string> {
  linuxX64("Deno");
  return npmBinary(RUNTIMES.deno.spec, RUNTIMES.deno.path);
}

/** The workerd binary. */
export async function workerdBinary(): Promise<string> {
  linuxX64("workerd");
  return npmBinary(RUNTIMES.workerd.spec, RUNTIMES.workerd.path);
}

/** The few puppeteer-core calls the browser cell makes (the package is not a dependency of this project). */
export interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  on(event: "console" | "pageerror", listener: (message: { text?: () => string; message?: string }) => void): void;
}
/** A launched browser. */
export interface Browser {
  version(): Promise<string>;
  newPage(): Promise<Page>;
  close(): Promise<void>;
  process(): ChildProcess | null;
}

/** Launches headless Chromium with a fresh profile in `userDataDir`. */
export async function launchChromium(userDataDir: string): Promise<Browser> {
  linuxX64("Chromium");
  const project = await npmProject("runtime-other", "chromium", RUNTIMES.chromium.specs.join("+").replace(/[^\w.+-]/g, "_"), [
    ...RUNTIMES.chromium.specs,
  ]);
  const require = createRequire(join(project, "package.json"));
  const load = async <T>(name: string): Promise<T> => {
    const module = (await import(pathToFileURL(require.resolve(name)).href)) as { default?: T };
    if (!module.default) throw new Error(`${name} has no default export`);
    return module.default;
  };
  const chromium = await load<{ executablePath(): Promise<string> }>("@sparticuz/chromium");
  const puppeteer = await load<{ launch(options: Record<string, unknown>): Promise<Browser> }>("puppeteer-core");
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    // A pipe, not a WebSocket: nothing listens on a port, and no HTTP client is involved.
    pipe: true,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${userDataDir}`,
    ],
    env: cleanEnv(),
    timeout: 60_000,
  });
}

/** A process started in the background, with its output so far (for failure messages). */
export interface Background {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line (rejects if the process exits first or after `timeoutMs`). */
  firstLine(timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `command` in the background; `stop()` kills it by its pid and waits for it to exit. */
export function background(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Background {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((done) => child.once("close", () => done()));
  child.once("error", (error) => (stderr += `\n${String(error)}`));
  const output = () => `${stdout}\n${stderr}`.trim();
  return {
    child,
    output,
    firstLine: (timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${command}: no output line within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
        const check = () => {
          const end = stdout.indexOf("\n");
          if (end < 0) return;
          clearTimeout(timer);
          resolve(stdout.slice(0, end));
        };
        child.stdout?.on("data", check);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${command} exited (${child.exitCode}) before printing a line:\n${output()}`));
        });
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Resolves once something accepts connections on 127.0.0.1:`port`; rejects after `timeoutMs` or when `alive()` turns false. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), done(true)));
      socket.once("error", () => done(false));
    });
    if (open) return;
    if (!alive()) throw new Error(`the process exited before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
