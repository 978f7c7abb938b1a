// `generate --jobs <file.jsonl> --output-dir <dir>`: a resumable batch through generateVideos
// (xiexus-kling/node), whose journal in <dir> keeps a re-run from paying twice. On a terminal, a live
// board (a line per job in flight, the counts of the others) and a summary; piped, one line per
// finished job, `<key> TAB <saved|failed|may_have_been_created|...> TAB <path or error>`; --json,
// JSON Lines. The exit code follows the batch rule. A job that may have been created without its
// task id coming back is said so in every mode, with the flag that creates it again. A journal that
// cannot be written stops the batch: exit 9, and a line for every job left without an outcome, with
// its task id and, for one the journal could not record, the command that resumes it.
import path from "node:path";
import type { KlingError } from "../index.js";
import { generateVideos, JournalWriteError, type UnfinishedJob, type VideoJobEvent, type VideoOutcome } from "../node/index.js";
import { switchFlag, valueFlag } from "./_flag.js";
import { FLAGS, readTaskFlags, type CommandLine, type Flag } from "./_args.js";
import { Tally } from "./_batch-report.js";
import { CREATE_FLAGS, DEFAULT_MODEL, resumeCommand } from "./_create-request.js";
import { describeError, Interrupted, UsageError } from "./_errors.js";
import { EXIT_CODES, EXIT_MEANINGS } from "./_exit-codes.js";
import { atLine, readJobsFile } from "./_jobs-file.js";
import { Board } from "./_live.js";
import { openClient, type Session } from "./_session.js";
import { clean, formatBytes, toJson } from "./_terminal.js";

/** `--jobs <file.jsonl>`: run a batch instead of one task. */
export const JOBS_FLAG = valueFlag("jobs", "<file.jsonl>", ["generate: one create request per line (JSON Lines); needs --output-dir"]);

/** `--recreate-unknown`: create again the jobs a run left as "may have been created". */
export const RECREATE_UNKNOWN_FLAG = switchFlag("recreate-unknown", [
  'generate --jobs: create again the jobs reported "may have been created"',
  "(each may then be paid for twice: check the relay's tasks first)",
]);

/** What to do about a job that may have been created: said with each such job, in every output mode. */
const UNKNOWN_HINT =
  "check the relay's tasks and billing before creating it again; to create it again anyway, run the same command with --recreate-unknown";

/** The request flags of one task: refused with --jobs (each line holds its own request); --model is the lines' default. */
const ONE_TASK_FLAGS: readonly Flag[] = Object.values(CREATE_FLAGS).filter((flag) => flag !== CREATE_FLAGS.model);

/** `generate --jobs`: resolves to the batch's exit code; throws the abort reason (with how to resume) when interrupted. */
export async function generateJobs(line: CommandLine, session: Session): Promise<number> {
  const file = line.string(JOBS_FLAG)!;
  for (const flag of ONE_TASK_FLAGS) {
    if (line.given(flag)) throw new UsageError(`--${flag.name} is for one task: with --jobs, each line of ${file} holds its own request`);
  }
  if (line.given(FLAGS.output)) throw new UsageError("--output names one file: with --jobs, the videos go to --output-dir <dir>");
  if (line.operands.length > 0) throw new UsageError(`generate takes no task id (got ${JSON.stringify(line.operands[0])})`);
  const flags = readTaskFlags(line, 2);
  if (flags.outputDir === undefined) {
    throw new UsageError("generate --jobs needs --output-dir <dir>: where the videos and the batch journal go");
  }
  const outputDir = path.resolve(flags.outputDir);
  const jobsFile = await readJobsFile(file, line.string(CREATE_FLAGS.model) ?? DEFAULT_MODEL);
  const client = openClient(session, line);
  // Results are JSON Lines: an error document must stay on one line too.
  session.indent = undefined;

  const { printer, json, signal } = session;
  const tally = new Tally(jobsFile.jobs.length, "saved");
  let settled = 0;
  const footer = (): string => {
    const waiting = jobsFile.jobs.length - settled - (board?.size ?? 0);
    return `  ${[`${waiting} waiting`, `${tally.count(EXIT_CODES.ok)} saved`, ...tally.counts()].join(", ")}`;
  };
  const board = printer.live ? new Board(printer, session.io.stderr, [], footer) : undefined;
  const onUpdate = progress(printer, board);

  const unknown: string[] = [];
  let resumed = 0;
  const report = (outcome: VideoOutcome): void => {
    settled++;
    const described = outcome.error === undefined ? undefined : describeError(outcome.error, "", outcome.taskId);
    const code = described?.code ?? EXIT_CODES.ok;
    tally.add(code);
    if (code === EXIT_CODES.mayHaveCreatedTask) unknown.push(outcome.key);
    if (outcome.resumed) resumed++;
    const write = (): void => {
      if (json) {
        printer.out(`${toJson(jobLine(outcome, tally.label(code), described?.json))}\n`);
        return;
      }
      const detail = outcome.path ?? described?.message.split("\n")[0] ?? "";
      printer.out(`${clean(outcome.key)}\t${tally.word(printer, "stdout", code)}\t${clean(detail)}\n`);
    };
    if (board) board.settle(outcome.key, write);
    else write();
  };

  const stopNote =
    `the batch stopped; every task created so far is in its journal in ${outputDir}: ` +
    "run the same command again to resume (no job is created twice)";
  /** Set when the journal could not be written: the batch stopped, and this lists what it left. */
  let stopped: JournalWriteError | undefined;
  board?.start();
  let finished = false;
  try {
    await Interrupted.during(signal, { note: stopNote }, async () => {
      const outcomes = generateVideos(client, jobsFile.jobs, {
        outputDir,
        baseDir: jobsFile.baseDir,
        concurrency: flags.concurrency,
        signal,
        onUpdate,
        recreateUnknown: line.boolean(RECREATE_UNKNOWN_FLAG),
        overwrite: flags.force,
        ...(flags.timeoutMs !== undefined && { timeoutMs: flags.timeoutMs }),
        ...(flags.intervalMs !== undefined && { pollIntervalMs: flags.intervalMs }),
      });
      try {
        for await (const outcome of outcomes) report(outcome);
      } catch (error) {
        if (!(error instanceof JournalWriteError)) throw atLine(error, jobsFile);
        stopped = error;
      }
    });
    const reportUnfinished = unfinishedReporter(line, session, flags.force);
    for (const job of stopped?.jobs ?? []) {
      const write = (): void => reportUnfinished(job, unknown);
      if (board) board.settle(job.key, write);
      else write();
    }
    finished = true;
  } finally {
    const summary = !finished
      ? undefined
      : `${tally.summary(printer)}${resumed > 0 ? ` (${resumed} saved by an earlier run)` : ""}`;
    if (board) board.stop(summary);
    else if (summary) printer.err(`${summary}\n`);
  }
  if (unknown.length > 0) printer.err(unknownWarning(printer, unknown));
  if (stopped) return journalStopped(stopped, session);
  return tally.exitCode();
}

/** The onUpdate of a batch: each job's progress on its live line (a terminal), or as a line on stderr. */
function progress(printer: Session["printer"], board: Board | undefined): (event: VideoJobEvent) => void {
  const show = (key: string, status: string): void => {
    if (board) board.set(key, status);
    else printer.err(`${clean(key)} ${clean(status)}\n`);
  };
  const downloading = new Set<string>();
  return (event) => {
    switch (event.type) {
      case "creating":
        return show(event.key, "creating");
      case "created":
        return show(event.key, `${event.resumed ? "resumed" : "created"} ${event.taskId}`);
      case "status":
        return show(event.key, event.status);
      case "downloading":
        if (board) board.set(event.key, `downloading ${event.total ? `${Math.floor((event.received / event.total) * 100)}%` : formatBytes(event.received)}`);
        else if (!downloading.has(event.key)) show(event.key, "downloading");
        downloading.add(event.key);
        return;
      case "saved":
      case "failed":
        // Reported from the outcome, which follows.
        return;
    }
  };
}

/** What the next run does with a job the journal cannot tell it about: it reports it, and never creates it again. */
const REPORTED_NEXT_TIME = 'the next run reports it "may have been created" and does not create it again';

/**
 * The result line of a job that a broken journal left without an outcome, in the output mode's form:
 * `<key> TAB <not_journaled|stopped|not_started|...> TAB <what to do>`, or a JSON line. A task the
 * journal could not record comes with the command that resumes it: nothing else remembers it.
 * Adds the jobs that may have created a task to `unknown`.
 */
function unfinishedReporter(line: CommandLine, session: Session, force: boolean): (job: UnfinishedJob, unknown: string[]) => void {
  const { printer, json } = session;
  return (job, unknown) => {
    let result: string;
    let note: string;
    let error: Record<string, unknown> | undefined;
    let resume: string | undefined;
    let alarm = false;
    if (job.status === "created" && !job.journaled) {
      resume = resumeCommand(line, job.taskId, job.route, job.output, force);
      [result, note, alarm] = ["not_journaled", `task ${job.taskId} is NOT in the journal (${REPORTED_NEXT_TIME}); resume it with: ${resume}`, true];
    } else if (job.status === "created") {
      [result, note] = ["stopped", `task ${job.taskId} is in the journal: the next run goes on with it`];
    } else if (job.status === "not_started") {
      result = "not_started";
      note = job.journaled ? "not created: the next run creates it" : `not created, though journaled as about to be: ${REPORTED_NEXT_TIME}`;
    } else {
      const described = describeError(job.error, "", undefined);
      [result, error, alarm] = [EXIT_MEANINGS[described.code].label, described.json, job.error.mayHaveCreatedTask];
      note = `${described.message.split("\n")[0]!}${job.journaled ? "" : ` (the journal could not record it: ${REPORTED_NEXT_TIME})`}`;
      if (job.error.mayHaveCreatedTask) unknown.push(job.key);
    }
    if (json) {
      const taskId = job.status === "created" ? job.taskId : undefined;
      const hint = alarm && job.status === "create_failed" ? UNKNOWN_HINT : undefined;
      printer.out(`${toJson({ key: job.key, result, ...(taskId !== undefined && { taskId }), journaled: job.journaled, ...(resume && { resume }), note, ...(error && { error }), ...(hint && { hint }) })}\n`);
    } else {
      printer.out(`${clean(job.key)}\t${printer.paint("stdout", alarm ? 31 : 33, result)}\t${clean(note)}\n`);
    }
  };
}

/** Ends a batch the journal stopped: what failed (the journal file and the cause) and what to do, on stderr or as JSON; exit 9. */
function journalStopped(error: JournalWriteError, session: Session): number {
  const { printer, json } = session;
  // The journal's own error says the file and the cause; the lines above said each job's part.
  const head = `${error.cause instanceof JournalWriteError ? error.cause.message : error.message}; the batch stopped and sent no more creates`;
  const lost = error.jobs.filter((job) => job.status === "created" && !job.journaled).length;
  const hint =
    (lost > 0 ? `Resume the ${lost} task${lost === 1 ? "" : "s"} marked not_journaled with the command on ${lost === 1 ? "its" : "their"} line; then f` : "F") +
    "ree space (or fix the disk) and run the same command again: the jobs in the journal go on where they stopped, and no job is created twice.";
  if (json) {
    const body = { name: error.name, message: head, path: error.path, ...(error.code !== undefined && { code: error.code }), hint, exitCode: EXIT_CODES.fileError };
    printer.out(`${toJson({ error: body })}\n`);
  } else {
    printer.err(`${printer.paint("stderr", 31, "xiexus-kling:")} ${clean(head)}\n${hint}\n`);
  }
  return EXIT_CODES.fileError;
}

/** One JSON line of a finished job. */
function jobLine(outcome: VideoOutcome, result: string, error: Record<string, unknown> | undefined): Record<string, unknown> {
  return {
    key: outcome.key,
    result,
    ...(outcome.taskId !== undefined && { taskId: outcome.taskId }),
    ...(outcome.path !== undefined && { path: outcome.path, bytes: outcome.bytes, resumed: outcome.resumed }),
    ...(error !== undefined && { error }),
    ...((outcome.error as KlingError | undefined)?.mayHaveCreatedTask && { hint: UNKNOWN_HINT }),
  };
}

/** The block on stderr after the summary naming every job that may have been created (and paid for). */
function unknownWarning(printer: Session["printer"], keys: readonly string[]): string {
  const shown = keys.slice(0, 10).map(clean).join(", ") + (keys.length > 10 ? ` and ${keys.length - 10} more` : "");
  const head = printer.paint("stderr", 31, `⚠ ${keys.length} job${keys.length === 1 ? "" : "s"} MAY have been created (and paid for)`);
  return (
    `${head} without ${keys.length === 1 ? "its task id" : "their task ids"} coming back: ${shown}\n` +
    `  Not created again. Check the relay's tasks and billing first; to create ${keys.length === 1 ? "it" : "them"} again anyway, ` +
    "run the same command with --recreate-unknown.\n"
  );
}
