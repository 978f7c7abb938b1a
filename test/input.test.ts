// Bad input gets a clear, typed error before any request; a task id always travels as one
// encoded path segment.
import { afterEach, describe, expect, it, vi } from "vitest";
import { routeHelpersOf } from "../src/client.js";
import { createKlingClient, InvalidArgumentError, KlingError, type FetchLike, type HttpGet } from "../src/index.js";
import { ROUTES } from "../src/routes.js";
import { makePng } from "./helpers/images.js";

/** A fetch that records each request and answers with a queued task. */
function recordingFetch() {
  const urls: string[] = [];
  const fetch: FetchLike = async (request) => {
    urls.push(request.url);
    return new Response(JSON.stringify({ task_id: "t", status: "queued" }), { headers: { "content-type": "application/json" } });
  };
  return { fetch, urls };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("task ids", () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ["empty", "", /taskId is empty/],
    ["blank", "   ", /taskId is empty/],
    ["a line break", "abc\ndef", /control character/],
    ["a NUL", "abc\u0000", /control character/],
    ["a DEL", "abc\u007f", /control character/],
    ["surrounding whitespace", " abc ", /leading or trailing whitespace/],
    ["too long", "x".repeat(257), /257 characters long; at most 256/],
    ["a lone dot", ".", /cannot be sent as a path segment/],
    ["two dots", "..", /cannot be sent as a path segment/],
    ["not a string", 42, /taskId must be a string/],
    ["a lone surrogate", "abc\ud800", /not well-formed Unicode/],
  ];

  it.each(bad)("rejects %s before any request", async (_name, taskId, message) => {
    const { fetch, urls } = recordingFetch();
    const kling = createKlingClient({ apiKey: "sk-test", fetch });
    const error = await kling.getImage2VideoTask(taskId as string).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toBeInstanceOf(KlingError);
    expect((error as InvalidArgumentError).argument).toBe("taskId");
    expect((error as Error).message).toMatch(message);
    await expect(kling.waitForImage2VideoTask(taskId as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(urls).toEqual([]);
  });

  it("accepts 256 characters", async () => {
    const { fetch, urls } = recordingFetch();
    await createKlingClient({ apiKey: "sk-test", fetch }).getImage2VideoTask("x".repeat(256));
    expect(urls).toHaveLength(1);
  });

  const tricky: Array<[string, string]> = [
    ["../", "..%2F..%2Fadmin"],
    ["?", "a%3Fb%3Dc"],
    ["#", "a%23frag"],
    ["%2F", "a%252Fb"],
    ["/", "a%2Fb"],
    ["unicode", "%E4%BB%BB%E5%8A%A1"],
  ];
  const raw: Record<string, string> = { "../": "../../admin", "?": "a?b=c", "#": "a#frag", "%2F": "a%2Fb", "/": "a/b", unicode: "任务" };

  it.each(tricky)("sends an id with %s as one encoded path segment", async (name, encoded) => {
    const { fetch, urls } = recordingFetch();
    await createKlingClient({ apiKey: "sk-test", fetch, baseUrl: "https://relay.example/base" }).getImage2VideoTask(raw[name]!);
    const url = new URL(urls[0]!);
    expect(url.pathname).toBe(`/base/kling/v1/videos/image2video/${encoded}`);
    expect(url.search).toBe("");
    expect(url.hash).toBe("");
    expect(decodeURIComponent(url.pathname.split("/").pop()!)).toBe(raw[name]);
  });
});

describe("API key", () => {
  it("missing: names XIEXUS_API_KEY and options.apiKey", () => {
    vi.stubEnv("XIEXUS_API_KEY", "");
    expect(() => createKlingClient()).toThrow(InvalidArgumentError);
    expect(() => createKlingClient()).toThrow(/XIEXUS_API_KEY.*options\.apiKey/);
  });

  it("is read from XIEXUS_API_KEY and sent as a Bearer token", async () => {
    vi.stubEnv("XIEXUS_API_KEY", "sk-from-env");
    const seen: Array<string | null> = [];
    const kling = createKlingClient({
      fetch: async (request) => {
        seen.push(request.headers.get("authorization"));
        return Response.json({ status: "queued" });
      },
    });
    await kling.getImage2VideoTask("t");
    expect(seen).toEqual(["Bearer sk-from-env"]);
  });

  it.each([
    ["a space", "sk-abc def"],
    ["a line break", "sk-abc\ndef"],
    ["a trailing newline (a pasted key)", "sk-abc\n"],
    ["a tab", "sk-abc\t"],
    // Not whitespace to a regex's \s, and invisible when pasted.
    ["a zero-width space", "sk-abc\u200b"],
    // fetch refuses a header above U+00FF at every request: a retried "connection error" before.
    ["a character outside Latin-1", "sk-abc\u2603"],
    ["a character outside ASCII", "sk-abc\u00e9"],
    // JSON escapes these: an echoed key would reach the parsed body past a scrub of the raw text.
    ["a quote", 'sk-abc"def'],
    ["a backslash", "sk-abc\\def"],
  ])("with %s is refused, without echoing the key", (_name, key) => {
    const error = (() => {
      try {
        createKlingClient({ apiKey: key });
      } catch (e) {
        return e as InvalidArgumentError;
      }
      throw new Error("accepted a bad key");
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.argument).toBe("apiKey");
    expect(error.message).toMatch(/no Bearer token has \(only letters, digits, - \. _ ~ \+ \/ and a trailing =\)/);
    expect(error.message).not.toContain("sk-abc");
  });

  it.each(["sk-abc_DEF-123", "eyJhbGciOi.eyJzdWIi.SflKxw-_", "a+b/c~d.e==", "0123456789abcdef"])("%s is accepted (token68)", (key) => {
    expect(() => createKlingClient({ apiKey: key })).not.toThrow();
  });

  it("cannot be smuggled in through headers", () => {
    expect(() => createKlingClient({ apiKey: "sk-a", headers: { Authorization: "Bearer x" } })).toThrow(/apiKey/);
  });
});

describe("base URL", () => {
  it.each([
    ["relative", "/kling", /absolute http\(s\) URL/],
    ["not a URL", "api.xiexus.cn", /absolute http\(s\) URL/],
    ["ftp", "ftp://api.xiexus.cn", /must use https/],
    ["plain http to a remote host", "http://api.xiexus.cn", /plain http is only allowed to loopback/],
    ["credentials", "https://user:pw@api.xiexus.cn", /must not contain credentials/],
    ["a query", "https://api.xiexus.cn/?x=1", /query or a fragment/],
  ])("%s is refused", (_name, baseUrl, message) => {
    expect(() => createKlingClient({ apiKey: "sk-a", baseUrl })).toThrow(InvalidArgumentError);
    expect(() => createKlingClient({ apiKey: "sk-a", baseUrl })).toThrow(message);
  });

  it.each(["http://127.0.0.1:8080", "http://localhost:3000", "http://[::1]:9000", "https://relay.example/prefix/"])(
    "%s is accepted",
    (baseUrl) => {
      expect(() => createKlingClient({ apiKey: "sk-a", baseUrl })).not.toThrow();
    },
  );

  it("is not quoted back when it does not parse (it may hold credentials)", () => {
    expect(() => createKlingClient({ apiKey: "sk-a", baseUrl: "//user:hunter2@relay.example" })).toThrow(/absolute http\(s\) URL/);
    try {
      createKlingClient({ apiKey: "sk-a", baseUrl: "//user:hunter2@relay.example" });
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("an empty XIEXUS_BASE_URL counts as unset", async () => {
    vi.stubEnv("XIEXUS_BASE_URL", "");
    const { fetch, urls } = recordingFetch();
    await createKlingClient({ apiKey: "sk-a", fetch }).getImage2VideoTask("t");
    expect(new URL(urls[0]!).origin).toBe("https://api.xiexus.cn");
  });

  it("defaults to the spec's server, and XIEXUS_BASE_URL overrides it", async () => {
    const { fetch, urls } = recordingFetch();
    await createKlingClient({ apiKey: "sk-a", fetch }).getImage2VideoTask("t");
    vi.stubEnv("XIEXUS_BASE_URL", "https://env.example");
    await createKlingClient({ apiKey: "sk-a", fetch }).getImage2VideoTask("t");
    await createKlingClient({ apiKey: "sk-a", fetch, baseUrl: "https://option.example" }).getImage2VideoTask("t");
    expect(urls.map((u) => new URL(u).origin)).toEqual(["https://api.xiexus.cn", "https://env.example", "https://option.example"]);
  });
});

describe("options", () => {
  it.each([
    [{ timeoutMs: -1 }, /timeoutMs must be a number of milliseconds/],
    [{ timeoutMs: Number.NaN }, /timeoutMs/],
    // setTimeout fires at once past 2^31-1 ms: such a "long" timeout would be no timeout at all.
    [{ timeoutMs: 2 ** 31 }, /timeoutMs must be a number of milliseconds from 0 to 2147483647/],
    [{ maxRetries: 1.5 }, /maxRetries must be a whole number from 0 to 10/],
    [{ maxRetries: 11 }, /maxRetries/],
    [{ validation: "loose" as "strict" }, /validation must be "strict", "compat" or "off"/],
    // A Headers or an array would be read as an empty record, silently dropping every header.
    [{ headers: new Headers({ "x-a": "1" }) as unknown as Record<string, string> }, /headers must be a plain object/],
    [{ headers: [["x-a", "1"]] as unknown as Record<string, string> }, /headers must be a plain object/],
    // fetch would refuse these at every request, as a retried connection error.
    [{ headers: { "bad name": "x" } }, /header name "bad name" is not an HTTP token/],
    [{ headers: { "x-a": "snow \u2603" } }, /header x-a must be a string of Latin-1 characters/],
    [{ headers: { "x-a": "a\r\nx-b: 1" } }, /header x-a must be a string of Latin-1 characters without control characters/],
    [{ fetch: "fetch" as unknown as FetchLike }, /fetch must be a function/],
  ])("%o is refused", (options, message) => {
    expect(() => createKlingClient({ apiKey: "sk-a", ...options })).toThrow(message);
  });

  it("an options argument that is not an object is refused, not read as no options", () => {
    for (const bad of [null, "sk-a", ["sk-a"]]) {
      expect(() => createKlingClient(bad as never)).toThrow(/options must be an object, got (null|string|an array)/);
      expect(() => createKlingClient({ apiKey: "sk-a" }).withOptions(bad as never)).toThrow(InvalidArgumentError);
    }
    expect(() => createKlingClient({ apiKey: "sk-a", headers: { "x-latin": "caf\u00e9" } })).not.toThrow();
  });

  it("per-call options are checked before any request", async () => {
    const { fetch, urls } = recordingFetch();
    const kling = createKlingClient({ apiKey: "sk-a", fetch });
    const bad: Array<[() => Promise<unknown>, RegExp]> = [
      [() => kling.getImage2VideoTask("t", { timeoutMs: -5 }), /timeoutMs/],
      [() => kling.getImage2VideoTask("t", { validation: "loose" as "strict" }), /validation must be/],
      [() => kling.getImage2VideoTask("t", { signal: {} as AbortSignal }), /signal must be an AbortSignal/],
      [() => kling.getImage2VideoTask("t", null as never), /options must be an object, got null/],
      [() => kling.getImage2VideoTask("t", "strict" as never), /options must be an object, got string/],
      [() => kling.waitForImage2VideoTask("t", { pollIntervalMs: -1 }), /pollIntervalMs/],
      [() => kling.waitForImage2VideoTask("t", { onUpdate: 5 as never }), /onUpdate must be a function/],
      [() => kling.waitForImage2VideoTask("t", { signal: "stop" as never }), /signal must be an AbortSignal/],
      [() => kling.waitForImage2VideoTask("t", null as never), /options must be an object/],
      [async () => kling.waitForImage2VideoTasks(["t"], null as never), /options must be an object/],
      [async () => kling.waitForImage2VideoTasks(["t"], { signal: {} as AbortSignal }), /signal must be an AbortSignal/],
    ];
    for (const [call, message] of bad) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(message);
    }
    expect(urls).toEqual([]);
    // A signal is read by its shape: one from another realm or a polyfill is accepted.
    const foreign = { aborted: false, addEventListener() {}, removeEventListener() {} } as unknown as AbortSignal;
    await expect(kling.getImage2VideoTask("t", { signal: foreign })).resolves.toMatchObject({ status: "queued" });
  });

  it("looks up globalThis.fetch at call time, so a mock installed after creation is used", async () => {
    const kling = createKlingClient({ apiKey: "sk-a" });
    const { fetch, urls } = recordingFetch();
    // A stand-in for the global takes what the global takes: a URL string too (the task helper sends one).
    const globalFetch = (input: Request | string, init?: RequestInit) => fetch(new Request(input, init));
    vi.stubGlobal("fetch", globalFetch);
    try {
      await kling.getImage2VideoTask("late");
    } finally {
      vi.unstubAllGlobals();
    }
    expect(urls).toEqual(["https://api.xiexus.cn/kling/v1/videos/image2video/late"]);
  });

  it("sends custom headers, and middlewares added with use() run and carry over to withOptions", async () => {
    const seen: Array<[string | null, string | null]> = [];
    const kling = createKlingClient({
      apiKey: "sk-a",
      headers: { "x-trace": "abc" },
      fetch: async (request) => {
        seen.push([request.headers.get("x-trace"), request.headers.get("x-mw")]);
        return Response.json({ status: "queued" });
      },
    });
    kling.use({ onRequest: ({ request }) => void request.headers.set("x-mw", "1") });
    await kling.getImage2VideoTask("t");
    await kling.withOptions({ maxRetries: 0 }).getImage2VideoTask("t");
    expect(seen).toEqual([["abc", "1"], ["abc", "1"]]);
  });
});

describe("every helper request takes one path, whatever the middlewares", () => {
  const TASK = { task_id: "t", status: "completed", url: "https://cdn.example/v.mp4" };
  const json = (body: object): Uint8Array => new TextEncoder().encode(JSON.stringify(body));

  it.each(["fetch", "httpGet"])("each hook sees each helper request once, and the request sent is the one it changed (%s)", async (via) => {
    const sent: string[] = [];
    const fetch: FetchLike = async (request) => {
      sent.push(`${request.method} ${new URL(request.url).pathname} ${request.headers.get("x-mw")}`);
      return Response.json(request.method === "POST" ? { task_id: "t" } : TASK);
    };
    const httpGet: HttpGet = async ({ url, headers }) => {
      sent.push(`GET ${new URL(url).pathname} ${headers["x-mw"]}`);
      return { status: 200, statusText: "OK", headers: new Headers({ "content-type": "application/json" }), url, body: json(TASK) };
    };
    const kling = createKlingClient({ apiKey: "sk-one-path", baseUrl: "http://127.0.0.1:9", fetch, ...(via === "httpGet" && { httpGet }) });
    const seen: string[] = [];
    kling.use({
      onRequest: ({ request }) => {
        seen.push(`request ${request.method}`);
        request.headers.set("x-mw", "1");
      },
      onResponse: ({ response }) => void seen.push(`response ${response.status}`),
      onError: () => void seen.push("error"),
    });
    await kling.getImage2VideoTask("t");
    await kling.waitForText2VideoTask("t");
    await kling.createText2VideoTask({ model: "kling-v1", prompt: "a lighthouse" });
    expect(seen).toEqual(["request GET", "response 200", "request GET", "response 200", "request POST", "response 200"]);
    expect(sent).toEqual(["GET /kling/v1/videos/image2video/t 1", "GET /kling/v1/videos/text2video/t 1", "POST /kling/v1/videos/text2video 1"]);
  });

  it("a null or undefined middleware given to use() is skipped, as openapi-fetch skips it, by the helpers too", async () => {
    const kling = createKlingClient({ apiKey: "sk-one-path", baseUrl: "http://127.0.0.1:9", fetch: async () => Response.json(TASK) });
    const seen: string[] = [];
    kling.use(null as never, { onRequest: () => void seen.push("request") }, undefined as never);
    await expect(kling.getImage2VideoTask("t")).resolves.toEqual(TASK);
    await expect(kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "t" } } })).resolves.toMatchObject({ data: TASK });
    expect(seen).toEqual(["request", "request"]);
    // And a middleware that is not one is refused, as openapi-fetch refuses it.
    expect(() => kling.use(42 as never)).toThrow(/Middleware must be an object/);
    await expect(kling.getImage2VideoTask("t")).resolves.toEqual(TASK);
    expect(seen).toHaveLength(3);
  });

  it("a create streamed from image bytes, with only an onResponse hook, resent after a 429: the hook sees it once, the relay gets the whole body twice", async () => {
    const bodies: string[] = [];
    const kling = createKlingClient({
      apiKey: "sk-one-path",
      baseUrl: "http://127.0.0.1:9",
      fetch: async (request) => {
        bodies.push(await request.text());
        return bodies.length === 1
          ? Response.json({ code: "rate_limited", message: "slow down", data: null }, { status: 429, headers: { "retry-after-ms": "0" } })
          : Response.json({ task_id: "t" });
      },
    });
    const seen: number[] = [];
    kling.use({ onResponse: ({ response }) => void seen.push(response.status) });
    const image = makePng(400, 300);
    const created = await kling.createImage2VideoTask({ model: "kling-v1", prompt: "a lighthouse", image: new Uint8Array(image) });
    expect(created.task_id).toBe("t");
    expect(seen).toEqual([200]);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
    expect(JSON.parse(bodies[0]!)).toEqual({ model: "kling-v1", prompt: "a lighthouse", image: image.toString("base64") });
  });

  it("what a middleware answers is what the helper reads: a Response from onRequest sends nothing, onError's stands for the failure, onResponse's replaces the answer", async () => {
    const sent: string[] = [];
    const kling = createKlingClient({
      apiKey: "sk-one-path",
      baseUrl: "http://127.0.0.1:9",
      maxRetries: 0,
      fetch: async (request) => {
        sent.push(request.url);
        if (request.url.endsWith("/down")) throw new TypeError("fetch failed");
        return Response.json({ task_id: "t", status: "queued" });
      },
    });
    kling.use({
      onRequest: ({ request }) => (request.url.endsWith("/cached") ? Response.json({ ...TASK, task_id: "cached" }) : undefined),
      onError: () => Response.json({ ...TASK, task_id: "recovered" }),
      onResponse: async ({ response }) => {
        const task = (await response.clone().json()) as { status: string };
        return task.status === "queued" ? Response.json({ ...TASK, task_id: "rewritten" }) : undefined;
      },
    });
    expect((await kling.getImage2VideoTask("cached")).task_id).toBe("cached");
    expect((await kling.getImage2VideoTask("down")).task_id).toBe("recovered");
    expect((await kling.getImage2VideoTask("t")).task_id).toBe("rewritten");
    expect(sent).toEqual(["http://127.0.0.1:9/kling/v1/videos/image2video/down", "http://127.0.0.1:9/kling/v1/videos/image2video/t"]);
  });
});

describe("the helpers of a route, by the route", () => {
  it("are named from the route's description, and routeHelpersOf hands them out by role", async () => {
    const { fetch, urls } = recordingFetch();
    const kling = createKlingClient({ apiKey: "sk-routes", baseUrl: "http://127.0.0.1:9", fetch });
    const names = Object.keys(kling).filter((key) => /Image2Video|Text2Video/.test(key)).sort();
    expect(names).toEqual([
      "createImage2VideoTask",
      "createText2VideoTask",
      "generateImage2Video",
      "generateText2Video",
      "getImage2VideoTask",
      "getText2VideoTask",
      "waitForImage2VideoTask",
      "waitForImage2VideoTasks",
      "waitForText2VideoTask",
      "waitForText2VideoTasks",
    ]);
    await routeHelpersOf(kling, "text2video").get("t");
    await routeHelpersOf(kling, ROUTES.image2video).get("t");
    expect(urls).toEqual(["http://127.0.0.1:9/kling/v1/videos/text2video/t", "http://127.0.0.1:9/kling/v1/videos/image2video/t"]);
    expect(Object.keys(routeHelpersOf(kling, "image2video")).sort()).toEqual(["create", "generate", "get", "wait", "waitMany"]);
  });
});

describe("no key here: a proxy adds it (apiKey: null)", () => {
  it("sends no Authorization header at all", async () => {
    const seen: Array<string | null> = [];
    const fetch: FetchLike = async (request) => {
      seen.push(request.headers.get("authorization"));
      return new Response(JSON.stringify({ task_id: "t", status: "queued" }), { headers: { "content-type": "application/json" } });
    };
    vi.stubEnv("XIEXUS_API_KEY", "sk-from-env-must-not-be-used");
    const kling = createKlingClient({ apiKey: null, baseUrl: "http://127.0.0.1:9", fetch });
    await kling.getImage2VideoTask("t");
    await kling.GET("/kling/v1/videos/image2video/{task_id}", { params: { path: { task_id: "t" } } });
    expect(seen).toEqual([null, null]);
  });

  it("a key that is merely missing is still an error naming XIEXUS_API_KEY", () => {
    vi.stubEnv("XIEXUS_API_KEY", "");
    expect(() => createKlingClient({})).toThrow(InvalidArgumentError);
    expect(() => createKlingClient({ apiKey: undefined })).toThrow(/XIEXUS_API_KEY/);
  });
});

describe("an environment the runtime will not let us read (Deno without --allow-env)", () => {
  /** Runs `fn` while every read of process.env throws, as Deno's NotCapable does. */
  function withEnvRefused<T>(fn: () => T): T {
    const descriptor = Object.getOwnPropertyDescriptor(process, "env")!;
    Object.defineProperty(process, "env", {
      configurable: true,
      get() {
        throw new Error('NotCapable: Requires env access to "XIEXUS_BASE_URL"');
      },
    });
    try {
      return fn();
    } finally {
      Object.defineProperty(process, "env", descriptor);
    }
  }

  it("works with an explicit key and the default base URL", () => {
    const kling = withEnvRefused(() => createKlingClient({ apiKey: "sk-test" }));
    expect(typeof kling.getImage2VideoTask).toBe("function");
  });

  it("without a key, it is our InvalidArgumentError naming XIEXUS_API_KEY, not the runtime's", () => {
    const error = withEnvRefused(() => {
      try {
        createKlingClient({});
        return undefined;
      } catch (e) {
        return e;
      }
    });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/XIEXUS_API_KEY/);
  });
});
