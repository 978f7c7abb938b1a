// The program the Bun and Deno cells (and the Node cells' creates) run, copied next to the
// installed package so that "xiexus-kling" resolves as in a user's project. Prints one JSON line.
//   main.mjs checks <baseUrl> <apiKey> <cell>  every check of checks.js
//   main.mjs creates <baseUrl> <apiKey> <cell> the create checks of checks.js only
//   main.mjs default                           createKlingClient({ apiKey }) with the default base URL (no request)
//   main.mjs env <cell>                        createKlingClient() from XIEXUS_API_KEY / XIEXUS_BASE_URL, one request
//   main.mjs fake                              createFakeRelay() and a wait on its demo task, in this process
//   main.mjs relay                             createFakeRelay(), print its URL, keep serving until killed
import * as kling from "xiexus-kling";
import { createFakeRelay, DEMO_TASK_ID, FAKE_RELAY_API_KEY } from "xiexus-kling/testing";
import { describeError, runChecks, runCreateChecks } from "./checks.js";

const [mode, ...rest] = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const print = (value) => console.log(JSON.stringify(value));

if (mode === "checks") {
  const [baseUrl, apiKey, cell] = rest;
  print(await runChecks(kling, { baseUrl, apiKey, cell }));
} else if (mode === "creates") {
  const [baseUrl, apiKey, cell] = rest;
  print(await runCreateChecks(kling, { baseUrl, apiKey, cell }));
} else if (mode === "default") {
  try {
    kling.createKlingClient({ apiKey: "sk-runtime-default" });
    print({ created: true });
  } catch (error) {
    print({ created: false, error: describeError(kling, error) });
  }
} else if (mode === "env") {
  try {
    const task = await kling.createKlingClient({ maxRetries: 0 }).getImage2VideoTask(`${rest[0]}-env`);
    print({ status: task.status });
  } catch (error) {
    print({ error: describeError(kling, error) });
  }
} else if (mode === "fake") {
  const relay = await createFakeRelay();
  try {
    const client = kling.createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url });
    const updates = [];
    const task = await client.waitForImage2VideoTask(DEMO_TASK_ID, { pollIntervalMs: 5, onUpdate: (t) => updates.push(t.status) });
    print({ status: task.status, updates, requests: relay.requests.length });
  } finally {
    await relay.close();
  }
} else if (mode === "relay") {
  const relay = await createFakeRelay();
  print({ url: relay.url, apiKey: FAKE_RELAY_API_KEY, taskId: DEMO_TASK_ID });
} else {
  throw new Error(`unknown mode ${mode}`);
}
