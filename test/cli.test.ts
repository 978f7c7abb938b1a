// The CLI as a user runs it: a real process (node --import tsx src/cli.ts) against the fake relay
// started in this test process, with pipes for stdout and stderr (the terminal case is in
// cli-tty.test.ts). Every run also checks that the API key never shows up in any output.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES, USAGE } from "../src/cli.js";
import {
  COMPLETED_TASK,
  createFakeRelay,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  type FakeRelay,
} from "../src/testing/index.js";
import { taskIssues } from "../src/validate.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const KEY = "sk-SECRET-canary-123";
const WRONG_KEY = "sk-WRONG-canary-456";
const ESC = "\u001b";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let relay: FakeRelay;
beforeAll(async () => {
  relay = await createFakeRelay({ apiKey: KEY });
  relay.setTask("done", [COMPLETED_TASK]);
  relay.setTask("progressing", [QUEUED_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]);
  relay.setTask("never", [{ ...QUEUED_TASK, task_id: "never" }]);
  relay.setTask("never-2", [{ ...QUEUED_TASK, task_id: "never-2" }]);
  relay.setTask("down", [
    { status: 500, body: "<html><body><h1>500 Internal Server Error</h1></body></html>", headers: { "retry-after": "0" } },
  ]);
  relay.setTask("garbled", [{ status: 200, body: "<html>not a task</html>" }]);
});
afterAll(async () => {
  await relay.close();
});

// Each run starts node + tsx (~0.4 s of CPU); more at once than there are cores only thrashes.
const MAX_RUNNING = availableParallelism() + 1;
let running = 0;
const queue: Array<() => void> = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => queue.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    queue.shift()?.();
  }
}

/** Runs the CLI; `env` entries set to undefined are removed. Rejects if the key shows up in the output. */
function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
  onStderr?: (text: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<Run> {
  return slot(() => spawnCli(args, env, onStderr));
}

function spawnCli(
  args: string[],
  env: Record<string, string | undefined>,
  onStderr: ((text: string, kill: (signal: NodeJS.Signals) => void) => void) | undefined,
): Promise<Run> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    NO_COLOR: undefined,
    FORCE_COLOR: undefined,
    XIEXUS_API_KEY: KEY,
    XIEXUS_BASE_URL: relay.url,
    ...env,
  })) {
    if (v !== undefined) childEnv[k] = v;
  }
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: ROOT, env: childEnv });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    onStderr?.(stderr, (signal) => child.kill(signal));
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const run = { code, stdout, stderr, ms: Date.now() - started };
      const leaked = [KEY, WRONG_KEY].some((secret) => run.stdout.includes(secret) || run.stderr.includes(secret));
      if (leaked) reject(new Error(`the API key appeared in the output of: ${args.join(" ")}`));
      else resolve(run);
    });
  });
}

// Runs queue for a slot, so a test's clock includes its wait: hence the longer timeout.
describe.concurrent("xiexus-kling", { timeout: 60_000 }, () => {
  it("status prints a summary of the task, with nothing on stderr", async () => {
    const run = await cli(["status", "done"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout).toContain(`task_id   ${COMPLETED_TASK.task_id}`);
    expect(run.stdout).toMatch(/^status +completed$/m);
    expect(run.stdout).toMatch(/^url +https:\/\/cdn\.xiexus\.cn\/kling\/videos\/8f3a2c1e\.mp4$/m);
    expect(run.stdout).toMatch(/^metadata +duration=5\.04 fps=30 width=1280 height=720 seed=20231234$/m);
    expect(run.stdout).not.toContain(ESC);
    expect(run.stderr).toBe("");
  });

  it("status of a failed task prints its error and exits 1", async () => {
    const run = await cli(["status", FAILED_TASK_ID]);
    expect(run.code).toBe(EXIT_CODES.taskFailed);
    expect(run.stdout).toMatch(/^error +1301: 内容审核未通过/m);
  });

  it("status --json prints exactly the task, which validates against the spec", async () => {
    const run = await cli(["status", "done", "--json"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    const task: unknown = JSON.parse(run.stdout);
    expect(taskIssues(task)).toEqual([]);
    expect(task).toEqual(COMPLETED_TASK);
    expect(run.stderr).toBe("");
  });

  it("wait shows plain progress lines on a piped stderr and the URL alone on stdout", async () => {
    const run = await cli(["wait", "progressing", "--interval", "0.1"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout).toBe(`${COMPLETED_TASK.url}\n`);
    expect(run.stderr.split("\n").map((l) => l.replace(/ \(\d+s\)$/, ""))).toEqual(["queued", "in_progress", "completed", ""]);
    expect(run.stdout + run.stderr).not.toContain(ESC);
  });

  it("wait on a failed task exits 1 with the task's error", async () => {
    const run = await cli(["wait", FAILED_TASK_ID]);
    expect(run.code).toBe(EXIT_CODES.taskFailed);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("failed\nxiexus-kling: task kling-0c9d8e7f-1a2b-4c3d-9e8f-7a6b5c4d3e2f failed: 1301: 内容审核未通过 (content moderation failed)\n");
  });

  it("exits 3 for an unknown task, with a message and no stack trace", async () => {
    const run = await cli(["wait", "no-such-task"]);
    expect(run.code).toBe(EXIT_CODES.notFound);
    expect(run.stderr).toMatch(/^xiexus-kling: no task "no-such-task" on this relay \(.*404.*\)\n$/);
  });

  it("--json reports an error as one JSON document on stdout; --debug adds the stack on stderr", async () => {
    const run = await cli(["status", "no-such-task", "--json", "--debug"]);
    expect(run.code).toBe(EXIT_CODES.notFound);
    expect(JSON.parse(run.stdout)).toEqual({
      error: { name: "TaskNotFoundError", message: expect.stringContaining("404"), status: 404, requestId: expect.any(String), exitCode: 3 },
    });
    expect(run.stderr).toMatch(/^TaskNotFoundError: .*\n\s+at /);
  });

  it("exits 4 when the relay refuses the key, and names XIEXUS_API_KEY", async () => {
    const run = await cli(["status", "done"], { XIEXUS_API_KEY: WRONG_KEY });
    expect(run.code).toBe(EXIT_CODES.auth);
    expect(run.stderr).toContain("401");
    expect(run.stderr).toContain("XIEXUS_API_KEY");
  });

  it("exits 5 when wait runs out of time", async () => {
    const run = await cli(["wait", "never", "--timeout", "1", "--interval", "0.2"]);
    expect(run.code).toBe(EXIT_CODES.timeout);
    expect(run.stderr).toMatch(/not finished after 1000 ms \(last status: queued\)/);
  });

  it("exits 6 on a server error (500 with an HTML body, after the retries)", async () => {
    const run = await cli(["status", "down"]);
    expect(run.code).toBe(EXIT_CODES.network);
    expect(run.stderr).toBe("xiexus-kling: GET /kling/v1/videos/image2video/down -> 500 (HTML body)\n");
    expect(relay.requests.filter((r) => r.taskId === "down")).toHaveLength(3);
  });

  it("exits 7 when the answer does not match the spec", async () => {
    const run = await cli(["status", "garbled"]);
    expect(run.code).toBe(EXIT_CODES.invalidResponse);
    expect(run.stderr).toContain("not JSON");
  });

  it("exits 2 on usage errors, with a pointer to --help", async () => {
    const runs = await Promise.all([cli(["status", "done", "--frobnicate"]), cli(["status"])]);
    for (const run of runs) {
      expect(run.code).toBe(EXIT_CODES.usage);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^xiexus-kling: .+\nRun xiexus-kling --help for usage\.\n$/);
    }
    expect(runs[0]!.stderr).toContain("--frobnicate");
    expect(runs[1]!.stderr).toContain("needs a task id");
  });

  it("refuses --api-key (exit 2), explains why, and never echoes the value", async () => {
    const run = await cli(["status", "done", `--api-key=${KEY}`]);
    expect(run.code).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain("XIEXUS_API_KEY");
    expect(run.stderr).toContain("shell history");
  });

  it("exits 2 without XIEXUS_API_KEY, naming the variable", async () => {
    const run = await cli(["status", "done"], { XIEXUS_API_KEY: undefined });
    expect(run.code).toBe(EXIT_CODES.usage);
    expect(run.stderr).toBe("xiexus-kling: no API key: set the XIEXUS_API_KEY environment variable\n");
  });

  it("never prints an environment value it rejects", async () => {
    const run = await cli(["status", "done"], { XIEXUS_BASE_URL: "not a url sk-base-canary" });
    expect(run.code).toBe(EXIT_CODES.usage);
    expect(run.stderr).toContain("XIEXUS_BASE_URL");
    expect(run.stderr).not.toContain("sk-base-canary");
  });

  it("refuses a bad --base-url (exit 2), naming the flag, without quoting the value", async () => {
    const [garbled, plainHttp] = await Promise.all([
      cli(["status", "done", "--base-url", "//user:hunter2@relay.example"]),
      cli(["status", "done", "--base-url", "http://relay.example"]),
    ]);
    expect(garbled.code).toBe(EXIT_CODES.usage);
    expect(garbled.stderr).toMatch(/absolute http\(s\) URL.*\(from --base-url\)/);
    expect(garbled.stderr).not.toContain("hunter2");
    expect(plainHttp.code).toBe(EXIT_CODES.usage);
    expect(plainHttp.stderr).toContain("plain http is only allowed to loopback");
  });

  it("--help prints the usage with every exit code; no arguments print it too, with exit 2", async () => {
    const [help, none] = await Promise.all([cli(["--help"]), cli([])]);
    expect(help.code).toBe(0);
    expect(none.code).toBe(EXIT_CODES.usage);
    for (const run of [help, none]) expect(run.stdout).toBe(USAGE);
    for (const code of Object.values(EXIT_CODES)) expect(USAGE).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
  });

  it("--version prints the version from package.json", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    const run = await cli(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });

  it("Ctrl-C during wait exits 130 promptly and says so", async () => {
    let sentAt = 0;
    const run = await cli(["wait", "never-2", "--interval", "0.2"], {}, (stderr, kill) => {
      if (sentAt === 0 && stderr.includes("queued\n")) {
        sentAt = Date.now();
        kill("SIGINT");
      }
    });
    expect(sentAt).toBeGreaterThan(0);
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    expect(run.stderr).toBe("queued\ninterrupted\n");
  });
});
