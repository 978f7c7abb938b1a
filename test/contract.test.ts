// The contract suite: every recorded fixture is checked against the spec's own schema for its
// status code (read from openapi/: the first spec by file name that defines the task endpoint, the
// one the generated types use), replayed through the real client with nock, and comes out as the
// generated type. When openapi/ changes, a fixture that no longer conforms fails here.
import nock from "nock";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  APIConnectionError,
  createKlingClient,
  ResponseValidationError,
  TaskNotFoundError,
  type Image2VideoTask,
  type Image2VideoTaskResult,
  type TaskNotFoundResponse,
} from "../src/index.js";
import { defaultBaseUrl, responseIssues } from "../src/_spec.js";
import { loadFixtures, nonConforming, responseSchemaValidator, specDefining, type SpecDoc } from "./helpers/spec.js";

const ROUTE = "/kling/v1/videos/image2video/{task_id}";
const { spec } = specDefining(ROUTE, "get");
const fixtures = loadFixtures();
const baseUrl = defaultBaseUrl;
const taskIdOf = (path: string): string => decodeURIComponent(path.split("/").pop()!);

afterEach(() => {
  nock.cleanAll();
});

describe("fixtures", () => {
  it("cover a 200 for every status in the spec's enum and the 404", () => {
    const statusEnum = (
      spec.paths[ROUTE]!.get!.responses["200"]!.content!["application/json"]!.schema as {
        properties: { status: { enum: string[] } };
      }
    ).properties.status.enum;
    const seen = fixtures.filter((f) => f.status === 200).map((f) => (f.body as Image2VideoTask).status);
    expect(new Set(seen)).toEqual(new Set(statusEnum));
    expect(fixtures.some((f) => f.status === 404)).toBe(true);
  });

  it("all conform to the spec in openapi/", () => {
    expect(nonConforming(spec, ROUTE, fixtures)).toEqual([]);
  });
});

describe.each(fixtures)("$file", (fixture) => {
  const validate = responseSchemaValidator(spec, ROUTE, "get", String(fixture.status));

  it("validates against the spec's schema for its status code", () => {
    expect(validate(fixture.body), JSON.stringify(validate.errors)).toBe(true);
  });

  it("is accepted by the generated schema data exactly as by the spec's schema", () => {
    expect(responseIssues(ROUTE, "get", fixture.status, fixture.body)).toEqual([]);
  });

  it("replays through the client (nock) and comes out as the generated type", async () => {
    const scope = nock(baseUrl)
      .get(fixture.request.path)
      .matchHeader("authorization", "Bearer sk-contract")
      .reply(fixture.status, fixture.body as nock.Body, fixture.headers);
    const kling = createKlingClient({ apiKey: "sk-contract", validation: "strict" });
    const taskId = taskIdOf(fixture.request.path);
    if (fixture.status === 200) {
      const task = await kling.getImage2VideoTask(taskId);
      expectTypeOf(task).toEqualTypeOf<Image2VideoTaskResult>();
      expect(task).toEqual(fixture.body);
      expect(Object.hasOwn(task, "raw")).toBe(false); // a spec-shaped body passes untouched
    } else {
      const error = await kling.getImage2VideoTask(taskId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect((error as TaskNotFoundError).body).toEqual(fixture.body);
      expect((error as TaskNotFoundError).requestId).toBe(fixture.headers["x-request-id"]);
    }
    expect(scope.isDone()).toBe(true);
  });

  it("replays through the raw typed GET with the generated types", async () => {
    nock(baseUrl).get(fixture.request.path).reply(fixture.status, fixture.body as nock.Body, fixture.headers);
    const kling = createKlingClient({ apiKey: "sk-contract" });
    const { data, error, response } = await kling.GET(ROUTE, {
      params: { path: { task_id: taskIdOf(fixture.request.path) } },
    });
    expectTypeOf(data).toEqualTypeOf<Image2VideoTask | undefined>();
    expectTypeOf(error).toEqualTypeOf<TaskNotFoundResponse | undefined>();
    expect(response.status).toBe(fixture.status);
    expect(fixture.status === 200 ? data : error).toEqual(fixture.body);
  });
});

describe("the suite has teeth", () => {
  it("a request to the real relay, with no recorded answer, never leaves the machine", async () => {
    const kling = createKlingClient({ apiKey: "sk-contract", maxRetries: 0 });
    const error = await kling.getImage2VideoTask("not-recorded").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    // nock refused it (its error says ENETUNREACH as its code, so look at the cause itself).
    const cause = (error as { cause?: Error }).cause;
    expect(cause?.name).toBe("NetConnectNotAllowedError");
    expect(cause?.message).toMatch(/Disallowed net connect for "api\.xiexus\.cn:443/);
    await expect(fetch("https://example.com/")).rejects.toThrow(/Disallowed net connect/);
  });

  const taskFixture = fixtures.find((f) => f.file === "task-completed.json")!;
  const validate200 = responseSchemaValidator(spec, ROUTE, "get", "200");

  it("rejects a fixture with a status the spec does not have", async () => {
    const bad = { ...(taskFixture.body as object), status: "succeeded" };
    expect(validate200(bad)).toBe(false);
    expect(validate200.errors?.[0]?.instancePath).toBe("/status");
    expect(responseIssues(ROUTE, "get", 200, bad)?.map((i) => i.instancePath)).toEqual(["/status"]);
    nock(baseUrl).get(taskFixture.request.path).reply(200, bad);
    const kling = createKlingClient({ apiKey: "sk-contract", validation: "strict" });
    await expect(kling.getImage2VideoTask(taskIdOf(taskFixture.request.path))).rejects.toBeInstanceOf(
      ResponseValidationError,
    );
  });

  it("rejects a string where the spec has a number", async () => {
    const body = taskFixture.body as Image2VideoTask;
    const bad = { ...body, metadata: { ...body.metadata, fps: "30" } };
    expect(validate200(bad)).toBe(false);
    expect(validate200.errors?.[0]?.instancePath).toBe("/metadata/fps");
    nock(baseUrl).get(taskFixture.request.path).reply(200, bad);
    const kling = createKlingClient({ apiKey: "sk-contract", validation: "strict" });
    const error = await kling.getImage2VideoTask(taskIdOf(taskFixture.request.path)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect((error as ResponseValidationError).issues[0]?.instancePath).toBe("/metadata/fps");
  });

  function mutated(change: (doc: SpecDoc) => void): SpecDoc {
    const doc = structuredClone(spec);
    change(doc);
    return doc;
  }
  const taskSchema = (doc: SpecDoc) =>
    doc.paths[ROUTE]!.get!.responses["200"]!.content!["application/json"]!.schema as {
      required?: string[];
      properties: { status: { enum: string[] } };
    };

  it("fails fixtures when the spec makes a property required", () => {
    const doc = mutated((d) => {
      taskSchema(d).required = ["task_id", "status", "url"];
    });
    expect(nonConforming(doc, ROUTE, fixtures).map((f) => f.file)).toEqual([
      "task-failed.json",
      "task-in-progress.json",
      "task-queued.json",
    ]);
  });

  it("fails fixtures when the spec removes an enum value", () => {
    const doc = mutated((d) => {
      taskSchema(d).properties.status.enum = ["queued", "completed", "failed"];
    });
    expect(nonConforming(doc, ROUTE, fixtures).map((f) => f.file)).toEqual(["task-in-progress.json"]);
  });

  it("fails a fixture whose status code the spec no longer documents", () => {
    const doc = mutated((d) => {
      delete d.paths[ROUTE]!.get!.responses["404"];
    });
    expect(nonConforming(doc, ROUTE, fixtures).map((f) => f.file)).toEqual(["task-not-found.json"]);
  });
});
