// The batch journal: an append-only JSON Lines file in a batch's output directory that remembers,
// across crashes, what each job has done: the intent to create (written before the create request
// is sent), the task id (as soon as it is known) and the outcome. A re-run replays it so that no job
// is paid for twice: every created task costs money and the relay has no idempotency key.
// Each record is on disk (write + fdatasync) before its append resolves; the caller awaits it
// before the step it guards goes on. A write that fails (a full disk, an I/O error) breaks the
// journal: every append from then on rejects with the same JournalWriteError, nothing more is
// written, and what the failed write left is cut back off (best effort), so the file holds only
// acknowledged records. One process at a time: an exclusive lock file beside it.
import { createHash } from "node:crypto";
import { open, readFile, stat, type FileHandle } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { InvalidArgumentError, KlingError } from "../errors.js";
import { checkOptionsObject, checkSignal, checkTaskId, CONTROL, LONE_SURROGATE } from "../options.js";
import type { RouteName } from "../routes.js";
import { acquireLock, codeOf, JOURNAL_LOCK_FILE, releaseLock, sweep, type HeldLock } from "./_journal-lock.js";

export { JournalLockedError, JOURNAL_LOCK_FILE } from "./_journal-lock.js";

/** File name of the journal inside the batch's output directory. */
export const JOURNAL_FILE = ".xiexus-kling-journal.jsonl";


/** Longest job key accepted, in characters. */
export const MAX_JOB_KEY_LENGTH = 1024;

/** Longest fingerprint accepted, in characters. */
const MAX_FINGERPRINT_LENGTH = 1024;

/** Longest error message kept in a `failed` record, in characters. */
const MAX_ERROR_MESSAGE = 2000;


/**
 * Where a job stands after replaying the journal:
 * - `none`: nothing to finish; a create may be sent (never started, or re-creation was asked for);
 * - `unknown`: a create may have reached the relay without an answer: it may have been created
 *   (and paid). Never re-created unless the user asks (`recreate`);
 * - `created`: its task id is known and its video not saved yet: wait for it, do not create;
 * - `saved`: its video was saved (`path`, `bytes`);
 * - `failed`: it ended without a video and no task of it is running; a re-run may try again, as a
 *   new paid attempt.
 */
export type JobPhase = "none" | "unknown" | "created" | "saved" | "failed";

/** An error as a `failed` record keeps it: enough to report it, nothing that cannot be written as JSON. */
export interface JournalErrorInfo {
  /** The error's class name, e.g. `TaskFailedError`. */
  name: string;
  /** Its message (at most 2,000 characters). */
  message: string;
  /** Its `code`, when it had a string or number one (a task's error code, a Node errno code). */
  code?: string | number;
  /** Its HTTP `status`, when it had one. */
  status?: number;
}

/** Fields every record has. */
interface RecordBase {
  /** Format version: 1. */
  v: 1;
  /** The job's key. */
  key: string;
  /** When the record was written (ISO 8601). */
  at: string;
}

/** One line of the journal. */
export type JournalRecord =
  | (RecordBase & { t: "intent"; fingerprint: string })
  | (RecordBase & { t: "created"; taskId: string })
  | (RecordBase & { t: "saved"; taskId: string; path: string; bytes: number })
  | (RecordBase & {
      t: "failed";
      taskId?: string;
      error: JournalErrorInfo;
      /** Only without `taskId`: the create's fate is unknown (it may have reached the relay). */
      mayHaveCreatedTask?: boolean;
      /** Only with `taskId`: the task may still give its video, so a re-run waits on it again. */
      resumable?: boolean;
    })
  | (RecordBase & { t: "recreate" });

/** A job's state, as replayed from the journal. */
export interface JobState {
  /** The job's key. */
  readonly key: string;
  /** Where it stands; see `JobPhase`. */
  readonly phase: JobPhase;
  /** How many intents to create were recorded: the paid attempts started, at most. */
  readonly attempts: number;
  /** The fingerprint of the last intent (compare it with the job's request to see it changed). */
  readonly fingerprint?: string;
  /** The task: in `created` and `saved`, the one to wait on or that was saved; in `failed`, the one that failed, if any. */
  readonly taskId?: string;
  /** In `saved`: the video's path, relative to the journal's directory (`/`-separated). */
  readonly path?: string;
  /** In `saved`: the video's size in bytes. */
  readonly bytes?: number;
  /** The last failure: in `failed`; also in `unknown` or `created` after a failure that left them so. */
  readonly error?: JournalErrorInfo;
  /** When the last record of this job was written (ISO 8601); undefined for a job never recorded. */
  readonly at?: string;
}

/** What `Journal.failed` records. */
export type FailedInfo =
  | {
      /** The error; kept as `{ name, message, code?, status? }`. */
      error: unknown;
      taskId?: undefined;
      /**
       * The create's fate is unknown (a timeout, a reset after sending): the job becomes `unknown`
       * and is not re-created without `recreate`. Default: the error's own `mayHaveCreatedTask`,
       * else true while a create is pending (after `intent`), else false.
       */
      mayHaveCreatedTask?: boolean;
    }
  | {
      /** The error; kept as `{ name, message, code?, status? }`. */
      error: unknown;
      /** The task that was created for the job. */
      taskId: string;
      /**
       * True when the task may still give its video (the wait timed out, polling or the download
       * lost its connection): the job stays `created` and a re-run waits on the same task. False
       * when it cannot (the task failed, was cancelled or expired, its video is gone): the job
       * becomes `failed` and a re-run pays for a new task.
       */
      resumable: boolean;
    };

/** Options of `openJournal`. */
export interface OpenJournalOptions {
  /** Aborting stops the opening (waits for the lock, reading) and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * An open journal; see `openJournal`. Each append resolves once its record is on disk; if it cannot
 * be written it rejects with JournalWriteError, and so does every append after it.
 */
export interface Journal {
  /** The batch's output directory (absolute). */
  readonly dir: string;
  /** The journal file's absolute path. */
  readonly path: string;
  /** A job's state as written so far (`phase: "none"`, `attempts: 0` for a key never recorded). */
  state(key: string): JobState;
  /** A snapshot of every recorded job's state, by key. */
  states(): ReadonlyMap<string, JobState>;
  /** Records the intent to create; await it BEFORE sending the create request. Refused unless `none` or `failed`. */
  intent(key: string, fingerprint: string): Promise<void>;
  /** Records the created task's id; await it before waiting on the task. Refused unless `unknown` (the same id again is a no-op). */
  created(key: string, taskId: string): Promise<void>;
  /** Records the saved video (`path` absolute or relative to `dir`, inside it); after the file is in place. */
  saved(key: string, taskId: string, path: string, bytes: number): Promise<void>;
  /** Records a failure; see `FailedInfo` for what it makes of the job. */
  failed(key: string, info: FailedInfo): Promise<void>;
  /** Records the user's request to re-create a job in `unknown` (it becomes `none`). */
  recreate(key: string): Promise<void>;
  /** Waits for pending appends, closes the file and releases the lock. Later appends are refused. */
  close(): Promise<void>;
}

/** The journal holds a line that is not a record a crash could leave: corruption, not guessed around. */
export class JournalCorruptError extends KlingError {
  override name = "JournalCorruptError";
  /** The journal file, when known. */
  readonly path: string | undefined;
  /** The 1-based line number of the bad record. */
  readonly line: number;
  /** What is wrong with it. */
  readonly problem: string;
  constructor(line: number, problem: string, path?: string) {
    super(
      `${path ?? "the journal"} line ${line}: ${problem}. The journal is corrupted (a crash only tears ` +
        `the last line); fix or remove that line by hand: the journal is what keeps a re-run from paying twice`,
    );
    this.path = path;
    this.line = line;
    this.problem = problem;
  }
}

/**
 * A job that a batch stopped by a JournalWriteError left without an outcome, and where it stands.
 * `journaled: false` means the journal does not say where it stands (its intent is there, not what
 * followed): a re-run reports it "may have been created" and does not create it again.
 */
export type UnfinishedJob =
  | (UnfinishedJobBase & {
      /** Its create was not sent in this run. */
      readonly status: "not_started";
    })
  | (UnfinishedJobBase & {
      /** It has a task (created in this run or an earlier one): `taskId`. */
      readonly status: "created";
      /** The task: when not `journaled`, wait for it and save its video yourself (route, output). */
      readonly taskId: string;
    })
  | (UnfinishedJobBase & {
      /** Its create was sent and answered with `error` (no task id came back). */
      readonly status: "create_failed";
      /** The create's error; `mayHaveCreatedTask` when a task may exist all the same. */
      readonly error: KlingError;
    });

/** What every UnfinishedJob says. */
export interface UnfinishedJobBase {
  /** The job's key. */
  readonly key: string;
  /** Its route (`image2video`, `text2video`): where to look its task up. */
  readonly route: RouteName;
  /** The video's absolute path, where the job would have saved it. */
  readonly output: string;
  /** Whether the journal holds where the job stands, so a re-run goes on with it by itself (see UnfinishedJob). */
  readonly journaled: boolean;
}

/** How many unfinished jobs a JournalWriteError's message names one by one. */
const NAMED_IN_MESSAGE = 10;

/**
 * The batch journal could not be written (no space left, an I/O error, a read-only file system):
 * nothing more is recorded, so the batch stops. From an append: the journal's `path` and the
 * system's `code`. From generateVideos, once creates already sent have finished: also `jobs`,
 * every job that did not get an outcome, with the task ids the journal could not record.
 */
export class JournalWriteError extends KlingError {
  override name = "JournalWriteError";
  /** The journal file. */
  readonly path: string;
  /** The system's error code (`ENOSPC`, `EIO`, `EROFS`, ...), when it had one. */
  readonly code: string | undefined;
  /** From generateVideos: the jobs the batch left without an outcome (empty from an append). */
  readonly jobs: readonly UnfinishedJob[];
  constructor(path: string, cause: unknown, jobs: readonly UnfinishedJob[] = []) {
    super(`could not write the batch journal ${path}: ${describeCause(cause)}${jobs.length > 0 ? stoppedSummary(jobs) : ""}`, { cause });
    const code = cause instanceof JournalWriteError ? cause.code : (cause as { code?: unknown } | null)?.code;
    this.path = path;
    this.code = typeof code === "string" ? code : undefined;
    this.jobs = jobs;
  }
}

/** The cause as a message says it: `no space left on device (ENOSPC)`. */
function describeCause(cause: unknown): string {
  if (cause instanceof JournalWriteError) return describeCause(cause.cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  // Node says `ENOSPC: no space left on device, write`: the words, then the code.
  const words = typeof code === "string" ? /^[A-Z]+: (.*?)(, \w+)?$/.exec(message)?.[1] : undefined;
  return words !== undefined ? `${words} (${code as string})` : message;
}

/** `n thing` or `n things`. */
const count = (n: number, thing: string): string => `${n} ${thing}${n === 1 ? "" : "s"}`;

/** The part of a batch's message that says what the stop left: the task ids missing from the journal first. */
function stoppedSummary(jobs: readonly UnfinishedJob[]): string {
  const parts = ["; the batch stopped and sent no more creates"];
  const lost = jobs.flatMap((job) => (job.status === "created" && !job.journaled ? [`${JSON.stringify(job.key)} ${job.taskId}`] : []));
  if (lost.length > 0) {
    const named = lost.slice(0, NAMED_IN_MESSAGE).join(", ") + (lost.length > NAMED_IN_MESSAGE ? ` and ${lost.length - NAMED_IN_MESSAGE} more` : "");
    parts.push(
      `. ${count(lost.length, "task")} created but NOT in the journal (job, task id): ${named}. Wait for them and save their ` +
        `videos yourself: a re-run reports these jobs "may have been created" and does not create them again`,
    );
  }
  const waiting = jobs.filter((job) => job.status === "created" && job.journaled).length;
  if (waiting > 0) parts.push(`. ${count(waiting, "task")} in the journal: a re-run goes on with them`);
  const fresh = jobs.filter((job) => job.status === "not_started" && job.journaled).length;
  if (fresh > 0) parts.push(`. ${count(fresh, "job")} not started: a re-run creates them`);
  const stray = jobs.filter((job) => job.status === "not_started" && !job.journaled).length;
  if (stray > 0) parts.push(`. ${count(stray, "job")} not sent, though journaled as about to be: a re-run reports them "may have been created"; they were not`);
  const failed = jobs.filter((job) => job.status === "create_failed");
  if (failed.length > 0) {
    const unknown = failed.filter((job) => job.error.mayHaveCreatedTask).length;
    parts.push(`. ${count(failed.length, "create")} answered with an error${unknown > 0 ? ` (${unknown} may have created a task)` : ""}`);
  }
  parts.push(". Free space (or fix the disk), then run the batch again");
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------------
// Replay: one pure transition function, used both to replay the file and to refuse an append that
// would break the rules before it is written.

function initialState(key: string): JobState {
  return { key, phase: "none", attempts: 0 };
}

/** The state after `record` (without undefined fields), or why the record cannot follow `state`. */
function transition(state: JobState, record: JournalRecord): JobState | string {
  const next = rule(state, record);
  if (typeof next === "string") return next;
  return Object.fromEntries(Object.entries(next).filter(([, value]) => value !== undefined)) as unknown as JobState;
}

function rule(state: JobState, record: JournalRecord): JobState | string {
  const { phase } = state;
  const kept = { key: state.key, attempts: state.attempts, fingerprint: state.fingerprint, at: record.at };
  const hasTask = phase === "created" || phase === "saved";
  switch (record.t) {
    case "intent":
      if (phase === "none" || phase === "failed") {
        return { ...kept, phase: "unknown", attempts: state.attempts + 1, fingerprint: record.fingerprint };
      }
      if (phase === "unknown") {
        return "its last create may have reached the relay without an answer (it may have been created); only a recreate record allows another";
      }
      if (phase === "created") return `task ${state.taskId} was created for it and is not finished: wait for it`;
      return `its video is already saved (task ${state.taskId})`;
    case "created":
      if (phase === "unknown") return { ...kept, phase: "created", taskId: record.taskId, error: state.error };
      if (phase === "created" && state.taskId === record.taskId) return { ...state, at: record.at };
      if (phase === "created") return `task ${state.taskId} was already created for it, not ${record.taskId}`;
      return `no create was pending (phase ${phase}): a task id follows an intent`;
    case "saved":
      if (hasTask && state.taskId === record.taskId) {
        return { ...kept, phase: "saved", taskId: record.taskId, path: record.path, bytes: record.bytes };
      }
      if (hasTask) return `its task is ${state.taskId}, not ${record.taskId}`;
      return `no task was created for it (phase ${phase})`;
    case "failed": {
      const error = record.error;
      if (record.taskId === undefined) {
        if (phase === "unknown") return { ...kept, phase: record.mayHaveCreatedTask ? "unknown" : "failed", error };
        if (hasTask) return `task ${state.taskId} was created for it: its failure names the task`;
        if (record.mayHaveCreatedTask) return `no create was pending (phase ${phase}), so none may have been created`;
        return { ...kept, phase: "failed", error };
      }
      if (phase === "unknown" || (hasTask && state.taskId === record.taskId)) {
        return { ...kept, phase: record.resumable ? "created" : "failed", taskId: record.taskId, error };
      }
      if (hasTask) return `its task is ${state.taskId}, not ${record.taskId}`;
      return `no create was pending (phase ${phase}) for task ${record.taskId}`;
    }
    case "recreate":
      if (phase === "unknown") return { ...kept, phase: "none", error: state.error };
      return `only a job whose create may have been sent without an answer can be re-created (phase ${phase})`;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Why `key` is not a job key, or undefined. */
function keyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") return `a job key must be a string, got ${key === null ? "null" : typeof key}`;
  if (key === "") return "a job key must not be empty";
  if (key.length > MAX_JOB_KEY_LENGTH) return `a job key is at most ${MAX_JOB_KEY_LENGTH} characters (got ${key.length})`;
  if (CONTROL.test(key)) return "a job key must not contain control characters";
  if (LONE_SURROGATE.test(key)) return "a job key must be well-formed Unicode";
  return undefined;
}

/** Why `path` cannot be a recorded video path (relative, inside the directory), or undefined. */
function pathProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || path === "") return "path must be a non-empty string";
  if (path.includes("\0")) return "path contains a NUL character";
  if (isAbsolute(path) || /^([a-z]:|[\\/])/i.test(path)) return "path must be relative to the journal's directory";
  if (path.split(/[\\/]/).includes("..")) return "path must stay inside the journal's directory";
  return undefined;
}

function errorInfoProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return "error must be an object";
  if (typeof value.name !== "string" || typeof value.message !== "string") return "error needs a string name and message";
  if (value.code !== undefined && typeof value.code !== "string" && typeof value.code !== "number") return "error.code must be a string or number";
  if (value.status !== undefined && !Number.isInteger(value.status)) return "error.status must be an integer";
  return undefined;
}

/** Checks one parsed line; returns the record or what is wrong with it. */
function checkRecord(value: unknown): JournalRecord | string {
  if (!isPlainObject(value)) return "not a JSON object";
  const record = value as unknown as JournalRecord;
  if (value.v !== 1) {
    return typeof value.v === "number" && value.v > 1
      ? `written by a newer version of xiexus-kling (format v${value.v})`
      : "no format version 1 (v)";
  }
  const problem = keyProblem(value.key);
  if (problem) return problem;
  if (typeof value.at !== "string" || Number.isNaN(Date.parse(value.at))) return "at must be an ISO 8601 time";
  const taskId = (): string | undefined => {
    try {
      checkTaskId(value.taskId);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
  switch (value.t) {
    case "intent":
      if (typeof value.fingerprint !== "string" || value.fingerprint === "") return "an intent needs a fingerprint";
      break;
    case "created":
      return taskId() ?? record;
    case "saved":
      if (!Number.isSafeInteger(value.bytes) || (value.bytes as number) < 0) return "bytes must be a non-negative integer";
      return taskId() ?? pathProblem(value.path) ?? record;
    case "failed": {
      const bad = errorInfoProblem(value.error);
      if (bad) return bad;
      if (value.taskId === undefined) {
        if (typeof value.mayHaveCreatedTask !== "boolean") return "a failure without taskId needs mayHaveCreatedTask (boolean)";
        if (value.resumable !== undefined) return "resumable goes with a taskId";
      } else {
        const badId = taskId();
        if (badId) return badId;
        if (typeof value.resumable !== "boolean") return "a failure with a taskId needs resumable (boolean)";
        if (value.mayHaveCreatedTask !== undefined) return "mayHaveCreatedTask goes without a taskId";
      }
      break;
    }
    case "recreate":
      break;
    default:
      return `unknown record type ${JSON.stringify(value.t)}`;
  }
  return record;
}

/**
 * Replays journal records (in file order) into each job's state. Pure: the same records always give
 * the same states. Throws `JournalCorruptError` naming the 1-based position of the first record that
 * is malformed or cannot follow the ones before (e.g. a second intent while a create's fate is unknown).
 */
export function replay(records: readonly unknown[]): Map<string, JobState> {
  const states = new Map<string, JobState>();
  records.forEach((value, index) => {
    const record = checkRecord(value);
    if (typeof record === "string") throw new JournalCorruptError(index + 1, record);
    const next = transition(states.get(record.key) ?? initialState(record.key), record);
    if (typeof next === "string") {
      throw new JournalCorruptError(index + 1, `a ${record.t} record of job ${JSON.stringify(record.key)} cannot be here: ${next}`);
    }
    states.set(record.key, next);
  });
  return states;
}

/**
 * A fingerprint of a create request for `Journal.intent`: `sha256:<hex>` of a canonical JSON form
 * (object keys sorted, `undefined` properties left out, byte arrays by content). Same request, same
 * fingerprint, in any process. Throws `InvalidArgumentError` for what has no such form (a Blob:
 * read it first; functions, symbols, bigints, non-finite numbers, class instances, cycles).
 */
export function fingerprintRequest(request: unknown): string {
  const hash = createHash("sha256");
  const seen = new Set<object>();
  const feed = (value: unknown, where: string): void => {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      hash.update(JSON.stringify(value));
      return;
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new InvalidArgumentError("request", `${where} is not a finite number`);
      hash.update(JSON.stringify(value));
      return;
    }
    if (typeof value !== "object") throw new InvalidArgumentError("request", `${where} is a ${typeof value}, which has no JSON form`);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      hash.update(`{"$bytes":"${createHash("sha256").update(bytes).digest("hex")}"}`);
      return;
    }
    if (seen.has(value)) throw new InvalidArgumentError("request", `${where} refers back to itself`);
    const proto = Object.getPrototypeOf(value) as unknown;
    if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
      throw new InvalidArgumentError("request", `${where} is a ${kind}; pass plain data (read a Blob into bytes first)`);
    }
    seen.add(value);
    if (Array.isArray(value)) {
      hash.update("[");
      value.forEach((item, i) => {
        if (i > 0) hash.update(",");
        feed(item === undefined ? null : item, `${where}[${i}]`);
      });
      hash.update("]");
    } else {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
      hash.update("{");
      keys.forEach((k, i) => {
        hash.update(`${i > 0 ? "," : ""}${JSON.stringify(k)}:`);
        feed(record[k], `${where}.${k}`);
      });
      hash.update("}");
    }
    seen.delete(value);
  };
  feed(request, "request");
  return `sha256:${hash.digest("hex")}`;
}

// ---------------------------------------------------------------------------------------------------
// Reading and writing.

/** The journal's complete records, and how many bytes they span (the rest is a torn tail). */
interface Loaded {
  exists: boolean;
  size: number;
  validLength: number;
  records: unknown[];
}

async function load(path: string): Promise<Loaded> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if (codeOf(error) === "ENOENT") return { exists: false, size: 0, validLength: 0, records: [] };
    throw error;
  }
  const records: unknown[] = [];
  let start = 0;
  let validLength = 0;
  for (let line = 1; ; line++) {
    const end = data.indexOf(0x0a, start);
    // Bytes after the last newline: a write cut short by a crash. It was never acknowledged.
    if (end === -1) break;
    try {
      records.push(JSON.parse(data.toString("utf8", start, end)) as unknown);
      validLength = end + 1;
    } catch {
      // Only the last write can be torn: each append is synced before the next one starts.
      const isLast = data.indexOf(0x0a, end + 1) === -1;
      if (!isLast) throw new JournalCorruptError(line, "not valid JSON", path);
    }
    start = end + 1;
  }
  return { exists: true, size: data.length, validLength, records };
}

/**
 * The job states the journal file at `path` holds now, as the next openJournal will replay them
 * (a torn last line left out; no file: none). Read without the lock, for a report, never to act
 * on: after a failed write it says what a re-run will find, acknowledged or not.
 */
export async function replayJournalFile(path: string): Promise<Map<string, JobState>> {
  return replay((await load(path)).records);
}

/** Makes a new file's directory entry durable (a no-op where directories cannot be opened). */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Windows cannot open a directory; its file system journals the entry itself.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function serializeError(error: unknown): JournalErrorInfo {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; status?: unknown } | null;
  const isObject = e !== null && typeof e === "object";
  const name = isObject && typeof e.name === "string" && e.name !== "" ? e.name : "Error";
  let message = isObject && typeof e.message === "string" ? e.message : String(error);
  if (message.length > MAX_ERROR_MESSAGE) message = `${message.slice(0, MAX_ERROR_MESSAGE - 3)}...`;
  const info: JournalErrorInfo = { name, message };
  if (isObject && (typeof e.code === "string" || (typeof e.code === "number" && Number.isFinite(e.code)))) info.code = e.code;
  if (isObject && Number.isInteger(e.status)) info.status = e.status as number;
  return info;
}

function checkKey(key: unknown): string {
  const problem = keyProblem(key);
  if (problem) throw new InvalidArgumentError("key", problem);
  return key as string;
}

interface Pending {
  line: string;
  key: string;
  state: JobState;
  resolve: () => void;
  reject: (error: unknown) => void;
}

class FileJournal implements Journal {
  readonly dir: string;
  readonly path: string;
  #file: FileHandle;
  #lock: HeldLock;
  /** States as on disk. */
  #written: Map<string, JobState>;
  /** States including appends not yet on disk: what the next append is checked against. */
  #pending: Map<string, JobState>;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #broken: JournalWriteError | undefined;
  #closing: Promise<void> | undefined;
  /** The file's length up to its last acknowledged record: what a failed write is cut back to. */
  #size: number;

  constructor(dir: string, path: string, file: FileHandle, lock: HeldLock, states: Map<string, JobState>, size: number) {
    this.dir = dir;
    this.path = path;
    this.#file = file;
    this.#lock = lock;
    this.#written = states;
    this.#pending = new Map(states);
    this.#size = size;
  }

  state(key: string): JobState {
    checkKey(key);
    return this.#written.get(key) ?? initialState(key);
  }

  states(): ReadonlyMap<string, JobState> {
    return new Map(this.#written);
  }

  async intent(key: string, fingerprint: string): Promise<void> {
    checkKey(key);
    if (typeof fingerprint !== "string" || fingerprint === "" || fingerprint.length > MAX_FINGERPRINT_LENGTH) {
      throw new InvalidArgumentError("fingerprint", `fingerprint must be a non-empty string of at most ${MAX_FINGERPRINT_LENGTH} characters`);
    }
    return this.#append({ v: 1, t: "intent", key, at: new Date().toISOString(), fingerprint });
  }

  async created(key: string, taskId: string): Promise<void> {
    checkKey(key);
    checkTaskId(taskId);
    return this.#append({ v: 1, t: "created", key, at: new Date().toISOString(), taskId });
  }

  async saved(key: string, taskId: string, path: string, bytes: number): Promise<void> {
    checkKey(key);
    checkTaskId(taskId);
    if (typeof path !== "string" || path === "" || path.includes("\0")) {
      throw new InvalidArgumentError("path", "path must be a non-empty string without NUL characters");
    }
    const inside = relative(this.dir, resolve(this.dir, path)).split(sep).join("/");
    const problem = inside === "" ? "path is the journal's directory itself" : pathProblem(inside);
    if (problem) throw new InvalidArgumentError("path", `${problem}: ${path}`);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new InvalidArgumentError("bytes", "bytes must be a non-negative integer");
    return this.#append({ v: 1, t: "saved", key, at: new Date().toISOString(), taskId, path: inside, bytes });
  }

  async failed(key: string, info: FailedInfo): Promise<void> {
    checkKey(key);
    if (!isPlainObject(info)) throw new InvalidArgumentError("info", "info must be an object { error, taskId?, ... }");
    if (info.error === undefined) throw new InvalidArgumentError("info", "info.error is required");
    const base = { v: 1 as const, t: "failed" as const, key, at: new Date().toISOString(), error: serializeError(info.error) };
    if (info.taskId === undefined) {
      if (info.mayHaveCreatedTask !== undefined && typeof info.mayHaveCreatedTask !== "boolean") {
        throw new InvalidArgumentError("mayHaveCreatedTask", "info.mayHaveCreatedTask must be a boolean");
      }
      const fromError = (info.error as { mayHaveCreatedTask?: unknown } | null)?.mayHaveCreatedTask;
      // Unsaid while a create is pending: its fate is unknown, the safe reading.
      const mayHaveCreatedTask =
        info.mayHaveCreatedTask ?? (typeof fromError === "boolean" ? fromError : this.#pending.get(key)?.phase === "unknown");
      return this.#append({ ...base, mayHaveCreatedTask });
    }
    checkTaskId(info.taskId);
    if (typeof info.resumable !== "boolean") {
      throw new InvalidArgumentError("resumable", "info.resumable (boolean) is required with a taskId: may the task still give its video?");
    }
    return this.#append({ ...base, taskId: info.taskId, resumable: info.resumable });
  }

  async recreate(key: string): Promise<void> {
    checkKey(key);
    return this.#append({ v: 1, t: "recreate", key, at: new Date().toISOString() });
  }

  #append(record: JournalRecord): Promise<void> {
    if (this.#closing) return Promise.reject(new KlingError(`the journal ${this.path} is closed`));
    if (this.#broken) return Promise.reject(this.#broken);
    const next = transition(this.#pending.get(record.key) ?? initialState(record.key), record);
    if (typeof next === "string") {
      return Promise.reject(new InvalidArgumentError("key", `job ${JSON.stringify(record.key)}: cannot record ${record.t}: ${next}`));
    }
    this.#pending.set(record.key, next);
    return new Promise((resolvePromise, reject) => {
      this.#queue.push({ line: `${JSON.stringify(record)}\n`, key: record.key, state: next, resolve: resolvePromise, reject });
      // Started on a microtask, so appends made in the same tick share one write and one sync.
      this.#flushing ??= Promise.resolve().then(() => this.#flush());
    });
  }

  /**
   * Writes queued records: all those waiting go out in one write and one fdatasync (group commit),
   * and each append resolves only once its line is on disk. A failed write (or sync) breaks the
   * journal: its appends and every later one reject with one JournalWriteError, nothing more is
   * written, and the file is cut back to its acknowledged records.
   */
  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      if (this.#broken) {
        for (const p of batch) p.reject(this.#broken);
        continue;
      }
      try {
        const bytes = Buffer.from(batch.map((p) => p.line).join(""));
        for (let offset = 0; offset < bytes.length; ) {
          const { bytesWritten } = await this.#file.write(bytes, offset, bytes.length - offset);
          offset += bytesWritten;
        }
        await this.#file.datasync();
        this.#size += bytes.length;
        for (const p of batch) {
          this.#written.set(p.key, p.state);
          p.resolve();
        }
      } catch (error) {
        // Broken at once (an append made meanwhile is refused), cut back before anyone hears of
        // it: whoever reads the file on the rejection finds only acknowledged records.
        this.#broken = new JournalWriteError(this.path, error);
        await this.#cutBack();
        for (const p of batch) p.reject(this.#broken);
      }
    }
    this.#flushing = undefined;
  }

  /**
   * Removes what a failed write left after the last acknowledged record (a torn line, or whole
   * lines whose append was refused), so a re-run reads only what this run acted on. Shrinking a
   * file works on a full disk. Best effort: if it fails too, the next open cuts a torn last line,
   * and a whole line left over only makes a re-run more careful (an intent left alone reads "may
   * have been created", never "create it").
   */
  async #cutBack(): Promise<void> {
    try {
      await this.#file.truncate(this.#size);
      await this.#file.datasync();
    } catch {
      // Nothing more can be done from here: see above.
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#flushing;
      try {
        await this.#file.close();
      } finally {
        await releaseLock(this.#lock);
      }
    })();
    return this.#closing;
  }
}

/**
 * Opens (or creates) the batch journal `<dir>/.xiexus-kling-journal.jsonl` and replays it.
 * `dir` must exist. Takes the exclusive lock `<dir>/.xiexus-kling-journal.lock` first: another open
 * journal of the same directory, in any process of this host, is refused with `JournalLockedError`;
 * a lock left by a process of this host that no longer runs (killed) is taken over. A torn last line
 * (a crash mid-write) is ignored and cut off before the first append; any other bad line rejects
 * with `JournalCorruptError` naming it. Close it with `close()`; at process exit the lock is also
 * released (best effort).
 */
export async function openJournal(dir: string, options?: OpenJournalOptions): Promise<Journal> {
  if (typeof dir !== "string" || dir.trim() === "") throw new InvalidArgumentError("dir", "dir must be a non-empty string");
  if (dir.includes("\0")) throw new InvalidArgumentError("dir", "dir contains a NUL character");
  const signal = checkSignal(checkOptionsObject(options).signal);
  if (signal?.aborted) throw signal.reason;
  const absolute = resolve(dir);
  const info = await stat(absolute).catch(() => undefined);
  if (!info?.isDirectory()) throw new InvalidArgumentError("dir", `${absolute} is not an existing directory`);

  const path = join(absolute, JOURNAL_FILE);
  const lockPath = join(absolute, JOURNAL_LOCK_FILE);
  const lock = await acquireLock(lockPath, signal);
  let file: FileHandle | undefined;
  try {
    await sweep(absolute, lockPath, signal);
    if (signal?.aborted) throw signal.reason;
    const loaded = await load(path);
    let states: Map<string, JobState>;
    try {
      states = replay(loaded.records);
    } catch (error) {
      if (error instanceof JournalCorruptError) throw new JournalCorruptError(error.line, error.problem, path);
      throw error;
    }
    if (signal?.aborted) throw signal.reason;
    if (loaded.size > loaded.validLength) {
      // The next record must start on a line of its own, not after a torn one.
      const repair = await open(path, "r+");
      try {
        await repair.truncate(loaded.validLength);
        await repair.datasync();
      } finally {
        await repair.close();
      }
    }
    file = await open(path, "a");
    if (!loaded.exists) await syncDir(absolute);
    return new FileJournal(absolute, path, file, lock, states, loaded.validLength);
  } catch (error) {
    await file?.close().catch(() => undefined);
    await releaseLock(lock).catch(() => undefined);
    throw error;
  }
}
