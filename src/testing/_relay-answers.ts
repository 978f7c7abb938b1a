// How the fake relay sends an answer: a body by its type (JSON, text, HTML, bytes), its request id,
// a scripted delay, and a plain 500 when a script cannot be played, never an exception thrown into
// the test run from inside node:http.
import type { ServerResponse } from "node:http";
import type { ScriptedResponse } from "./steps.js";
import { isBodyless } from "../_transport.js";

/** The answers of one fake relay: each with its own `x-request-id`, delayed ones on timers that `clearTimers` stops. */
export class RelayAnswers {
  #requestIds = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Sends `body` with `status`; a body that cannot be sent becomes a 500 saying why. */
  send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    try {
      write(res, status, body, headers, () => `fake-relay-${++this.#requestIds}`);
    } catch (error) {
      // A step edited after it was checked: answer 500 saying why, rather than throw into the test run.
      this.fail(res, `fake relay: cannot send this step: ${(error as Error).message}`);
    }
  }

  /** A 500 in plain text: the relay was given something it cannot play (never an exception in the test run). */
  fail(res: ServerResponse, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 500;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(message);
  }

  /** Runs `action` after `delayMs` (now when 0), unless the connection closed first or the relay closes. */
  later(res: ServerResponse, delayMs: number | undefined, action: () => void): void {
    if (!delayMs) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!res.destroyed) action();
    }, delayMs);
    this.#timers.add(timer);
    res.on("close", () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    });
  }

  /** Sends a scripted answer after its delay. */
  play(res: ServerResponse, step: ScriptedResponse, body: unknown = step.body): void {
    this.later(res, step.delayMs, () => this.send(res, step.status, body, step.headers));
  }

  /** Stops every delayed answer still waiting (the relay is closing). */
  clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** Writes one answer: the content type by the body's kind, none for the statuses that have no body. */
function write(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>, requestId: () => string): void {
  let payload: string | Uint8Array | undefined;
  let type: string | undefined;
  if (typeof body === "string") {
    payload = body;
    type = /^\s*</.test(body) ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
  } else if (body instanceof Uint8Array) {
    payload = body;
    type = "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    type = "application/json; charset=utf-8";
  }
  if (isBodyless(status)) payload = undefined;
  res.statusCode = status;
  if (type !== undefined && payload !== undefined) res.setHeader("content-type", type);
  // Numbered as sent: a body that cannot be sent takes no number.
  res.setHeader("x-request-id", requestId());
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(payload);
}
