// Child process for wait.test.ts: awaits waitForImage2VideoTask against BASE_URL, then reports the
// resources still keeping its event loop alive (stdout aside) and exits by itself.
// LEAK=1 leaves a timer behind, to prove the check notices one.
import { createKlingClient } from "../../src/index.js";

const kling = createKlingClient({ apiKey: "sk-child", baseUrl: process.env.BASE_URL });
await kling.waitForImage2VideoTask("t1", { pollIntervalMs: 50 });
if (process.env.LEAK) setTimeout(() => {}, 1500);
// Let closed sockets finish closing before looking.
setImmediate(() => {
  const alive = process.getActiveResourcesInfo().filter((r) => r !== "PipeWrap" && r !== "TTYWrap");
  process.stdout.write(`${JSON.stringify(alive)}\n`);
});
