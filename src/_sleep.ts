// Timers: an abortable sleep that leaves no timer behind, and the reason a time limit aborts with.

/** The abort reason of a time limit running out (an attempt's timeout, a wait's budget): never a caller's. */
export const TIMED_OUT = Symbol("timed out");

/** Waits `ms`, or rejects with `signal.reason` as soon as `signal` aborts (at once if it already has). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
