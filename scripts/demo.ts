// npm run demo: the CLI waiting for a task and downloading its video, fully offline. A fake relay
// (xiexus-kling/testing) on loopback plays a task that goes queued -> in_progress -> completed in
// about 3 s, and serves the video from a second loopback origin (a stand-in for the CDN); the real
// CLI polls it once a second, shows the live progress, then writes the video to a temp directory.
import { spawn } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  COMPLETED_TASK,
  createFakeRelay,
  DEMO_TASK_ID,
  IN_PROGRESS_TASK,
  QUEUED_TASK,
} from "../src/testing/index.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "src", "cli", "index.ts");

// One poll per second: queued at 0 s, in_progress at 1 s and 2 s, completed at 3 s.
const relay = await createFakeRelay({
  tasks: { [DEMO_TASK_ID]: [QUEUED_TASK, IN_PROGRESS_TASK, IN_PROGRESS_TASK, COMPLETED_TASK] },
  video: true,
});
// A fresh temp directory: nothing lands in the working tree, and a second run never meets the first's file.
const output = path.join(mkdtempSync(path.join(tmpdir(), "xiexus-kling-demo-")), "demo.mp4");

process.stdout.write(
  [
    "xiexus-kling demo (offline: nothing leaves this machine)",
    `  fake relay:  ${relay.url}  (xiexus-kling/testing; scripted queued -> in_progress -> completed in ~3 s)`,
    `  video host:  ${relay.video!.origin}  (the completed task's url points here)`,
    `  running:     XIEXUS_API_KEY=${relay.apiKey} XIEXUS_BASE_URL=${relay.url} \\`,
    `                 xiexus-kling wait ${DEMO_TASK_ID} --interval 1 --output ${output}`,
    "",
    "",
  ].join("\n"),
);

const child = spawn(process.execPath, ["--import", "tsx", CLI, "wait", DEMO_TASK_ID, "--interval", "1", "--output", output], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, XIEXUS_API_KEY: relay.apiKey, XIEXUS_BASE_URL: relay.url },
});
// Ctrl-C reaches the CLI too (same process group); the demo waits for it to report and exit.
process.on("SIGINT", () => {});

const code = await new Promise<number>((resolve) => {
  child.on("error", (error) => {
    process.stderr.write(`demo: could not start the CLI: ${error.message}\n`);
    resolve(1);
  });
  child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal === "SIGINT" ? 130 : 1)));
});
await relay.close();
if (code === 0) {
  const { size } = statSync(output);
  process.stdout.write(`\ndemo: the video is at ${output} (${size.toLocaleString("en-US")} bytes)\n`);
}
process.exit(code);
