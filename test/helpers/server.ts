// A scripted loopback HTTP server for the tests: each request takes the next step of the script
// (the last step repeats), and every request is counted. Real sockets, real fetch.
import http from "node:http";
import type { AddressInfo } from "node:net";

/** What one request gets: an answer, or a socket-level fault. */
export type Step =
  | { status: number; body?: string | object; headers?: Record<string, string> }
  | { fault: "reset" }
  | { fault: "hang" }
  | { fault: "truncate"; status?: number; body: string };

/** A running scripted server. */
export interface ScriptedServer {
  url: string;
  /** Requests received so far, with the headers they carried. */
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 that answers with `steps` in order. */
export async function startServer(steps: Step[]): Promise<ScriptedServer> {
  const requests: ScriptedServer["requests"] = [];
  const server = http.createServer((req, res) => {
    const step = steps[Math.min(requests.length, steps.length - 1)]!;
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    if ("fault" in step) {
      if (step.fault === "reset") req.socket.destroy();
      if (step.fault === "truncate") {
        res.writeHead(step.status ?? 200, { "content-type": "application/json", "content-length": String(step.body.length + 50) });
        res.write(step.body);
        setTimeout(() => req.socket.destroy(), 10);
      }
      return; // "hang": never answer
    }
    const body = typeof step.body === "string" ? step.body : step.body === undefined ? "" : JSON.stringify(step.body);
    const type = typeof step.body === "string" ? "text/html" : "application/json";
    res.writeHead(step.status, { "content-type": type, ...step.headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port with nothing listening on it (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
