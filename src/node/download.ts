// downloadVideo: a completed task's video, streamed to disk over node:http(s) (not fetch: it holds
// less memory for large bodies), resumed with Range after a dropped connection, written to a temp
// file beside the target and renamed into place only when every byte arrived.
// It sends no credentials of any kind: the video host is another origin than the relay.
import { link, lstat, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { dirname, resolve } from "node:path";
import { sleep, TIMED_OUT } from "../_sleep.js";
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  InvalidArgumentError,
  ResponseTooLargeError,
  ResponseValidationError,
} from "../errors.js";
import {
  checkCount,
  checkDuration,
  checkFunction,
  checkOptionsObject,
  checkRetries,
  checkSignal,
  DEFAULTS,
  isAllowedRedirect,
  isLoopbackHost,
} from "../options.js";
import { backoffMs, isRetryableStatus, retryDelayMs } from "../_retry.js";
import { describeCause } from "../_transport.js";
import { Fatal } from "./_fatal.js";
import { isRedirect, MAX_REDIRECTS, toHeaders } from "./_http.js";
import { partFilePath } from "./_part-file.js";
import { taskVerdict } from "../_status.js";
import type { Image2VideoTask, VideoTask } from "../types.js";

/** Default of `timeoutMs`: the limit of connect + headers, and of any silence while the body streams. */
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = DEFAULTS.timeoutMs;

/** Default of `maxBytes`: 2 GiB, far above any video Kling renders (tens of MB), and a bound on the disk a host can fill. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 2 * 1024 ** 3;

/** Bytes of an HTTP error body kept for the APIError (an error page, not a video). */
const MAX_ERROR_BODY = 64 * 1024;

/** What `downloadVideo` accepts: a completed task (its `url` is used) or the video URL itself. */
export type DownloadSource = string | Image2VideoTask;

/** Progress of a download: bytes on disk so far, and the file's size once the host said it. */
export interface DownloadProgress {
  /** Bytes received so far (it goes back to 0 when the host cannot resume and the file starts over). */
  received: number;
  /** The file's size in bytes, when the host sent `Content-Length` or `Content-Range`. */
  total?: number;
}

/** Options of `downloadVideo`; every one is optional. */
export interface DownloadOptions {
  /** Aborting stops the download at once, removes the temp file, and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Replace a file already at `filePath`. Default: false (a `FileExistsError`, before any request). */
  overwrite?: boolean;
  /**
   * Limit of one attempt's connect + response headers, and of any stretch WITHOUT receiving a byte
   * while the body streams (a stall watchdog: a long download never times out while bytes flow),
   * in ms; `Infinity` for none. Default: 60000. Exceeded: `APIConnectionTimeoutError` (after retries).
   */
  timeoutMs?: number;
  /**
   * Attempts after a failure (dropped connection, timeout, body cut short, 408, 429, 5xx), 0-10;
   * each resumes where the last stopped when the host supports ranges. Default: 2.
   */
  maxRetries?: number;
  /**
   * Largest file accepted, in bytes (`Infinity`: none). A larger one, declared or streamed, stops
   * the download with `ResponseTooLargeError`, not retried, nothing left behind. Default: 2 GiB.
   */
  maxBytes?: number;
  /** Called each time bytes are written (and when a download starts over). Default: none. */
  onProgress?: (progress: DownloadProgress) => void;
}

/** What `downloadVideo` resolves with. */
export interface DownloadResult {
  /** The absolute path of the downloaded file. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
}

/** A file already exists at the target path and `overwrite` was not set; raised before any request. */
export class FileExistsError extends InvalidArgumentError {
  override name = "FileExistsError";
  /** The absolute path that already exists. */
  readonly path: string;
  constructor(path: string) {
    super("filePath", `${path} already exists; pass { overwrite: true } to replace it`);
    this.path = path;
  }
}

/** The URL as it may appear in a message: origin and path, never the query (signed URLs carry tokens). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** Checks a video URL: absolute https (http only to loopback), no credentials. */
function checkVideoUrl(value: string, argument: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Not quoted back: the query of a signed URL is a secret.
    throw new InvalidArgumentError(argument, `${argument} is not an absolute https URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidArgumentError(argument, `${argument} must use https (or http to loopback), got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new InvalidArgumentError(argument, `${argument} must not contain credentials (user:password@)`);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new InvalidArgumentError(
      argument,
      `plain http is only allowed to loopback; refusing ${shown(url)} (use https)`,
    );
  }
  url.hash = "";
  return url;
}

/** The video URL of a completed task or a URL string; InvalidArgumentError otherwise. */
function sourceUrl(source: unknown): URL {
  if (typeof source === "string") return checkVideoUrl(source, "url");
  if (source === null || typeof source !== "object") {
    throw new InvalidArgumentError("task", `expected a completed task or its url, got ${source === null ? "null" : typeof source}`);
  }
  const task = source as { status?: unknown; url?: unknown; task_id?: unknown };
  const id = typeof task.task_id === "string" ? `task ${task.task_id}` : "the task";
  // What the task's status means is _status.ts's to say (a completed task without a url included).
  const verdict = taskVerdict(task as VideoTask);
  if (verdict.kind === "completed") return checkVideoUrl(verdict.task.url, "task.url");
  if (task.status === "completed") throw new InvalidArgumentError("task", `${id}: ${verdict.kind === "ended" ? verdict.error.message : "not downloadable"}`);
  throw new InvalidArgumentError("task", `${id} is not completed (status: ${String(task.status)}); wait for it first`);
}

interface Resolved {
  url: URL;
  target: string;
  overwrite: boolean;
  timeoutMs: number;
  maxRetries: number;
  maxBytes: number;
  signal: AbortSignal | undefined;
  onProgress: ((progress: DownloadProgress) => void) | undefined;
}

function resolveArgs(source: unknown, filePath: unknown, given: DownloadOptions | undefined): Resolved {
  const url = sourceUrl(source);
  if (typeof filePath !== "string" || filePath.trim() === "") {
    throw new InvalidArgumentError("filePath", "filePath must be a non-empty string");
  }
  if (filePath.includes("\0")) throw new InvalidArgumentError("filePath", "filePath contains a NUL character");
  const options = checkOptionsObject(given);
  const { overwrite, maxBytes = DEFAULT_MAX_DOWNLOAD_BYTES } = options;
  if (overwrite !== undefined && typeof overwrite !== "boolean") {
    throw new InvalidArgumentError("overwrite", `overwrite must be a boolean, got ${typeof overwrite}`);
  }
  return {
    url,
    target: resolve(filePath),
    overwrite: overwrite ?? false,
    timeoutMs: checkDuration("timeoutMs", options.timeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS, true),
    maxRetries: checkRetries(options.maxRetries ?? DEFAULTS.maxRetries),
    maxBytes: maxBytes === Number.POSITIVE_INFINITY ? maxBytes : checkCount("maxBytes", maxBytes, 1, Number.MAX_SAFE_INTEGER),
    signal: checkSignal(options.signal),
    onProgress: checkFunction("onProgress", options.onProgress),
  };
}

/** Refuses a target that cannot be written before any request is made. */
async function checkTarget(target: string, overwrite: boolean): Promise<void> {
  const dir = await stat(dirname(target)).catch(() => undefined);
  if (!dir?.isDirectory()) {
    throw new InvalidArgumentError("filePath", `the directory of ${target} does not exist`);
  }
  const existing = await lstat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new InvalidArgumentError("filePath", `${target} is a directory`);
  if (existing && !overwrite) throw new FileExistsError(target);
}

/** What one attempt left behind for the next: how far the file got and how to ask for the rest. */
interface DownloadState {
  received: number;
  total: number | undefined;
  /** Strong ETag, else Last-Modified, for If-Range. */
  validator: string | undefined;
  /** A server that answered a range request with something unusable gets full requests from then on. */
  noRanges: boolean;
}

/** Thrown inside an attempt to ask for another one: the error to report if none is left, and the pause. */
class Retryable extends Error {
  constructor(
    readonly error: Error,
    readonly delayMs: number | undefined,
  ) {
    super(error.message);
  }
}

/** Runs a local step (file system, callback); its failure is not the network's and is not retried (a Fatal). */
async function local<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Fatal(error);
  }
}

/** Reads a little of an error answer's body, for the APIError. */
async function errorBody(res: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (size < MAX_ERROR_BODY) chunks.push(chunk.subarray(0, MAX_ERROR_BODY - size));
      size += chunk.length;
      if (size >= MAX_ERROR_BODY) break;
    }
  } catch {
    // A body cut short is still worth reporting as far as it got.
  }
  res.destroy();
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** What identifies this version of the file, for If-Range: a strong ETag, else Last-Modified. */
function validatorOf(res: http.IncomingMessage): string | undefined {
  const etag = res.headers.etag;
  // If-Range takes only a strong ETag; a weak one (W/"...") would make every resume a full download.
  return etag && !etag.startsWith("W/") ? etag : res.headers["last-modified"];
}

/** `bytes <start>-<end>/<total>` -> its numbers; undefined when malformed. */
function parseContentRange(value: string | undefined): { start: number; end: number; total: number | undefined } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? "");
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === "*" ? undefined : Number(match[3]) };
}

function contentLength(res: http.IncomingMessage): number | undefined {
  const value = res.headers["content-length"];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Sends one GET; resolves with the response once its headers arrived (or rejects). */
function request(
  url: URL,
  headers: Record<string, string>,
  arm: (req: http.ClientRequest) => void,
): Promise<http.IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    const get = url.protocol === "https:" ? https.get : http.get;
    // agent: false: one connection per attempt, closed after it, so nothing keeps the process alive.
    const req = get(url, { headers, agent: false }, resolvePromise);
    req.on("error", reject);
    arm(req);
  });
}

/** Follows redirects to the answer that is not one; every hop obeys the same URL rules. */
async function getFollowing(
  start: URL,
  headers: Record<string, string>,
  arm: (req: http.ClientRequest) => void,
): Promise<{ res: http.IncomingMessage; url: URL }> {
  let url = start;
  for (let hops = 0; ; hops++) {
    const res = await request(url, headers, arm);
    const location = res.headers.location;
    if (!isRedirect(res.statusCode) || !location) return { res, url };
    res.destroy();
    if (hops >= MAX_REDIRECTS) {
      throw new APIConnectionError(`GET ${shown(start)} redirected more than ${MAX_REDIRECTS} times`);
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new APIConnectionError(`GET ${shown(url)} -> ${res.statusCode} with a malformed Location`);
    }
    try {
      // Plain http only to loopback refuses an https -> http downgrade anywhere else.
      next = checkVideoUrl(next.href, "redirect");
    } catch (error) {
      throw new APIConnectionError(`GET ${shown(url)} -> ${res.statusCode} redirect refused: ${(error as Error).message}`);
    }
    if (!isAllowedRedirect(url, next)) {
      // Or a remote host could have a local service's answer saved as the video.
      throw new APIConnectionError(`GET ${shown(url)} -> ${res.statusCode} redirect refused: to loopback from another host`);
    }
    url = next;
  }
}

/** What the steps of one attempt share: the download, its file, how far it got, the request's name in messages. */
interface Attempt {
  args: Resolved;
  file: FileHandle;
  state: DownloadState;
  progress: () => void;
  /** Whether this attempt asked for the rest of the file (a Range from `state.received`). */
  resuming: boolean;
  /** `GET <origin><path>`, for messages. */
  where: string;
}

/**
 * One attempt: request (resuming when bytes are on disk), then stream the body into `file`.
 * Resolves when the body ended complete; throws Retryable for what another attempt may fix.
 */
async function attempt(args: Resolved, file: FileHandle, state: DownloadState, progress: () => void): Promise<void> {
  if (args.signal?.aborted) throw args.signal.reason;
  const resuming = state.received > 0 && !state.noRanges;
  const run: Attempt = { args, file, state, progress, resuming, where: `GET ${shown(args.url)}` };
  const guard = new AttemptGuard(args.signal, args.timeoutMs);
  let inBody = false;
  try {
    guard.watch();
    const { res, url } = await getFollowing(args.url, requestHeaders(run), (req) => guard.arm(req));
    const position = await bodyStart(run, res, url);
    guard.watch();
    inBody = true;
    await writeBody(run, res, position, () => guard.watch());
  } catch (error) {
    throw attemptFailure(run, error, guard.timedOut, inBody);
  } finally {
    guard.dispose();
  }
}

/** The headers of an attempt: the file's own bytes, and the rest of them (if still the same file) when resuming. */
function requestHeaders({ state, resuming }: Attempt): Record<string, string> {
  const headers: Record<string, string> = {
    accept: "*/*",
    // The bytes as stored: a compressed transfer would not match Content-Length or ranges.
    "accept-encoding": "identity",
    "user-agent": "xiexus-kling",
  };
  if (resuming) {
    headers.range = `bytes=${state.received}-`;
    if (state.validator) headers["if-range"] = state.validator;
  }
  return headers;
}

/** An attempt's limits over the request in flight (each redirect hop's): the caller's signal, and a stall watchdog. */
class AttemptGuard {
  /** Set when the watchdog fired. */
  timedOut = false;
  #current: http.ClientRequest | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => this.#fail(this.signal?.reason);

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number,
  ) {
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Arms the watchdog, at the start and again with every chunk: it fires after timeoutMs of silence. */
  watch(): void {
    if (!Number.isFinite(this.timeoutMs)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#fail(TIMED_OUT);
    }, this.timeoutMs);
  }

  /** Takes the request of the next hop: an abort or timeout between two redirect hops lands here. */
  arm(req: http.ClientRequest): void {
    this.#current = req;
    if (this.signal?.aborted) this.#fail(this.signal.reason);
    else if (this.timedOut) this.#fail(TIMED_OUT);
  }

  /** The attempt is over: no more watchdog or abort listener, and no request left open. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener("abort", this.#onAbort);
    this.#current?.destroy();
  }

  #fail(reason: unknown): void {
    this.#current?.destroy(reason instanceof Error ? reason : new Error(String(reason)));
  }
}

/**
 * Reads the answer's head before its body: an error status, an encoding or a range that does not fit
 * ends the attempt (retried or not); a 200 starts the file over. Resolves with the offset the body
 * is written from.
 */
async function bodyStart(run: Attempt, res: http.IncomingMessage, url: URL): Promise<number> {
  const { args, state, resuming, where } = run;
  const status = res.statusCode ?? 0;
  if (status === 416 && resuming) {
    // The file shrank or changed under us: ask for all of it.
    startOverWithoutRanges(res, state, `${where} -> 416: the file changed; starting over`);
  }
  if (status !== 200 && status !== 206) {
    const init = { status, headers: toHeaders(res.rawHeaders), body: await errorBody(res), method: "GET", path: url.pathname };
    // A 404 here is a missing (often expired) video, not a missing task: no TaskNotFoundError.
    const error = status === 404 ? new APIError(init) : APIError.generate(init);
    if (!isRetryableStatus(status)) throw error;
    throw new Retryable(error, undefined);
  }
  const encoding = res.headers["content-encoding"]?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    // Identity was asked for: encoded bytes saved as the video would be a corrupt file reported as done.
    res.destroy();
    const message = `${where} answered with Content-Encoding ${JSON.stringify(encoding)}, not the file's own bytes`;
    throw new Fatal(new ResponseValidationError(message, { body: "", status }));
  }
  let position = 0;
  if (status === 206 && resuming) {
    position = await resumedAt(run, res);
  } else {
    // A 200 (no range support, or If-Range said the file changed): the whole file, from byte 0.
    if (status === 206) startOverWithoutRanges(res, state, `${where} -> 206 to a request without Range`);
    if (state.received > 0) await local(() => run.file.truncate(0));
    state.received = 0;
    state.total = contentLength(res);
    state.validator = validatorOf(res);
    await local(run.progress);
  }
  if (state.total !== undefined && state.total > args.maxBytes) {
    res.destroy();
    throw new Fatal(new ResponseTooLargeError(args.maxBytes, status, "maxBytes"));
  }
  return position;
}

/** Ends an attempt whose answer cannot continue the file: the next one asks for all of it, without Range. */
function startOverWithoutRanges(res: http.IncomingMessage, state: DownloadState, message: string): never {
  res.destroy();
  state.noRanges = true;
  throw new Retryable(new APIConnectionError(message), 0);
}

/** Checks that a 206 continues this very file where it stopped; resolves with that offset. */
async function resumedAt(run: Attempt, res: http.IncomingMessage): Promise<number> {
  const { state, where } = run;
  const range = parseContentRange(res.headers["content-range"]);
  if (!range || range.start !== state.received || (state.total !== undefined && range.total !== state.total)) {
    startOverWithoutRanges(res, state, `${where} -> 206 with an unexpected Content-Range; starting over`);
  }
  // Like with like: an ETag is quoted, a Last-Modified date is not.
  const now = state.validator?.startsWith('"') ? res.headers.etag : res.headers["last-modified"];
  if (state.validator !== undefined && now !== undefined && now !== state.validator) {
    // A host that ignored If-Range sent the rest of another version: the two would splice into a
    // file that is neither. Start over from byte 0.
    res.destroy();
    await local(() => run.file.truncate(0));
    Object.assign(state, { received: 0, total: undefined, validator: undefined });
    throw new Retryable(new APIConnectionError(`${where} -> 206 of another version of the file; starting over`), 0);
  }
  state.total = range.total ?? state.total;
  return state.received;
}

/** Streams the body into the file from `position`, each chunk written before the next is read; `watch` hears every chunk. */
async function writeBody(run: Attempt, res: http.IncomingMessage, position: number, watch: () => void): Promise<void> {
  const { args, file, state } = run;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    watch();
    // A host that sends more than it declared, or declared nothing, is stopped at the limit too.
    if (position + chunk.length > args.maxBytes) throw new Fatal(new ResponseTooLargeError(args.maxBytes, res.statusCode ?? 0, "maxBytes"));
    // Written before the next chunk is read: the socket pauses while the disk catches up.
    await local(async () => {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset, position + offset);
        offset += bytesWritten;
      }
    });
    position += chunk.length;
    state.received = position;
    await local(run.progress);
  }
  if (state.total !== undefined && state.received < state.total) {
    throw new Retryable(new APIConnectionError(`${run.where} body cut short: ${state.received} of ${state.total} bytes`), undefined);
  }
}

/** What an attempt that failed with `error` throws: the caller's abort reason, the error as it is, or a Retryable. */
function attemptFailure(run: Attempt, error: unknown, timedOut: boolean, inBody: boolean): unknown {
  const { args, state, where } = run;
  if (args.signal?.aborted) return args.signal.reason;
  if (error instanceof Fatal) return error.error;
  if (error instanceof Retryable || error instanceof APIError || error instanceof APIConnectionError) return error;
  if (timedOut) return new Retryable(new APIConnectionTimeoutError(`${where} timed out: no data for ${args.timeoutMs} ms`), undefined);
  const cause = describeCause(error);
  const message =
    inBody && state.total !== undefined
      ? `${where} body cut short: ${state.received} of ${state.total} bytes (${cause})`
      : `${where} failed: ${cause}`;
  return new Retryable(new APIConnectionError(message, { cause: error }), undefined);
}

/** Moves the finished temp file to the target: never over an existing file unless `overwrite`. */
async function commit(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, target);
    return;
  }
  try {
    // link() fails with EEXIST if a file appeared meanwhile, where rename() would replace it.
    await link(temp, target);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST") throw new FileExistsError(target);
    // A file system without hard links: check again, then rename.
    if (await lstat(target).then(() => true, () => false)) throw new FileExistsError(target);
    await rename(temp, target);
    return;
  }
  // The video is in place; a temp name left behind is only clutter, not a reason to fail.
  await unlink(temp).catch(() => undefined);
}

/**
 * Downloads a completed task's video (or a video URL) to `filePath`, streamed to disk: memory does
 * not grow with the file. The file appears at `filePath` only complete; on failure or abort nothing
 * is left behind and a file already there is untouched. Sends no credentials (no Authorization, no
 * cookies) to the video host; plain http only to loopback. Resumes a dropped connection with
 * `Range`/`If-Range`; retries like the client; follows up to 5 redirects.
 *
 * Errors: `InvalidArgumentError` (bad task, URL, path or option; `FileExistsError` for an existing
 * file without `overwrite`), all before any request; `APIError` subclasses for HTTP error answers
 * (`APIError.generate`, except that a 404 is a plain `APIError`: the video is gone, not the task),
 * `APIConnectionError` / `APIConnectionTimeoutError` for transport failures (after retries);
 * `signal.reason` on abort; file-system failures (no space, no permission) as Node raises them, not
 * retried. No message contains the URL's query.
 */
export async function downloadVideo(
  taskOrUrl: DownloadSource,
  filePath: string,
  options?: DownloadOptions,
): Promise<DownloadResult> {
  const args = resolveArgs(taskOrUrl, filePath, options);
  const { signal, target } = args;
  if (signal?.aborted) throw signal.reason;
  await checkTarget(target, args.overwrite);
  if (signal?.aborted) throw signal.reason;

  const temp = partFilePath(target);
  const file = await open(temp, "wx");
  let closed = false;
  const state: DownloadState = { received: 0, total: undefined, validator: undefined, noRanges: false };
  const progress = (): void => {
    const report: DownloadProgress = { received: state.received };
    if (state.total !== undefined) report.total = state.total;
    args.onProgress?.(report);
  };
  try {
    for (let retry = 0; ; retry++) {
      try {
        await attempt(args, file, state, progress);
        break;
      } catch (error) {
        if (!(error instanceof Retryable)) throw error;
        if (retry >= args.maxRetries) throw error.error;
        // An HTTP answer's Retry-After wins over the schedule; one longer than we sit through is reported.
        const delay =
          error.error instanceof APIError ? retryDelayMs(retry, error.error.headers) : (error.delayMs ?? backoffMs(retry));
        if (delay === undefined) throw error.error;
        await sleep(delay, signal);
      }
    }
    if (state.total !== undefined && state.received !== state.total) {
      throw new APIConnectionError(`GET ${shown(args.url)} ended at ${state.received} of ${state.total} bytes`);
    }
    // On disk before it is renamed into place: after a crash, the target is whole or absent.
    await file.datasync();
    await file.close();
    closed = true;
    await commit(temp, target, args.overwrite);
    return { path: target, bytes: state.received };
  } catch (error) {
    if (!closed) await file.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
