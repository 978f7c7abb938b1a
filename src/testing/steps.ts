// What a fake relay's script is made of (a task body or a scripted HTTP answer) and the checks a
// script passes when it is set, so that a malformed one fails in the test that wrote it, not later
// as an uncaught exception inside node:http while a request is served.
import type { Image2VideoTask } from "../types.js";
import { checkHeader } from "./video-host.js";

/** One scripted HTTP answer: any status, any body (objects as JSON, strings as text/HTML), extra headers, a delay. */
export interface ScriptedResponse {
  /** HTTP status code, 200-599 (a final answer: an informational 1xx cannot end a request). */
  status: number;
  /** The body: a string or bytes are sent as they are, anything else as JSON; absent means an empty body. */
  body?: unknown;
  /** Headers to add or override (e.g. `{ "retry-after": "1" }`). */
  headers?: Record<string, string>;
  /** Wait this long (ms) before answering, to exercise timeouts. */
  delayMs?: number;
}

/** One answer of a task's script: a spec-shaped task body (served as a 200) or a ScriptedResponse. */
export type Step = Image2VideoTask | ScriptedResponse;

/** Scripts by task id: each task answers its steps one per request, and the last step repeats. */
export type TaskScripts = Readonly<Record<string, readonly Step[]>>;

/** True when a step is a ScriptedResponse rather than a task body (a task's status is a word). */
export function isScriptedResponse(step: Step): step is ScriptedResponse {
  return typeof (step as { status?: unknown }).status === "number";
}

/** The answers of a script, one per call: each step in turn, then the last one again and again. */
export function stepper(steps: readonly Step[]): () => Step {
  let served = 0;
  return () => steps[Math.min(served++, steps.length - 1)]!;
}

/** Refuses a task id that is not a non-empty string and steps that are not a non-empty list of valid steps. */
export function checkSteps(taskId: string, steps: readonly Step[]): Step[] {
  const where = `fake relay: task ${JSON.stringify(taskId)}`;
  if (typeof taskId !== "string" || taskId === "") throw new TypeError("fake relay: a task id must be a non-empty string");
  if (!Array.isArray(steps) || steps.length === 0) throw new TypeError(`${where}: steps must be a non-empty array`);
  for (const step of steps as unknown[]) {
    if (step === null || typeof step !== "object" || Array.isArray(step)) {
      throw new TypeError(`${where}: every step must be a task body or { status, body?, headers?, delayMs? }`);
    }
    if (isScriptedResponse(step as Step)) checkResponse(where, step as ScriptedResponse);
    else checkJson(where, step);
  }
  return [...steps];
}

/** Refuses a ScriptedResponse node:http could not send (bad status, header, delay, body). */
export function checkResponse(where: string, response: ScriptedResponse, bodyChecked = true): void {
  const { status, delayMs, headers, body } = response;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`${where}: status must be an integer from 200 to 599, got ${status}`);
  }
  checkDelay(where, delayMs);
  if (headers !== undefined && (headers === null || typeof headers !== "object")) {
    throw new TypeError(`${where}: headers must be an object of strings`);
  }
  for (const [name, value] of Object.entries(headers ?? {})) checkHeader(where, name, value);
  if (bodyChecked && typeof body !== "string" && !(body instanceof Uint8Array)) checkJson(where, body);
}

/** Refuses a delay that is not a finite number of ms >= 0. */
export function checkDelay(where: string, delayMs: unknown): void {
  if (delayMs !== undefined && !(typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0)) {
    throw new RangeError(`${where}: delayMs must be a finite number >= 0`);
  }
}

/** Refuses a body JSON.stringify cannot send (a BigInt, a cycle) before any request needs it. */
export function checkJson(where: string, body: unknown): void {
  try {
    JSON.stringify(body);
  } catch (error) {
    throw new TypeError(`${where}: a body must be a string, bytes or JSON data (${(error as Error).message})`);
  }
}
