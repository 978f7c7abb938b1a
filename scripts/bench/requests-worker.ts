// Section 1, client side (run as .cache/bench/requests-worker.mjs with --expose-gc):
// `node requests-worker.mjs <baseUrl> <rounds> <requestsPerRound> <warmup>`.
// Each client makes <warmup> requests, then every round runs each client for N sequential
// requests (the order rotates per round); prints `{ clients, rounds: µs per request [round][client] }`.
import axios from "axios";
import ky from "ky";
import createClient from "openapi-fetch";
import type { paths } from "../../generated/relay.js";
import { createKlingClient } from "../../src/index.js";
import { nodeHttpGet } from "../../src/node/index.js";
import { measureRounds, type Call } from "./rounds.js";


const [baseUrl, roundsArg, perRoundArg, warmupArg] = process.argv.slice(2);
if (!baseUrl || !roundsArg || !perRoundArg || !warmupArg) throw new Error("usage: requests-worker <url> <rounds> <n> <warmup>");
const rounds = Number(roundsArg);
const perRound = Number(perRoundArg);
const warmup = Number(warmupArg);

const API_KEY = "sk-bench";
const TASK_ID = "kling-8f3a2c1e-5b7d-4e90-a6c2-1d4f9e0b7a35";
const taskUrl = `${baseUrl}/kling/v1/videos/image2video/${TASK_ID}`;
const authorization = `Bearer ${API_KEY}`;
const TASK_PATH = "/kling/v1/videos/image2video/{task_id}";

const bare = createClient<paths>({ baseUrl });
bare.use({
  onRequest({ request }) {
    request.headers.set("Authorization", authorization);
  },
});
const kling = createKlingClient({ apiKey: API_KEY, baseUrl });
const klingOverHttp = createKlingClient({ apiKey: API_KEY, baseUrl, httpGet: nodeHttpGet });

function statusOf(body: unknown): unknown {
  return (body as { status?: unknown } | undefined)?.status;
}

const clients: ReadonlyArray<readonly [string, Call]> = [
  [
    "fetch",
    async () => {
      const response = await fetch(taskUrl, { headers: { Authorization: authorization } });
      if (!response.ok) throw new Error(`fetch: HTTP ${response.status}`);
      return (await response.json()) as unknown;
    },
  ],
  [
    "openapi-fetch",
    async () => {
      const { data, error } = await bare.GET(TASK_PATH, { params: { path: { task_id: TASK_ID } } });
      if (error !== undefined) throw new Error("openapi-fetch: error answer");
      return data;
    },
  ],
  ["ky", () => ky.get(taskUrl, { headers: { Authorization: authorization } }).json<unknown>()],
  ["axios", async () => (await axios.get<unknown>(taskUrl, { headers: { Authorization: authorization } })).data],
  [
    "kling.GET",
    async () => {
      const { data, error } = await kling.GET(TASK_PATH, { params: { path: { task_id: TASK_ID } } });
      if (error !== undefined) throw new Error("kling.GET: error answer");
      return data;
    },
  ],
  ["kling.getImage2VideoTask", () => kling.getImage2VideoTask(TASK_ID)],
  ["kling.getImage2VideoTask (httpGet: nodeHttpGet)", () => klingOverHttp.getImage2VideoTask(TASK_ID)],
];

await measureRounds(clients, { rounds, perRound, warmup }, (name, answer) => {
  const status = statusOf(answer);
  if (status !== "completed") throw new Error(`${name} read status ${String(status)}, not completed`);
});
