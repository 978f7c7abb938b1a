// The slots a batch's jobs share. A step is one request of a job and what it does with the answer
// (a create, a poll, a poll and the download it leads to); at most `concurrency` steps run at once,
// whatever their kind. A job waiting for its next step sits on a timer of its own; a 429 pauses every
// job at once. The pool knows nothing of what a step does: the batch says what comes next.
import { MAX_TIMER_MS } from "../options.js";

/** The batch's slots; see createJobPool. */
export interface JobPool<J> {
  /** Queues the job's next step: as soon as a slot is free, or after `delayMs`. */
  queue(job: J, delayMs?: number): void;
  /** Pauses every step for `ms` (the relay said 429); `job`, whose step was refused, goes first after it. */
  pause(job: J, ms: number): void;
  /** Stops for good: no step starts again, the waits are dropped, the steps running are aborted with `reason`. */
  stop(reason: unknown): void;
}

/**
 * A pool of `concurrency` slots running `step(job, signal)`; `signal` is aborted when the pool
 * stops. `step` must not reject: what a step ends in is the batch's to say (it queues the job again,
 * or not).
 */
export function createJobPool<J>(concurrency: number, step: (job: J, signal: AbortSignal) => Promise<void>): JobPool<J> {
  const ready: J[] = [];
  const waits = new Set<ReturnType<typeof setTimeout>>();
  const running = new Set<AbortController>();
  let pausedUntil = 0;
  let pauseTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  /** Starts the ready steps while there are free slots and no pause. */
  function pump(): void {
    if (stopped) return;
    const pause = pausedUntil - Date.now();
    if (pause > 0) {
      // Armed again on every pump: a timer may fire a millisecond early.
      clearTimeout(pauseTimer);
      pauseTimer = setTimeout(pump, pause);
      return;
    }
    while (running.size < concurrency && ready.length > 0) {
      const job = ready.shift()!;
      const controller = new AbortController();
      running.add(controller);
      const release = (): void => {
        running.delete(controller);
        pump();
      };
      step(job, controller.signal).then(release, release);
    }
  }

  return {
    queue(job, delayMs = 0) {
      if (stopped) return;
      if (delayMs <= 0) {
        ready.push(job);
        return pump();
      }
      const wait = setTimeout(() => {
        waits.delete(wait);
        ready.push(job);
        pump();
      }, Math.min(delayMs, MAX_TIMER_MS));
      waits.add(wait);
    },
    pause(job, ms) {
      if (stopped) return;
      ready.unshift(job);
      pausedUntil = Math.max(pausedUntil, Date.now() + ms);
      pump();
    },
    stop(reason) {
      stopped = true;
      clearTimeout(pauseTimer);
      for (const wait of waits) clearTimeout(wait);
      waits.clear();
      ready.length = 0;
      for (const controller of running) controller.abort(reason);
      running.clear();
    },
  };
}
