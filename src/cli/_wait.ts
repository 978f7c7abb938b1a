// `wait <task_id>`: poll one task until it settles, with the live status line; print its video URL,
// or download the video with --output. Several ids go to the batch wait (_wait-batch.ts).
import path from "node:path";
import { FLAGS, readTaskFlags, readTaskIds } from "./_args.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { Progress } from "./_live.js";
import type { Printer } from "./_printer.js";
import { openClient, type Command } from "./_session.js";
import { hintOtherRoute, readRoute, ROUTE_FLAG, taskCalls } from "./_task-routes.js";
import { clean, toJson } from "./_terminal.js";
import { prepareOutputs, printSaved, saveVideo, videoFileName } from "./_video-file.js";
import { waitForTasks } from "./_wait-batch.js";

/**
 * Runs one wait with its live status line on stderr (a spinner on a terminal, a line per status
 * otherwise), ending with "completed in Ns". `wait` starts the library's wait with the `onUpdate`
 * it is handed. `progress`: a line already showing an earlier step (generate's create), carried on.
 */
export async function waitWithStatusLine<T>(
  printer: Printer,
  wait: (onUpdate: (task: { status?: string | undefined }) => void) => Promise<T>,
  progress: Progress = new Progress(printer),
): Promise<T> {
  progress.start();
  try {
    const task = await wait((t) => progress.update(t.status));
    progress.stop(`${printer.paint("stderr", 32, "✔")} completed in ${progress.elapsed()}s`);
    return task;
  } finally {
    progress.stop();
  }
}

/** `wait`: exits 0 once the task completed (and its video was saved), else with the error's code. */
export const wait: Command = {
  help: [
    ["wait <task_id>", "Poll the task until it completes (prints the video URL) or fails"],
    ["wait <task_id> <task_id>...", "Wait for many tasks at once: one result line per task, as each settles"],
  ],
  flags: [FLAGS.timeout, FLAGS.interval, FLAGS.output, FLAGS.outputDir, FLAGS.force, FLAGS.concurrency, ROUTE_FLAG],
  async run(line, session) {
    const taskIds = readTaskIds(line, session, true);
    const [taskId] = taskIds;
    const { timeoutMs, intervalMs, output, outputDir, force, concurrency } = readTaskFlags(line, taskIds.length);
    const target =
      output !== undefined
        ? path.resolve(output)
        : outputDir !== undefined && taskIds.length === 1
          ? path.resolve(outputDir, videoFileName(taskId))
          : undefined;
    // The budget is the wait's, not each request's.
    const calls = taskCalls(openClient(session, line), readRoute(line));
    prepareOutputs(outputDir, target, force);
    const { printer, signal } = session;
    if (taskIds.length > 1) {
      return await waitForTasks(calls, taskIds, session, {
        concurrency,
        outputDir: outputDir === undefined ? undefined : path.resolve(outputDir),
        force,
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
      });
    }
    const task = await waitWithStatusLine(printer, (onUpdate) =>
      hintOtherRoute(calls, taskId, signal, () =>
        calls.wait(taskId, {
          signal,
          ...(timeoutMs !== undefined && { timeoutMs }),
          ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
          onUpdate,
        }),
      ),
    );
    if (target === undefined) {
      printer.out(session.json ? `${toJson(task, 2)}\n` : `${clean(task.url)}\n`);
      return EXIT_CODES.ok;
    }
    printSaved(session, taskId, task, await saveVideo(task, target, { force, signal, printer }));
    return EXIT_CODES.ok;
  },
};
