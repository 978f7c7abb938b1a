// Waiting for one task: a batch of one (src/wait-many.ts), whose one outcome resolves the wait or
// rejects it. The options and the poll schedule every wait shares live with the batch; they are
// exported here too, where the single wait's callers look for them.
import type { CompletedVideoTask } from "./routes.js";
import { checkWaitOptions, waitForMany, type GetTaskById, type WaitOptions } from "./wait-many.js";

export { checkWaitOptions, DEFAULT_WAIT_TIMEOUT_MS, pollDelayMs, type WaitOptions } from "./wait-many.js";

/**
 * Polls `get` until task `taskId` completes (resolves) or fails, times out or is aborted (rejects):
 * with the batch's schedule, its 429 pause, its budget and its abort, for one task.
 */
export async function waitForTask(taskId: string, get: GetTaskById, given?: WaitOptions): Promise<CompletedVideoTask> {
  const options = checkWaitOptions(given);
  const { onUpdate } = options;
  // A stray `concurrency` among the options is not read; onUpdate is called without the id.
  const batch = waitForMany([taskId], get, { ...options, concurrency: 1, onUpdate: onUpdate && ((task) => onUpdate(task)) });
  const { value } = await batch.next();
  if (value!.error) throw value!.error;
  return value!.task;
}
