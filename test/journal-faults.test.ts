// A batch journal that cannot be written. A file-system shim (node:fs/promises' `open`, wrapped so
// that the journal file's handle fails as a full, broken or read-only disk does) fails the journal
// at a chosen record: the intent to create, a task id, an outcome. It runs in this process under
// generateVideos, and in the CLI's own process as a preload (no strace needed). For each point:
// the batch stops with JournalWriteError (the CLI: exit 9, naming the journal and the cause), every
// task the fake relay created is in the journal or in what the batch reported, what the report says
// of each job is what the re-run then does, and the re-run, disk working, creates nothing twice.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import fsPromises from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import { createKlingClient } from "../src/index.js";
import { generateVideos, JobMayHaveBeenCreatedError, JOURNAL_FILE, JournalWriteError, type VideoJob, type VideoOutcome } from "../src/node/index.js";
import { JOURNAL_LOCK_FILE, openJournal } from "../src/node/journal.js";
import { createFakeRelay, FAKE_RELAY_API_KEY, type CreateRequestInfo, type FakeRelay } from "../src/testing/index.js";
import { CLI_KEY, runCli } from "./helpers/cli.js";
import { makePng } from "./helpers/images.js";

/** Where the journal fails: the write (or the sync after it) holding the `nth` record of type `record` this process writes. */
interface FaultPlan {
  record: "intent" | "created" | "saved" | "failed";
  nth: number;
  /** `write`: the disk takes the records before it and half of its line, then refuses (as ENOSPC does); `datasync`: the write goes through, its sync fails. */
  call: "write" | "datasync";
  /** ENOSPC: the file can still be cut back (shrinking needs no space); EIO, EROFS: from then on nothing works. */
  code: "ENOSPC" | "EIO" | "EROFS";
}

/** What the shim saw: whether its fault was played, and the journal writes tried after it. */
interface FaultState {
  hit: boolean;
  writesAfter: number;
}

/** The journal handle's calls the shim replaces. */
interface JournalCalls {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
}

/**
 * Wraps `fsp.open` so that the journal file (`fileName`, opened for appending) fails as `plan` says.
 * Self-contained, with everything it uses passed in: its source is also the CLI process's preload.
 */
function installJournalFaults(
  fsp: typeof fsPromises,
  sync: () => void,
  plan: FaultPlan,
  fileName: string,
): { state: FaultState; restore: () => void } {
  const realOpen = fsp.open;
  const state: FaultState = { hit: false, writesAfter: 0 };
  const words = { ENOSPC: "no space left on device", EIO: "i/o error", EROFS: "read-only file system" }[plan.code];
  // As Node words them: `ENOSPC: no space left on device, write`.
  const fault = (syscall: string): Error => Object.assign(new Error(`${plan.code}: ${words}, ${syscall}`), { code: plan.code, syscall });
  const dead = (): boolean => state.hit && plan.code !== "ENOSPC";
  let seen = 0;
  let syncFails = false;
  const open = async (file: Parameters<typeof realOpen>[0], flags?: Parameters<typeof realOpen>[1], mode?: Parameters<typeof realOpen>[2]) => {
    const handle = await realOpen(file, flags, mode);
    if (flags !== "a" || !String(file).endsWith(fileName)) return handle;
    const real = handle as unknown as JournalCalls;
    const calls = { write: real.write.bind(handle), datasync: real.datasync.bind(handle), truncate: real.truncate.bind(handle) };
    const shim: JournalCalls = {
      async write(buffer, offset, length) {
        if (state.hit) {
          state.writesAfter++;
          throw fault("write");
        }
        let at = 0;
        for (const line of buffer.toString("utf8", offset, offset + length).split("\n").slice(0, -1)) {
          const size = Buffer.byteLength(line) + 1;
          if ((JSON.parse(line) as { t?: unknown }).t === plan.record && ++seen === plan.nth) {
            if (plan.call === "datasync") {
              syncFails = true;
              break;
            }
            const part = at + Math.floor(size / 2);
            await calls.write(buffer, offset, part);
            state.hit = true;
            return { bytesWritten: part };
          }
          at += size;
        }
        return calls.write(buffer, offset, length);
      },
      async datasync() {
        if (syncFails) {
          syncFails = false;
          state.hit = true;
          throw fault("fdatasync");
        }
        if (dead()) throw fault("fdatasync");
        return calls.datasync();
      },
      async truncate(length) {
        if (dead()) throw fault("ftruncate");
        return calls.truncate(length);
      },
    };
    return Object.assign(handle, shim);
  };
  fsp.open = open as typeof realOpen;
  sync();
  return {
    state,
    restore: () => {
      fsp.open = realOpen;
      sync();
    },
  };
}

const scratch = mkdtempSync(path.join(tmpdir(), "xiexus-journal-faults-"));
const relays: FakeRelay[] = [];
let restoreShim: (() => void) | undefined;
afterEach(() => {
  restoreShim?.();
  restoreShim = undefined;
});
afterAll(async () => {
  await Promise.all(relays.map((relay) => relay.close()));
  rmSync(scratch, { recursive: true, force: true });
});

let dirs = 0;
const newDir = (): string => mkdtempSync(path.join(scratch, `b${++dirs}-`));

/** A relay of the test's own: a created task whose prompt says FAIL fails, every other completes after one running poll. */
async function startRelay(apiKey: string): Promise<FakeRelay> {
  const relay = await createFakeRelay({
    apiKey,
    video: { size: 4096 },
    createdTasks: (create) => ({ runningPolls: 1, ...(/FAIL/.test(promptOf(create)) && { outcome: "failed" as const }) }),
  });
  relays.push(relay);
  return relay;
}

const promptOf = (create: CreateRequestInfo): string => String((create.body as { prompt?: unknown }).prompt);
/** The job a create was for, read back from its prompt (`job <key>: ...`). */
const jobOf = (create: CreateRequestInfo): string => /^job (\S+):/.exec(promptOf(create))?.[1] ?? "?";
/** Task ids the relay created, by job key. */
function tasksByJob(relay: FakeRelay): Map<string, string[]> {
  const tasks = new Map<string, string[]>();
  for (const create of relay.creates) if (create.taskId) tasks.set(jobOf(create), [...(tasks.get(jobOf(create)) ?? []), create.taskId]);
  return tasks;
}
/** Creates the relay received, by job key (created a task or not). */
function createsByJob(relay: FakeRelay): Map<string, number> {
  const counts = new Map<string, number>();
  for (const create of relay.creates) counts.set(jobOf(create), (counts.get(jobOf(create)) ?? 0) + 1);
  return counts;
}

/** The journal's whole records, as the next run reads them (a torn last line left out). */
function journalRecords(dir: string): Array<{ t: string; key: string; taskId?: string }> {
  const text = readFileSync(path.join(dir, JOURNAL_FILE), "utf8");
  return text
    .split("\n")
    .slice(0, -1)
    .map((line) => JSON.parse(line) as { t: string; key: string; taskId?: string });
}

const jobsOf = (keys: readonly string[]): VideoJob[] => keys.map((key) => ({ key, model: "kling-v1", prompt: `job ${key}: a cat walks`, duration: 5 }));

interface Run {
  outcomes: VideoOutcome[];
  error: unknown;
}

async function runBatch(relay: FakeRelay, dir: string, jobs: readonly VideoJob[], concurrency: number): Promise<Run> {
  const kling = createKlingClient({ apiKey: FAKE_RELAY_API_KEY, baseUrl: relay.url, maxRetries: 1 });
  const run: Run = { outcomes: [], error: undefined };
  try {
    for await (const outcome of generateVideos(kling, jobs, { outputDir: dir, concurrency, pollIntervalMs: 5 })) run.outcomes.push(outcome);
  } catch (error) {
    run.error = error;
  }
  return run;
}

// ---------------------------------------------------------------------------------------------------
describe("the journal after a failed write", () => {
  /** Opens a journal on a new directory with the shim on, and journals `a` up to its task id. */
  async function journalWith(plan: FaultPlan) {
    const dir = newDir();
    const shim = installJournalFaults(fsPromises, syncBuiltinESMExports, plan, JOURNAL_FILE);
    restoreShim = shim.restore;
    const journal = await openJournal(dir);
    await journal.intent("a", "sha256:a");
    await journal.created("a", "task_a");
    return { dir, shim, journal, file: path.join(dir, JOURNAL_FILE) };
  }

  it("ENOSPC: the append and those in its write reject with one JournalWriteError; later ones too, unwritten; the file is cut back to what was acknowledged", async () => {
    const { dir, shim, journal, file } = await journalWith({ record: "intent", nth: 3, call: "write", code: "ENOSPC" });
    const acknowledged = readFileSync(file, "utf8");
    // Two appends in one tick share one write: the 3rd intent's, which fails half-way.
    const results = await Promise.allSettled([journal.intent("b", "sha256:b"), journal.intent("c", "sha256:c")]);
    expect(shim.state.hit).toBe(true);
    const [b, c] = results.map((r) => (r.status === "rejected" ? (r.reason as unknown) : undefined));
    expect(b).toBeInstanceOf(JournalWriteError);
    expect(c).toBe(b);
    const error = b as JournalWriteError;
    expect([error.path, error.code, error.jobs]).toEqual([file, "ENOSPC", []]);
    expect(error.message).toBe(`could not write the batch journal ${file}: no space left on device (ENOSPC)`);
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ENOSPC");
    // Nothing more is tried: the next append rejects with the same error, and writes nothing.
    await expect(journal.failed("a", { error: new Error("x"), taskId: "task_a", resumable: false })).rejects.toBe(error);
    expect(shim.state.writesAfter).toBe(1); // the rest of the torn write, refused by the disk
    expect(journal.state("b").phase).toBe("none");
    expect(journal.state("a")).toMatchObject({ phase: "created", taskId: "task_a" });
    // The torn half line is gone: the file holds exactly the acknowledged records.
    expect(readFileSync(file, "utf8")).toBe(acknowledged);
    await journal.close();
    expect(existsSync(path.join(dir, JOURNAL_LOCK_FILE))).toBe(false);
    shim.restore();
    const reopened = await openJournal(dir);
    expect([...reopened.states().keys()]).toEqual(["a"]);
    await reopened.close();
  });

  it("EIO on the sync: the file cannot be cut back, and what the failed write left is only ever more careful", async () => {
    const { dir, shim, journal, file } = await journalWith({ record: "intent", nth: 2, call: "datasync", code: "EIO" });
    const error = await journal.intent("b", "sha256:b").catch((e: unknown) => e);
    expect(shim.state.hit).toBe(true);
    expect(error).toBeInstanceOf(JournalWriteError);
    expect((error as JournalWriteError).message).toBe(`could not write the batch journal ${file}: i/o error (EIO)`);
    expect(journal.state("b").phase).toBe("none");
    await journal.close();
    shim.restore();
    // The line stayed: a re-run reads b as "may have been created", never as "create it".
    const reopened = await openJournal(dir);
    expect(reopened.state("b").phase).toBe("unknown");
    await reopened.close();
  });
});

// ---------------------------------------------------------------------------------------------------
describe("generateVideos with a journal that cannot be written", () => {
  const POINTS: Array<[string, FaultPlan, string[]]> = [
    ["ENOSPC half-way through the 3rd intent", { record: "intent", nth: 3, call: "write", code: "ENOSPC" }, []],
    ["ENOSPC half-way through the 2nd task id", { record: "created", nth: 2, call: "write", code: "ENOSPC" }, []],
    ["ENOSPC half-way through the 1st saved outcome", { record: "saved", nth: 1, call: "write", code: "ENOSPC" }, []],
    ["EROFS on the failed outcome of a task that failed", { record: "failed", nth: 1, call: "write", code: "EROFS" }, ["j2"]],
    ["EIO on the sync of the 2nd task id (the file cannot be cut back)", { record: "created", nth: 2, call: "datasync", code: "EIO" }, []],
  ];

  it.each(POINTS)("%s: stops, reports every task the journal lacks, and a re-run creates nothing twice", async (_name, plan, failing) => {
    const relay = await startRelay(FAKE_RELAY_API_KEY);
    const dir = newDir();
    const keys = Array.from({ length: 8 }, (_, i) => `j${i}`);
    const jobs = jobsOf(keys).map((job) => (failing.includes(job.key!) ? { ...job, prompt: `job ${job.key!}: FAIL` } : job));
    const shim = installJournalFaults(fsPromises, syncBuiltinESMExports, plan, JOURNAL_FILE);
    restoreShim = shim.restore;
    const first = await runBatch(relay, dir, jobs, 2);
    shim.restore();
    restoreShim = undefined;

    // The fault was played, and the batch ended on it: a typed error naming the journal and the cause.
    expect(shim.state.hit).toBe(true);
    expect(first.error).toBeInstanceOf(JournalWriteError);
    const error = first.error as JournalWriteError;
    expect(error.code).toBe(plan.code);
    expect(error.path).toBe(path.join(dir, JOURNAL_FILE));
    expect(error.message).toContain(`could not write the batch journal ${path.join(dir, JOURNAL_FILE)}: `);
    expect(error.message).toMatch(/no space left on device \(ENOSPC\)|i\/o error \(EIO\)|read-only file system \(EROFS\)/);
    // Nothing was written after the failed write (only the rest of a torn write, once, refused).
    expect(shim.state.writesAfter).toBeLessThanOrEqual(1);

    // Every job once: an outcome, or an entry of the error.
    const reported = [...first.outcomes.map((o) => o.key), ...error.jobs.map((j) => j.key)];
    expect(reported.sort()).toEqual([...keys].sort());
    // Every task the relay created is in the journal, or in what the batch reported: an outcome
    // (saved or failed, journaled) or the error's entry saying the journal lacks it.
    const records = journalRecords(dir);
    const inJournal = new Set(records.flatMap((r) => (r.taskId === undefined ? [] : [r.taskId])));
    const created = tasksByJob(relay);
    expect(created.size).toBeGreaterThan(0);
    for (const [key, ids] of created) {
      expect(ids, key).toHaveLength(1);
      const entry = error.jobs.find((j) => j.key === key);
      const where = inJournal.has(ids[0]!) ? "journal" : entry?.status === "created" && entry.taskId === ids[0] ? "error" : "nowhere";
      expect(where, `${key}'s task ${ids[0]!}`).not.toBe("nowhere");
      // The report's "journaled" is the file's truth.
      if (entry?.status === "created") expect(entry.journaled, key).toBe(inJournal.has(entry.taskId));
    }
    // No create went out without its intent on disk.
    for (const key of created.keys()) expect(records.some((r) => r.t === "intent" && r.key === key), key).toBe(true);
    if (plan.record === "created" && plan.call === "write") {
      // The task id whose record was refused is reported, not lost.
      expect(error.jobs.filter((j) => j.status === "created" && !j.journaled).length).toBeGreaterThanOrEqual(1);
      expect(error.message).toMatch(/created but NOT in the journal \(job, task id\): "j\d" task_/);
    }
    if (plan.record === "intent") expect(error.jobs.some((j) => j.status === "not_started")).toBe(true);

    // The re-run, disk working: it does what the report said of each job, and creates only jobs
    // never created before.
    const before = createsByJob(relay);
    const again = await runBatch(relay, dir, jobs, 2);
    expect(again.error).toBeUndefined();
    const after = createsByJob(relay);
    const outcome = (key: string): VideoOutcome => again.outcomes.find((o) => o.key === key)!;
    for (const key of keys) {
      expect(after.get(key) ?? 0, key).toBeLessThanOrEqual(1);
      if (before.has(key)) expect(after.get(key), `${key} created again`).toBe(before.get(key));
    }
    for (const entry of error.jobs) {
      const next = outcome(entry.key);
      if (!entry.journaled) {
        expect(next.error, entry.key).toBeInstanceOf(JobMayHaveBeenCreatedError);
      } else if (entry.status === "created") {
        expect(next.taskId, entry.key).toBe(entry.taskId);
      } else if (entry.status === "not_started") {
        expect(after.get(entry.key), `${entry.key} was not started: created now`).toBe(1);
        expect(before.has(entry.key)).toBe(false);
      }
    }
    for (const done of first.outcomes.filter((o) => o.error === undefined)) expect(outcome(done.key)).toMatchObject({ resumed: true, taskId: done.taskId });
  });
});

// ---------------------------------------------------------------------------------------------------
describe("xiexus-kling generate --jobs with a journal that cannot be written", { timeout: 60_000 }, () => {
  /** The CLI, with the shim preloaded into its process when `plan` is given. */
  function cli(relay: FakeRelay, args: string[], plan?: FaultPlan) {
    const env: Record<string, string> = { XIEXUS_BASE_URL: relay.url };
    if (plan) {
      const preload = path.join(newDir(), "journal-faults.mjs");
      writeFileSync(
        preload,
        [
          'import fsp from "node:fs/promises";',
          'import { syncBuiltinESMExports } from "node:module";',
          `(${installJournalFaults.toString()})(fsp, syncBuiltinESMExports, ${JSON.stringify(plan)}, ${JSON.stringify(JOURNAL_FILE)});`,
        ].join("\n"),
      );
      env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import ${pathToFileURL(preload).href}`.trim();
    }
    return runCli(args, { env });
  }

  /** A jobs file of `keys` (the first an image2video job, the rest text2video) and its output directory. */
  function batch(keys: readonly string[]): { file: string; out: string } {
    const dir = newDir();
    writeFileSync(path.join(dir, "cat.png"), makePng(640, 480));
    const lines = keys.map((key, i) => ({ key, prompt: `job ${key}: a cat walks`, ...(i === 0 && { image: "cat.png" }) }));
    const file = path.join(dir, "jobs.jsonl");
    writeFileSync(file, lines.map((line) => JSON.stringify(line)).join("\n") + "\n");
    return { file, out: path.join(dir, "out") };
  }

  it("ENOSPC on the 2nd task id: exit 9 naming the journal and the cause; every task id printed or journaled; resumed by the printed command; the re-run creates nothing twice", async () => {
    const relay = await startRelay(CLI_KEY);
    const keys = ["a", "b", "c", "d", "e", "f", "g"];
    const { file, out } = batch(keys);
    const args = ["generate", "--jobs", file, "--output-dir", out, "--concurrency", "3", "--interval", "0.05"];
    const stopped = await cli(relay, args, { record: "created", nth: 2, call: "write", code: "ENOSPC" });

    const journal = path.join(out, JOURNAL_FILE);
    expect(stopped.code, stopped.stderr).toBe(EXIT_CODES.fileError);
    expect(stopped.stderr).toContain(`xiexus-kling: could not write the batch journal ${journal}: no space left on device (ENOSPC); the batch stopped`);
    expect(stopped.stderr).not.toMatch(/internal error|report it/);
    // One line per job, each saying where it stands.
    const rows = stopped.stdout.trim().split("\n").map((line) => line.split("\t"));
    expect(rows.map((row) => row[0]).sort()).toEqual(keys);
    const inJournal = new Set(journalRecords(out).flatMap((r) => (r.taskId === undefined ? [] : [r.taskId])));
    const created = tasksByJob(relay);
    for (const [key, [taskId]] of created) {
      const row = rows.find((r) => r[0] === key)!;
      expect(inJournal.has(taskId!) || row.join("\t").includes(taskId!), `${key}'s task ${taskId!}: ${row.join(" | ")}`).toBe(true);
    }
    // The task whose id the journal refused: printed, with the command that resumes it.
    const lost = rows.filter((row) => row[1] === "not_journaled");
    expect(lost.length).toBeGreaterThanOrEqual(1);
    for (const [key, , note] of lost) {
      const taskId = created.get(key!)![0]!;
      expect(inJournal.has(taskId)).toBe(false);
      const route = key === "a" ? "" : " --route text2video";
      expect(note).toContain(`task ${taskId} is NOT in the journal`);
      expect(note).toContain(`resume it with: xiexus-kling wait ${taskId}${route} --output ${path.join(out, `${key!}.mp4`)}`);
      expect(stopped.stderr).toContain(`Resume the ${lost.length} task`);
    }

    // The printed commands work: each lost task's video is saved where its job would have put it.
    for (const [key, , note] of lost) {
      const words = note!.slice(note!.indexOf("xiexus-kling wait ") + "xiexus-kling ".length).split(" ");
      const resumed = await cli(relay, words);
      expect(resumed.code, resumed.stderr).toBe(EXIT_CODES.ok);
      expect(existsSync(path.join(out, `${key!}.mp4`))).toBe(true);
    }

    // The re-run, disk working: jobs created before are not created again; the lost ones are
    // reported "may have been created" (their intents are journaled, their task ids are not).
    const before = createsByJob(relay);
    const again = await cli(relay, args);
    expect(again.code, again.stderr).toBe(EXIT_CODES.mayHaveCreatedTask);
    const next = again.stdout.trim().split("\n").map((line) => line.split("\t"));
    for (const [key] of lost) expect(next.find((row) => row[0] === key)![1]).toBe("may_have_been_created");
    for (const key of keys) if (!lost.some((row) => row[0] === key)) expect(next.find((row) => row[0] === key)![1], key).toBe("saved");
    const after = createsByJob(relay);
    for (const key of keys) {
      expect(after.get(key) ?? 0, key).toBe(1);
      if (before.has(key)) expect(after.get(key), `${key} created again`).toBe(before.get(key));
    }
    // Even --recreate-unknown creates none of them again: their videos, resumed by hand, are there.
    const forced = await cli(relay, [...args, "--recreate-unknown"]);
    expect(forced.code, forced.stderr).toBe(EXIT_CODES.usage);
    expect(createsByJob(relay)).toEqual(after);
  });

  it("--json: ENOSPC on the 3rd intent; a JSON line per job (task ids included) and the error as JSON, exit 9", async () => {
    const relay = await startRelay(CLI_KEY);
    const keys = ["a", "b", "c", "d", "e", "f"];
    const { file, out } = batch(keys);
    const args = ["generate", "--jobs", file, "--output-dir", out, "--concurrency", "2", "--interval", "0.05", "--json"];
    const stopped = await cli(relay, args, { record: "intent", nth: 3, call: "write", code: "ENOSPC" });
    expect(stopped.code, stopped.stderr).toBe(EXIT_CODES.fileError);
    const lines = stopped.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const error = lines.pop()!;
    expect(error).toEqual({
      error: {
        name: "JournalWriteError",
        message: expect.stringContaining(`could not write the batch journal ${path.join(out, JOURNAL_FILE)}: no space left on device (ENOSPC)`),
        path: path.join(out, JOURNAL_FILE),
        code: "ENOSPC",
        hint: expect.stringContaining("run the same command again"),
        exitCode: EXIT_CODES.fileError,
      },
    });
    expect(lines.map((line) => line.key).sort()).toEqual(keys);
    const inJournal = new Set(journalRecords(out).flatMap((r) => (r.taskId === undefined ? [] : [r.taskId])));
    for (const [key, [taskId]] of tasksByJob(relay)) {
      const line = lines.find((l) => l.key === key)!;
      expect(inJournal.has(taskId!) || line.taskId === taskId, `${key}: ${JSON.stringify(line)}`).toBe(true);
      if (line.result === "not_journaled") expect(line.resume).toContain(`xiexus-kling wait ${taskId!}`);
    }
    // Some jobs never started: said so, and created by the re-run; nothing is created twice.
    expect(lines.filter((line) => line.result === "not_started").length).toBeGreaterThanOrEqual(1);
    const before = createsByJob(relay);
    const again = await cli(relay, args);
    expect([EXIT_CODES.ok, EXIT_CODES.mayHaveCreatedTask]).toContain(again.code);
    for (const [key, n] of createsByJob(relay)) {
      expect(n, key).toBe(1);
      if (before.has(key)) expect(n).toBe(before.get(key));
    }
  });
});
