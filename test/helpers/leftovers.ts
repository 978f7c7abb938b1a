// Runs a child script that does some waiting against `baseUrl` and then prints, as JSON, the kinds
// of handle still keeping it alive (timers, sockets); LEAK=1 makes it leak one timer on purpose.
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./spec.js";

/** What kept the child alive after its work, and how it exited. */
export async function childLeftovers(script: string, baseUrl: string, leak: boolean): Promise<{ alive: string[]; code: number | null }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "test", "helpers", script)], {
    cwd: ROOT,
    env: { ...process.env, BASE_URL: baseUrl, LEAK: leak ? "1" : "" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { alive: JSON.parse(out.trim()) as string[], code };
}
