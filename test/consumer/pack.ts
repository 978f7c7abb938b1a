// The package as npm would publish it: the checkout's files (what git would see: tracked and
// untracked, less the ignored) copied to a staging folder, `npm run build` and `npm pack` there.
// The checkout's own dist/ is never touched, so tests reading it can run alongside. Suites share
// the tarball; a run with unchanged inputs reuses it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CACHE, ROOT, runOk, withLock } from "./exec.js";

/** One file of the tarball, as `npm pack --json` lists it. */
export interface PackedFile {
  path: string;
  size: number;
  mode: number;
}

/** A packed tarball and what is in it. */
export interface PackedPackage {
  /** Absolute path of the .tgz. */
  tarball: string;
  /** sha256 of the tarball's bytes (npm packs reproducibly, so equal inputs give equal hashes). */
  sha256: string;
  files: PackedFile[];
  /** The staging copy of the checkout the tarball was built and packed in (with its dist/). */
  stage: string;
  /** Whether this call built and packed (false: reused an earlier run's tarball). */
  fresh: boolean;
}

/** Whose bytes the build and the tarball depend on; other files count by name only. */
const INPUT_DIRS = ["src/", "generated/"];
const INPUT_FILES = new Set([
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "scripts/build.ts",
  "README.md",
  "README.zh-CN.md",
  "CHANGELOG.md",
  "LICENSE",
  ".npmignore",
]);
const NEVER_COPIED = /^(\.git|node_modules|\.cache|dist|coverage)(\/|$)/;

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : entry.isFile() ? [path] : [];
  });
}

/** The checkout's files, relative to `root`: git's view (tracked + untracked, not ignored), else a walk. */
export function checkoutFiles(root: string = ROOT): string[] {
  const git = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
  const listed =
    git.status === 0 ? git.stdout.split("\0").filter(Boolean) : listFiles(root).map((f) => relative(root, f));
  return listed.filter((f) => !NEVER_COPIED.test(f) && existsSync(join(root, f))).sort();
}

/** The cache key of a build: the inputs' paths and bytes, and every other file's path. */
export function inputHash(root: string = ROOT, files: readonly string[] = checkoutFiles(root)): string {
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(file).update("\0");
    if (INPUT_FILES.has(file) || INPUT_DIRS.some((d) => file.startsWith(d))) hash.update(readFileSync(join(root, file))).update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

const PACK_DIR = resolve(CACHE, "pack");
/** Older tarballs are kept this long: another suite of the same run (or a parallel run) may still install one. */
const PACK_KEEP_MS = 60 * 60_000;

/** Removes the tarballs of other inputs not touched within PACK_KEEP_MS. */
function dropStalePacks(current: string): void {
  if (!existsSync(PACK_DIR)) return;
  for (const entry of readdirSync(PACK_DIR)) {
    const path = join(PACK_DIR, entry);
    if (entry !== current && Date.now() - statSync(path).mtimeMs > PACK_KEEP_MS) rmSync(path, { recursive: true, force: true });
  }
}

/** Builds and packs a staging copy of the checkout, unless a tarball of the same inputs is cached. */
export async function packedPackage(): Promise<PackedPackage> {
  return withLock("pack", async () => {
    const files = checkoutFiles();
    const key = inputHash(ROOT, files);
    const dir = join(PACK_DIR, key);
    const manifestPath = join(dir, "manifest.json");
    if (existsSync(manifestPath)) {
      return { ...(JSON.parse(readFileSync(manifestPath, "utf8")) as Omit<PackedPackage, "fresh">), fresh: false };
    }
    dropStalePacks(key);
    rmSync(dir, { recursive: true, force: true });
    const stage = join(dir, "stage");
    for (const file of files) {
      mkdirSync(dirname(join(stage, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(stage, file));
    }
    symlinkSync(join(ROOT, "node_modules"), join(stage, "node_modules"), "dir");
    await runOk("npm", ["run", "--silent", "build"], { cwd: stage, timeoutMs: 180_000 });
    // --ignore-scripts: `prepare` would build a second time.
    const packed = await runOk("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: stage });
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: PackedFile[] }>;
    if (!info) throw new Error(`npm pack printed no package:\n${packed.output}`);
    const tarball = join(dir, info.filename);
    const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    const result = { tarball, sha256, files: info.files, stage };
    writeFileSync(manifestPath, JSON.stringify(result, null, 2));
    return { ...result, fresh: true };
  });
}

/** Files of a directory tree, relative to it, for assertions about a build. */
export function filesUnder(dir: string): string[] {
  return listFiles(dir)
    .map((f) => relative(dir, f))
    .sort();
}

/** Extracts a tarball into `dir` (npm puts everything under `package/`); returns the package folder. */
export async function unpack(tarball: string, dir: string): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await runOk("tar", ["-xzf", tarball, "-C", dir]);
  return join(dir, "package");
}

/** Packs the folder `dir/package` back into `dir/<name>.tgz`, the layout npm and attw expect. */
export async function repack(dir: string, name: string): Promise<string> {
  const tarball = join(dir, `${name}.tgz`);
  await runOk("tar", ["-czf", tarball, "-C", dir, "package"]);
  return tarball;
}

/** Top-level files a consumer may get besides dist/. */
const ALLOWED_TOP_LEVEL = new Set(["package.json", "README.md", "README.zh-CN.md", "CHANGELOG.md", "LICENSE"]);
/** Things that must never ship, named for clear messages. */
const FORBIDDEN = [/^src\//, /^test\//, /^scripts\//, /^openapi\//, /^generated\//, /^\.cache\//, /^node_modules\//, /^tsconfig[^/]*\.json$/, /\.tgz$/, /\.test(-d)?\.[cm]?[jt]s$/];

/** Every file path package.json points at (main, module, types, exports, bin, typesVersions). */
export function referencedFiles(manifest: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === "string") {
      if (value.startsWith("./") || value.startsWith("dist/")) found.add(value.replace(/^\.\//, ""));
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  for (const field of ["main", "module", "types", "exports", "bin", "typesVersions"]) walk(manifest[field]);
  return [...found].sort();
}

/** What is wrong with a tarball's file list: things that must not ship, and files that must but do not. */
export function packageIssues(files: readonly string[], manifest: Record<string, unknown>): string[] {
  const issues: string[] = [];
  for (const file of files) {
    if (FORBIDDEN.some((pattern) => pattern.test(file))) issues.push(`ships ${file}`);
    else if (!file.startsWith("dist/") && !ALLOWED_TOP_LEVEL.has(file)) issues.push(`ships ${file}, which no consumer needs`);
  }
  const present = new Set(files);
  for (const file of [...referencedFiles(manifest), "package.json", "README.md", "README.zh-CN.md", "CHANGELOG.md", "LICENSE"]) {
    if (!present.has(file)) issues.push(`does not ship ${file}`);
  }
  return issues;
}
