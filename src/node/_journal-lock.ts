// The batch journal's lock: one process at a time per output directory. A lock file is only ever
// deleted by its owner (on close or exit), or by a process that found its owner dead and removes
// exactly that file (by content: each lock holds a random nonce).
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { link, open, readdir, readFile, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { sleep } from "../_sleep.js";
import { KlingError } from "../errors.js";

/** File name of the journal's lock inside the batch's output directory. */
export const JOURNAL_LOCK_FILE = ".xiexus-kling-journal.lock";

/** The journal's lock is held by another process (or another open journal of this one). */
export class JournalLockedError extends KlingError {
  override name = "JournalLockedError";
  /** The lock file's absolute path. */
  readonly lockPath: string;
  /** The process holding it, when the lock file could be read. */
  readonly pid: number | undefined;
  /** The host it runs on, when the lock file could be read. */
  readonly hostname: string | undefined;
  /** When it took the lock (ISO 8601), when the lock file could be read. */
  readonly startedAt: string | undefined;
  constructor(lockPath: string, owner: LockInfo | undefined, detail?: string) {
    let message: string;
    if (detail !== undefined) {
      message = `the batch journal's lock ${lockPath} ${detail}`;
    } else if (owner === undefined) {
      message =
        `the batch journal's lock ${lockPath} exists but cannot be read. ` +
        `If no batch is running with this output directory, delete it and run again`;
    } else if (owner.hostname !== hostname()) {
      message =
        `the batch journal is locked by process ${owner.pid} on host ${owner.hostname} (since ${owner.startedAt}): ` +
        `another run of this batch may be in progress, and it cannot be checked from here. ` +
        `If no batch is running there, delete ${lockPath} and run again`;
    } else {
      const who = owner.pid === process.pid ? `this process (${owner.pid})` : `process ${owner.pid}`;
      message =
        `the batch journal is locked by ${who} (since ${owner.startedAt}): the same batch is already running ` +
        `with this output directory. Wait for it to end or stop it; two runs at once would pay twice`;
    }
    super(message);
    this.lockPath = lockPath;
    this.pid = owner?.pid;
    this.hostname = owner?.hostname;
    this.startedAt = owner?.startedAt;
  }
}


/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Tells two locks of one pid apart: a pid is reused, by this very process after a restart in a container. */
  nonce: string;
}

export interface HeldLock {
  path: string;
  nonce: string;
}

/** Locks held by this process, by nonce; shared by every copy of this module (ESM and CommonJS). */
interface LockRegistry {
  held: Map<string, string>;
  exitHook: boolean;
}

const REGISTRY = Symbol.for("xiexus-kling.journal-locks");

function registry(): LockRegistry {
  const global = globalThis as unknown as Record<symbol, LockRegistry | undefined>;
  return (global[REGISTRY] ??= { held: new Map(), exitHook: false });
}

export function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    const { pid, hostname: host, startedAt, nonce } = value as Record<string, unknown>;
    // pid 0 or negative would signal a whole process group in process.kill.
    if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return undefined;
    if (typeof host !== "string" || typeof startedAt !== "string" || typeof nonce !== "string") return undefined;
    return { pid: pid as number, hostname: host, startedAt, nonce };
  } catch {
    return undefined;
  }
}

/** Removes the locks this process still holds, as it exits without closing its journals. */
function releaseAllSync(): void {
  for (const [nonce, path] of registry().held) {
    try {
      if (parseLock(readFileSync(path, "utf8"))?.nonce === nonce) unlinkSync(path);
    } catch {
      // Best effort: a lock left behind is found stale by the next run.
    }
  }
}

/** Error codes of a file system without hard links. */
const NO_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"]);

/**
 * Creates `path` holding `content` unless something is there; false when it was. The content is
 * written to a temp file first and hard-linked into place, so no reader ever sees the lock empty.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, content, { flag: "wx" });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false;
    if (!NO_LINKS.has(codeOf(error) as string)) throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  // Without hard links, "wx" is exclusive too; a reader may find the file empty for a moment.
  let file: FileHandle;
  try {
    file = await open(path, "wx");
  } catch (error) {
    if (codeOf(error) === "EEXIST") return false;
    throw error;
  }
  try {
    await file.writeFile(content);
  } finally {
    await file.close();
  }
  return true;
}

/** Whether a lock's owner still runs: "unknown" for another host (it cannot be checked from here). */
function ownerState(owner: LockInfo): "alive" | "dead" | "unknown" {
  if (owner.hostname !== hostname()) return "unknown";
  if (owner.pid === process.pid) return registry().held.has(owner.nonce) ? "alive" : "dead";
  try {
    process.kill(owner.pid, 0);
    return "alive";
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return codeOf(error) === "ESRCH" ? "dead" : "alive";
  }
}

/** A lock-like file's content, or undefined when it is gone. */
async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (codeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

function newLockInfo(): LockInfo {
  return { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), nonce: randomBytes(8).toString("hex") };
}

/**
 * Removes the file at `path` if it still holds `seen` (a lock whose owner is dead), and nothing else.
 * Unlinking by name is not enough: two processes finding the same dead owner would both remove it,
 * and the slower one would delete the lock the faster one had just created. So removing a given
 * content takes a guard named after that content, created exclusively: only one process at a time
 * may remove it; under the guard, a file still holding `seen` cannot have been replaced (replacing
 * needs removing, which needs the guard), so unlink deletes exactly it. A guard left by a process
 * killed under it is itself removed the same way. Resolves without removing when another live
 * process holds the guard: the caller looks again.
 */
async function removeExactly(path: string, seen: string, lockPath: string, signal: AbortSignal | undefined): Promise<void> {
  const guard = `${lockPath}.${createHash("sha256").update(seen).digest("hex").slice(0, 16)}.takeover`;
  const info = newLockInfo();
  const { held } = registry();
  held.set(info.nonce, guard);
  try {
    let guarded = false;
    for (let round = 0; round < 10 && !guarded; round++) {
      guarded = await createExclusive(guard, `${JSON.stringify(info)}\n`);
      if (guarded) break;
      const other = await readIfThere(guard);
      if (other === undefined) continue;
      const owner = parseLock(other);
      if (owner !== undefined && ownerState(owner) === "dead") await removeExactly(guard, other, lockPath, signal);
      // Another process is removing it right now (a few file operations), or the guard is unreadable.
      else if (round >= 3) return;
      else await sleep(10, signal);
    }
    if (!guarded) return;
    try {
      if ((await readIfThere(path)) === seen) await unlink(path);
    } finally {
      await unlink(guard).catch(() => undefined);
    }
  } finally {
    held.delete(info.nonce);
  }
}

/** Rounds of create / inspect / remove-stale before giving up on a lock that keeps changing. */
const LOCK_ROUNDS = 50;

export async function acquireLock(path: string, signal: AbortSignal | undefined): Promise<HeldLock> {
  const info = newLockInfo();
  const content = `${JSON.stringify(info)}\n`;
  const locks = registry();
  // Registered before the file can be seen: another journal of this process reading it meanwhile
  // must find it held, not stale.
  locks.held.set(info.nonce, path);
  try {
    let unreadable = 0;
    for (let round = 0; round < LOCK_ROUNDS; round++) {
      if (signal?.aborted) throw signal.reason;
      if (await createExclusive(path, content)) {
        if (!locks.exitHook) {
          locks.exitHook = true;
          process.on("exit", releaseAllSync);
        }
        return { path, nonce: info.nonce };
      }
      const seen = await readIfThere(path);
      if (seen === undefined) continue; // released meanwhile
      const owner = parseLock(seen);
      if (owner === undefined) {
        // Possibly being written (a file system without hard links): look again a few times.
        if (++unreadable > 5) throw new JournalLockedError(path, undefined);
        await sleep(50, signal);
        continue;
      }
      if (ownerState(owner) !== "dead") throw new JournalLockedError(path, owner);
      await removeExactly(path, seen, path, signal);
    }
    throw new JournalLockedError(path, undefined, "kept changing while it was being taken; run again");
  } catch (error) {
    locks.held.delete(info.nonce);
    throw error;
  }
}

/**
 * Removes what processes killed while taking the lock left beside it: temp files (each under a name
 * of its own, so deleting one is safe once its writer is dead) and takeover guards (removed exactly).
 */
export async function sweep(dir: string, lockPath: string, signal: AbortSignal | undefined): Promise<void> {
  const prefix = `${JOURNAL_LOCK_FILE}.`;
  for (const name of await readdir(dir).catch(() => [])) {
    if (!name.startsWith(prefix) || !/\.(tmp|takeover)$/.test(name)) continue;
    const path = join(dir, name);
    const text = await readIfThere(path).catch(() => undefined);
    const owner = text === undefined ? undefined : parseLock(text);
    if (text === undefined || owner === undefined || ownerState(owner) !== "dead") continue;
    if (name.endsWith(".tmp")) await unlink(path).catch(() => undefined);
    else await removeExactly(path, text, lockPath, signal).catch(() => undefined);
  }
}

export async function releaseLock(lock: HeldLock): Promise<void> {
  try {
    if (parseLock(await readFile(lock.path, "utf8"))?.nonce === lock.nonce) await unlink(lock.path);
  } catch (error) {
    if (codeOf(error) !== "ENOENT") throw error;
  } finally {
    registry().held.delete(lock.nonce);
  }
}

