// What every runtime cell's create checks (runCreateChecks in checks.js) must show, compared with
// what the loopback relay received from that cell: the same PNG as a Uint8Array, an ArrayBuffer and
// a Blob, each arriving byte for byte (the relay's task id is the hash of what it decoded), framed
// as the runtime sends bodies (streamed and chunked, or one string with a length); a text2video
// create; a text file refused before any request; the gateway's 403 for a balance too low.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "vitest";
import { ROOT } from "../consumer/exec.js";
import { CREATE_PATHS, createdTaskId, RELAY_API_KEY, type RelayCreate } from "./relay.js";

/** How a cell sends an image's base64: as a stream (chunked, no length) or as one string (with its length). */
export type Framing = "streamed" | "string";

/** What the create checks should find, worked out here from the checks' own PNG. */
export interface CreateExpectations {
  /** The task id the relay gives that PNG (node:crypto's hash, not the runtime's). */
  taskId: string;
  /** Its size in bytes. */
  pngBytes: number;
}

/** Reads the checks' PNG (checks.js is plain JavaScript, loaded as it is) and hashes it here. */
export async function createExpectations(): Promise<CreateExpectations> {
  const checks = (await import(pathToFileURL(resolve(ROOT, "test/runtimes/checks.js")).href)) as {
    createTestPng(): Uint8Array;
  };
  const png = checks.createTestPng();
  return { taskId: createdTaskId(png), pngBytes: png.byteLength };
}

/** Compares a cell's create observations, and the creates the relay saw from it, with what the package promises. */
export function expectCreates(
  results: Record<string, unknown>,
  creates: readonly RelayCreate[],
  cell: string,
  framing: Framing,
  { taskId, pngBytes }: CreateExpectations,
): void {
  expect(results.create, "creates").toEqual({
    bytes: pngBytes,
    expected: taskId,
    matches: [true, true, true],
    taskIds: [taskId, taskId, taskId],
    statuses: ["queued", "queued", "queued"],
    text2video: { taskId: createdTaskId(undefined), status: "queued" },
  });
  expect(results.createRefused, "a text file as the image").toMatchObject({
    name: "InvalidArgumentError",
    classes: ["KlingError", "InvalidArgumentError"],
    message: expect.stringMatching(/is text, not an image/),
    mayHaveCreatedTask: false,
  });
  expect(results.createQuota, "403 insufficient_user_quota").toMatchObject({
    name: "InsufficientQuotaError",
    classes: ["KlingError", "APIError", "PermissionDeniedError", "InsufficientQuotaError"],
    status: 403,
    code: "insufficient_user_quota",
    mayHaveCreatedTask: false,
  });
  expect(results.cancelled, "a cancelled task").toMatchObject({
    name: "TaskCancelledError",
    classes: ["KlingError", "TaskCancelledError"],
    taskStatus: "cancelled",
  });
  const [image2video, text2video] = CREATE_PATHS;
  const streamed = framing === "streamed";
  const sent = (path: string, prompt: string, framing: Framing, rest: Partial<RelayCreate>) => ({
    path,
    prompt: `${cell} ${prompt}`,
    authorization: `Bearer ${RELAY_API_KEY}`,
    bodyBytes: expect.any(Number) as number,
    chunked: framing === "streamed",
    contentLength: framing === "string",
    imageBytes: undefined,
    status: 200,
    taskId: undefined,
    ...rest,
  });
  const image = (form: string) => sent(image2video, `create ${form}`, framing, { imageBytes: pngBytes, taskId });
  // In order, and nothing else: the refused create never reached the relay.
  const received = creates.filter((c) => c.prompt?.startsWith(`${cell} `));
  expect(received, `creates the relay received from ${cell} (image ${streamed ? "streamed" : "sent as one string"})`).toEqual([
    image("Uint8Array"),
    image("ArrayBuffer"),
    image("Blob"),
    // No image: one JSON string everywhere.
    sent(text2video, "create text2video", "string", { taskId: createdTaskId(undefined) }),
    sent(text2video, "create no quota", "string", { status: 403 }),
  ]);
}
