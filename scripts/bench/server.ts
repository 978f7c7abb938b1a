// The loopback relay the bench measures against, run in its own process (bundled to
// .cache/bench/server.mjs) so it never shares an event loop or a heap with the clients.
// GET /kling/v1/videos/image2video/<id> answers the task-completed fixture with its headers.
// An id `t-<n>-<epochMs>` is a timed task: in_progress before that instant, completed from it on,
// so the flip time is exact and needs no coordination with the client process.
// Requests without `Authorization: Bearer …` get a 401, so every client is checked to send one.
// Prints `{"url": …}` on stdout once listening; exits when stdin closes or on SIGTERM.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";

interface Fixture {
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const fixturePath = process.argv[2];
if (!fixturePath) throw new Error("usage: server.mjs <fixture.json>");
const fixture = JSON.parse(readFileSync(fixturePath, "utf8")) as Fixture;
const PREFIX = "/kling/v1/videos/image2video/";
const TIMED = /^t-\d+-(\d+)$/;
const completedText = JSON.stringify(fixture.body);

function answer(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...fixture.headers, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const url = req.url ?? "";
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return answer(res, 401, '{"error":"unauthorized"}');
  if (req.method !== "GET" || !url.startsWith(PREFIX)) return answer(res, 404, '{"error":"not found"}');
  const id = decodeURIComponent(url.slice(PREFIX.length));
  const timed = TIMED.exec(id);
  if (!timed) return answer(res, 200, completedText);
  const done = Date.now() >= Number(timed[1]);
  const body = done ? { ...fixture.body, task_id: id } : { task_id: id, status: "in_progress", format: "mp4" };
  answer(res, 200, JSON.stringify(body));
});
// Backlog large enough for the 1,000-connection burst of the waits section.
server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

function stop(): void {
  server.closeAllConnections();
  server.close();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
