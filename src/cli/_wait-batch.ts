// `wait <task_id> <task_id>...`: one batch wait through the route's waitFor...Tasks. Each task's result
// line is printed as it settles (after its download, with --output-dir); the exit code is the worst
// outcome's (_exit-codes.ts).
import path from "node:path";
import { TaskNotFoundError, type CompletedVideoTask, type VideoTask } from "../index.js";
import { downloadVideo, type DownloadResult } from "../node/index.js";
import { Tally } from "./_batch-report.js";
import { describeError } from "./_errors.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { Board } from "./_live.js";
import type { Session } from "./_session.js";
import { hintOtherRoute, type TaskCalls } from "./_task-routes.js";
import { clean, toJson } from "./_terminal.js";
import { checkOutput, videoFileName } from "./_video-file.js";

/** What a batch wait needs besides the client and the session. */
export interface BatchOptions {
  concurrency: number;
  /** Where each completed task's video goes (created already), if anywhere. */
  outputDir: string | undefined;
  force: boolean;
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/**
 * Waits for every task, printing one result line (or JSON line) per task as it settles, and a
 * summary on stderr. Resolves to the batch's exit code (see EXIT_PRECEDENCE); throws the abort
 * reason when interrupted.
 */
export async function waitForTasks(calls: TaskCalls, taskIds: readonly string[], session: Session, options: BatchOptions): Promise<number> {
  const { printer, json, signal } = session;
  const { outputDir, force } = options;
  const ids = [...new Set(taskIds)];
  // File names: ids that differ only in letter case would share a file on macOS or Windows.
  const files = new Map<string, string>();
  if (outputDir !== undefined) {
    const lower = new Map<string, number>();
    for (const id of ids) lower.set(id.toLowerCase(), (lower.get(id.toLowerCase()) ?? 0) + 1);
    for (const id of ids) files.set(id, path.join(outputDir, videoFileName(id, lower.get(id.toLowerCase())! > 1)));
  }
  const outcomes = calls.waitMany(ids, {
    signal,
    concurrency: options.concurrency,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
    onUpdate: (task, id) => {
      if (board) board.update(id, task.status);
      else printer.err(`${clean(id)} ${clean(String(task.status))}\n`);
    },
  });
  for (const file of files.values()) checkOutput(file, force);
  const board = printer.live ? new Board(printer, session.io.stderr, ids) : undefined;
  const tally = new Tally(ids.length, "completed");

  const report = (taskId: string, task: VideoTask | undefined, error: unknown, file?: DownloadResult): void => {
    const described = error === undefined ? undefined : describeError(error, "", taskId);
    const code = described?.code ?? EXIT_CODES.ok;
    tally.add(code);
    const write = (): void => {
      if (json) {
        printer.out(`${toJson({ taskId, ...(task && { task }), ...(file && { file }), ...(described && { error: described.json }) })}\n`);
        return;
      }
      const detail = file ? file.path : task?.url ?? described?.message.split("\n")[0] ?? "";
      printer.out(`${clean(taskId)}\t${tally.word(printer, "stdout", code)}\t${clean(detail)}\n`);
    };
    if (board) board.settle(taskId, write);
    else write();
  };

  // Downloads run beside the polling, at most `concurrency` at once.
  const downloads = new Set<Promise<void>>();
  const slots: Array<() => void> = [];
  let running = 0;
  const download = async (outcome: { taskId: string; task: CompletedVideoTask }, file: string): Promise<void> => {
    if (running >= options.concurrency) await new Promise<void>((resolve) => slots.push(resolve));
    running++;
    try {
      if (signal.aborted) throw signal.reason;
      const result = await downloadVideo(outcome.task, file, { signal, overwrite: force });
      report(outcome.taskId, outcome.task, undefined, result);
    } catch (error) {
      if (!signal.aborted) report(outcome.taskId, outcome.task, error);
    } finally {
      running--;
      slots.shift()?.();
    }
  };

  board?.start();
  try {
    for await (const outcome of outcomes) {
      const file = files.get(outcome.taskId);
      if (outcome.task === undefined || file === undefined) {
        // Not found on this route: one look on the other, to suggest --route when the task is there.
        const error =
          outcome.error instanceof TaskNotFoundError
            ? await hintOtherRoute(calls, outcome.taskId, signal, () => Promise.reject(outcome.error)).catch((e: unknown) => e)
            : outcome.error;
        if (signal.aborted) break;
        report(outcome.taskId, outcome.task ?? (outcome.error as { lastTask?: VideoTask }).lastTask, error);
        continue;
      }
      const pending = download(outcome, file);
      downloads.add(pending);
      void pending.finally(() => downloads.delete(pending));
    }
    await Promise.all(downloads);
  } finally {
    // Interrupted: wait for every download to remove its temp file before going.
    await Promise.allSettled(downloads);
    const summary = signal.aborted ? undefined : tally.summary(printer);
    if (board) board.stop(summary);
    else if (summary && !json) printer.err(`${summary}\n`);
  }
  if (signal.aborted) throw signal.reason;
  return tally.exitCode();
}
