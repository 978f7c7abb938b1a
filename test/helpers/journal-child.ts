// Child process for journal.test.ts. Usage: journal-child.ts <mode> <dir> [jobs]
// - hold: opens the journal, prints "locked", then waits (the test kills it);
// - exit: opens the journal and exits without closing it (the exit hook must release the lock);
// - work: plays a batch of <jobs> jobs against the journal, 8 at a time, resuming from whatever
//   an earlier (killed) run left. Each append is printed as {"t","key"} only after it resolved, so
//   every printed record must be in the file. Prints "done" at the end.
import { openJournal, type Journal } from "../../src/node/journal.js";

const [mode, dir, jobs = "0"] = process.argv.slice(2);
if (!mode || !dir) throw new Error("usage: journal-child.ts <hold|exit|work> <dir> [jobs]");

const journal = await openJournal(dir);

if (mode === "hold") {
  process.stdout.write("locked\n");
  setInterval(() => {}, 60_000);
} else if (mode === "exit") {
  process.stdout.write("locked\n");
  process.exit(0);
} else if (mode === "work") {
  await work(journal, Number(jobs));
  await journal.close();
  process.stdout.write("done\n");
} else {
  throw new Error(`unknown mode ${mode}`);
}

async function work(journal: Journal, count: number): Promise<void> {
  const printed = async (t: string, key: string, append: Promise<void>): Promise<void> => {
    await append;
    process.stdout.write(`${JSON.stringify({ t, key })}\n`);
  };
  const job = async (i: number): Promise<void> => {
    const key = `job-${i}`;
    for (;;) {
      const state = journal.state(key);
      if (state.phase === "saved") return;
      if (state.phase === "unknown") {
        // Left by a run killed between intent and answer: the user asked to re-create it.
        await printed("recreate", key, journal.recreate(key));
      } else if (state.phase === "created") {
        const taskId = state.taskId!;
        // Some tasks fail once for good, as a new paid attempt will not.
        if (i % 7 === 3 && state.attempts === 1) {
          await printed("failed", key, journal.failed(key, { error: new Error("task failed"), taskId, resumable: false }));
        } else {
          await printed("saved", key, journal.saved(key, taskId, `${key}.mp4`, i));
        }
      } else {
        await printed("intent", key, journal.intent(key, `fp-${i}`));
        if (i % 5 === 1 && state.attempts === 0) {
          // The create timed out: it may have reached the relay.
          await printed("failed", key, journal.failed(key, { error: new Error("timed out"), mayHaveCreatedTask: true }));
        } else {
          await printed("created", key, journal.created(key, `task-${i}-${state.attempts + 1}`));
        }
      }
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) await job(next++);
    }),
  );
}
