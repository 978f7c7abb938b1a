// Child process for generate-videos.test.ts: runs a batch of JOBS text2video jobs (keys job-<i>,
// prompts "job <i>: ...") against BASE_URL into OUT, as a user's script would, resuming from the
// journal an earlier (killed) run left. Prints one JSON line per event ({"e": type, ...}) as it
// happens and one per outcome ({"o": true, ...}), then {"done": true}. RECREATE=1 passes
// recreateUnknown. The test kills it with SIGKILL after some line.
import { createKlingClient } from "../../src/index.js";
import { generateVideos, type VideoJob } from "../../src/node/index.js";
import { FAKE_RELAY_API_KEY } from "../../src/testing/index.js";

const { BASE_URL, OUT, JOBS = "50", RECREATE } = process.env;
if (!BASE_URL || !OUT) throw new Error("BASE_URL and OUT are required");

const print = (value: object): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: BASE_URL });
const jobs: VideoJob[] = Array.from({ length: Number(JOBS) }, (_, i) => ({
  key: `job-${i}`,
  model: "kling-v1",
  prompt: `job ${i}: a paper boat on a river`,
  duration: 5,
}));

for await (const outcome of generateVideos(kling, jobs, {
  outputDir: OUT,
  concurrency: 8,
  pollIntervalMs: 40,
  recreateUnknown: RECREATE === "1",
  onUpdate: (event) => {
    const { type, ...rest } = event;
    print({ e: type, ...rest, ...("error" in rest && { error: rest.error.message }) });
  },
})) {
  const { error } = outcome;
  print(error ? { o: true, ...outcome, error: error.name, message: error.message, mayHaveCreatedTask: error.mayHaveCreatedTask } : { o: true, ...outcome });
}
print({ done: true });
