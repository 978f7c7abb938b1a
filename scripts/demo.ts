// npm run demo: from an image file to a video file with the CLI, fully offline. It writes a small
// valid PNG (fakePng, xiexus-kling/testing) to a temp directory, starts a fake relay on loopback
// whose created tasks go queued -> in_progress -> completed in about 3 s and whose videos are served
// from a second loopback origin (a stand-in for the CDN), then runs the real CLI's `generate`:
// create, wait with the live progress (polled once a second), download with progress.
import { spawn } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { shellWord } from "../src/cli/_create-request.js";
import { createFakeRelay, fakePng } from "../src/testing/index.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const CLI = path.join(ROOT, "src", "cli", "index.ts");

// One poll per second: queued at 0 s, in_progress at 1 s and 2 s, completed at 3 s.
const relay = await createFakeRelay({ createdTasks: { runningPolls: 3 }, video: true });
// A fresh temp directory: nothing lands in the working tree, and a second run never meets the first's files.
const dir = mkdtempSync(path.join(tmpdir(), "xiexus-kling-demo-"));
const image = path.join(dir, "cat.png");
const png = fakePng(640, 360);
writeFileSync(image, png);
const output = path.join(dir, "demo.mp4");
const args = ["generate", "--image", image, "--prompt", "a cat turns its head", "--output", output, "--interval", "1"];

process.stdout.write(
  [
    "xiexus-kling demo (offline: nothing leaves this machine)",
    `  image:       ${image}  (640x360 PNG, ${png.length.toLocaleString("en-US")} bytes, from fakePng)`,
    `  fake relay:  ${relay.url}  (xiexus-kling/testing; a created task runs queued -> in_progress -> completed in ~3 s)`,
    `  video host:  ${relay.video!.origin}  (the completed task's url points here)`,
    `  running:     XIEXUS_API_KEY=${relay.apiKey} XIEXUS_BASE_URL=${relay.url} \\`,
    `                 xiexus-kling ${args.map(shellWord).join(" ")}`,
    "",
    "",
  ].join("\n"),
);

const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
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
