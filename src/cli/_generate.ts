// `generate --prompt <text> [--image <file|url>] ... --output <file>`: create a task (paid), wait
// for it with the live status line, download its video with progress. The task id is printed the
// moment it is known, with the command that resumes the wait, so an interrupted run never needs a
// second create.
import path from "node:path";
import { FLAGS, readTaskFlags, type CommandLine } from "./_args.js";
import { CREATE_FLAGS, loadCreateRequest, readCreateSpec, resumeCommand, sendCreate } from "./_create-request.js";
import { Interrupted, UsageError } from "./_errors.js";
import { generateJobs, JOBS_FLAG, RECREATE_UNKNOWN_FLAG } from "./_generate-jobs.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { Progress } from "./_live.js";
import { openClient, type Command, type Session } from "./_session.js";
import { taskCalls } from "./_task-routes.js";
import { clean } from "./_terminal.js";
import { prepareOutputs, printSaved, saveVideo } from "./_video-file.js";
import { waitWithStatusLine } from "./_wait.js";

/** One task: create, wait, download; exits 0 once the video is saved. */
async function generateOne(line: CommandLine, session: Session): Promise<number> {
  for (const flag of [FLAGS.outputDir, FLAGS.concurrency, RECREATE_UNKNOWN_FLAG]) {
    if (line.given(flag)) throw new UsageError(`--${flag.name} is for a batch: generate --jobs <file.jsonl> --output-dir <dir>`);
  }
  const spec = readCreateSpec(line);
  const { timeoutMs, intervalMs, output, force } = readTaskFlags(line, 1, "xiexus-kling generate --prompt <text> --output video.mp4");
  // readTaskFlags refused a generate without --output.
  const target = path.resolve(output!);
  // Everything that can be refused is refused before the create: the output, then the image.
  prepareOutputs(undefined, target, force);
  const request = await loadCreateRequest(spec);
  const calls = taskCalls(openClient(session, line), spec.route);
  const { printer, signal } = session;

  const progress = new Progress(printer);
  progress.update("creating");
  progress.start();
  let taskId: string;
  try {
    taskId = (await sendCreate(calls, request, session)).task_id;
  } catch (error) {
    progress.stop();
    throw error;
  }
  const resume = resumeCommand(line, taskId, spec.route, target, force);
  session.taskId = taskId;
  session.created = { taskId, resume };
  // Said at once, on a terminal or not: the one thing an interrupted run needs to go on without paying again.
  progress.note(`task ${clean(taskId)} created; if interrupted, resume with: ${clean(resume)}`);

  const note = `task ${taskId} was created and keeps running on the relay; resume with: ${resume}`;
  return Interrupted.during(signal, { note, taskId }, async () => {
    const task = await waitWithStatusLine(
      printer,
      (onUpdate) =>
        calls.wait(taskId, {
          signal,
          ...(timeoutMs !== undefined && { timeoutMs }),
          ...(intervalMs !== undefined && { pollIntervalMs: intervalMs }),
          onUpdate,
        }),
      progress,
    );
    printSaved(session, taskId, task, await saveVideo(task, target, { force, signal, printer }));
    return EXIT_CODES.ok;
  });
}

/** `generate`: one task to one video file (`--output`), or a jobs file to a directory (`--jobs`). */
export const generate: Command = {
  help: [
    ["generate --prompt <text>", "Create a task, wait for it, download its video to --output <file>"],
    ["", "(--image etc. as for create); the task id is printed at once, to resume"],
    ["generate --jobs <file>", "Many create requests (JSON Lines) to videos in --output-dir <dir>;"],
    ["", "resumable: run it again after a crash or Ctrl-C, nothing is paid twice"],
  ],
  flags: [
    ...Object.values(CREATE_FLAGS),
    FLAGS.output,
    FLAGS.force,
    FLAGS.timeout,
    FLAGS.interval,
    JOBS_FLAG,
    FLAGS.outputDir,
    FLAGS.concurrency,
    RECREATE_UNKNOWN_FLAG,
  ],
  run: (line, session) => (line.given(JOBS_FLAG) ? generateJobs(line, session) : generateOne(line, session)),
};
