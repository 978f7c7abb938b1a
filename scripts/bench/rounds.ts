// The measuring loop of the per-request sections' workers (requests-worker.ts, create-requests-worker.ts):
// each client checks its first answer, warms up, then every round runs each client for N sequential
// calls (the order rotates per round); prints `{ clients, rounds: µs per call [round][client] }`.

/** One client's call. */
export type Call = () => Promise<unknown>;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function batch(call: Call, n: number): Promise<number> {
  gc();
  const start = performance.now();
  for (let i = 0; i < n; i++) await call();
  return ((performance.now() - start) / n) * 1000;
}

/** Runs the rounds and prints the JSON line; `check` throws when a client's first answer is wrong. */
export async function measureRounds(
  clients: ReadonlyArray<readonly [string, Call]>,
  settings: { rounds: number; perRound: number; warmup: number },
  check: (name: string, answer: unknown) => void,
): Promise<void> {
  for (const [name, call] of clients) {
    check(name, await call());
    await batch(call, settings.warmup);
  }
  const results: number[][] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const row = new Array<number>(clients.length);
    for (let k = 0; k < clients.length; k++) {
      const index = (k + round) % clients.length;
      row[index] = await batch(clients[index]![1], settings.perRound);
    }
    results.push(row);
  }
  process.stdout.write(`${JSON.stringify({ clients: clients.map(([name]) => name), rounds: results })}\n`);
}
