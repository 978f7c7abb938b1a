// The contract suite: every recorded fixture is checked against the spec's own schema for its
// operation and status code (read from openapi/ as generation reads it: the project's overlays
// applied, the remembered selection kept), a create's request body against the body schema, both
// against the generated schema data too, and replayed through the real client with nock, coming out
// as the generated type. When openapi/ changes, a fixture that no longer conforms fails here.
import nock from "nock";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  APIConnectionError,
  createKlingClient,
  ResponseValidationError,
  TaskNotFoundError,
  type components,
  type Image2VideoTask,
  type Image2VideoTaskResult,
  type TaskNotFoundResponse,
  type Text2VideoTask,
  type Text2VideoTaskResult,
} from "../src/index.js";
import { DEFAULT_BASE_URL } from "../src/options.js";
import { requestIssues, responseIssues } from "../src/_spec.js";
import {
  loadFixtures,
  nonConforming,
  requestSchemaValidator,
  responseSchemaValidator,
  routeOf,
  specDefining,
  specFor,
  type Fixture,
  type SpecDoc,
} from "./helpers/spec.js";

const I2V_TASK = "/kling/v1/videos/image2video/{task_id}";
const T2V_TASK = "/kling/v1/videos/text2video/{task_id}";
const CREATES = ["/kling/v1/videos/image2video", "/kling/v1/videos/text2video"] as const;
const { spec } = specDefining(I2V_TASK, "get");
const fixtures = loadFixtures();
const baseUrl = DEFAULT_BASE_URL;
const taskIdOf = (path: string): string => decodeURIComponent(path.split("/").pop()!);
const methodOf = (fixture: Fixture): string => fixture.request.method.toLowerCase();
const routeFor = (fixture: Fixture): string => routeOf(specFor(fixture), methodOf(fixture), fixture.request.path)!;

/** The task schema, through its `$ref` (the relay's file keeps it in components). */
const taskSchema = (doc: SpecDoc) => {
  const schema = doc.paths[I2V_TASK]!.get!.responses["200"]!.content!["application/json"]!.schema as { $ref?: string };
  const name = schema.$ref?.split("/").pop();
  return (name ? (doc.components as { schemas: Record<string, unknown> }).schemas[name] : schema) as {
    required?: string[];
    properties: { status: { enum: string[] } };
  };
};

type ErrorResponse = components["schemas"]["ErrorResponse"];
type VideoResponse = components["schemas"]["VideoResponse"];

afterEach(() => {
  nock.cleanAll();
});

describe("fixtures", () => {
  const of = (route: string, method = "get") => fixtures.filter((f) => methodOf(f) === method && routeFor(f) === route);

  it("cover a 200 for every status in the spec's enum and the 404, on both task routes' 200 and 404", () => {
    const statusEnum = taskSchema(spec).properties.status.enum;
    expect(statusEnum).toContain("cancelled");
    const seen = of(I2V_TASK).filter((f) => f.status === 200).map((f) => (f.body as Image2VideoTask).status);
    expect(new Set(seen)).toEqual(new Set(statusEnum));
    expect(of(I2V_TASK).some((f) => f.status === 404)).toBe(true);
    expect(of(T2V_TASK).map((f) => f.status).sort()).toEqual([200, 404]);
  });

  it("cover a create's 200 and 400, each with the body that was sent", () => {
    const creates = fixtures.filter((f) => methodOf(f) === "post");
    expect(creates.map((f) => f.status).sort()).toEqual([200, 400]);
    for (const f of creates) {
      expect(CREATES).toContain(routeFor(f));
      expect(f.request.body, f.file).toBeTypeOf("object");
    }
  });

  it("cover a failed task with an integer error code and one with the string TaskExpired", () => {
    const codes = fixtures.map((f) => (f.body as Image2VideoTask).error?.code).filter((c) => c !== undefined);
    expect(codes.some((c) => typeof c === "number")).toBe(true);
    expect(codes).toContain("TaskExpired");
  });

  it("all conform to the spec in openapi/", () => {
    expect(nonConforming(fixtures)).toEqual([]);
  });
});

describe.each(fixtures)("$file", (fixture) => {
  const method = methodOf(fixture);
  const route = routeFor(fixture);
  const validate = responseSchemaValidator(specFor(fixture), route, method, String(fixture.status));

  it("validates against the spec's schema for its status code (and its request body against the body schema)", () => {
    expect(validate(fixture.body), JSON.stringify(validate.errors)).toBe(true);
    if (fixture.request.body !== undefined) {
      const request = requestSchemaValidator(specFor(fixture), route, method);
      expect(request(fixture.request.body), JSON.stringify(request.errors)).toBe(true);
    }
  });

  it("is accepted by the generated schema data exactly as by the spec's schema", () => {
    expect(responseIssues(route, method, fixture.status, fixture.body)).toEqual([]);
    if (fixture.request.body !== undefined) expect(requestIssues(route, method, fixture.request.body)).toEqual([]);
  });

  it("replays through the client (nock) and comes out as the generated type", async () => {
    const kling = createKlingClient({ apiKey: "sk-contract", validation: "strict" });
    if (method === "post") {
      const scope = nock(baseUrl)
        .post(fixture.request.path, fixture.request.body as nock.RequestBodyMatcher)
        .matchHeader("authorization", "Bearer sk-contract")
        .reply(fixture.status, fixture.body as nock.Body, fixture.headers);
      const create = route === CREATES[0] ? "/kling/v1/videos/image2video" : "/kling/v1/videos/text2video";
      const { data, error, response } = await kling.POST(create, { body: fixture.request.body as components["schemas"]["VideoRequest"] });
      expectTypeOf(data).toEqualTypeOf<VideoResponse | undefined>();
      expectTypeOf(error).toEqualTypeOf<ErrorResponse | undefined>();
      expect(response.status).toBe(fixture.status);
      expect(fixture.status === 200 ? data : error).toEqual(fixture.body);
      expect(scope.isDone()).toBe(true);
      return;
    }
    const scope = nock(baseUrl)
      .get(fixture.request.path)
      .matchHeader("authorization", "Bearer sk-contract")
      .reply(fixture.status, fixture.body as nock.Body, fixture.headers);
    const taskId = taskIdOf(fixture.request.path);
    const get = route === I2V_TASK ? () => kling.getImage2VideoTask(taskId) : () => kling.getText2VideoTask(taskId);
    if (fixture.status === 200) {
      const task = await get();
      if (route === I2V_TASK) expectTypeOf(kling.getImage2VideoTask).returns.resolves.toEqualTypeOf<Image2VideoTaskResult>();
      else expectTypeOf(kling.getText2VideoTask).returns.resolves.toEqualTypeOf<Text2VideoTaskResult>();
      expect(task).toEqual(fixture.body);
      expect(Object.hasOwn(task, "raw")).toBe(false); // a spec-shaped body passes untouched
    } else {
      const error = await get().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskNotFoundError);
      expect((error as TaskNotFoundError).body).toEqual(fixture.body);
      expect((error as TaskNotFoundError).requestId).toBe(fixture.headers["x-request-id"]);
    }
    expect(scope.isDone()).toBe(true);
  });

  if (method === "get") it("replays through the raw typed GET with the generated types", async () => {
    nock(baseUrl).get(fixture.request.path).reply(fixture.status, fixture.body as nock.Body, fixture.headers);
    const kling = createKlingClient({ apiKey: "sk-contract" });
    const params = { params: { path: { task_id: taskIdOf(fixture.request.path) } } };
    if (route === I2V_TASK) {
      const { data, error, response } = await kling.GET(I2V_TASK, params);
      expectTypeOf(data).toEqualTypeOf<Image2VideoTask | undefined>();
      expectTypeOf(error).toEqualTypeOf<TaskNotFoundResponse | undefined>();
      expect(response.status).toBe(fixture.status);
      expect(fixture.status === 200 ? data : error).toEqual(fixture.body);
    } else {
      const { data, error, response } = await kling.GET(T2V_TASK, params);
      expectTypeOf(data).toEqualTypeOf<Text2VideoTask | undefined>();
      expectTypeOf(error).toEqualTypeOf<ErrorResponse | undefined>();
      expect(response.status).toBe(fixture.status);
      expect(fixture.status === 200 ? data : error).toEqual(fixture.body);
    }
  });
});

describe("the generated types follow the spec and its overlays", () => {
  it("a task's error.code is a number or a string; its status includes cancelled", () => {
    expectTypeOf<NonNullable<Image2VideoTask["error"]>["code"]>().toEqualTypeOf<number | string | undefined>();
    expectTypeOf<"cancelled">().toExtend<NonNullable<Image2VideoTask["status"]>>();
    expectTypeOf<"cancelled">().toExtend<NonNullable<Text2VideoTask["status"]>>();
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
  const validate200 = responseSchemaValidator(spec, I2V_TASK, "get", "200");

  it("rejects a fixture with a status the spec does not have", async () => {
    const bad = { ...(taskFixture.body as object), status: "succeeded" };
    expect(validate200(bad)).toBe(false);
    expect(validate200.errors?.[0]?.instancePath).toBe("/status");
    expect(responseIssues(I2V_TASK, "get", 200, bad)?.map((i) => i.instancePath)).toEqual(["/status"]);
    nock(baseUrl).get(taskFixture.request.path).reply(200, bad);
    const kling = createKlingClient({ apiKey: "sk-contract", validation: "strict" });
    await expect(kling.getImage2VideoTask(taskIdOf(taskFixture.request.path))).rejects.toBeInstanceOf(ResponseValidationError);
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

  it("rejects an error code that is neither an integer nor a string, and a create body of the wrong type", () => {
    const bad = { ...(taskFixture.body as object), status: "failed", error: { code: 1.5 } };
    expect(validate200(bad)).toBe(false);
    expect(responseIssues(I2V_TASK, "get", 200, bad)?.[0]?.instancePath).toBe("/error/code");
    const create = fixtures.find((f) => f.file === "create-200.json")!;
    const wrong = { ...(create.request.body as object), duration: "five" };
    expect(requestSchemaValidator(spec, CREATES[0], "post")(wrong)).toBe(false);
    expect(requestIssues(CREATES[0], "post", wrong)?.map((i) => i.instancePath)).toEqual(["/duration"]);
    expect(nonConforming([{ ...create, request: { ...create.request, body: wrong } }])[0]?.errors).toMatch(/^request body: .*duration/);
  });

  function mutated(change: (doc: SpecDoc) => void): SpecDoc {
    const doc = structuredClone(spec);
    change(doc);
    return doc;
  }
  const i2vTasks = fixtures.filter((f) => f.request.method === "GET" && routeFor(f) === I2V_TASK);

  it("fails fixtures when the spec makes a property required", () => {
    const doc = mutated((d) => {
      taskSchema(d).required = ["task_id", "status", "url"];
    });
    expect(nonConforming(i2vTasks, doc).map((f) => f.file)).toEqual([
      "task-cancelled.json",
      "task-expired.json",
      "task-failed.json",
      "task-in-progress.json",
      "task-queued.json",
    ]);
  });

  it("fails fixtures when the spec removes an enum value", () => {
    const doc = mutated((d) => {
      taskSchema(d).properties.status.enum = ["queued", "completed", "failed"];
    });
    expect(nonConforming(i2vTasks, doc).map((f) => f.file)).toEqual(["task-cancelled.json", "task-in-progress.json"]);
  });

  it("fails a fixture whose status code the spec no longer documents", () => {
    const doc = mutated((d) => {
      delete d.paths[I2V_TASK]!.get!.responses["404"];
    });
    expect(nonConforming(i2vTasks, doc).map((f) => f.file)).toEqual(["task-not-found.json"]);
  });

  it("fails the TaskExpired fixture against the relay's file without the project's overlay", async () => {
    const { loadSpec } = await import("./helpers/spec.js");
    const published = loadSpec("relay.json");
    const failures = nonConforming(fixtures, published);
    expect(failures.map((f) => f.file)).toEqual(["task-expired.json"]);
    expect(failures[0]!.errors).toContain("/error/code");
  });
});
