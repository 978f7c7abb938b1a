// The typed raw calls (`kling.GET`, `POST`, ...): every JSON answer is checked against the spec's
// schema for that operation and status under the client's `validation` mode. The relay is a
// fetch answering by task id (the transport's own socket behaviour is pinned in errors.test.ts).
import { describe, expect, it } from "vitest";
import { createKlingClient, ResponseValidationError, type ValidationMode } from "../src/index.js";

const PATH = "/kling/v1/videos/image2video/{task_id}";
const ON_SPEC = { task_id: "t1", status: "completed", url: "https://cdn.example/v.mp4" };
const VARIANT = { code: "success", message: "", data: { task_id: "t1", status: "succeeded", url: "https://cdn.example/v.mp4" } };
const OFF_SPEC = { task_id: "t1", status: "completed", metadata: { fps: "thirty" } };

/** Answers keyed by task id, so the concurrent tests below share one server. */
const answers: Record<string, { status: number; body: string; type: string }> = {
  "on-spec": { status: 200, body: JSON.stringify(ON_SPEC), type: "application/json" },
  variant: { status: 200, body: JSON.stringify(VARIANT), type: "application/json" },
  "off-spec": { status: 200, body: JSON.stringify(OFF_SPEC), type: "application/json" },
  "not-json": { status: 200, body: "<html>captive portal</html>", type: "text/html" },
};

async function call(taskId: string, validation: ValidationMode) {
  const fetch = async (request: Request): Promise<Response> => {
    const answer = answers[request.url.split("/").pop()!]!;
    return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.type } });
  };
  const kling = createKlingClient({ apiKey: "sk-raw", baseUrl: "http://127.0.0.1:9", validation, fetch });
  return kling.GET(PATH, { params: { path: { task_id: taskId } } }).then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error }),
  );
}

describe("raw calls are checked against the operation's schema", () => {
  it.each(["strict", "compat", "off"] as const)("an on-spec answer is data in %s mode", async (mode) => {
    const { result, error } = await call("on-spec", mode);
    expect(error).toBeUndefined();
    expect(result?.data).toEqual(ON_SPEC);
  });

  it.each(["strict", "compat"] as const)("an off-spec answer is a ResponseValidationError in %s mode, never data", async (mode) => {
    const { error } = await call("off-spec", mode);
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).issues[0]?.instancePath).toBe("/metadata/fps");
    expect((error as Error).message).toContain(`GET ${PATH} answered 200`);
  });

  it("off skips the checks", async () => {
    const { result, error } = await call("off-spec", "off");
    expect(error).toBeUndefined();
    expect(result?.data).toEqual(OFF_SPEC);
  });

  it("a relay variant passes in compat (as sent) and fails in strict", async () => {
    expect((await call("variant", "compat")).result?.data).toEqual(VARIANT);
    expect((await call("variant", "strict")).error).toBeInstanceOf(ResponseValidationError);
  });

  it("an HTML page where the spec promises JSON is rejected in strict and compat", async () => {
    for (const mode of ["strict", "compat"] as const) {
      const { error } = await call("not-json", mode);
      expect(error).toBeInstanceOf(ResponseValidationError);
      // Nothing was parsed: no schema complaint about `undefined` is appended.
      expect((error as Error).message).toMatch(/ answered 200 with a body that is not JSON$/);
      expect((error as ResponseValidationError).issues).toEqual([]);
    }
  });
});
