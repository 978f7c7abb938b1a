// Section 1: per-request overhead against the loopback server (its own process), clients in
// another process; µs per request and the ratio to raw fetch, medians over rounds.
import { BUDGETS, verdict } from "./budgets.js";
import { lastJson, runNode, startServer } from "./child.js";
import { bundlePath } from "./prepare.js";
import { fmt, fmtRatio, median } from "./stats.js";
import type { Row, SectionResult, Settings } from "./table.js";

/** Runs the section: starts the server, runs the worker, turns rounds into rows. */
/** The task helper with `httpGet: nodeHttpGet`, as the worker names it. */
const HTTP_GET_CLIENT = "kling.getImage2VideoTask (httpGet: nodeHttpGet)";

export async function benchRequests(settings: Settings): Promise<SectionResult> {
  const { rounds, perRound, warmup } = settings.requests;
  const server = await startServer();
  let clients: string[];
  let table: number[][];
  try {
    const args = ["--expose-gc", bundlePath("requests-worker"), server.url, String(rounds), String(perRound), String(warmup)];
    ({ clients, rounds: table } = lastJson<{ clients: string[]; rounds: number[][] }>(await runNode(args)));
  } finally {
    await server.stop();
  }
  const base = clients.indexOf("fetch");
  const micros = clients.map((_, i) => median(table.map((round) => round[i]!)));
  // Ratios are paired within a round (same moment, same machine load), then the median is taken.
  const ratios = clients.map((_, i) => median(table.map((round) => round[i]! / round[base]!)));
  const bare = clients.indexOf("openapi-fetch");
  // What we add over bare openapi-fetch, in raw-fetch round trips: paired within a round too.
  const overBare = clients.map((_, i) => median(table.map((round) => (round[i]! - round[bare]!) / round[base]!)));
  const rows = clients.map((name, i): Row => {
    // The target is the task helper's; the raw GET is shown against it without a verdict.
    const judged = name.startsWith("kling.getImage2VideoTask");
    const over = `${overBare[i]! < 0 ? "" : "+"}${overBare[i]!.toFixed(2)}x`;
    return {
      section: "1. Per request",
      subject: name === "fetch" ? "raw fetch (baseline)" : name,
      value: `${fmt(micros[i]!, 1)} µs`,
      ratio: fmtRatio(ratios[i]!),
      target: judged
        ? `openapi-fetch +${BUDGETS.requestOverOpenapiFetch.toFixed(2)}x (here ${over})`
        : name.startsWith("kling.")
          ? `none (openapi-fetch ${over})`
          : "",
      status: judged ? verdict(overBare[i]! <= BUDGETS.requestOverOpenapiFetch) : "",
    };
  });
  const added = (name: string): string => fmt(micros[clients.indexOf(name)]! - micros[base]!, 0);
  return {
    rows,
    notes: [
      `Per request: ${rounds} rounds of ${perRound} sequential keep-alive requests per client after ${warmup} warm-up requests each; ` +
        "client order rotates per round, GC runs before each batch; the ratio is the median of per-round ratios. " +
        "Server and clients are separate processes. Every client sends the Bearer header and parses the JSON body. " +
        `Over raw fetch, openapi-fetch adds ${added("openapi-fetch")} µs, kling.GET ${added("kling.GET")} µs, ` +
        `getImage2VideoTask ${added("kling.getImage2VideoTask")} µs and getImage2VideoTask over nodeHttpGet ` +
        `${added(HTTP_GET_CLIENT)} µs per request (Node's http module is cheaper than its fetch, so that one is negative).`,
    ],
  };
}
