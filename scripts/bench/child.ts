// Child processes of the bench: plain `node` on the bundles in .cache/bench (no tsx loader in a
// measured process), the loopback server, and JSON read back from stdout.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { CACHE, ROOT } from "./paths.js";
import { join } from "node:path";

/** What a finished child left: its stdout lines, stderr, exit code, and when stdout's last line and the exit came. */
export interface ChildResult {
  lines: string[];
  stderr: string;
  code: number | null;
  /** `performance.now()` when the last stdout line arrived. */
  lastLineAt: number;
  /** `performance.now()` when the process exited. */
  exitAt: number;
}

/** Runs `node <args>` in `cwd` (default: the repo root) to completion; rejects when it exits non-zero. */
export function runNode(args: readonly string[], timeoutMs = 120_000, cwd: string = ROOT): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let stderr = "";
    let lastLineAt = Number.NaN;
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      lastLineAt = performance.now();
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      const exitAt = performance.now();
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`node ${args.join(" ")} exited with ${code}:\n${stderr}`));
      else resolve({ lines, stderr, code, lastLineAt, exitAt });
    });
  });
}

/** Parses the last stdout line of a child as JSON. */
export function lastJson<T>(result: ChildResult): T {
  const line = result.lines.at(-1);
  if (line === undefined) throw new Error(`child printed nothing; stderr:\n${result.stderr}`);
  return JSON.parse(line) as T;
}

/** A running loopback server process. */
export interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

/** Starts .cache/bench/server.mjs and resolves once it listens. */
export function startServer(): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const fixture = join(ROOT, "test/fixtures/task-completed.json");
    const child: ChildProcess = spawn(process.execPath, [join(CACHE, "server.mjs"), fixture], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    });
    child.on("error", reject);
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", (line) => {
      const { url } = JSON.parse(line) as { url: string };
      resolve({
        url,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.stdin!.end();
          }),
      });
    });
    child.once("exit", (code) => reject(new Error(`bench server exited early with ${code}`)));
  });
}
