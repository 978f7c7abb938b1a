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
  "InsufficientQuotaError",
  "TaskNotFoundError",
  "RateLimitError",
  "InternalServerError",
  "APIConnectionError",
  "APIConnectionTimeoutError",
  "ResponseValidationError",
  "ResponseTooLargeError",
  "TaskFailedError",
  "TaskCancelledError",
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

/** Size of the PNG the create checks send: over three of the client's 192 KiB base64 pieces, and not a multiple of 3 (padding). */
export const CREATE_PNG_BYTES = 600_001;

/**
 * The PNG every create sends: a real signature and IHDR chunk (640x480, RGB), then filler. The
 * client reads the header and never decodes the pixels, so this passes its checks; the CRC stays
 * zero. The filler is a xorshift sequence, not one repeated byte, so a base64 piece lost, doubled
 * or sent out of order changes the relay's hash.
 */
export function createTestPng() {
  const png = new Uint8Array(CREATE_PNG_BYTES);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(png.buffer);
  view.setUint32(16, 640);
  view.setUint32(20, 480);
  png.set([8, 2, 0, 0, 0], 24);
  let x = 0x2545f491;
  for (let i = 33; i < png.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    png[i] = x & 0xff;
  }
  return png;
}

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * The create checks, on their own for the Node cells (runChecks runs them too). The relay answers
 * a create with `created-<first 16 hex of the sha256 of the image it decoded>`, so a task id equal
 * to the one computed here means the image arrived byte for byte. Prompts start with the cell's
 * name: the test attributes each create the relay saw to its cell by it.
 */
export async function runCreateChecks(kling, { baseUrl, apiKey, cell }) {
  const results = {};
  const check = checker(kling, results);
  const client = () => kling.createKlingClient({ apiKey, baseUrl, maxRetries: 0 });
  const request = (prompt, image) => ({ model: "kling-v1", prompt: `${cell} ${prompt}`, ...(image && { image }) });

  // One create per form of bytes; a rejection stands in the place of its task id.
  await check("create", async () => {
    const png = createTestPng();
    const expected = `created-${hex(new Uint8Array(await crypto.subtle.digest("SHA-256", png)).subarray(0, 8))}`;
    const forms = [
      ["Uint8Array", png],
      ["ArrayBuffer", png.slice().buffer],
      ["Blob", new Blob([png], { type: "image/png" })],
    ];
    const taskIds = [];
    const statuses = [];
    for (const [form, image] of forms) {
      const got = await outcome(kling, client().createImage2VideoTask(request(`create ${form}`, image)));
      taskIds.push(got.resolved ? got.resolved.task_id : got.rejected);
      statuses.push(got.resolved?.status);
    }
    const text = await outcome(kling, client().createText2VideoTask(request("create text2video")));
    return {
      bytes: png.byteLength,
      expected,
      matches: taskIds.map((id) => id === expected),
      taskIds,
      statuses,
      text2video: text.resolved ? { taskId: text.resolved.task_id, status: text.resolved.status } : text.rejected,
    };
  });

  // Text renamed as an image: refused by its bytes, before any request (the test counts what the relay got).
  await check("createRefused", async () => {
    const sentence = new TextEncoder().encode("This is a sentence about a cat, not a picture of one.");
    const got = await outcome(kling, client().createImage2VideoTask(request("create refused", sentence)));
    return got.rejected ? { ...got.rejected, mayHaveCreatedTask: got.raw.mayHaveCreatedTask } : "resolved";
  });

  // The gateway's 403 for a balance too low: its own class, and surely no task.
  await check("createQuota", async () => {
    const got = await outcome(kling, client().createText2VideoTask(request("create no quota")));
    return got.rejected ? { ...got.rejected, code: got.raw.code, mayHaveCreatedTask: got.raw.mayHaveCreatedTask } : "resolved";
  });

  await check("cancelled", async () => {
    const got = await outcome(kling, client().waitForImage2VideoTask(`${cell}-cancelled`, { pollIntervalMs: 5 }));
    return got.rejected ? { ...got.rejected, taskStatus: got.raw.task?.status } : "resolved";
  });
  return results;
}

/** Runs named checks into `results`: one that throws is recorded as its own observation; the others still run. */
function checker(kling, results) {
  return async (name, body) => {
    try {
      results[name] = await body();
    } catch (error) {
      results[name] = { threw: describeError(kling, error) };
    }
  };
}

/** Runs every check against the relay at `baseUrl`; resolves with one JSON-able object. */
export async function runChecks(kling, { baseUrl, apiKey, cell }) {
  const results = {};
  const check = checker(kling, results);
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

  Object.assign(results, await runCreateChecks(kling, { baseUrl, apiKey, cell }));
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
