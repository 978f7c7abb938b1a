// Child process for wait-many.test.ts: starts a batch wait against BASE_URL (tasks that never
// finish), breaks out of the loop after the first settled outcome... which never comes, so it
// breaks on the first onUpdate instead, then reports the resources still keeping its event loop
// alive (stdout aside). LEAK=1 leaves a timer behind, to prove the check notices one.
import { createKlingClient } from "../../src/index.js";
import { waitForMany } from "../../src/wait-many.js";

const kling = createKlingClient({ apiKey: "sk-child", baseUrl: process.env.BASE_URL });
const ids = Array.from({ length: 20 }, (_, i) => `child-${i}`);
let updates = 0;
const iterable = waitForMany(ids, (id, signal) => kling.getImage2VideoTask(id, { signal }), {
  concurrency: 4,
  pollIntervalMs: 50,
  onUpdate: () => {
    // Once a few answers came back (others are in flight), walk away mid-batch.
    if (++updates === 6) void iterable.return?.();
  },
});
for await (const outcome of iterable) throw new Error(`unexpected outcome for ${outcome.taskId}`);
if (process.env.LEAK) setTimeout(() => {}, 1500);
// Let aborted sockets finish closing before looking (from an Immediate: a timer's own callback counts it as alive).
setTimeout(() => {
  setImmediate(() => {
    const alive = process.getActiveResourcesInfo().filter((r) => r !== "PipeWrap" && r !== "TTYWrap");
    process.stdout.write(`${JSON.stringify(alive)}\n`);
  });
}, 100);
