// Deliberately wrong: the matrix must report this file (test/consumer.test.ts expects a failure).
import { createKlingClient } from "xiexus-kling";

export async function broken(): Promise<string> {
  const task = await createKlingClient().getImage2VideoTask("id");
  return task.url;
}
