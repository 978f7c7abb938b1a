// Throw-away npm projects and Node binaries under .cache/, installed once per key and reused.
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CACHE, NPM_INSTALL, run, runOk, withLock } from "./exec.js";

/** Installs `specs` into .cache/<area>/<name>-<key> unless that project exists; drops older keys of `name`. */
export async function npmProject(area: string, name: string, key: string, specs: readonly string[]): Promise<string> {
  const parent = resolve(CACHE, area);
  const dir = join(parent, `${name}-${key}`);
  const marker = join(dir, ".installed");
  return withLock(`${area}-${name}`, async () => {
    if (existsSync(marker)) return dir;
    mkdirSync(parent, { recursive: true });
    for (const entry of readdirSync(parent)) {
      if (entry.startsWith(`${name}-`) && entry !== `${name}-${key}`) rmSync(join(parent, entry), { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: `consumer-${name}`, private: true }, null, 2)}\n`);
    await runOk("npm", [...NPM_INSTALL, ...specs], { cwd: dir, timeoutMs: 300_000 });
    writeFileSync(marker, `${JSON.stringify(specs)}\n`);
    return dir;
  });
}

/**
 * A Node binary of the given major version from the npm registry's `node-<platform>-<arch>`
 * package (the binary is inside its tarball, so no install script runs), cached in .cache/node.
 */
export async function nodeBinary(major: number): Promise<string> {
  const dir = resolve(CACHE, "node", String(major));
  const binary = join(dir, "node");
  return withLock(`node-${major}`, async () => {
    if (existsSync(binary) && (await run(binary, ["--version"])).code === 0) return binary;
    const work = join(dir, "download");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const spec = `node-${process.platform}-${process.arch}@${major}`;
    const packed = await runOk("npm", ["pack", spec, "--json", "--pack-destination", work], { cwd: work, timeoutMs: 300_000 });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    if (!info) throw new Error(`npm pack ${spec} printed nothing:\n${packed.output}`);
    await runOk("tar", ["-xzf", join(work, info.filename), "-C", work, "package/bin/node"]);
    renameSync(join(work, "package/bin/node"), binary);
    chmodSync(binary, 0o755);
    rmSync(work, { recursive: true, force: true });
    return binary;
  });
}

/**
 * One executable from a registry package's tarball (`npm pack`, then extract `pathInTarball`,
 * e.g. `package/bin/bun`), cached as .cache/bin/<spec>/<basename>: no install script
 * runs. `versionArgs` must make it exit 0 (checked on reuse, so a half-written file is replaced).
 */
export async function npmBinary(spec: string, pathInTarball: string, versionArgs: readonly string[] = ["--version"]): Promise<string> {
  const safe = spec.replace(/[^\w.@-]+/g, "_");
  const dir = resolve(CACHE, "bin", safe);
  const binary = join(dir, pathInTarball.split("/").pop() ?? "bin");
  return withLock(`bin-${safe}`, async () => {
    if (existsSync(binary) && (await run(binary, versionArgs)).code === 0) return binary;
    const work = join(dir, "download");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const packed = await runOk("npm", ["pack", spec, "--json", "--pack-destination", work], { cwd: work, timeoutMs: 600_000 });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    if (!info) throw new Error(`npm pack ${spec} printed nothing:\n${packed.output}`);
    await runOk("tar", ["-xzf", join(work, info.filename), "-C", work, pathInTarball]);
    // Renamed into place only when complete: a reader never sees half a binary.
    renameSync(join(work, pathInTarball), binary);
    chmodSync(binary, 0o755);
    rmSync(work, { recursive: true, force: true });
    return binary;
  });
}
