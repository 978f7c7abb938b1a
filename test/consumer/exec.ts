// Child processes and cache directories for the packaging, consumer and runtime suites.
// Everything they write lives under .cache/ (git-ignored); a lock directory keeps two vitest
// workers from building, packing or installing the same thing at once.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Where these suites keep builds, tarballs and installs between runs. */
export const CACHE = resolve(ROOT, ".cache");

/** What a finished child process left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for messages. */
  output: string;
  ms: number;
}

/** Options of `run`. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kills the process after this many ms (the result then has code 124). Default: 5 minutes. */
  timeoutMs?: number;
  input?: string;
}

/** Runs a command without a shell and collects its output; never rejects for a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? cleanEnv(),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 300_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const output = `${stdout}${stderr ? `\n${stderr}` : ""}`.trim();
      resolvePromise({ code: timedOut ? 124 : (code ?? 1), stdout, stderr, output, ms: Date.now() - started });
    });
    if (child.stdin) {
      // A child that exits without reading its input must not crash the test run with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Like `run`, but rejects with the command's output when it exits non-zero. */
export async function runOk(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code} (in ${options.cwd ?? ROOT}):\n${result.output}`);
  }
  return result;
}

/**
 * The environment for child processes: this one without npm's lifecycle variables, so an
 * `npm install` in a throw-away project does not inherit `npm test`'s package settings.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(lifecycle|package|config_(prefix|global|local_prefix|ignore_scripts))/i.test(key)) continue;
    if (key === "NODE_OPTIONS" || key.startsWith("VITEST") || key === "TEST" || key === "NODE_ENV") continue;
    env[key] = value;
  }
  return { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", ...extra };
}

/** npm's arguments for installs into throw-away projects: quiet, cached, no scripts of the tarball. */
export const NPM_INSTALL = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", "--no-package-lock"];

const STALE_LOCK_MS = 10 * 60_000;

/** Runs `task` while holding the lock directory `name` under .cache/locks (waits for it, up to 10 min). */
export async function withLock<T>(name: string, task: () => Promise<T>): Promise<T> {
  const lock = resolve(CACHE, "locks", name);
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock left by a killed run would block every later one.
      const age = Date.now() - statMtime(lock);
      if (age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await task();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function statMtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}
