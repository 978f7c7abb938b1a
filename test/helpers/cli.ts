// Runs the CLI as a user does: a real process (node --import tsx src/cli/index.ts) with pipes for
// stdout and stderr. Every run checks that the API key never shows up in any output.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { createFakeRelay, type FakeRelay, type FakeRelayOptions } from "../../src/testing/index.js";

/** The repository's root. */
export const ROOT = path.resolve(import.meta.dirname, "..", "..");

/** The key every run gets by default; a run whose output holds it rejects. */
export const CLI_KEY = "sk-SECRET-canary-123";

/** What a run of the CLI gave. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of runCli. */
export interface CliOptions {
  /** Added to the environment; an entry set to undefined is removed. */
  env?: Record<string, string | undefined>;
  /** Called with all of stderr so far at each chunk, and a way to signal the process. */
  onStderr?: (stderr: string, kill: (signal: NodeJS.Signals) => void) => void;
  /** Called once the process is started, with a way to signal it; what it returns is called when it ends. */
  onSpawn?: (kill: (signal: NodeJS.Signals) => void) => (() => void) | void;
  /** More strings that must never appear in the output (CLI_KEY always is one). */
  secrets?: readonly string[];
}

// Each run starts node + tsx (~0.4 s of CPU); more at once than there are cores only thrashes.
const MAX_RUNNING = availableParallelism() + 1;
let running = 0;
const queue: Array<() => void> = [];

/** Runs `work` (a process start) once fewer than cores + 1 others are running. */
export async function cliSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => queue.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    queue.shift()?.();
  }
}

/** Runs `xiexus-kling <args>` with XIEXUS_API_KEY = CLI_KEY; rejects if the key shows up in its output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const secrets = [CLI_KEY, ...(options.secrets ?? [])];
  return cliSlot(
    () =>
      new Promise<CliRun>((resolve, reject) => {
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, XIEXUS_API_KEY: CLI_KEY, ...options.env })) {
          if (v !== undefined) env[k] = v;
        }
        const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], { cwd: ROOT, env });
        const kill = (signal: NodeJS.Signals): void => void child.kill(signal);
        const stop = options.onSpawn?.(kill);
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
          stderr += chunk;
          options.onStderr?.(stderr, kill);
        });
        child.on("error", reject);
        child.on("close", (code) => {
          stop?.();
          if (secrets.some((secret) => stdout.includes(secret) || stderr.includes(secret))) {
            reject(new Error(`the API key appeared in the output of: ${args.join(" ")}`));
          }
          else resolve({ code, stdout, stderr });
        });
      }),
  );
}

/**
 * An `onSpawn` for runCli that SIGKILLs the process when the test ends (pass the test context's
 * `onTestFinished`): a CLI that ignored a signal then fails its test without outliving it.
 * `onKill`, if given, receives the run's signal sender.
 */
export function killAtTestEnd(
  onTestFinished: (fn: () => void) => void,
  onKill?: (kill: (signal: NodeJS.Signals) => void) => void,
): NonNullable<CliOptions["onSpawn"]> {
  return (kill) => {
    onTestFinished(() => kill("SIGKILL"));
    onKill?.(kill);
  };
}

/**
 * A CLI test file's rig: a scratch directory, and fake relays of each test's own (so each counts
 * its own creates), taking CLI_KEY, with a video host; all closed and removed by `close`.
 */
export function cliRig(prefix: string, defaults: FakeRelayOptions = {}) {
  const scratch = mkdtempSync(path.join(tmpdir(), prefix));
  const relays: FakeRelay[] = [];
  let files = 0;
  return {
    scratch,
    /** A fake relay for one test. */
    async startRelay(options: FakeRelayOptions = {}): Promise<FakeRelay> {
      const relay = await createFakeRelay({ apiKey: CLI_KEY, video: true, ...defaults, ...options });
      relays.push(relay);
      return relay;
    },
    /** Runs the CLI against `relay`. */
    cli(relay: FakeRelay, args: string[], options: CliOptions = {}): Promise<CliRun> {
      return runCli(args, { ...options, env: { XIEXUS_BASE_URL: relay.url, ...options.env } });
    },
    /** A new path in the scratch directory, nothing written there yet. */
    scratchPath(name: string): string {
      return path.join(scratch, `${++files}-${name}`);
    },
    /** Writes `bytes` to a new file in the scratch directory; returns its path. */
    scratchFile(name: string, bytes: Uint8Array | string): string {
      const file = path.join(scratch, `${++files}-${name}`);
      writeFileSync(file, bytes);
      return file;
    },
    /** Closes every relay and removes the scratch directory. */
    async close(): Promise<void> {
      await Promise.all(relays.map((relay) => relay.close()));
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
