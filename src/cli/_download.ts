// `download <task_id> --output <file>`: the video of a task that has already completed.
import path from "node:path";
import { ResponseValidationError, TaskCancelledError, TaskFailedError, type CompletedVideoTask } from "../index.js";
import { FLAGS, readTaskFlags, readTaskIds } from "./_args.js";
import { NotReady } from "./_errors.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { openClient, type Command } from "./_session.js";
import { styleOf } from "./_statuses.js";
import { hintOtherRoute, readRoute, ROUTE_FLAG, taskCalls } from "./_task-routes.js";
import { clean } from "./_terminal.js";
import { prepareOutputs, printSaved, saveVideo } from "./_video-file.js";

/** `download`: fetches the task once; saves its video if it completed, else exits 8 (running), 1 (failed) or 10 (cancelled). */
export const download: Command = {
  help: [["download <task_id>", "Download the video of an already completed task (needs --output)"]],
  flags: [FLAGS.timeout, FLAGS.output, FLAGS.force, ROUTE_FLAG],
  async run(line, session) {
    const [taskId] = readTaskIds(line, session, false);
    const flags = readTaskFlags(line, 1, "xiexus-kling download <task_id> --output video.mp4");
    // readTaskFlags refused a download without --output.
    const target = path.resolve(flags.output!);
    const { timeoutMs, force } = flags;
    const calls = taskCalls(openClient(session, line, timeoutMs), readRoute(line));
    prepareOutputs(undefined, target, force);
    const { signal, printer } = session;
    const task = await hintOtherRoute(calls, taskId, signal, () => calls.get(taskId, { signal }));
    const verdict = styleOf(task.status)?.download;
    if (verdict === EXIT_CODES.taskFailed) throw new TaskFailedError(task);
    if (verdict === EXIT_CODES.taskCancelled) throw new TaskCancelledError(task);
    if (verdict === EXIT_CODES.notReady) {
      throw new NotReady(
        `task ${clean(taskId)} is ${clean(String(task.status))}, not completed yet: ` +
          `xiexus-kling wait ${clean(taskId)}${calls.route === "image2video" ? "" : ` --route ${calls.route}`} --output <file> waits for it and downloads`,
      );
    }
    if (verdict === undefined || typeof task.url !== "string" || task.url === "") {
      throw new ResponseValidationError("the task is completed but has no url", { body: task, status: 200 });
    }
    const file = await saveVideo(task as CompletedVideoTask, target, { force, signal, printer, ...(timeoutMs !== undefined && { timeoutMs }) });
    printSaved(session, taskId, task, file);
    return EXIT_CODES.ok;
  },
};
