// Section "per create", client side (run as .cache/bench/create-requests-worker.mjs with --expose-gc):
// `node create-requests-worker.mjs <baseUrl> <rounds> <requestsPerRound> <warmup>`.
// The same protocol as requests-worker.ts, for a text2video create (a small JSON body, no image):
// each client makes <warmup> creates, then every round runs each client for N sequential creates
// (the order rotates per round); prints `{ clients, rounds: µs per request [round][client] }`.
import createClient from "openapi-fetch";
import type { paths } from "../../generated/relay.js";
import { createKlingClient } from "../../src/index.js";
import { measureRounds, type Call } from "./rounds.js";


const [baseUrl, roundsArg, perRoundArg, warmupArg] = process.argv.slice(2);
if (!baseUrl || !roundsArg || !perRoundArg || !warmupArg) throw new Error("usage: create-requests-worker <url> <rounds> <n> <warmup>");
const rounds = Number(roundsArg);
const perRound = Number(perRoundArg);
const warmup = Number(warmupArg);

const API_KEY = "sk-bench";
const CREATE_PATH = "/kling/v1/videos/text2video";
const createUrl = `${baseUrl}${CREATE_PATH}`;
const authorization = `Bearer ${API_KEY}`;
const REQUEST = { model: "kling-v1", prompt: "A red fox trots through fresh snow at dawn, slow camera pan", duration: 5 };

const bare = createClient<paths>({ baseUrl });
bare.use({
  onRequest({ request }) {
    request.headers.set("Authorization", authorization);
  },
});
const kling = createKlingClient({ apiKey: API_KEY, baseUrl });

function taskIdOf(body: unknown): unknown {
  return (body as { task_id?: unknown } | undefined)?.task_id;
}

const clients: ReadonlyArray<readonly [string, Call]> = [
  [
    "fetch",
    async () => {
      const response = await fetch(createUrl, {
        method: "POST",
        headers: { Authorization: authorization, "Content-Type": "application/json" },
        body: JSON.stringify(REQUEST),
      });
      if (!response.ok) throw new Error(`fetch: HTTP ${response.status}`);
      return (await response.json()) as unknown;
    },
  ],
  [
    "openapi-fetch",
    async () => {
      const { data, error } = await bare.POST(CREATE_PATH, { body: REQUEST });
      if (error !== undefined) throw new Error("openapi-fetch: error answer");
      return data;
    },
  ],
  [
    "kling.POST",
    async () => {
      const { data, error } = await kling.POST(CREATE_PATH, { body: REQUEST });
      if (error !== undefined) throw new Error("kling.POST: error answer");
      return data;
    },
  ],
  ["kling.createText2VideoTask", () => kling.createText2VideoTask(REQUEST)],
];

await measureRounds(clients, { rounds, perRound, warmup }, (name, answer) => {
  const id = taskIdOf(answer);
  if (typeof id !== "string" || id === "") throw new Error(`${name} read no task_id`);
});
