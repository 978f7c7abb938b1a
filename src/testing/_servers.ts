// What the fake relay's two loopback servers (the relay, its video host) do alike: listen and say
// their origin, stop with every connection, and record a request's headers without credentials.
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Headers whose values are recorded as `[redacted]`: a test may show what was sent, never a secret. */
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

/** Listens on `port` (0: any free one) of the loopback `host`; resolves with the port and the origin, e.g. `http://[::1]:41234`. */
export async function listen(server: Server, port: number, host: string): Promise<{ port: number; origin: string }> {
  // `[::1]` is how a URL writes the address node:http listens on as `::1`.
  const listenHost = host === "[::1]" ? "::1" : host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, origin: `http://${listenHost === "::1" ? "[::1]" : host}:${bound}` };
}

/** Stops listening and destroys every connection; resolves when closed. */
export function stop(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Keep-alive and stalled sockets would otherwise hold the process open.
    server.closeAllConnections();
  });
}

/** A request's headers as recorded: lower-case names, credential values `[redacted]`, repeated ones joined. */
export function recordedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const recorded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    recorded[name] = CREDENTIAL_HEADERS.has(name) ? "[redacted]" : Array.isArray(value) ? value.join(", ") : value;
  }
  return recorded;
}
