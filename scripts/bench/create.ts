// Sections 10 and 11: creates. (10) Peak RSS of one image2video create from a 10 MiB PNG, in a
// fresh child process per run, createImage2VideoTask against the fetch a user writes by hand.
// (11) Per-create overhead of createText2VideoTask over a bare openapi-fetch POST, the way
// section 1 measures a task GET. The loopback server runs in this process (the clients never
// share its event loop or heap): it reads every body whole, checks it is the JSON sent (for the
// large image: the exact base64 of the file, byte count included) and answers the create fixture.
// Run alone: `npx tsx scripts/bench/create.ts [--quick] [--write | --memory]` (--write puts the two
// sections' table into BENCHMARKS.md under its own heading, leaving the rest of the file as it is;
// --memory runs section 10 alone and only prints it).
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { IMAGE_RULES } from "../../src/image.js";
import { makePng } from "../../test/helpers/images.js";
import { BUDGETS, verdict } from "./budgets.js";
import { lastJson, runNode } from "./child.js";
import { CACHE, ROOT } from "./paths.js";
import { bundlePath, prepare } from "./prepare.js";
import { fmt, fmtRatio, max, median } from "./stats.js";
import { renderTable, type Row, type SectionResult, type Settings } from "./table.js";

const CREATED = (JSON.parse(readFileSync(join(ROOT, "test/fixtures/create-200.json"), "utf8")) as { body: Record<string, unknown> }).body;
const CREATED_TEXT = JSON.stringify(CREATED);
const CREATE_PATHS = new Set(["/kling/v1/videos/image2video", "/kling/v1/videos/text2video"]);
const MB = 2 ** 20;

/** What the server saw of one large create. */
interface Received {
  bytes: number;
  /** The body parsed, its image was the file's base64 exactly, and its byte count was that JSON's. */
  exact: boolean;
}

/** A loopback create server; `large` is the base64 it expects for the large image. */
interface CreateServer {
  url: string;
  /** Large creates seen, in order. */
  received: Received[];
  /** Bodies that were not valid create JSON (should stay 0). */
  bad: number;
  close(): Promise<void>;
}

function startCreateServer(large: string | undefined): Promise<CreateServer> {
  const state: CreateServer = { url: "", received: [], bad: 0, close: async () => {} };
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const answer = (status: number, text: string): void => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return void answer(401, '{"error":"unauthorized"}');
    if (req.method !== "POST" || !CREATE_PATHS.has(req.url ?? "")) return void answer(404, '{"error":"not found"}');
    const parts: Buffer[] = [];
    let bytes = 0;
    req.on("data", (part: Buffer) => {
      parts.push(part);
      bytes += part.length;
    });
    req.on("end", () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts, bytes).toString("utf8")) as Record<string, unknown>;
      } catch {
        state.bad++;
        return answer(400, '{"error":{"message":"invalid JSON","type":"invalid_request_error"}}');
      }
      if (typeof body.model !== "string" || typeof body.prompt !== "string") {
        state.bad++;
        return answer(400, '{"error":{"message":"model and prompt required","type":"invalid_request_error"}}');
      }
      if (large !== undefined && typeof body.image === "string" && body.image.length === large.length) {
        const { image, ...fields } = body;
        // Same byte count as the JSON of these fields with this image, in whatever key order.
        const expected = Buffer.byteLength(JSON.stringify({ image: large, ...fields }));
        state.received.push({ bytes, exact: image === large && bytes === expected });
      }
      answer(200, CREATED_TEXT);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      state.close = () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve(state);
    });
  });
}

/** One measured create, as create-worker.ts prints it. */
interface MemoryReport {
  mode: "kling" | "naive";
  source: "bytes" | "file" | "open";
  imageBytes: number;
  ms: number;
  baselineMb: number;
  sampledPeakOverMb: number;
  hwmOverMb: number | null;
  peakOverMb: number;
  lowUnderMb: number;
}

const VARIANTS = [
  { mode: "kling", source: "bytes", subject: "createImage2VideoTask, bytes already in memory" },
  { mode: "naive", source: "bytes", subject: "hand-written fetch + JSON.stringify + base64, bytes already in memory" },
  { mode: "kling", source: "file", subject: "readImageFile + createImage2VideoTask, from the file" },
  { mode: "naive", source: "file", subject: "readFile + hand-written fetch, from the file" },
  { mode: "kling", source: "open", subject: "openImageFile (xiexus-kling/node) + createImage2VideoTask, streamed from the file" },
] as const;

/** The target of each judged variant, MB of peak RSS over the baseline (the others are compared, not judged). */
function targetMb(variant: (typeof VARIANTS)[number]): number | undefined {
  if (variant.mode !== "kling") return undefined;
  if (variant.source === "bytes") return BUDGETS.createPeakRssMb;
  if (variant.source === "open") return BUDGETS.createFromFilePeakRssMb;
  return undefined;
}

/** The large image, the warm-up image and its base64; written to .cache/bench once per run. */
async function images(): Promise<{ large: string; warm: string; base64: string; size: number }> {
  await mkdir(CACHE, { recursive: true });
  const size = IMAGE_RULES.maxBytes;
  const png = makePng(1280, 720, { size });
  const large = join(CACHE, "create-10mib.png");
  const warm = join(CACHE, "create-warm.png");
  await writeFile(large, png);
  await writeFile(warm, makePng(400, 400));
  return { large, warm, base64: png.toString("base64"), size };
}

/** Section 10: peak RSS of a create from a 10 MiB image, `runs` fresh processes per variant, rotated. */
export async function benchCreateMemory(settings: Settings): Promise<SectionResult> {
  const runs = settings.quick ? 2 : 5;
  await prepare(["create-worker"]);
  const image = await images();
  const server = await startCreateServer(image.base64);
  const reports = VARIANTS.map((): MemoryReport[] => []);
  try {
    for (let run = 0; run < runs; run++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const i = (k + run) % VARIANTS.length;
        const { mode, source } = VARIANTS[i]!;
        const seen = server.received.length;
        const args = ["--expose-gc", bundlePath("create-worker"), mode, source, server.url, image.large, image.warm];
        const report = lastJson<MemoryReport>(await runNode(args));
        const got = server.received.slice(seen);
        if (got.length !== 1 || !got[0]!.exact) throw new Error(`${mode}/${source}: the server did not receive the exact body (${JSON.stringify(got)})`);
        reports[i]!.push(report);
      }
    }
  } finally {
    await server.close();
  }
  if (server.bad > 0) throw new Error(`the create server refused ${server.bad} bodies`);
  const over = (i: number): number[] => reports[i]!.map((r) => r.peakOverMb);
  const naiveMedian = median(over(1));
  const naiveFileMedian = median(over(3));
  const section = `10. Create, ${fmt(image.size / MB)} MiB image`;
  const rows = VARIANTS.map((variant, i): Row => {
    const values = over(i);
    const target = targetMb(variant);
    const baseline = variant.source === "bytes" ? naiveMedian : naiveFileMedian;
    return {
      section,
      subject: `peak RSS over baseline: ${variant.subject}`,
      value: `median +${fmt(median(values), 1)} MB, max +${fmt(max(values), 1)} MB (${fmt(median(reports[i]!.map((r) => r.ms)))} ms)`,
      ratio: variant.mode === "naive" ? "1.00x" : fmtRatio(median(values) / baseline),
      target: target === undefined ? "" : `<= +${target} MB (max of ${runs})`,
      status: target === undefined ? "" : verdict(max(values) <= target),
    };
  });
  const baselineMb = median(reports[0]!.map((r) => r.baselineMb));
  const lowUnder = max(reports.flat().map((r) => r.lowUnderMb));
  return {
    rows,
    notes: [
      `Create from a ${fmt(image.size / MB)} MiB PNG (${fmt(image.size)} bytes, the largest Kling takes; base64 ` +
        `${fmt(image.base64.length / MB, 1)} MiB): one image2video create per fresh child process (\`node --expose-gc\` on a bundle), ` +
        `${runs} runs per variant in rotation, median and max. Each child first makes two creates of a small PNG by the ` +
        "same path (fetch, undici and our code loaded), forces GC, then takes its baseline RSS " +
        `(median ${fmt(baselineMb, 1)} MB for createImage2VideoTask). "Bytes already in memory": the file was read before the ` +
        'baseline, so its 10 MiB are not counted; "from the file": reading it is part of the measured create; "streamed from the ' +
        'file": openImageFile (a Blob backed by the file, checked from its header and size) is called inside the measured part and ' +
        "the create reads the file as it sends (its warm-up creates open the small PNG the same way). Peak is the larger " +
        "of rss() sampled every 1 ms and VmHWM, reset at the baseline via /proc/self/clear_refs (a synchronous JSON.stringify " +
        "starves the sampler; VmHWM still sees it). The baseline is taken once RSS has settled (GC every 100 ms until it " +
        `moves less than 0.25 MB); RSS fell at most ${fmt(lowUnder, 1)} MB below it during any run. The hand-written path is \`fetch\` with ` +
        '`JSON.stringify({ ...req, image: Buffer.from(bytes).toString("base64") })`. The loopback server (the bench process) ' +
        "reads each body whole and checks it is the file's exact base64 in JSON of the expected byte count.",
    ],
  };
}

/** Section 11: per-create time over bare openapi-fetch, in raw-fetch round trips, as section 1 does for a GET. */
export async function benchCreateRequests(settings: Settings): Promise<SectionResult> {
  const { rounds, perRound, warmup } = settings.requests;
  await prepare(["create-requests-worker"]);
  const server = await startCreateServer(undefined);
  let clients: string[];
  let table: number[][];
  try {
    const args = ["--expose-gc", bundlePath("create-requests-worker"), server.url, String(rounds), String(perRound), String(warmup)];
    ({ clients, rounds: table } = lastJson<{ clients: string[]; rounds: number[][] }>(await runNode(args)));
  } finally {
    await server.close();
  }
  if (server.bad > 0) throw new Error(`the create server refused ${server.bad} bodies`);
  const base = clients.indexOf("fetch");
  const bare = clients.indexOf("openapi-fetch");
  const micros = clients.map((_, i) => median(table.map((round) => round[i]!)));
  const ratios = clients.map((_, i) => median(table.map((round) => round[i]! / round[base]!)));
  // Paired within a round (same moment, same load), then the median: what we add over bare openapi-fetch.
  const overBare = clients.map((_, i) => median(table.map((round) => (round[i]! - round[bare]!) / round[base]!)));
  const rows = clients.map((name, i): Row => {
    const judged = name === "kling.createText2VideoTask";
    const over = `${overBare[i]! < 0 ? "" : "+"}${overBare[i]!.toFixed(2)}x`;
    return {
      section: "11. Per create",
      subject: name === "fetch" ? "raw fetch POST (baseline)" : name === "openapi-fetch" ? "openapi-fetch POST (Bearer middleware)" : name,
      value: `${fmt(micros[i]!, 1)} µs`,
      ratio: fmtRatio(ratios[i]!),
      target: judged
        ? `openapi-fetch +${BUDGETS.createOverOpenapiFetch.toFixed(2)}x (here ${over})`
        : name.startsWith("kling.")
          ? `none (openapi-fetch ${over})`
          : "",
      status: judged ? verdict(overBare[i]! <= BUDGETS.createOverOpenapiFetch) : "",
    };
  });
  const added = (name: string): string => fmt(micros[clients.indexOf(name)]! - micros[base]!, 0);
  return {
    rows,
    notes: [
      `Per create: text2video creates (model, prompt, duration; no image), ${rounds} rounds of ${perRound} sequential keep-alive ` +
        `creates per client after ${warmup} warm-up creates each, as in Per request (order rotated per round, GC before each ` +
        "batch, ratios paired within a round, then the median). The server reads and parses every body. Over raw fetch, " +
        `openapi-fetch adds ${added("openapi-fetch")} µs, kling.POST ${added("kling.POST")} µs and createText2VideoTask ` +
        `${added("kling.createText2VideoTask")} µs per create (createText2VideoTask checks the request against Kling's rules ` +
        "and the spec's schema, and the answer against the spec, before returning).",
    ],
  };
}

const BEGIN = "<!-- create sections: begin -->";
const END = "<!-- create sections: end -->";

/** Runs sections 10 and 11 alone; `--write` replaces (or appends) their block in BENCHMARKS.md. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, write: { type: "boolean", default: false }, memory: { type: "boolean", default: false } },
  });
  if (values.memory && values.write) throw new Error("--memory prints section 10 alone; --write needs both sections");
  const settings: Settings = {
    quick: values.quick ?? false,
    requests: values.quick ? { rounds: 3, perRound: 100, warmup: 50 } : { rounds: 9, perRound: 400, warmup: 300 },
    importSpawns: 0,
    typecheckRounds: 0,
    codegen: { sizes: [], rounds: () => 0 },
    waits: { tasks: 0, spreadMs: 0, pollIntervalMs: 0 },
  };
  const sections = [await benchCreateMemory(settings), ...(values.memory ? [] : [await benchCreateRequests(settings)])];
  const table = renderTable(sections.flatMap((s) => s.rows));
  const notes = sections.flatMap((s) => s.notes.map((n) => `- ${n}`));
  console.log(`${table}\n\n${notes.join("\n")}`);
  if (!values.write) return;
  const command = `npx tsx scripts/bench/create.ts${values.quick ? " --quick" : ""} --write`;
  const block = [
    BEGIN,
    "## Creates (sections 10 and 11, run on their own)",
    "",
    `Written by \`${command}\` on Node ${process.version}, ${new Date().toISOString()}; the next full \`npm run bench\` puts these rows in the table above.`,
    "",
    table,
    "",
    ...notes,
    END,
  ].join("\n");
  const file = join(ROOT, "BENCHMARKS.md");
  const doc = readFileSync(file, "utf8");
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  const next = start >= 0 && end > start ? doc.slice(0, start) + block + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n${block}\n`;
  await writeFile(file, next);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
