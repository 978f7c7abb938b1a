// Section 7: hostile bodies. A loopback server (in this process) answers a task request with
// 2 GB of data three ways: a 200, a 404, and a 2 MB gzip body that inflates to 2 GB. Each runs
// getImage2VideoTask in its own child process, watched from here: killed when its RSS passes
// 1.5 GB or after 30 s, and then reported as crashed rather than hanging the bench.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createGzip } from "node:zlib";
import { CACHE, ROOT } from "./paths.js";
import { bundlePath } from "./prepare.js";
import { fmt } from "./stats.js";
import type { Row, SectionResult } from "./table.js";

/** Bytes of each hostile body once inflated: 2 GiB. */
const HOSTILE_BYTES = 2 * 2 ** 30;
/** A child whose RSS passes this is killed and reported as crashed. */
const KILL_RSS_BYTES = 1.5 * 2 ** 30;
/** A child still running after this is killed and reported as crashed. */
const KILL_AFTER_MS = 30_000;
const CHUNK = Buffer.alloc(2 ** 20, 0x20);
const PREFIX = "/kling/v1/videos/image2video/";

interface Case {
  id: string;
  subject: string;
  status: number;
  gzip: boolean;
}

const CASES: readonly Case[] = [
  { id: "huge-200", subject: "(a) 200, 2 GB body (chunked, no length)", status: 200, gzip: false },
  { id: "huge-404", subject: "(b) 404, 2 GB body (chunked, no length)", status: 404, gzip: false },
  { id: "gzip-bomb", subject: "(c) 200, 2 MB gzip inflating to 2 GB", status: 200, gzip: true },
];

/** 2 GiB of spaces, gzipped (about 2 MB); made once (~7 s) and kept in .cache/bench. */
async function gzipBomb(): Promise<Buffer> {
  const file = join(CACHE, "gzip-bomb-2g.gz");
  if (existsSync(file)) return readFileSync(file);
  await mkdir(CACHE, { recursive: true });
  const gzip = createGzip({ level: 6 });
  const parts: Buffer[] = [];
  gzip.on("data", (part: Buffer) => parts.push(part));
  const ended = once(gzip, "end");
  for (let written = 0; written < HOSTILE_BYTES; written += CHUNK.length) {
    if (!gzip.write(CHUNK)) await once(gzip, "drain");
  }
  gzip.end();
  await ended;
  const bomb = Buffer.concat(parts);
  writeFileSync(file, bomb);
  return bomb;
}

/** Streams `total` bytes of spaces, honouring backpressure; stops when the client goes away. */
async function stream(res: http.ServerResponse, total: number): Promise<void> {
  const drainedOrClosed = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  for (let sent = 0; sent < total && !res.destroyed; sent += CHUNK.length) {
    if (!res.write(CHUNK)) await drainedOrClosed();
  }
  if (!res.destroyed) res.end();
}

interface Outcome {
  outcome: string;
  peakAboveBaseline: number;
  ms: number;
}

/** VmRSS and VmHWM (peak) of a process, bytes; undefined once it is gone. */
function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb("VmRSS"), peak: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** Runs the worker against one case, watching its memory; never waits more than ~30 s. */
function runCase(url: string, hostile: Case): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bundlePath("hostile-worker"), url, hostile.id], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = "";
    let peak = 0;
    let killed = "";
    createInterface({ input: child.stdout }).on("line", (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const kill = (why: string): void => {
      if (killed || child.exitCode !== null) return;
      killed = why;
      child.kill("SIGKILL");
    };
    const watch = setInterval(() => {
      const memory = child.pid === undefined ? undefined : memoryOf(child.pid);
      // An exited child (a zombie until reaped) lists no memory lines.
      if (!memory || Number.isNaN(memory.peak)) return;
      peak = Math.max(peak, memory.peak);
      if (memory.rss > KILL_RSS_BYTES) kill(`killed at RSS > ${fmt(KILL_RSS_BYTES / 2 ** 30, 1)} GB`);
    }, 10);
    const timer = setTimeout(() => kill(`killed after ${KILL_AFTER_MS / 1000} s`), KILL_AFTER_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      const ms = performance.now() - started;
      const baseline = Number(lines[0]?.baselineRss ?? Number.NaN);
      const done = lines.find((line) => "outcome" in line);
      if (done && Number.isFinite(done.peakRss)) peak = Math.max(peak, Number(done.peakRss));
      const above = peak - baseline;
      if (killed) resolve({ outcome: `crashed (${killed})`, peakAboveBaseline: above, ms });
      else if (!done) resolve({ outcome: `crashed (exit ${code ?? signal}: ${stderr.trim().split("\n").pop() ?? ""})`, peakAboveBaseline: above, ms });
      else resolve({ outcome: String(done.outcome), peakAboveBaseline: above, ms });
    });
  });
}

/** Runs the section. */
export async function benchHostile(): Promise<SectionResult> {
  const bomb = await gzipBomb();
  const server = http.createServer((req, res) => {
    const id = (req.url ?? "").slice(PREFIX.length);
    const hostile = CASES.find((c) => c.id === id);
    if (!hostile) return void res.writeHead(404).end();
    if (hostile.gzip) {
      res.writeHead(hostile.status, { "content-type": "application/json", "content-encoding": "gzip", "content-length": bomb.length });
      res.end(bomb);
      return;
    }
    res.writeHead(hostile.status, { "content-type": "application/json" });
    void stream(res, HOSTILE_BYTES);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rows: Row[] = [];
  try {
    for (const hostile of CASES) {
      const result = await runCase(url, hostile);
      rows.push({
        section: "8. Hostile body",
        subject: hostile.subject,
        value: `${result.outcome}; peak RSS +${fmt(result.peakAboveBaseline / 2 ** 20, 1)} MB; ${fmt(result.ms / 1000, 1)} s`,
        ratio: "",
        target: "an error, bounded memory",
        status: result.outcome.startsWith("crashed") || result.outcome === "ok" ? "missed" : "met",
      });
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
  return {
    rows,
    notes: [
      `Hostile body: a loopback server in the bench process answers getImage2VideoTask (maxRetries 0, default maxResponseBytes) with ` +
        `${fmt(HOSTILE_BYTES / 2 ** 30)} GiB of spaces (chunked, no Content-Length) as a 200 and as a 404, and with a ${fmt(bomb.length / 1e6, 1)} MB ` +
        "gzip body (Content-Encoding: gzip) inflating to as much. Each call runs in its own child process; the value is the error's class " +
        `and the child's peak RSS (VmHWM) above its RSS before the call (taken after a warm-up call, so loading fetch is not counted). A child whose RSS passes ${fmt(KILL_RSS_BYTES / 2 ** 30, 1)} GB or that runs ` +
        `${KILL_AFTER_MS / 1000} s is killed and reported as crashed.`,
    ],
  };
}
