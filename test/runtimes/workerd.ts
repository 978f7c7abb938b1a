// One workerd process for the workerd cells: a checks worker per compatibility date (each with
// `globalOutbound` set to a network service that may reach loopback), one without that setting
// (workerd's default "internet" service refuses 127.0.0.1), and the key-adding proxy example.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { ROOT } from "../consumer/exec.js";
import { background, waitForPort, type Background } from "./hosts.js";

/** The compatibility dates the matrix runs the checks worker at. */
export const COMPATIBILITY_DATES = ["2024-09-23", "2026-11-01"] as const;

/** What `startWorkerd` is given. */
export interface WorkerdSetup {
  binary: string;
  /** A scratch folder for the config and the modules it embeds. */
  dir: string;
  /** The browser bundle of the main entry. */
  bundle: string;
  relayUrl: string;
  apiKey: string;
  /** The origin the proxy lets read its answers (the browser page's). */
  allowedOrigin: string;
}

/** A running workerd and the URL of each of its services. */
export interface Workerd {
  /** Checks worker by compatibility date, with globalOutbound. */
  checks: Record<(typeof COMPATIBILITY_DATES)[number], string>;
  /** Checks worker without globalOutbound. */
  noOutbound: string;
  /** The proxy example. */
  proxy: string;
  process: Background;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

const capnpString = (value: string): string => JSON.stringify(value);

/** The workerd config: the part a README can show is the `loopback` service and `globalOutbound`. */
export function workerdConfig(setup: WorkerdSetup, ports: Record<string, number>): string {
  const checksWorker = (date: string, outbound: boolean) => `(
      modules = [
        (name = "worker.js", esModule = embed "worker.js"),
        (name = "kling.mjs", esModule = embed "kling.mjs"),
        (name = "checks.js", esModule = embed "checks.js"),
      ],
      compatibilityDate = ${capnpString(date)},
      bindings = [
        (name = "API_KEY", text = ${capnpString(setup.apiKey)}),
        (name = "COMPATIBILITY_DATE", text = ${capnpString(date)}),
      ],${outbound ? `\n      globalOutbound = "loopback",` : ""}
    )`;
  const services = [
    ...COMPATIBILITY_DATES.map((date) => `(name = "checks-${date}", worker = ${checksWorker(date, true)})`),
    `(name = "no-outbound", worker = ${checksWorker(COMPATIBILITY_DATES[1], false)})`,
    `(name = "proxy", worker = (
      modules = [(name = "proxy-worker.js", esModule = embed "proxy-worker.js")],
      compatibilityDate = ${capnpString(COMPATIBILITY_DATES[1])},
      bindings = [
        (name = "XIEXUS_API_KEY", text = ${capnpString(setup.apiKey)}),
        (name = "XIEXUS_BASE_URL", text = ${capnpString(setup.relayUrl)}),
        (name = "ALLOWED_ORIGIN", text = ${capnpString(setup.allowedOrigin)}),
      ],
      globalOutbound = "loopback",
    ))`,
    // "local" is this machine's addresses (127.0.0.0/8, ::1); the default "internet" allows only "public".
    `(name = "loopback", network = (allow = ["local"]))`,
  ];
  const sockets = Object.entries(ports).map(
    ([service, port]) => `(name = ${capnpString(service)}, address = "127.0.0.1:${port}", http = (), service = ${capnpString(service)})`,
  );
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")},
  ],
  sockets = [
    ${sockets.join(",\n    ")},
  ],
);
`;
}

/** Writes the config and its modules into `setup.dir` and starts `workerd serve` on free loopback ports. */
export async function startWorkerd(setup: WorkerdSetup): Promise<Workerd> {
  rmSync(setup.dir, { recursive: true, force: true });
  mkdirSync(setup.dir, { recursive: true });
  for (const file of ["worker.js", "checks.js", "proxy-worker.js"]) copyFileSync(resolve(ROOT, "test/runtimes", file), join(setup.dir, file));
  writeFileSync(join(setup.dir, "kling.mjs"), setup.bundle);
  const names = [...COMPATIBILITY_DATES.map((date) => `checks-${date}`), "no-outbound", "proxy"];
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = await freePort();
  writeFileSync(join(setup.dir, "config.capnp"), workerdConfig(setup, ports));
  const proc = background(setup.binary, ["serve", "config.capnp", "config"], { cwd: setup.dir });
  const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
  try {
    for (const name of names) await waitForPort(ports[name]!, 30_000, alive);
  } catch (error) {
    await proc.stop();
    throw new Error(`workerd did not start: ${(error as Error).message}\n${proc.output()}`);
  }
  const url = (name: string) => `http://127.0.0.1:${ports[name]}`;
  return {
    checks: { "2024-09-23": url("checks-2024-09-23"), "2026-11-01": url("checks-2026-11-01") },
    noOutbound: url("no-outbound"),
    proxy: url("proxy"),
    process: proc,
  };
}
