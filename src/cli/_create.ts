// `create --prompt <text> [--image <file|url>] ...`: create one task (paid) and print its id. With
// --image it is an image2video task, without it a text2video one.
import { readTaskFlags } from "./_args.js";
import { CREATE_FLAGS, loadCreateRequest, readCreateSpec, resumeCommand, sendCreate } from "./_create-request.js";
import { EXIT_CODES } from "./_exit-codes.js";
import { openClient, type Command } from "./_session.js";
import { taskCalls } from "./_task-routes.js";
import { clean, toJson } from "./_terminal.js";

/** `create`: the task id on stdout (`--json`: the created task); how to wait for it on stderr. */
export const create: Command = {
  help: [
    ["create --prompt <text>", "Create a task and print its id: image2video with --image <file|url>,"],
    ["", "else text2video (each create is a paid task)"],
  ],
  flags: Object.values(CREATE_FLAGS),
  async run(line, session) {
    const spec = readCreateSpec(line);
    // Refuses the flags of other commands (--output, --timeout, ...) by name.
    readTaskFlags(line, 1);
    const request = await loadCreateRequest(spec);
    const calls = taskCalls(openClient(session, line), spec.route);
    const created = await sendCreate(calls, request, session);
    session.taskId = created.task_id;
    const { printer } = session;
    printer.out(session.json ? `${toJson(created, 2)}\n` : `${clean(created.task_id)}\n`);
    const wait = resumeCommand(line, created.task_id, spec.route);
    printer.err(`task ${clean(created.task_id)} created; wait for it with: ${clean(wait)} [--output <file>]\n`);
    return EXIT_CODES.ok;
  },
};
