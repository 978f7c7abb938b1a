// The CLI as a user runs it: a real process (node --import tsx src/cli/index.ts) against the fake relay
// started in this test process, with pipes for stdout and stderr (the terminal case is in
// cli-tty.test.ts). Every run also checks that the API key never shows up in any output.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES, EXIT_PRECEDENCE } from "../src/cli/_exit-codes.js";
import { USAGE } from "../src/cli/_help.js";
import { isEntryPoint } from "../src/cli/index.js";
import { fitColumns } from "../src/cli/_terminal.js";
import { videoFileName } from "../src/cli/_video-file.js";
import {
  CANCELLED_TASK,
  CANCELLED_TASK_ID,
  COMPLETED_TASK,
  createFakeRelay,
  EXPIRED_TASK_ID,
  FAILED_TASK,
  FAILED_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
  type FakeRelay,
} from "../src/testing/index.js";
import { taskIssues } from "../src/_validate.js";
import { cliSlot, killAtTestEnd, runCli, type CliOptions, type CliRun } from "./helpers/cli.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const KEY = "sk-SECRET-canary-123";
const WRONG_KEY = "sk-WRONG-canary-456";
const ESC = "\u001b";

type Run = CliRun;

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
  // Relay text that would forge output: a second URL line, a tab column, C1 and bidi controls.
  relay.setTask("forged", [{ ...COMPLETED_TASK, url: `${COMPLETED_TASK.url}\nhttps://evil.example/b.mp4\tcompleted` }]);
  relay.setTask("c1", [{ ...FAILED_TASK, error: { code: 1, message: "red\u009b31m \u202egnp.exe \u2028next" } }]);
  relay.setTask("escape-404", [{ status: 404, body: { error: { message: "gone\u001b]0;PWNED\u0007\u001b[2J" } } }]);
  relay.setTask("huge", [{ status: 200, body: `{"status":"queued","pad":"${"x".repeat(5 * 1024 * 1024)}"}` }]);
  relay.setTask("long-url", [{ ...COMPLETED_TASK, url: `${COMPLETED_TASK.url}?${"q".repeat(1024 * 1024)}` }]);
  relay.setTask("file-url", [{ ...COMPLETED_TASK, url: "file:///etc/passwd" }]);
  videos = await createFakeRelay({ apiKey: KEY, video: true });
  videos.setTask("done", [COMPLETED_TASK]);
  videos.setTask("progressing", [QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]);
  videos.setTask("../up/sneaky?id", [QUEUED_TASK, COMPLETED_TASK]);
  videos.setTask("b-1", [QUEUED_TASK, IN_PROGRESS_TASK, COMPLETED_TASK]);
  videos.setTask("b-2", [COMPLETED_TASK]);
  videos.setTask("b-never", [{ ...QUEUED_TASK, task_id: "b-never" }]);
  videos.setTask("running", [IN_PROGRESS_TASK]);
  videos.setTask("refuse-me", [COMPLETED_TASK]);
  // Its own id: the tests run concurrently, and "refuse-me" is fetched once --force is given.
  videos.setTask("refuse-dir", [COMPLETED_TASK]);
  videos.setTask("b-never-2", [{ ...QUEUED_TASK, task_id: "b-never-2" }]);
});
afterAll(async () => {
  await relay.close();
  await videos.close();
  rmSync(scratch, { recursive: true, force: true });
});

let videos: FakeRelay;
const scratch = mkdtempSync(path.join(tmpdir(), "xiexus-cli-"));
let dirs = 0;
/** A new empty directory under the scratch directory. */
function freshDir(): string {
  const dir = path.join(scratch, `d${++dirs}`);
  mkdirSync(dir);
  return dir;
}
const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Runs the CLI against the relay; `env` entries set to undefined are removed. Rejects if a key shows up in the output. */
function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
  onStderr?: (text: string, kill: (signal: NodeJS.Signals) => void) => void,
  onSpawn?: CliOptions["onSpawn"],
): Promise<Run> {
  return runCli(args, { env: { XIEXUS_API_KEY: KEY, XIEXUS_BASE_URL: relay.url, ...env }, onStderr, onSpawn, secrets: [WRONG_KEY] });
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

  it("a cancelled task has its own meaning: status and wait exit 10, saying the relay refunded it", async () => {
    const [status, wait, json, download] = await Promise.all([
      cli(["status", CANCELLED_TASK_ID]),
      cli(["wait", CANCELLED_TASK_ID]),
      cli(["wait", CANCELLED_TASK_ID, "--json"]),
      cli(["download", CANCELLED_TASK_ID, "--output", path.join(freshDir(), "v.mp4")]),
    ]);
    expect(EXIT_CODES.taskCancelled).toBe(10);
    expect(status.code).toBe(EXIT_CODES.taskCancelled);
    expect(status.stdout).toMatch(/^status +cancelled$/m);
    expect(wait.code).toBe(EXIT_CODES.taskCancelled);
    expect(wait.stderr).toBe(`cancelled\nxiexus-kling: task ${CANCELLED_TASK_ID} was cancelled by the relay (refunded)\n`);
    expect(json.code).toBe(EXIT_CODES.taskCancelled);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { name: "TaskCancelledError", task: CANCELLED_TASK, message: expect.stringContaining("refunded"), exitCode: 10 },
    });
    expect(download.code).toBe(EXIT_CODES.taskCancelled);
  });

  it("an expired task (TaskExpired) exits 1, saying it ran past the relay's deadline and was refunded", async () => {
    const [wait, json] = await Promise.all([cli(["wait", EXPIRED_TASK_ID]), cli(["status", EXPIRED_TASK_ID, "--json"])]);
    expect(wait.code).toBe(EXIT_CODES.taskFailed);
    expect(wait.stderr).toMatch(/TaskExpired.*\nThe task ran past the relay's deadline \(TaskExpired\); the relay refunded it\.\n$/);
    expect(json.code).toBe(EXIT_CODES.taskFailed);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "failed", error: { code: "TaskExpired" } });
    const waitJson = await cli(["wait", EXPIRED_TASK_ID, "--json"]);
    expect(JSON.parse(waitJson.stdout)).toMatchObject({ error: { name: "TaskFailedError", code: "TaskExpired", exitCode: 1, task: { task_id: EXPIRED_TASK_ID } } });
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
    expect(help.stdout).toBe(USAGE);
    // Without arguments it is a usage error: the help goes to stderr, stdout stays empty.
    expect(none.code).toBe(EXIT_CODES.usage);
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe(USAGE);
    for (const code of Object.values(EXIT_CODES)) expect(USAGE).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
  });

  it("--version prints the version from package.json", async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    const run = await cli(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });

  // "At once" without a clock: the wait's next poll is an hour away, so only acting on the signal
  // ends the process before the test's timeout (which then kills it).
  it("Ctrl-C during the wait between polls exits 130 at once and says so; the next poll is never sent", async ({ onTestFinished }) => {
    let sent = false;
    const run = await cli(
      ["wait", "never-2", "--interval", "3600"],
      {},
      (stderr, kill) => {
        if (!sent && stderr.includes("queued\n")) {
          sent = true;
          kill("SIGINT");
        }
      },
      killAtTestEnd(onTestFinished),
    );
    expect(sent).toBe(true);
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(run.stderr).toBe("queued\ninterrupted\n");
    expect(relay.requests.filter((r) => r.taskId === "never-2")).toHaveLength(1);
  });

  // The relay holds the second poll and would answer it "completed" 30 s on: a CLI that let the poll
  // run would print that and exit 0. Exiting 130 with the poll unanswered is the check, not a clock.
  it("Ctrl-C while a poll is in flight exits 130 before the relay answers it", async ({ expect, onTestFinished }) => {
    let interrupt: ((signal: NodeJS.Signals) => void) | undefined;
    const polls: Array<{ answered: boolean; clientLeft: boolean }> = [];
    const held = http.createServer((req, res) => {
      req.resume();
      const poll = { answered: false, clientLeft: false };
      polls.push(poll);
      const answer = (task: object): void => {
        poll.answered = true;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(task));
      };
      res.on("close", () => (poll.clientLeft = !res.writableFinished));
      if (polls.length === 1) return answer({ ...QUEUED_TASK, task_id: "held" });
      const sentinel = setTimeout(() => answer({ ...COMPLETED_TASK, task_id: "held" }), 30_000);
      res.on("close", () => clearTimeout(sentinel));
      interrupt?.("SIGINT");
    });
    await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      held.closeAllConnections();
      held.close();
    });
    const url = `http://127.0.0.1:${(held.address() as AddressInfo).port}`;
    const run = await cli(["wait", "held", "--interval", "0.1"], { XIEXUS_BASE_URL: url }, undefined, killAtTestEnd(onTestFinished, (kill) => (interrupt = kill)));
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(run.stderr).toBe("queued\ninterrupted\n");
    expect(polls.map((p) => p.answered)).toEqual([true, false]);
    // The process is gone; its socket's close reaches the server a moment later.
    await expect.poll(() => polls[1]!.clientLeft, { timeout: 10_000 }).toBe(true);
  });

  // --- downloads and batches (the relay with a video host: completed tasks point at it) ---

  it("wait --output downloads the video after completion and prints the file's path", async () => {
    const file = path.join(freshDir(), "video.mp4");
    const run = await cli(["wait", "progressing", "--interval", "0.1", "--output", file], { XIEXUS_BASE_URL: videos.url });
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout).toBe(`${file}\n`);
    expect(sha256(file)).toBe(videos.video!.sha256);
    expect(run.stderr).toContain(`downloading to ${file}\n`);
    expect(run.stderr).toMatch(/saved .*video\.mp4 \(262\.\d+ kB\)\n$/);
    // The video host never saw the key.
    expect(videos.video!.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("download refuses an existing file without --force (exit 2, before any request) and replaces it with --force", async () => {
    const dir = freshDir();
    const file = path.join(dir, "existing.mp4");
    writeFileSync(file, "old bytes");
    const refused = await cli(["download", "refuse-me", "--output", file], { XIEXUS_BASE_URL: videos.url });
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toBe(`xiexus-kling: ${file} already exists; add --force to replace it\n`);
    expect(videos.requests.filter((r) => r.taskId === "refuse-me")).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe("old bytes");
    const forced = await cli(["download", "refuse-me", "--output", file, "--force", "--json"], { XIEXUS_BASE_URL: videos.url });
    expect(forced.code).toBe(EXIT_CODES.ok);
    expect(sha256(file)).toBe(videos.video!.sha256);
    expect(JSON.parse(forced.stdout)).toMatchObject({ taskId: "refuse-me", task: { status: "completed" }, file: { path: file, bytes: videos.video!.size } });
  });

  it("download of a task not completed yet exits 8, of a failed one 1, and needs --output (2)", async () => {
    const dir = freshDir();
    const [running, failed, noOutput] = await Promise.all([
      cli(["download", "running", "-o", path.join(dir, "a.mp4")], { XIEXUS_BASE_URL: videos.url }),
      cli(["download", FAILED_TASK_ID, "-o", path.join(dir, "b.mp4")], { XIEXUS_BASE_URL: videos.url }),
      cli(["download", "done"], { XIEXUS_BASE_URL: videos.url }),
    ]);
    expect(running.code).toBe(EXIT_CODES.notReady);
    expect(running.stderr).toContain("is in_progress, not completed yet");
    expect(failed.code).toBe(EXIT_CODES.taskFailed);
    expect(noOutput.code).toBe(EXIT_CODES.usage);
    expect(noOutput.stderr).toContain("download needs --output");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a missing output directory is refused before any request (2); a file that cannot be written exits 9", async () => {
    const missing = path.join(freshDir(), "missing", "dir", "v.mp4");
    const [refused, unwritable] = await Promise.all([
      cli(["wait", "refuse-dir", "--output", missing], { XIEXUS_BASE_URL: videos.url }),
      // procfs takes no new files, even from root (for whom permissions would not stop a write).
      cli(["download", "done", "--output", "/proc/self/v.mp4"], { XIEXUS_BASE_URL: videos.url }),
    ]);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toBe(`xiexus-kling: the directory of ${missing} does not exist\n`);
    expect(videos.requests.filter((r) => r.taskId === "refuse-dir")).toEqual([]);
    expect(unwritable.code).toBe(EXIT_CODES.fileError);
    expect(unwritable.stderr).toMatch(/^downloading to .*\nxiexus-kling: cannot write the video: E[A-Z]+/);
  });

  it("wait with several ids prints one tab-separated line per task as it settles; 0 when all completed", async () => {
    const run = await cli(["wait", "b-1", "b-2", "b-1", "--interval", "0.1"], { XIEXUS_BASE_URL: videos.url });
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout.split("\n")).toEqual([`b-2\tcompleted\t${videos.video!.url}`, `b-1\tcompleted\t${videos.video!.url}`, ""]);
    expect(run.stderr).toMatch(/^b-1 queued\n/m);
    expect(run.stderr).toMatch(/^✔ 2 of 2 completed in \d+s\n$/m);
    expect(run.stdout + run.stderr).not.toContain(ESC);
  });

  it("several ids: the exit code is the worst outcome's by the documented precedence", async () => {
    const run = await cli(["wait", "b-2", FAILED_TASK_ID, "no-such-task", "b-never", "--interval", "0.1", "--timeout", "1"], {
      XIEXUS_BASE_URL: videos.url,
    });
    const lines = run.stdout.trim().split("\n").map((l) => l.split("\t").slice(0, 2).join(" "));
    expect(lines.sort()).toEqual(["b-2 completed", "b-never timed_out", `${FAILED_TASK_ID} failed`, "no-such-task not_found"].sort());
    // timed_out (5) outranks not_found (3), which outranks failed (1).
    expect(EXIT_PRECEDENCE.indexOf(EXIT_CODES.timeout)).toBeLessThan(EXIT_PRECEDENCE.indexOf(EXIT_CODES.notFound));
    expect(run.code).toBe(EXIT_CODES.timeout);
    expect(run.stderr).toMatch(/✖ 1 of 4 completed, 1 timed_out, 1 not_found, 1 failed in \d+s/);
  });

  it("several ids: a cancelled task ranks below a failed one, and alone gives 10", async () => {
    expect(EXIT_PRECEDENCE).toEqual([130, 70, 11, 12, 4, 6, 7, 9, 2, 5, 3, 1, 10]);
    const [both, cancelledOnly] = await Promise.all([
      cli(["wait", CANCELLED_TASK_ID, FAILED_TASK_ID, "b-2"], { XIEXUS_BASE_URL: videos.url }),
      cli(["wait", CANCELLED_TASK_ID, "b-2"], { XIEXUS_BASE_URL: videos.url }),
    ]);
    expect(both.code).toBe(EXIT_CODES.taskFailed);
    expect(both.stdout).toContain(`${CANCELLED_TASK_ID}\tcancelled\t`);
    expect(both.stderr).toMatch(/✖ 1 of 3 completed, 1 failed, 1 cancelled in \d+s/);
    expect(cancelledOnly.code).toBe(EXIT_CODES.taskCancelled);
  });

  it("several ids with --json print JSON Lines, one object per settled task", async () => {
    const run = await cli(["wait", "b-2", FAILED_TASK_ID, "--json", "--concurrency", "1"], { XIEXUS_BASE_URL: videos.url });
    expect(run.code).toBe(EXIT_CODES.taskFailed);
    const objects = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects).toHaveLength(2);
    expect(objects).toContainEqual({ taskId: "b-2", task: expect.objectContaining({ status: "completed" }) });
    expect(objects).toContainEqual({
      taskId: FAILED_TASK_ID,
      error: expect.objectContaining({ name: "TaskFailedError", exitCode: EXIT_CODES.taskFailed }),
    });
  });

  it("--output-dir writes <dir>/<task id>.mp4 per completed task, with unsafe ids made safe file names", async () => {
    const dir = freshDir();
    const sneaky = "../up/sneaky?id";
    const run = await cli(["wait", "b-2", sneaky, "--output-dir", dir, "--interval", "0.1"], { XIEXUS_BASE_URL: videos.url });
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(readdirSync(dir).sort()).toEqual(["b-2.mp4", videoFileName(sneaky)].sort());
    expect(videoFileName(sneaky)).toMatch(/^_+up_sneaky_id-[0-9a-f]{10}\.mp4$/);
    for (const name of readdirSync(dir)) expect(sha256(path.join(dir, name))).toBe(videos.video!.sha256);
    expect(existsSync(path.join(dir, "..", "up"))).toBe(false);
    expect(run.stdout).toContain(`b-2\tcompleted\t${path.join(dir, "b-2.mp4")}\n`);
    // A second run refuses (exit 2, no request), unless --force.
    const again = await cli(["wait", "b-2", sneaky, "--output-dir", dir], { XIEXUS_BASE_URL: videos.url });
    expect(again.code).toBe(EXIT_CODES.usage);
    expect(again.stderr).toContain("already exists; add --force");
  });

  it("safe file names: distinct ids never share a file", () => {
    expect(videoFileName("kling-abc_1.2")).toBe("kling-abc_1.2.mp4");
    const names = ["a/b", "a_b", "a?b", "CON", "..x", "A", "a"].map((id) => videoFileName(id, id.toLowerCase() === "a"));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]*\.mp4$/);
    expect(videoFileName("CON")).not.toMatch(/^CON\./i);
  });

  it("refuses bad batch flags with exit 2", async () => {
    const runs = await Promise.all([
      cli(["wait", "a", "b", "--concurrency", "0"]),
      cli(["wait", "a", "b", "--concurrency", "257"]),
      cli(["wait", "a", "b", "--output", "x.mp4"]),
      cli(["status", "a", "--output", "x.mp4"]),
      cli(["wait", "a", "--force"]),
      cli(["status", "a", "b"]),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(EXIT_CODES.usage);
      expect(run.stderr).toMatch(/Run xiexus-kling --help for usage\.\n$/);
    }
    expect(runs[0]!.stderr).toContain("--concurrency must be a whole number from 1 to 256");
    expect(runs[2]!.stderr).toContain("use --output-dir");
    expect(runs[5]!.stderr).toContain("takes one task id, got 2 arguments");
    expect(relay.requests.filter((r) => r.taskId === "a" || r.taskId === "b")).toEqual([]);
  });

  it("relay text cannot forge lines, columns or terminal commands, on stdout, stderr or in JSON", async () => {
    const [wait, status, json, debug, batch] = await Promise.all([
      cli(["wait", "forged"]),
      cli(["status", "c1"]),
      cli(["status", "c1", "--json"]),
      cli(["status", "escape-404", "--debug"]),
      cli(["wait", "forged", "done"]),
    ]);
    expect(wait.stdout).toBe(`${COMPLETED_TASK.url}?https://evil.example/b.mp4?completed\n`);
    expect(status.stdout).toMatch(/^error +1: red\?31m \?gnp\.exe \?next$/m);
    // The JSON is the same data, with the controls as \u escapes a terminal cannot act on.
    expect(json.stdout).not.toMatch(/[\u0080-\u009f\u2028\u202e]/);
    expect(json.stdout).toContain("\\u009b31m");
    expect((JSON.parse(json.stdout) as { error: { message: string } }).error.message).toBe("red\u009b31m \u202egnp.exe \u2028next");
    expect(debug.code).toBe(EXIT_CODES.notFound);
    expect(debug.stderr).toContain("at ");
    expect(debug.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    // Piped batch lines stay three tab-separated columns each.
    const rows = batch.stdout.trim().split("\n");
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.split("\t")).toHaveLength(3);
  });

  it("an answer over maxResponseBytes exits 7, and a task whose video URL cannot be fetched too", async () => {
    const [huge, fileUrl] = await Promise.all([
      cli(["status", "huge"]),
      cli(["download", "file-url", "--output", path.join(freshDir(), "v.mp4")]),
    ]);
    expect(huge.code).toBe(EXIT_CODES.invalidResponse);
    expect(huge.stderr).toMatch(/larger than maxResponseBytes/);
    expect(huge.stderr).not.toContain("This is a bug");
    expect(fileUrl.code).toBe(EXIT_CODES.invalidResponse);
    expect(fileUrl.stderr).toMatch(/must use https/);
  });

  it("stdout closed early (| head) ends the run quietly with 141, no stack trace", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "status", "long-url"], {
      cwd: ROOT,
      env: { ...process.env, XIEXUS_API_KEY: KEY, XIEXUS_BASE_URL: relay.url },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    // Read one chunk of the 1 MB summary, then hang up, as `head -c 1` does.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(EXIT_CODES.brokenPipe);
    expect(stderr).toBe("");
    // Output before any request (the help) into a pipe already closed, as `| true` does.
    const help = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "--help"], { cwd: ROOT, env: process.env });
    help.stdout.destroy();
    let helpErr = "";
    help.stderr.setEncoding("utf8").on("data", (chunk: string) => (helpErr += chunk));
    expect(await new Promise<number | null>((resolve) => help.on("close", resolve))).toBe(EXIT_CODES.brokenPipe);
    expect(helpErr).toBe("");
  });

  it("refuses sub-millisecond durations, names a bad id among many, and keeps Node's option errors to one line", async () => {
    const [tiny, many, ambiguous] = await Promise.all([
      cli(["wait", "never-tiny", "--interval", "0.0001"]),
      cli(["wait", "x-a", "x-b\u0001c", "x-d"]),
      cli(["status", "--base-url", "--", "done"]),
    ]);
    expect(tiny.code).toBe(EXIT_CODES.usage);
    expect(tiny.stderr).toContain("--interval must be a number of seconds from 0.001 to");
    expect(many.code).toBe(EXIT_CODES.usage);
    expect(many.stderr).toMatch(/^xiexus-kling: invalid task id: task id #2: taskId contains a control character\n/);
    expect(ambiguous.code).toBe(EXIT_CODES.usage);
    expect(ambiguous.stderr).toMatch(/^xiexus-kling: [^\n]+\nRun xiexus-kling --help for usage\.\n$/);
    expect(relay.requests.filter((r) => ["never-tiny", "x-a", "x-d"].includes(r.taskId ?? ""))).toEqual([]);
  });

  it("batch lines on a terminal are cut by columns: a wide id never wraps", () => {
    expect(fitColumns("日本語abc", 5)).toBe("日本");
    expect(fitColumns("日本語abc", 6)).toBe("日本語");
    expect(fitColumns("abc", 10)).toBe("abc");
    expect(fitColumns("a😀b", 2)).toBe("a");
  });

  it.each([
    ["Ctrl-C", "SIGINT", EXIT_CODES.interrupted],
    ["SIGTERM", "SIGTERM", EXIT_CODES.terminated],
  ] as const)("%s during a download exits with its code and leaves no temporary file", async (_name, signal, code) => {
    const dir = freshDir();
    // A host of its own: a stall fault is spent by the first download that meets it.
    const host = await createFakeRelay({ apiKey: KEY, video: { faults: [{ kind: "stall", afterBytes: 64 * 1024 }] } });
    host.setTask("done", [COMPLETED_TASK]);
    let sent = false;
    let poll: NodeJS.Timeout | undefined;
    const run = await cli(["wait", "done", "--output", path.join(dir, "v.mp4")], { XIEXUS_BASE_URL: host.url }, (stderr, kill) => {
      if (poll !== undefined || !stderr.includes("downloading")) return;
      // The host sends 64 KiB, then stalls: once bytes went out, the temp file surely exists.
      poll = setInterval(() => {
        if (sent || !host.video!.requests.some((r) => r.bytesSent > 0)) return;
        sent = true;
        clearInterval(poll);
        kill(signal);
      }, 20);
    }).finally(() => host.close());
    clearInterval(poll);
    expect(sent).toBe(true);
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(/interrupted\n$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the entry-point check decides, or fails loudly; never silently does nothing", () => {
    const dir = freshDir();
    const self = path.join(ROOT, "src", "cli", "index.ts");
    const denied = (): string => {
      throw Object.assign(new Error("Requires read access to <CWD>, run again with the --allow-read flag"), { name: "NotCapable" });
    };
    expect(isEntryPoint("/any", self, true, denied)).toBe(true);
    expect(isEntryPoint(self, "/other", false, denied)).toBe(false);
    expect(isEntryPoint(undefined, self, undefined, denied)).toBe(false);
    expect(isEntryPoint(self, self, undefined, denied)).toBe(true);
    expect(() => isEntryPoint("/usr/local/bin/xiexus-kling", self, undefined, denied)).toThrow(/cannot tell whether .* --allow-read/);
    // With a working realpath, a symlink to the CLI is the CLI.
    const link = path.join(scratch, `link-${dirs}.ts`);
    symlinkSync(self, link);
    expect(isEntryPoint(link, self, undefined)).toBe(true);
    expect(isEntryPoint(path.join(dir, "nope.js"), self, undefined)).toBe(false);
  });

  it("when the real path cannot be read (Deno without --allow-read), a linked CLI says so and exits 70, not 0", async () => {
    const dir = freshDir();
    // Makes realpathSync fail for calls from src/cli/index.ts only, as Deno's permission check would.
    const preload = path.join(dir, "deny-realpath.mjs");
    writeFileSync(
      preload,
      [
        'import fs from "node:fs";',
        'import { syncBuiltinESMExports } from "node:module";',
        "const real = fs.realpathSync;",
        "fs.realpathSync = function (...args) {",
        '  if (/[\\\\/]src[\\\\/]cli[\\\\/]index\\.ts/.test(new Error().stack?.split("\\n")[2] ?? "")) throw new Error("Requires read access");',
        "  return real.apply(this, args);",
        "};",
        "syncBuiltinESMExports();",
      ].join("\n"),
    );
    const link = path.join(dir, "xiexus-kling.ts");
    symlinkSync(path.join(ROOT, "src", "cli", "index.ts"), link);
    const run = (entry: string) =>
      cliSlot(
        () =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", "tsx", "--import", preload, entry, "--version"], { cwd: ROOT });
            let stdout = "";
            let stderr = "";
            child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
            child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code, stdout, stderr }));
          }),
      );
    const [linked, direct] = await Promise.all([run(link), run(path.join(ROOT, "src", "cli", "index.ts"))]);
    expect(linked.code).toBe(EXIT_CODES.internal);
    expect(linked.stdout).toBe("");
    expect(linked.stderr).toMatch(/^xiexus-kling: cannot tell whether .*xiexus-kling\.ts is this program.*Requires read access/);
    // The plain path still decides without realpath.
    expect(direct.code).toBe(0);
    expect(direct.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  // As for a single wait: the next poll is an hour away, so only the signal ends the batch in time.
  it("Ctrl-C during a batch wait exits 130 at once, with no summary", async ({ onTestFinished }) => {
    let sent = false;
    const run = await cli(
      ["wait", "b-never-2", "b-2", "--interval", "3600"],
      { XIEXUS_BASE_URL: videos.url },
      (stderr, kill) => {
        if (!sent && stderr.includes("b-never-2 queued\n")) {
          sent = true;
          kill("SIGINT");
        }
      },
      killAtTestEnd(onTestFinished),
    );
    expect(sent).toBe(true);
    expect(videos.requests.filter((r) => r.taskId === "b-never-2")).toHaveLength(1);
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(run.stderr).toMatch(/\ninterrupted\n$/);
    expect(run.stderr).not.toContain("completed in");
  });
});
