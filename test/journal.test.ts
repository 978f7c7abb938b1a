// The batch journal: replay rules, torn and corrupted files, serialized appends, the exclusive
// lock (held, stale, raced), and a writer killed with SIGKILL at random moments.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError, KlingError } from "../src/errors.js";
import {
  fingerprintRequest,
  JOURNAL_FILE,
  JOURNAL_LOCK_FILE,
  JournalCorruptError,
  JournalLockedError,
  openJournal,
  replay,
  type JobState,
  type Journal,
  type JournalRecord,
} from "../src/node/journal.js";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const CHILD = join(ROOT, "test", "helpers", "journal-child.ts");

const dirs: string[] = [];
const open: Journal[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const journal of open.splice(0)) await journal.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "xiexus-journal-"));
  dirs.push(dir);
  return dir;
}

async function opened(dir: string): Promise<Journal> {
  const journal = await openJournal(dir);
  open.push(journal);
  return journal;
}

async function lines(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, JOURNAL_FILE), "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  return text.split("\n").slice(0, -1);
}

// ---------------------------------------------------------------------------------------------------
// Records for the replay table.
const AT = "2026-08-01T00:00:00.000Z";
const ERR = { name: "APIConnectionTimeoutError", message: "timed out" };
const intent = (key = "a", fingerprint = "fp1"): JournalRecord => ({ v: 1, t: "intent", key, at: AT, fingerprint });
const created = (taskId = "t1", key = "a"): JournalRecord => ({ v: 1, t: "created", key, at: AT, taskId });
const saved = (taskId = "t1", key = "a"): JournalRecord => ({ v: 1, t: "saved", key, at: AT, taskId, path: `${key}.mp4`, bytes: 10 });
const lost = (mayHaveCreatedTask: boolean, key = "a"): JournalRecord => ({ v: 1, t: "failed", key, at: AT, error: ERR, mayHaveCreatedTask });
const ended = (resumable: boolean, taskId = "t1", key = "a"): JournalRecord => ({ v: 1, t: "failed", key, at: AT, taskId, error: ERR, resumable });
const recreate = (key = "a"): JournalRecord => ({ v: 1, t: "recreate", key, at: AT });

function stateOf(records: readonly unknown[], key = "a"): JobState | undefined {
  return replay(records).get(key);
}

describe("replay", () => {
  // [case, records, expected fields of job "a"]
  const table: Array<[string, JournalRecord[], Partial<JobState>]> = [
    ["intent only: the create may have been sent", [intent()], { phase: "unknown", attempts: 1, fingerprint: "fp1" }],
    ["created: wait for it", [intent(), created()], { phase: "created", taskId: "t1", attempts: 1 }],
    ["saved", [intent(), created(), saved()], { phase: "saved", taskId: "t1", path: "a.mp4", bytes: 10 }],
    ["create fate unknown after an error", [intent(), lost(true)], { phase: "unknown", error: ERR }],
    ["create refused (error answer, refunded)", [intent(), lost(false)], { phase: "failed", error: ERR, taskId: undefined }],
    ["unknown, then the user asked to re-create", [intent(), lost(true), recreate()], { phase: "none", attempts: 1 }],
    ["intent, recreate", [intent(), recreate()], { phase: "none", attempts: 1 }],
    ["re-created: a second attempt", [intent(), recreate(), intent("a", "fp2")], { phase: "unknown", attempts: 2, fingerprint: "fp2" }],
    ["task ended for good", [intent(), created(), ended(false)], { phase: "failed", taskId: "t1", error: ERR }],
    ["task may still give its video", [intent(), created(), ended(true)], { phase: "created", taskId: "t1", error: ERR }],
    [
      "failed, then a new paid attempt saved",
      [intent(), created(), ended(false), intent(), created("t2"), saved("t2")],
      { phase: "saved", taskId: "t2", attempts: 2, error: undefined },
    ],
    ["refused before any create (bad image)", [lost(false)], { phase: "failed", attempts: 0 }],
    ["refused again on a re-run", [lost(false), lost(false)], { phase: "failed", attempts: 0 }],
    ["saved file lost: wait on the task again", [intent(), created(), saved(), ended(true)], { phase: "created", taskId: "t1" }],
    ["saved again after a re-download", [intent(), created(), saved(), saved()], { phase: "saved", taskId: "t1" }],
    ["the same task id twice", [intent(), created(), created()], { phase: "created", taskId: "t1" }],
    ["a create error that named its task", [intent(), ended(false, "t9")], { phase: "failed", taskId: "t9" }],
    ["other jobs do not interfere", [intent(), intent("b"), created("tb", "b"), created()], { phase: "created", taskId: "t1" }],
  ];
  it.each(table)("%s", (_name, records, expected) => {
    const state = stateOf(records);
    expect(state?.key).toBe("a");
    // An undefined expectation means the field is absent.
    for (const [field, value] of Object.entries(expected)) {
      if (value === undefined) expect(state, field).not.toHaveProperty(field);
      else expect(state, field).toHaveProperty(field, value);
    }
  });

  it("a job never recorded is absent, and the journal's state() reports it as none", async () => {
    expect(stateOf([intent("b")])).toBeUndefined();
    const journal = await opened(await tempDir());
    expect(journal.state("nope")).toEqual({ key: "nope", phase: "none", attempts: 0 });
  });

  // [case, records, 1-based line refused, words of the reason]
  const refused: Array<[string, unknown[], number, RegExp]> = [
    ["a second intent while the first's fate is unknown", [intent(), intent()], 2, /may have been created/],
    ["a task id without an intent", [created()], 1, /no create was pending/],
    ["an intent while a task runs", [intent(), created(), intent()], 3, /wait for it/],
    ["a second task for one job", [intent(), created(), created("t2")], 3, /already created/],
    ["a video saved for another task", [intent(), created(), saved("t2")], 3, /not t2/],
    ["saved without a task", [saved()], 1, /no task was created/],
    ["may have created, without an intent", [lost(true)], 1, /none may have been created/],
    ["a failure hiding its task", [intent(), created(), lost(false)], 3, /names the task/],
    ["recreate with nothing unknown", [recreate()], 1, /only a job whose create/],
    ["recreate of a running task", [intent(), created(), recreate()], 3, /only a job whose create/],
    ["an intent after the video was saved", [intent(), created(), saved(), intent()], 4, /already saved/],
    ["a newer format", [intent(), { ...intent(), v: 2 }], 2, /newer version/],
    ["no version", [{ t: "intent", key: "a", at: AT, fingerprint: "f" }], 1, /format version/],
    ["not an object", [null], 1, /not a JSON object/],
    ["an array", [[1]], 1, /not a JSON object/],
    ["an unknown type", [{ v: 1, t: "paid", key: "a", at: AT }], 1, /unknown record type/],
    ["an empty key", [intent("")], 1, /must not be empty/],
    ["a key with a newline", [intent("a\nb")], 1, /control characters/],
    ["a bad time", [{ ...intent(), at: "yesterday" }], 1, /ISO 8601/],
    ["an intent without fingerprint", [{ ...intent(), fingerprint: "" }], 1, /fingerprint/],
    ["a path outside the directory", [intent(), created(), { ...saved(), path: "../x.mp4" }], 3, /inside/],
    ["an absolute path", [intent(), created(), { ...saved(), path: "/etc/x.mp4" }], 3, /relative/],
    ["negative bytes", [intent(), created(), { ...saved(), bytes: -1 }], 3, /non-negative/],
    ["a bad task id", [intent(), created(" t1")], 2, /whitespace/],
    ["a task failure without resumable", [intent(), created(), { ...ended(true), resumable: undefined }], 3, /resumable/],
    ["a create failure without mayHaveCreatedTask", [intent(), { ...lost(true), mayHaveCreatedTask: "yes" }], 2, /mayHaveCreatedTask/],
    ["an error without message", [intent(), { ...lost(true), error: { name: "E" } }], 2, /name and message/],
  ];
  it.each(refused)("refuses %s, naming its line", (_name, records, line, reason) => {
    let error: unknown;
    try {
      replay(records);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JournalCorruptError);
    expect(error).toBeInstanceOf(KlingError);
    expect((error as JournalCorruptError).line).toBe(line);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain(`line ${line}`);
  });
});

// ---------------------------------------------------------------------------------------------------
describe("appends", () => {
  it("writes one JSON line per record, each synced before it resolves, and replays them on reopen", async () => {
    const dir = await tempDir();
    const journal = await opened(dir);
    expect(journal.path).toBe(join(dir, JOURNAL_FILE));
    await journal.intent("a", "fp");
    expect(journal.state("a")).toMatchObject({ phase: "unknown", attempts: 1 });
    await journal.created("a", "task-1");
    await journal.saved("a", "task-1", join(dir, "sub", "a.mp4"), 123);
    await journal.close();
    const written = (await lines(dir)).map((line) => JSON.parse(line) as JournalRecord);
    expect(written.map((r) => r.t)).toEqual(["intent", "created", "saved"]);
    expect(written[2]).toMatchObject({ v: 1, key: "a", taskId: "task-1", path: "sub/a.mp4", bytes: 123 });
    const again = await opened(dir);
    expect(again.state("a")).toMatchObject({ phase: "saved", path: "sub/a.mp4", bytes: 123 });
    expect([...again.states().keys()]).toEqual(["a"]);
  });

  it("hundreds of concurrent appends never interleave and keep each job's order", async () => {
    const dir = await tempDir();
    const journal = await opened(dir);
    const jobs = 300;
    await Promise.all(
      Array.from({ length: jobs }, async (_, i) => {
        const key = `job-${i}-${"x".repeat(i % 50)}`;
        await journal.intent(key, `fp-${i}`);
        await journal.created(key, `task-${i}`);
        await journal.saved(key, `task-${i}`, `${i}.mp4`, i);
      }),
    );
    await journal.close();
    const written = await lines(dir);
    expect(written).toHaveLength(jobs * 3);
    const records = written.map((line) => JSON.parse(line) as unknown);
    const states = replay(records);
    expect(states.size).toBe(jobs);
    for (const state of states.values()) expect(state.phase).toBe("saved");
  });

  it("appends made in one tick all resolve, in one file of whole lines", async () => {
    const dir = await tempDir();
    const journal = await opened(dir);
    await Promise.all(Array.from({ length: 500 }, (_, i) => journal.failed(`k${i}`, { error: new Error(`bad image ${i}`) })));
    expect(await lines(dir)).toHaveLength(500);
    expect(journal.states().size).toBe(500);
  });

  it("refuses an append that breaks the rules, before writing anything", async () => {
    const dir = await tempDir();
    const journal = await opened(dir);
    await journal.intent("a", "fp");
    const before = await readFile(journal.path, "utf8");
    const error = await journal.intent("a", "fp").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/"a".*may have been created/);
    await expect(journal.created("b", "t1")).rejects.toThrow(/no create was pending/);
    await expect(journal.saved("a", "t1", "a.mp4", 1)).rejects.toThrow(/no task was created/);
    await expect(journal.recreate("b")).rejects.toThrow(/only a job whose create/);
    expect(await readFile(journal.path, "utf8")).toBe(before);
    // Two appends in flight for one job are checked in order, not both against the state on disk.
    const first = journal.created("a", "t1");
    await expect(journal.created("a", "t2")).rejects.toThrow(/already created/);
    await first;
    expect(journal.state("a")).toMatchObject({ phase: "created", taskId: "t1" });
  });

  it.each<[string, (j: Journal) => Promise<unknown>, string]>([
    ["a key that is not a string", (j) => j.intent(1 as unknown as string, "fp"), "key"],
    ["an empty key", (j) => j.intent("", "fp"), "key"],
    ["a key with control characters", (j) => j.intent("a\u0000", "fp"), "key"],
    ["a key too long", (j) => j.intent("k".repeat(1025), "fp"), "key"],
    ["an empty fingerprint", (j) => j.intent("a", ""), "fingerprint"],
    ["an empty task id", (j) => j.created("a", ""), "taskId"],
    ["a path outside the directory", (j) => j.saved("a", "t", "../a.mp4", 1), "path"],
    ["an absolute path elsewhere", (j) => j.saved("a", "t", "/tmp/elsewhere/a.mp4", 1), "path"],
    ["the directory itself", (j) => j.saved("a", "t", ".", 1), "path"],
    ["fractional bytes", (j) => j.saved("a", "t", "a.mp4", 1.5), "bytes"],
    ["negative bytes", (j) => j.saved("a", "t", "a.mp4", -1), "bytes"],
    ["a failure without error", (j) => j.failed("a", { error: undefined }), "info"],
    ["a failure that is not an object", (j) => j.failed("a", null as unknown as { error: unknown }), "info"],
    ["a task failure without resumable", (j) => j.failed("a", { error: new Error("x"), taskId: "t" } as never), "resumable"],
    ["a non-boolean mayHaveCreatedTask", (j) => j.failed("a", { error: 1, mayHaveCreatedTask: "no" as never }), "mayHaveCreatedTask"],
  ])("refuses %s with InvalidArgumentError", async (_name, call, argument) => {
    const journal = await opened(await tempDir());
    const error = await call(journal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
    expect(journal.states().size).toBe(0);
  });

  it("failed: mayHaveCreatedTask from the option, else the error, else true only while a create is pending", async () => {
    const journal = await opened(await tempDir());
    await journal.intent("a", "fp");
    await journal.failed("a", { error: Object.assign(new Error("503"), { status: 503, code: "bad_gateway" }) });
    expect(journal.state("a")).toMatchObject({
      phase: "unknown",
      error: { name: "Error", message: "503", status: 503, code: "bad_gateway" },
    });
    await journal.recreate("a");
    await journal.intent("a", "fp");
    await journal.failed("a", { error: Object.assign(new KlingError("refused"), { mayHaveCreatedTask: false }) });
    expect(journal.state("a")).toMatchObject({ phase: "failed", attempts: 2, error: { name: "KlingError" } });
    await journal.intent("a", "fp");
    await journal.failed("a", { error: "plain string", mayHaveCreatedTask: false });
    expect(journal.state("a")).toMatchObject({ phase: "failed", error: { name: "Error", message: "plain string" } });
    // No create pending: nothing may have been created, whatever the error says is not asked.
    await journal.failed("b", { error: new Error("image not found") });
    expect(journal.state("b")).toMatchObject({ phase: "failed", attempts: 0 });
    await expect(journal.failed("c", { error: new Error("x"), mayHaveCreatedTask: true })).rejects.toThrow(/none may have been created/);
  });

  it("refuses appends after close, and close can be called twice", async () => {
    const journal = await opened(await tempDir());
    const pending = journal.intent("a", "fp");
    await journal.close();
    await pending; // accepted before close: written
    await journal.close();
    await expect(journal.intent("b", "fp")).rejects.toThrow(/closed/);
  });
});

// ---------------------------------------------------------------------------------------------------
describe("torn and corrupted files", () => {
  const good = `${JSON.stringify(intent())}\n${JSON.stringify(created())}\n`;

  it.each([
    ["a last line without newline", `${good}{"v":1,"t":"saved","key":"a","at":"2026`],
    ["a last line of invalid JSON", `${good}{"v":1,"t":"sav\n`],
    ["a last line of NUL bytes", `${good}\0\0\0\0\0\0`],
    ["an empty last line", `${good}\n`],
  ])("tolerates %s and cuts it off before appending", async (_name, content) => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_FILE), content);
    const journal = await opened(dir);
    expect(journal.state("a")).toMatchObject({ phase: "created", taskId: "t1" });
    expect(await readFile(journal.path, "utf8")).toBe(good);
    await journal.saved("a", "t1", "a.mp4", 5);
    const written = await lines(dir);
    expect(written).toHaveLength(3);
    expect(replay(written.map((l) => JSON.parse(l) as unknown)).get("a")?.phase).toBe("saved");
  });

  it("a file holding only a torn line is an empty journal", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_FILE), '{"v":1,"t":"int');
    const journal = await opened(dir);
    expect(journal.states().size).toBe(0);
    expect(await readFile(journal.path, "utf8")).toBe("");
  });

  it.each([
    ["invalid JSON in the middle", `${JSON.stringify(intent())}\nnot json\n${JSON.stringify(created())}\n`, 2, /not valid JSON/],
    ["a valid JSON last line that is no record", `${good}{"v":1,"t":"saved"}\n`, 3, /job key/],
    ["a record out of order", `${JSON.stringify(created())}\n`, 1, /no create was pending/],
  ])("refuses %s, naming the line, and leaves the file and lock as they were", async (_name, content, line, reason) => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_FILE), content);
    const error = await openJournal(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalCorruptError);
    expect(error).toMatchObject({ line, path: join(dir, JOURNAL_FILE) });
    expect((error as Error).message).toContain(`${join(dir, JOURNAL_FILE)} line ${line}`);
    expect((error as Error).message).toMatch(reason);
    expect(await readFile(join(dir, JOURNAL_FILE), "utf8")).toBe(content);
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
  });
});

// ---------------------------------------------------------------------------------------------------
describe("openJournal arguments", () => {
  it.each<[string, () => Promise<unknown>, string]>([
    ["a dir that is not a string", () => openJournal(42 as unknown as string), "dir"],
    ["an empty dir", () => openJournal(" "), "dir"],
    ["a missing dir", () => openJournal(join(tmpdir(), "xiexus-journal-missing", "x")), "dir"],
    ["options that are not an object", () => openJournal(tmpdir(), "fast" as never), "options"],
    ["a signal that is not one", () => openJournal(tmpdir(), { signal: {} as AbortSignal }), "signal"],
  ])("refuses %s", async (_name, call, argument) => {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });

  it("refuses a file as dir", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "f"), "");
    await expect(openJournal(join(dir, "f"))).rejects.toThrow(/not an existing directory/);
  });

  it("an aborted signal rejects with its reason and leaves no lock", async () => {
    const dir = await tempDir();
    const reason = new Error("stop");
    await expect(openJournal(dir, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(await readdir(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
function spawnChild(mode: string, dir: string, ...args: string[]): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, mode, dir, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

/** Resolves with the child's first stdout line (rejects if it exits first, with its stderr). */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let out = "";
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const end = out.indexOf("\n");
      if (end !== -1) resolvePromise(out.slice(0, end));
    });
    child.on("exit", (code) => reject(new Error(`child exited (${code}) before printing: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => child.once("exit", () => resolvePromise()));
}

async function lockOf(dir: string): Promise<{ pid: number; hostname: string; startedAt: string }> {
  return JSON.parse(await readFile(join(dir, JOURNAL_LOCK_FILE), "utf8")) as { pid: number; hostname: string; startedAt: string };
}

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await exited(child);
  return child.pid!;
}

describe("the lock", () => {
  it("refuses a second journal of the same directory while the first is open, then allows it", async () => {
    const dir = await tempDir();
    const first = await opened(dir);
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid, hostname: hostname() });
    const error = await openJournal(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLockedError);
    expect(error).toMatchObject({ pid: process.pid, lockPath: join(dir, JOURNAL_LOCK_FILE) });
    expect((error as Error).message).toMatch(/already running/);
    await first.close();
    await expect(readFile(join(dir, JOURNAL_LOCK_FILE))).rejects.toMatchObject({ code: "ENOENT" });
    await (await opened(dir)).close();
  });

  it("refuses while another process holds it, and takes it over once that process was killed", { timeout: 30_000 }, async () => {
    const dir = await tempDir();
    const child = spawnChild("hold", dir);
    expect(await firstLine(child)).toBe("locked");
    const error = await openJournal(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLockedError);
    expect((error as JournalLockedError).pid).toBe(child.pid);
    expect((error as Error).message).toContain(`process ${child.pid}`);

    child.kill("SIGKILL");
    await exited(child);
    expect((await lockOf(dir)).pid).toBe(child.pid); // left behind
    const journal = await opened(dir);
    expect((await lockOf(dir)).pid).toBe(process.pid);
    await journal.intent("a", "fp");
    await journal.close();
    expect((await readdir(dir)).sort()).toEqual([JOURNAL_FILE]);
  });

  it("is released when the process exits without closing", { timeout: 30_000 }, async () => {
    const dir = await tempDir();
    const child = spawnChild("exit", dir);
    expect(await firstLine(child)).toBe("locked");
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
  });

  it("a stale lock raced by many openers goes to exactly one", { timeout: 30_000 }, async () => {
    const dir = await tempDir();
    const pid = await deadPid();
    // Staggered starts: some openers find the stale lock while another has just replaced it.
    for (let trial = 0; trial < 40; trial++) {
      await writeFile(join(dir, JOURNAL_LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), startedAt: AT, nonce: "n" }));
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, (i * 7 + trial) % 4));
          return openJournal(dir);
        }),
      );
      const won = results.filter((r): r is PromiseFulfilledResult<Journal> => r.status === "fulfilled");
      open.push(...won.map((r) => r.value));
      expect(won, `trial ${trial}`).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(JournalLockedError);
      expect((await lockOf(dir)).pid).toBe(process.pid);
      await won[0]!.value.close();
      expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
    }
  });

  it("removes what a process killed while taking over left: its guard and temp file", async () => {
    const dir = await tempDir();
    const pid = await deadPid();
    const lockPath = join(dir, JOURNAL_LOCK_FILE);
    const stale = JSON.stringify({ pid, hostname: hostname(), startedAt: AT, nonce: "n" });
    const leftover = JSON.stringify({ pid, hostname: hostname(), startedAt: AT, nonce: "m" });
    await writeFile(lockPath, stale);
    await writeFile(`${lockPath}.${createHash("sha256").update(stale).digest("hex").slice(0, 16)}.takeover`, leftover);
    await writeFile(`${lockPath}.0123456789ab.tmp`, leftover);
    const alien = `${lockPath}.feedfeedfeed.tmp`;
    await writeFile(alien, JSON.stringify({ pid, hostname: "render-box-7", startedAt: AT, nonce: "o" }));
    const journal = await opened(dir);
    expect((await lockOf(dir)).pid).toBe(process.pid);
    await journal.close();
    // Another host's file is not ours to judge.
    expect((await readdir(dir)).sort()).toEqual([JOURNAL_FILE, `${JOURNAL_LOCK_FILE}.feedfeedfeed.tmp`]);
  });

  it("takes over a lock of this very pid that this process does not hold (a pid reused after a restart)", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_LOCK_FILE), JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: AT, nonce: "old" }));
    const journal = await opened(dir);
    expect(await lockOf(dir)).toMatchObject({ pid: process.pid });
    expect(JSON.parse(await readFile(join(dir, JOURNAL_LOCK_FILE), "utf8"))).not.toMatchObject({ nonce: "old" });
    await journal.close();
  });

  it("refuses a lock held on another host, which cannot be checked from here", async () => {
    const dir = await tempDir();
    const content = JSON.stringify({ pid: 1234, hostname: "render-box-7", startedAt: AT, nonce: "n" });
    await writeFile(join(dir, JOURNAL_LOCK_FILE), content);
    const error = await openJournal(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLockedError);
    expect(error).toMatchObject({ pid: 1234, hostname: "render-box-7", startedAt: AT });
    expect((error as Error).message).toContain("render-box-7");
    expect((error as Error).message).toContain(`delete ${join(dir, JOURNAL_LOCK_FILE)}`);
    expect(await readFile(join(dir, JOURNAL_LOCK_FILE), "utf8")).toBe(content);
  });

  it.each([
    ["garbage", "not a lock"],
    ["a pid of 0 (a process group to process.kill)", JSON.stringify({ pid: 0, hostname: hostname(), startedAt: AT, nonce: "n" })],
  ])("refuses a lock file holding %s, without deleting it", async (_name, content) => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_LOCK_FILE), content);
    const error = await openJournal(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLockedError);
    expect((error as Error).message).toMatch(/cannot be read/);
    expect(await readFile(join(dir, JOURNAL_LOCK_FILE), "utf8")).toBe(content);
  });
});

// ---------------------------------------------------------------------------------------------------
describe("a writer killed with SIGKILL at random moments", () => {
  interface Run {
    printed: Array<{ t: string; key: string }>;
    done: boolean;
    stderr: string;
  }

  /** Runs the work child; kills it `killAfterMs` after its first resolved append (never when undefined). */
  function run(dir: string, jobs: number, killAfterMs: number | undefined): Promise<Run> {
    const child = spawnChild("work", dir, String(jobs));
    const result: Run = { printed: [], done: false, stderr: "" };
    let out = "";
    let timer: NodeJS.Timeout | undefined;
    child.stderr?.on("data", (chunk: Buffer) => (result.stderr += chunk.toString()));
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (killAfterMs !== undefined && timer === undefined) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    return new Promise((resolvePromise) => {
      child.on("close", () => {
        clearTimeout(timer);
        // A line cut short by the kill was not printed whole: only whole lines count.
        for (const line of out.split("\n").slice(0, -1)) {
          if (line === "done") result.done = true;
          else result.printed.push(JSON.parse(line) as { t: string; key: string });
        }
        resolvePromise(result);
      });
    });
  }

  it("every replay succeeds, and every append the writer saw resolved is in the file", { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const jobs = 4000;
    const kills = [0, 40, 90, 150, 220, 300].map((ms) => ms + Math.floor(Math.random() * 60));
    // The random offsets, in every failure message: a failing run can be replayed with them.
    const at = `kills after ${kills.join(", ")} ms`;
    let killedMidway = 0;
    for (const ms of kills) {
      const result = await run(dir, jobs, ms);
      // Whatever state the kill left: the next open replays it (stale lock taken over, torn line cut).
      const journal = await openJournal(dir).catch((error: unknown) => {
        throw new Error(`${at}, killed after ${ms} ms: ${(error as Error).message}`, { cause: error });
      });
      const written = await lines(dir);
      await journal.close();
      const records = written.map((line) => JSON.parse(line) as JournalRecord);
      const inFile = new Map<string, number>();
      for (const r of records) inFile.set(`${r.t} ${r.key}`, (inFile.get(`${r.t} ${r.key}`) ?? 0) + 1);
      const seen = new Map<string, number>();
      for (const p of result.printed) seen.set(`${p.t} ${p.key}`, (seen.get(`${p.t} ${p.key}`) ?? 0) + 1);
      for (const [what, count] of seen) expect(inFile.get(what) ?? 0, `${at}, killed after ${ms} ms: ${what}`).toBeGreaterThanOrEqual(count);
      if (!result.done) killedMidway++;
    }
    // The kills must have hit the writer mid-batch, or this test proved nothing.
    expect(killedMidway, at).toBeGreaterThanOrEqual(3);

    const last = await run(dir, jobs, undefined);
    expect(last.stderr, at).toBe("");
    expect(last.done, at).toBe(true);
    const records = (await lines(dir)).map((line) => JSON.parse(line) as JournalRecord);
    const states = replay(records);
    expect(states.size, at).toBe(jobs);
    for (const state of states.values()) expect(state.phase, `${at}: ${state.key}`).toBe("saved");
    // Never paid twice: a job got a new task only after a definite failure or the user's recreate.
    for (let i = 0; i < jobs; i++) {
      const mine = records.filter((r) => r.key === `job-${i}`);
      const tasks = mine.filter((r) => r.t === "created").length;
      const allowed = 1 + mine.filter((r) => r.t === "recreate" || (r.t === "failed" && r.resumable === false)).length;
      expect(tasks, `${at}: job-${i}`).toBeLessThanOrEqual(allowed);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe("fingerprintRequest", () => {
  it("is the same for the same request, whatever the key order, and differs when a field does", () => {
    const a = fingerprintRequest({ model: "kling-v1", prompt: "a cat", duration: "5", metadata: { x: 1, y: [1, 2] } });
    const b = fingerprintRequest({ metadata: { y: [1, 2], x: 1 }, duration: "5", prompt: "a cat", model: "kling-v1", mode: undefined });
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(fingerprintRequest({ model: "kling-v1", prompt: "a dog", duration: "5", metadata: { x: 1, y: [1, 2] } })).not.toBe(a);
    expect(fingerprintRequest({ image: new Uint8Array([1, 2, 3]) })).toBe(fingerprintRequest({ image: new Uint8Array([1, 2, 3]).buffer }));
    expect(fingerprintRequest({ image: new Uint8Array([1, 2, 3]) })).not.toBe(fingerprintRequest({ image: new Uint8Array([1, 2, 4]) }));
    // Bytes are not confused with the string that spells their marker.
    expect(fingerprintRequest(["1"])).not.toBe(fingerprintRequest([1]));
  });

  it.each<[string, unknown]>([
    ["a function", { f: () => 1 }],
    ["a bigint", { n: 1n }],
    ["NaN", { n: Number.NaN }],
    ["a Blob", { image: new Blob(["x"]) }],
    ["a Map", new Map()],
    ["a cycle", (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })()],
  ])("refuses %s", (_name, value) => {
    expect(() => fingerprintRequest(value)).toThrow(InvalidArgumentError);
  });
});
