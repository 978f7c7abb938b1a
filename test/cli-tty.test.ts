// The CLI on a real terminal: `wait` runs under a pseudo-terminal made by util-linux `script`,
// so stderr.isTTY is true and the live progress line (spinner, \r + clear-line, hidden cursor) is
// drawn. What the terminal received (stdout and stderr together) is checked byte for byte.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import {
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  createFakeRelay,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  type FakeRelay,
} from "../src/testing/index.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const SCRIPT = "/usr/bin/script";
const KEY = "sk-SECRET-canary-123";
const HIDE_CURSOR = "\u001b[?25l";
const SHOW_CURSOR = "\u001b[?25h";
const CLEAR_LINE = "\r\u001b[2K";
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
const COLOR = /\u001b\[\d+m/;

let relay: FakeRelay;
let videos: FakeRelay;
const scratch = mkdtempSync(path.join(tmpdir(), "xiexus-tty-"));
beforeAll(async () => {
  videos = await createFakeRelay({ apiKey: KEY, video: true });
  videos.setTask("many-1", [QUEUED_TASK, QUEUED_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]);
  videos.setTask("many-2", [QUEUED_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]);
  videos.setTask("dl", [COMPLETED_TASK]);
  relay = await createFakeRelay({ apiKey: KEY });
  // Polled every 0.2 s: about a second of progress, enough for several spinner frames.
  const steps = [QUEUED_TASK, QUEUED_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, COMPLETED_TASK];
  relay.setTask("tty-1", steps);
  relay.setTask("tty-2", steps);
  relay.setTask("tty-never", [{ ...QUEUED_TASK, task_id: "tty-never" }]);
});
afterAll(async () => {
  await relay.close();
  await videos.close();
  rmSync(scratch, { recursive: true, force: true });
});

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI on a pseudo-terminal; resolves with everything the terminal received. */
function onTerminal(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; screen: string }> {
  // Fail, not skip: without `script` this file would prove nothing about terminals.
  if (!existsSync(SCRIPT)) throw new Error(`${SCRIPT} (util-linux) is needed to run the CLI on a pseudo-terminal`);
  const command = [process.execPath, "--import", "tsx", "src/cli/index.ts", ...args].map(quote).join(" ");
  const childEnv: Record<string, string> = { TERM: "xterm-256color" };
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "NO_COLOR" && k !== "FORCE_COLOR") childEnv[k] = v;
  Object.assign(childEnv, { XIEXUS_API_KEY: KEY, XIEXUS_BASE_URL: relay.url, TERM: "xterm-256color", LINES: "30", COLUMNS: "100" }, env);
  // -q quiet, -f flush at once, -e the command's exit code, -c the command; the typescript goes to /dev/null.
  const child = spawn(SCRIPT, ["-qfec", command, "/dev/null"], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let screen = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (screen += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (screen += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen }));
  });
}

describe.concurrent("wait on a terminal", () => {
  it("draws a live spinner line in place, restores the cursor, and ends with the URL", async () => {
    const { code, screen } = await onTerminal(["wait", "tty-1", "--interval", "0.2"]);
    expect(code).toBe(EXIT_CODES.ok);
    expect(screen.startsWith(HIDE_CURSOR)).toBe(true);
    const frames = screen.split(CLEAR_LINE).slice(1);
    expect(frames.length).toBeGreaterThan(5);
    expect(frames.filter((f) => SPINNER.test(f)).length).toBeGreaterThan(5);
    expect(frames.some((f) => /queued\u001b\[0m \d+s$/.test(f))).toBe(true);
    expect(frames.some((f) => /in_progress\u001b\[0m \d+s$/.test(f))).toBe(true);
    // Colour on a terminal: the status words are painted.
    expect(screen).toContain("\u001b[33mqueued");
    expect(screen).toContain("\u001b[36min_progress");
    expect(screen.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(screen.lastIndexOf(HIDE_CURSOR));
    expect(screen).toMatch(/completed in \d+s\r?\n/);
    expect(screen.trimEnd().endsWith(COMPLETED_TASK.url!)).toBe(true);
    expect(screen).not.toContain(KEY);
  });

  it("respects NO_COLOR: the same live line, without colours", async () => {
    const { code, screen } = await onTerminal(["wait", "tty-2", "--interval", "0.2"], { NO_COLOR: "1" });
    expect(code).toBe(EXIT_CODES.ok);
    expect(screen).toContain(CLEAR_LINE);
    expect(screen).toMatch(/\r\u001b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] queued \d+s/);
    expect(screen).not.toMatch(COLOR);
    expect(screen.trimEnd().endsWith(COMPLETED_TASK.url!)).toBe(true);
  });

  it("clears the line and shows the cursor again before reporting an error", async () => {
    const { code, screen } = await onTerminal(["wait", "tty-never", "--interval", "0.2", "--timeout", "0.6"]);
    expect(code).toBe(EXIT_CODES.timeout);
    expect(screen).toMatch(/\r\u001b\[2K\u001b\[\?25h\u001b\[31mxiexus-kling:\u001b\[0m task tty-never not finished after 600 ms/);
  });

  it("several ids: one live line per task redrawn in place, result lines above, then a summary", async () => {
    const { code, screen } = await onTerminal(["wait", "many-1", "many-2", "--interval", "0.2"], { XIEXUS_BASE_URL: videos.url });
    expect(code).toBe(EXIT_CODES.ok);
    expect(screen.startsWith(HIDE_CURSOR)).toBe(true);
    // Both tasks drawn on one frame, each on its own line, then the block moved back up (CSI n F) and cleared.
    expect(screen).toMatch(
      /\u001b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[0m many-1 \u001b\[33mqueued\u001b\[0m \d+s\r?\n\u001b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[0m many-2 /,
    );
    expect(screen).toContain("\u001b[2F\u001b[0J");
    expect(screen).toContain("\u001b[36min_progress");
    // many-1 settles first; its result line is printed once, green.
    const first = screen.indexOf("many-1\t\u001b[32mcompleted");
    const second = screen.indexOf("many-2\t\u001b[32mcompleted");
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(screen).toMatch(/✔\u001b\[0m 2 of 2 completed in \d+s\r?\n/);
    expect(screen.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(screen.lastIndexOf(HIDE_CURSOR));
    expect(screen).not.toContain(KEY);
  });

  it("a cancelled task's status word has its own colour (not failure's red), and exits 10", async () => {
    const { code, screen } = await onTerminal(["status", CANCELLED_TASK_ID]);
    expect(code).toBe(EXIT_CODES.taskCancelled);
    expect(screen).toMatch(/status +\u001b\[35mcancelled\u001b\[0m/);
  });

  it("generate prints the created task's id above the live line at once, then waits and downloads", async () => {
    const file = path.join(scratch, "generated.mp4");
    const { code, screen } = await onTerminal(["generate", "--prompt", "a cat", "--output", file, "--interval", "0.2"], {
      XIEXUS_BASE_URL: videos.url,
      NO_COLOR: "1",
    });
    expect(code).toBe(EXIT_CODES.ok);
    const taskId = /task (task_\w+) created;/.exec(screen)?.[1];
    expect(videos.creates.map((c) => c.taskId)).toContain(taskId);
    // The spinner says "creating", the line is cleared, the id printed on a line of its own, the spinner goes on below.
    expect(screen).toMatch(/\r\u001b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] creating \d+s/);
    expect(screen).toContain(
      `\r\u001b[2Ktask ${taskId} created; if interrupted, resume with: xiexus-kling wait ${taskId} --route text2video --output ${file}\r\n`,
    );
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] queued \d+s/);
    expect(screen).toMatch(/completed in \d+s\r?\n/);
    expect(screen).toMatch(/✔ saved .*generated\.mp4 \(262\.\d+ kB\)\r?\n/);
    expect(screen.trimEnd().endsWith(file)).toBe(true);
    expect(readFileSync(file).equals(videos.video!.bytes())).toBe(true);
  });

  it("generate --jobs: a live line per job in flight, the counts of the others below, result lines above, then a summary", async () => {
    const file = path.join(scratch, "jobs.jsonl");
    writeFileSync(file, ["a", "b", "c", "d"].map((key) => JSON.stringify({ key: `job-${key}`, prompt: `video ${key}` })).join("\n"));
    const out = path.join(scratch, "jobs-out");
    const { code, screen } = await onTerminal(["generate", "--jobs", file, "--output-dir", out, "--interval", "0.2", "--concurrency", "1"], {
      XIEXUS_BASE_URL: videos.url,
      NO_COLOR: "1",
    });
    expect(code).toBe(EXIT_CODES.ok);
    expect(screen.startsWith(HIDE_CURSOR)).toBe(true);
    // At first only the counts; then a live line per job in flight, the counts below them.
    expect(screen).toContain(`${HIDE_CURSOR}  4 waiting, 0 saved\r\n`);
    expect(screen).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] job-d (creating|created task_\w+|queued|in_progress) \d+s\r?\n  \d waiting, \d saved\r?\n/);
    expect(screen).toMatch(/\r?\n  0 waiting, 3 saved\r?\n/);
    for (const key of ["a", "b", "c", "d"]) expect(screen).toContain(`job-${key}\tsaved\t${path.join(out, `job-${key}.mp4`)}`);
    expect(screen).toMatch(/✔ 4 of 4 saved in \d+s\r?\n/);
    expect(screen.lastIndexOf(SHOW_CURSOR)).toBeGreaterThan(screen.lastIndexOf(HIDE_CURSOR));
    expect(screen).not.toContain(KEY);
  });

  it("a download shows bytes, percent and rate on a live line, then the saved file", async () => {
    const file = path.join(scratch, "dl.mp4");
    const { code, screen } = await onTerminal(["download", "dl", "--output", file], { XIEXUS_BASE_URL: videos.url, NO_COLOR: "1" });
    expect(code).toBe(EXIT_CODES.ok);
    expect(statSync(file).size).toBe(videos.video!.size);
    expect(readFileSync(file).equals(videos.video!.bytes())).toBe(true);
    expect(screen).toMatch(/\r\u001b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] downloading [\d.]+ (B|kB) \/ 262\.\d+ kB \d{1,3}% [\d.]+ (B|kB|MB|GB)\/s/);
    expect(screen).toMatch(/downloading 262\.\d+ kB \/ 262\.\d+ kB 100% /);
    expect(screen).toMatch(/✔ saved .*dl\.mp4 \(262\.\d+ kB\)\r?\n/);
    expect(screen.trimEnd().endsWith(file)).toBe(true);
  });
});
