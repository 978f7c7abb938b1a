// `status <task_id>`: fetch the task once and print it.
import type { VideoTask } from "../index.js";
import { FLAGS, readTaskFlags, readTaskIds } from "./_args.js";
import { EXIT_CODES } from "./_exit-codes.js";
import type { Printer } from "./_printer.js";
import { openClient, type Command } from "./_session.js";
import { styleOf } from "./_statuses.js";
import { hintOtherRoute, readRoute, ROUTE_FLAG, taskCalls } from "./_task-routes.js";
import { clean, toJson } from "./_terminal.js";

/** The task as aligned `name value` rows, relay text cleaned, the status word coloured. */
function summarize(task: VideoTask, printer: Printer): string {
  const rows: Array<[string, string]> = [];
  if (task.task_id !== undefined) rows.push(["task_id", clean(task.task_id)]);
  const status = clean(String(task.status));
  rows.push(["status", printer.paint("stdout", styleOf(status)?.color, status)]);
  if (task.url !== undefined) rows.push(["url", clean(task.url)]);
  if (task.format !== undefined) rows.push(["format", clean(task.format)]);
  if (task.metadata !== undefined) {
    const pairs = Object.entries(task.metadata).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
    rows.push(["metadata", clean(pairs.join(" "))]);
  }
  if (task.error !== undefined) {
    const { code, message } = task.error;
    rows.push(["error", clean([code, message].filter((p) => p !== undefined && p !== "").join(": ") || "(no details)")]);
  }
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}\n`).join("");
}

/** `status`: the task on stdout; exits 0 unless it failed (1), was cancelled (10) or its status is unknown (7). */
export const status: Command = {
  help: [["status <task_id>", "Fetch the task once and print it"]],
  flags: [FLAGS.timeout, ROUTE_FLAG],
  async run(line, session) {
    const [taskId] = readTaskIds(line, session, false);
    const { timeoutMs } = readTaskFlags(line, 1);
    const calls = taskCalls(openClient(session, line, timeoutMs), readRoute(line));
    const { signal } = session;
    const task = await hintOtherRoute(calls, taskId, signal, () => calls.get(taskId, { signal }));
    session.printer.out(session.json ? `${toJson(task, 2)}\n` : summarize(task, session.printer));
    return styleOf(task.status)?.status ?? EXIT_CODES.invalidResponse;
  },
};
