// Kling's controls on the command line, as a user runs it against the fake relay: the flags of
// create and generate (--negative-prompt, --cfg-scale, --mode, --aspect-ratio, --image-tail,
// --camera, --metadata) and a jobs file's keys reach the relay's create body where the gateway
// reads them; a flag that cannot be parsed, or that --metadata contradicts, is refused before any
// request; a value the library's rules refuse is exit 2 before any request too. And a task asked
// for on the wrong route: the CLI looks once on the other route and names the --route to give.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import { createKlingClient } from "../src/index.js";
import type { FakeRelay, RecordedCreate } from "../src/testing/index.js";
import { CLI_KEY, cliRig } from "./helpers/cli.js";
import { makePng } from "./helpers/images.js";

const rig = cliRig("xiexus-cli-controls-", { createdTasks: { runningPolls: 1 } });
const { scratch, startRelay, cli, scratchFile, scratchPath } = rig;
afterAll(() => rig.close());

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The `metadata` of a recorded create's body. */
function metadataOf(create: RecordedCreate | undefined): Record<string, unknown> {
  return ((create?.body ?? {}) as { metadata?: Record<string, unknown> }).metadata ?? {};
}

/**
 * Checks that a create sent `bytes` as its end frame, in bare base64: the relay records the string's
 * length in the body, and what it decoded from it in `klingImages` (a `data:` URL would read `data-url`).
 */
function expectImageTail(create: RecordedCreate | undefined, bytes: Uint8Array): void {
  expect(metadataOf(create).image_tail).toBe(`[image: ${Math.ceil(bytes.byteLength / 3) * 4} characters]`);
  expect(create?.klingImages?.image_tail).toMatchObject({ form: "base64", bytesSha256: sha256(bytes) });
}

describe.concurrent("create and generate: Kling's controls as flags", { timeout: 60_000 }, () => {
  it("each control flag and --metadata reach the create body: mode at the top, the rest in metadata", async () => {
    const relay = await startRelay();
    const run = await cli(relay, [
      "create",
      "--prompt",
      "a lighthouse at dusk",
      "--negative-prompt",
      "people, text",
      "--cfg-scale",
      "0.7",
      "--mode",
      "pro",
      "--aspect-ratio",
      "9:16",
      "--camera",
      "zoom=5",
      "--metadata",
      '{"external_task_id": "shot-1", "x_custom": {"kept": true}}',
    ]);
    expect(run.stderr).toMatch(/created/);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(relay.creates).toHaveLength(1);
    const [sent] = relay.creates;
    expect(sent!.route).toBe("text2video");
    expect(sent!.body).toMatchObject({ model: "kling-v1", prompt: "a lighthouse at dusk", mode: "pro" });
    expect(metadataOf(sent)).toEqual({
      negative_prompt: "people, text",
      cfg_scale: 0.7,
      aspect_ratio: "9:16",
      camera_control: { type: "simple", config: { zoom: 5 } },
      external_task_id: "shot-1",
      x_custom: { kept: true },
    });
  });

  it("--image-tail <file> is sent as bare base64 of the file's bytes, beside --image", async () => {
    const relay = await startRelay();
    const first = makePng(640, 360);
    const last = makePng(640, 360, { size: 9_000 });
    const run = await cli(relay, [
      "create",
      "--image",
      scratchFile("first.png", first),
      "--image-tail",
      scratchFile("last.png", last),
      "--prompt",
      "a door closes",
    ]);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(relay.creates).toHaveLength(1);
    const [sent] = relay.creates;
    expect(sent!.route).toBe("image2video");
    expect(sent!.image).toMatchObject({ form: "base64", bytesSha256: sha256(first) });
    expectImageTail(sent, last);
  });

  it("--image-tail <url> is passed on untouched; generate takes the flags too (a preset camera move)", async () => {
    const relay = await startRelay();
    const tail = "https://images.example/last.jpg";
    const create = await cli(relay, ["create", "--image", "https://images.example/first.jpg", "--image-tail", tail, "--prompt", "p"]);
    expect(create.code).toBe(EXIT_CODES.ok);
    const output = scratchPath("camera.mp4");
    const generate = await cli(relay, ["generate", "--prompt", "a street", "--camera", "down_back", "--output", output, "--interval", "0.05"]);
    expect(generate.code).toBe(EXIT_CODES.ok);
    expect(readFileSync(output).byteLength).toBeGreaterThan(0);
    expect(relay.creates).toHaveLength(2);
    expect(metadataOf(relay.creates[0]).image_tail).toBe(tail);
    expect(metadataOf(relay.creates[1]).camera_control).toEqual({ type: "down_back" });
  });

  it("--camera simple:pan=-3 is a simple move; --metadata alone is the metadata sent", async () => {
    const relay = await startRelay();
    const runs = [
      await cli(relay, ["create", "--prompt", "p", "--camera", "simple:pan=-3"]),
      await cli(relay, ["create", "--prompt", "p", "--metadata", '{"negative_prompt": "rain"}']),
    ];
    expect(runs.map((r) => r.code)).toEqual([EXIT_CODES.ok, EXIT_CODES.ok]);
    expect(metadataOf(relay.creates[0]).camera_control).toEqual({ type: "simple", config: { pan: -3 } });
    expect(metadataOf(relay.creates[1])).toMatchObject({ negative_prompt: "rain" });
  });

  it("a flag that cannot be parsed, or a control given by its flag and in --metadata, is exit 2 before any request", async () => {
    const relay = await startRelay();
    const png = scratchFile("ok.png", makePng(640, 360));
    const cases: Array<[string[], RegExp]> = [
      [["--cfg-scale", "abc"], /--cfg-scale must be a number, got "abc"/],
      [["--cfg-scale", ""], /--cfg-scale must be a number/],
      [["--metadata", "{not json"], /--metadata must be a JSON object/],
      [["--metadata", "[1, 2]"], /--metadata must be a JSON object.*got an array/],
      [["--metadata", '"cfg_scale"'], /--metadata must be a JSON object.*got a string/],
      [["--metadata", "null"], /--metadata must be a JSON object.*got null/],
      [["--camera", "zoom="], /--camera takes one axis of a simple move/],
      [["--camera", "zoom=five"], /--camera takes one axis/],
      [["--camera", "simple"], /--camera simple needs its axis/],
      [["--camera", "zoom=1,zoom=2"], /--camera names zoom twice/],
      [["--aspect-ratio", "1:1", "--metadata", '{"aspect_ratio": "9:16"}'], /--aspect-ratio and --metadata's "aspect_ratio" set the same control/],
      // The gateway matches metadata's keys in any letter case: so does the conflict.
      [["--cfg-scale", "0.5", "--metadata", '{"CFG_Scale": 0.5}'], /--cfg-scale and --metadata's "CFG_Scale" set the same control/],
      [["--mode", "pro", "--metadata", '{"mode": "std"}'], /--mode and --metadata's "mode" set the same control/],
      [["--image", png, "--image-tail", png, "--metadata", '{"image_tail": "https://x.example/a.png"}'], /--image-tail and --metadata's "image_tail"/],
      [["--image", png, "--image-tail", path.join(scratch, "missing.png")], /--image-tail: image file .*missing\.png.*: no such file/],
      [["--image", png, "--image-tail", scratchFile("notes.png", "shopping list\n")], /--image-tail: /],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(relay, ["create", "--prompt", "p", ...args])));
    runs.forEach((run, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: run.code }).toEqual({ args, code: EXIT_CODES.usage });
      expect(run.stderr, args.join(" ")).toMatch(message);
      expect(run.stdout).toBe("");
    });
    expect(relay.requests).toHaveLength(0);
    expect(relay.creates).toHaveLength(0);
  });

  it("--json names the refused flag's argument; the controls are refused with --jobs (each line holds its own)", async () => {
    const relay = await startRelay();
    const refused = await cli(relay, ["create", "--prompt", "p", "--metadata", "[]", "--json"]);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { name: "UsageError", exitCode: EXIT_CODES.usage } });
    const jobs = await cli(relay, ["generate", "--jobs", scratchFile("j.jsonl", '{"prompt": "p"}\n'), "--output-dir", scratch, "--cfg-scale", "0.5"]);
    expect(jobs.code).toBe(EXIT_CODES.usage);
    expect(jobs.stderr).toMatch(/--cfg-scale is for one task: with --jobs/);
    expect(relay.requests).toHaveLength(0);
  });

  // These rest on the library's checks of the controls (src/create.ts): the CLI parses, the library refuses.
  it("a value the library's rules refuse is exit 2 before any request, naming the field", async () => {
    const relay = await startRelay();
    const png = scratchFile("ok.png", makePng(640, 360));
    const cases: Array<[string[], RegExp]> = [
      [["--cfg-scale", "1.5"], /cfg_scale/],
      [["--cfg-scale", "0"], /cfg_scale/],
      [["--mode", "ultra"], /mode/],
      [["--aspect-ratio", "4:3"], /aspect_ratio/],
      [["--camera", "spin"], /camera_control/],
      [["--camera", "zoom=11"], /camera_control/],
      [["--camera", "zoom=5,pan=2"], /camera_control/],
      [["--camera", "spin=5"], /camera_control/],
      [["--negative-prompt", "x".repeat(2_501)], /negative_prompt/],
      // The end frame needs a start frame: without --image it would be a text2video task that drops it.
      [["--image-tail", png], /image_tail/],
      // Two of the exclusive groups: the end frame and the camera.
      [["--image", png, "--image-tail", png, "--camera", "zoom=5"], /image_tail|camera_control/],
      [["--metadata", '{"model_name": "kling-v2-master"}'], /model_name/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(relay, ["create", "--prompt", "p", "--json", ...args])));
    runs.forEach((run, i) => {
      const [args, field] = cases[i]!;
      expect({ args: args.join(" ").slice(0, 60), code: run.code }).toEqual({ args: args.join(" ").slice(0, 60), code: EXIT_CODES.usage });
      const { error } = JSON.parse(run.stdout) as { error: { name: string; argument?: string; message: string } };
      expect(error.name).toBe("InvalidArgumentError");
      expect(`${error.argument} ${error.message}`).toMatch(field);
    });
    expect(relay.creates).toHaveLength(0);
  });
});

describe.concurrent("generate --jobs: Kling's controls in a jobs file", { timeout: 60_000 }, () => {
  /** A new directory with `first.png`, `last.png` and `jobs.jsonl` holding `lines`. */
  function jobsDir(lines: readonly (object | string)[]): { dir: string; jobs: string; out: string; last: Buffer } {
    const dir = scratchPath("jobs");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "first.png"), makePng(640, 480));
    const last = makePng(640, 480, { size: 5_000 });
    writeFileSync(path.join(dir, "last.png"), last);
    const jobs = path.join(dir, "jobs.jsonl");
    writeFileSync(jobs, lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n") + "\n");
    return { dir, jobs, out: path.join(dir, "out"), last };
  }

  it("top-level controls move into metadata (mode stays at the top); image_tail is a file relative to the jobs file", async () => {
    const relay = await startRelay();
    const { jobs, out, last } = jobsDir([
      { key: "cam", prompt: "a street", cfg_scale: 0.3, mode: "pro", camera_control: { type: "simple", config: { tilt: -4 } } },
      { key: "tail", prompt: "a door", image: "first.png", image_tail: "last.png", negative_prompt: "blur", metadata: { external_task_id: "t-1" } },
      { key: "meta", prompt: "rain", metadata: { aspect_ratio: "1:1" } },
    ]);
    // Run from elsewhere: relative paths are the jobs file's, not the working directory's.
    const run = await cli(relay, ["generate", "--jobs", jobs, "--output-dir", out, "--interval", "0.05"]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(relay.creates).toHaveLength(3);
    const byPrompt = new Map(relay.creates.map((c) => [(c.body as { prompt: string }).prompt, c]));
    const cam = byPrompt.get("a street")!;
    expect(cam.body).toMatchObject({ mode: "pro" });
    expect(cam.body).not.toHaveProperty("cfg_scale");
    // A text2video create gets Kling's 16:9 default from the library, sent explicitly.
    expect(metadataOf(cam)).toEqual({ cfg_scale: 0.3, camera_control: { type: "simple", config: { tilt: -4 } }, aspect_ratio: "16:9" });
    const tail = byPrompt.get("a door")!;
    expect(tail.route).toBe("image2video");
    expect(metadataOf(tail)).toMatchObject({ negative_prompt: "blur", external_task_id: "t-1" });
    expectImageTail(tail, last);
    expect(metadataOf(byPrompt.get("rain"))).toMatchObject({ aspect_ratio: "1:1" });
    // The same requests again (the end frame's bytes included): the journal knows them, nothing is created.
    const again = await cli(relay, ["generate", "--jobs", jobs, "--output-dir", out, "--interval", "0.05"]);
    expect(again.code).toBe(EXIT_CODES.ok);
    expect(relay.creates).toHaveLength(3);
  });

  it("a line with a control given twice, a metadata that is not an object or a bad image_tail is exit 2 before any request, naming its line", async () => {
    const relay = await startRelay();
    const cases: Array<[object, RegExp]> = [
      [{ prompt: "p", cfg_scale: 0.5, metadata: { cfg_scale: 0.4 } }, /line 1: "cfg_scale" is given twice/],
      [{ prompt: "p", metadata: "cfg_scale=0.5" }, /line 1: "metadata" must be a JSON object/],
      [{ prompt: "p", image: "first.png", image_tail: "missing.png" }, /line 1: "image_tail": image file .*missing\.png.*no such file/],
      [{ prompt: "p", image: "first.png", image_tail: 42 }, /line 1: "image_tail" must be a file path/],
    ];
    const runs = await Promise.all(
      cases.map(([line]) => {
        const { jobs, out } = jobsDir([line]);
        return cli(relay, ["generate", "--jobs", jobs, "--output-dir", out]);
      }),
    );
    runs.forEach((run, i) => {
      expect(run.code).toBe(EXIT_CODES.usage);
      expect(run.stderr).toMatch(cases[i]![1]);
    });
    expect(relay.requests).toHaveLength(0);
  });

  // Rests on the library's checks of the controls (src/create.ts).
  it("a line the library's rules refuse (cfg_scale 1.5, a camera move with two axes) is exit 2 before any request", async () => {
    const relay = await startRelay();
    const { jobs, out } = jobsDir([
      { prompt: "fine" },
      { prompt: "p", cfg_scale: 1.5 },
    ]);
    const camera = jobsDir([{ prompt: "p", camera_control: { type: "simple", config: { zoom: 5, pan: 2 } } }]);
    const runs = await Promise.all([
      cli(relay, ["generate", "--jobs", jobs, "--output-dir", out]),
      cli(relay, ["generate", "--jobs", camera.jobs, "--output-dir", camera.out]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([EXIT_CODES.usage, EXIT_CODES.usage]);
    expect(runs[0]!.stderr).toMatch(/line 2: .*cfg_scale/);
    expect(runs[1]!.stderr).toMatch(/line 1: .*camera_control/);
    expect(relay.creates).toHaveLength(0);
  });
});

describe.concurrent("a task asked for on the wrong route", { timeout: 60_000 }, () => {
  /** A task created on `route` through the library, on `relay`. */
  async function createdOn(relay: FakeRelay, route: "image2video" | "text2video"): Promise<string> {
    const kling = createKlingClient({ apiKey: CLI_KEY, baseUrl: relay.url });
    const created =
      route === "text2video"
        ? await kling.createText2VideoTask({ model: "kling-v1", prompt: "a text task" })
        : await kling.createImage2VideoTask({ model: "kling-v1", prompt: "an image task", image: "https://images.example/a.png" });
    return created.task_id;
  }

  it("status, wait and download of a text2video task without --route: not found (exit 3), suggesting --route text2video", async () => {
    const relay = await startRelay();
    const taskId = await createdOn(relay, "text2video");
    const output = scratchPath("never.mp4");
    const runs = await Promise.all([
      cli(relay, ["status", taskId]),
      cli(relay, ["wait", taskId, "--interval", "0.05"]),
      cli(relay, ["download", taskId, "--output", output]),
    ]);
    for (const run of runs) {
      expect(run.code).toBe(EXIT_CODES.notFound);
      expect(run.stderr).toBe(
        `xiexus-kling: no task "${taskId}" on the image2video route, but there is one on text2video: run it again with --route text2video\n`,
      );
      expect(run.stdout).toBe("");
    }
    // Each looked once on the other route: one GET there per run, none of them retried.
    const gets = relay.requests.filter((r) => r.method === "GET");
    expect(gets.filter((r) => r.route === "text2video")).toHaveLength(3);
    // And the hint is right: the task is there.
    const status = await cli(relay, ["status", taskId, "--route", "text2video", "--json"]);
    expect(status.code).toBe(EXIT_CODES.ok);
    expect(JSON.parse(status.stdout)).toMatchObject({ task_id: taskId });
  });

  it("an image2video task asked for with --route text2video suggests --route image2video; --json carries the route", async () => {
    const relay = await startRelay();
    const taskId = await createdOn(relay, "image2video");
    const run = await cli(relay, ["status", taskId, "--route", "text2video", "--json"]);
    expect(run.code).toBe(EXIT_CODES.notFound);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { name: "TaskNotFoundError", exitCode: EXIT_CODES.notFound, route: "image2video", hint: "--route image2video" },
    });
  });

  it("a batch wait names the route of each task that is on the other one, and only of those", async () => {
    const relay = await startRelay();
    const text = await createdOn(relay, "text2video");
    const image = await createdOn(relay, "image2video");
    const run = await cli(relay, ["wait", text, image, "no-such-task", "--interval", "0.05"]);
    expect(run.code).toBe(EXIT_CODES.notFound);
    const lines = new Map(run.stdout.trim().split("\n").map((line) => [line.split("\t")[0], line] as const));
    expect(lines.get(text)).toMatch(/there is one on text2video: run it again with --route text2video/);
    expect(lines.get(image)).toMatch(/\tcompleted\t/);
    expect(lines.get("no-such-task")).not.toMatch(/--route/);
    // One look on the other route for each task not found, and none for the one found.
    expect(relay.requests.filter((r) => r.method === "GET" && r.route === "text2video")).toHaveLength(2);
  });

  it("a task on neither route: the usual not-found message after one look; another error: no look at all", async () => {
    const relay = await startRelay();
    const missing = await cli(relay, ["status", "no-such-task"]);
    expect(missing.code).toBe(EXIT_CODES.notFound);
    expect(missing.stderr).toMatch(/^xiexus-kling: no task "no-such-task" on this relay \(.*404.*\)\n$/);
    expect(relay.requests.map((r) => `${r.route} ${r.status}`)).toEqual(["image2video 404", "text2video 404"]);

    const denied = await startRelay();
    denied.setTask("denied-task", [{ status: 403, body: { error: { message: "forbidden", type: "permission_error" } } }]);
    const run = await cli(denied, ["status", "denied-task"]);
    expect(run.code).toBe(EXIT_CODES.auth);
    expect(denied.requests.map((r) => r.route)).toEqual(["image2video"]);
  });
});
