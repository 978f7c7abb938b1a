// The checks every runtime cell runs, in plain JavaScript with no import and no Node API, so the
// same file runs on Bun, Deno, workerd (inside a fetch handler) and in a browser page. `kling` is
// the package's main entry as that runtime loaded it. Each check returns what it observed (names,
// statuses, identities), never a verdict: the test compares the observations with what it expects.
// Task ids are prefixed with the cell's name, so cells sharing the relay never share a task.

const ERROR_CLASSES = [
  "KlingError",
  "InvalidArgumentError",
  "APIError",
  "AuthenticationError",
  "PermissionDeniedError",
  "TaskNotFoundError",
  "RateLimitError",
  "InternalServerError",
  "APIConnectionError",
  "APIConnectionTimeoutError",
  "ResponseValidationError",
  "ResponseTooLargeError",
  "TaskFailedError",
  "WaitTimeoutError",
];

/** What a rejection was: every error class of the package it is an instance of, and its fields. */
export function describeError(kling, error) {
  if (!(error instanceof Error)) return { thrown: typeof error, value: String(error) };
  return {
    name: error.name,
    classes: ERROR_CLASSES.filter((name) => typeof kling[name] === "function" && error instanceof kling[name]),
    status: error.status,
    message: error.message,
  };
}

async function outcome(kling, promise) {
  try {
    const value = await promise;
    return { resolved: value };
  } catch (error) {
    return { rejected: describeError(kling, error), raw: error };
  }
}

/** Runs every check against the relay at `baseUrl`; resolves with one JSON-able object. */
export async function runChecks(kling, { baseUrl, apiKey, cell }) {
  const results = {};
  // One check that throws is recorded as its own observation; the others still run.
  const check = async (name, body) => {
    try {
      results[name] = await body();
    } catch (error) {
      results[name] = { threw: describeError(kling, error) };
    }
  };
  const client = () => kling.createKlingClient({ apiKey, baseUrl, maxRetries: 0 });

  await check("host", () => {
    const timer = setTimeout(() => undefined, 1);
    clearTimeout(timer);
    return { timer: typeof timer, process: typeof process, Buffer: typeof Buffer, require: typeof require };
  });

  await check("get", async () => {
    const task = await client().getImage2VideoTask(`${cell}-get`);
    return { taskId: task.task_id, status: task.status, url: task.url };
  });

  await check("wait", async () => {
    const updates = [];
    const task = await client().waitForImage2VideoTask(`${cell}-wait`, { pollIntervalMs: 5, onUpdate: (t) => updates.push(t.status) });
    return { status: task.status, url: task.url, updates };
  });

  await check("notFound", async () => (await outcome(kling, client().getImage2VideoTask(`${cell}-missing`))).rejected ?? "resolved");

  await check("unauthorized", async () => {
    const wrongKey = kling.createKlingClient({ apiKey: "sk-not-the-key", baseUrl, maxRetries: 0 });
    return (await outcome(kling, wrongKey.getImage2VideoTask(`${cell}-unauthorized`))).rejected ?? "resolved";
  });

  // The caller's own reason object must come back, not a copy or a generic AbortError.
  await check("abortRequest", async () => {
    const reason = { why: `aborted by ${cell}` };
    const controller = new AbortController();
    const pending = client().getImage2VideoTask(`${cell}-stall`, { signal: controller.signal, timeoutMs: 10_000 });
    setTimeout(() => controller.abort(reason), 20);
    const aborted = await outcome(kling, pending);
    return { sameReason: aborted.raw === reason, rejected: aborted.rejected ?? "resolved" };
  });

  // Aborted in the pause between two polls: the wait's own timer, not fetch, has to notice.
  await check("abortWait", async () => {
    const reason = { why: `wait aborted by ${cell}` };
    const controller = new AbortController();
    const aborted = await outcome(
      kling,
      client().waitForImage2VideoTask(`${cell}-pending`, {
        pollIntervalMs: 60_000,
        signal: controller.signal,
        onUpdate: () => setTimeout(() => controller.abort(reason), 10),
      }),
    );
    return { sameReason: aborted.raw === reason, rejected: aborted.rejected ?? "resolved" };
  });

  await check(
    "timeout",
    async () => (await outcome(kling, client().getImage2VideoTask(`${cell}-stall`, { timeoutMs: 50, maxRetries: 0 }))).rejected ?? "resolved",
  );

  // apiKey: null sends no Authorization header: the relay answers 401, as it would to anyone.
  await check("nullKey", async () => {
    const keyless = kling.createKlingClient({ apiKey: null, baseUrl, maxRetries: 0 });
    return (await outcome(kling, keyless.getImage2VideoTask(`${cell}-nokey`))).rejected ?? "resolved";
  });

  // A merely missing key is still refused at creation.
  await check("missingKey", async () => {
    kling.createKlingClient({ apiKey: "", baseUrl });
    return "created";
  });
  return results;
}

/** A keyless client (`apiKey: null`) reaching the relay through the proxy at `proxyUrl`. */
export async function runProxyCheck(kling, { proxyUrl, cell }) {
  const client = kling.createKlingClient({ apiKey: null, baseUrl: proxyUrl, maxRetries: 0 });
  const got = await outcome(kling, client.getImage2VideoTask(`${cell}-proxied`));
  return got.resolved ? { taskId: got.resolved.task_id, status: got.resolved.status } : got.rejected;
}

/** One request, for a host where the connection itself is expected to fail. */
export async function runOneGet(kling, { baseUrl, apiKey, cell }) {
  const client = kling.createKlingClient({ apiKey, baseUrl, maxRetries: 0 });
  const got = await outcome(kling, client.getImage2VideoTask(`${cell}-get`));
  return got.resolved ? { status: got.resolved.status } : got.rejected;
}
