// The CLI's paid commands as a user runs them: `create` and `generate` against the fake relay (each test that counts
// creates has a relay of its own, so concurrent tests never share a count). Every run also checks
// that the API key never shows up in any output.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import type { CreateFault } from "../src/testing/index.js";
import { cliRig } from "./helpers/cli.js";
import { makePng } from "./helpers/images.js";

const rig = cliRig("xiexus-cli-create-");
const { scratch, startRelay, cli, scratchFile, scratchPath } = rig;
afterAll(() => rig.close());

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
const TASK_ID = /^task_[A-Za-z0-9]{32}$/;

describe.concurrent("xiexus-kling create", { timeout: 60_000 }, () => {
  it("without --image creates a text2video task with the default model and prints its id alone on stdout", async () => {
    const relay = await startRelay();
    const run = await cli(relay, ["create", "--prompt", "a lighthouse at dusk", "--duration", "5", "--mode", "pro"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(run.stdout).toMatch(/^task_\w+\n$/);
    const taskId = run.stdout.trim();
    expect(relay.creates).toHaveLength(1);
    expect(relay.creates[0]).toMatchObject({
      route: "text2video",
      taskId,
      body: { model: "kling-v1", prompt: "a lighthouse at dusk", duration: 5, mode: "pro" },
    });
    // How to wait for it: on its own route.
    expect(run.stderr).toBe(`task ${taskId} created; wait for it with: xiexus-kling wait ${taskId} --route text2video [--output <file>]\n`);
    const wait = await cli(relay, ["wait", taskId, "--route", "text2video", "--interval", "0.05"]);
    expect(wait.code).toBe(EXIT_CODES.ok);
    expect(wait.stdout).toBe(`${relay.video!.urlFor(taskId)}\n`);
  });

  it("--image <file> sends the PNG as the base64 the relay expects (its bytes' sha256 matches); --json prints the created task", async () => {
    const relay = await startRelay();
    const png = makePng(640, 360);
    const file = scratchFile("cat.png", png);
    const run = await cli(relay, ["create", "--image", file, "--prompt", "a cat", "--model", "kling-v2", "--json"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    const created = JSON.parse(run.stdout) as { task_id: string; status: string; model: string };
    expect(created).toMatchObject({ task_id: expect.stringMatching(TASK_ID), status: "queued", model: "kling-v2" });
    expect(relay.creates).toHaveLength(1);
    const [sent] = relay.creates;
    expect(sent!.route).toBe("image2video");
    expect(sent!.image).toMatchObject({ form: "base64", bytesSha256: sha256(png), info: { format: "png", width: 640, height: 360 } });
  });

  it("--image <url> passes the URL on untouched", async () => {
    const relay = await startRelay();
    const url = "https://images.example/cat.jpg?size=large";
    const run = await cli(relay, ["create", "--image", url, "--prompt", "a cat"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    expect(relay.creates[0]).toMatchObject({ route: "image2video", image: { form: "url" }, body: { image: url } });
  });

  it("a text file renamed .png is refused before any request (exit 2), naming the rule", async () => {
    const relay = await startRelay();
    const file = scratchFile("notes.png", "these are my notes, not a picture\n");
    const [plain, json] = await Promise.all([
      cli(relay, ["create", "--image", file, "--prompt", "a cat"]),
      cli(relay, ["create", "--image", file, "--prompt", "a cat", "--json"]),
    ]);
    expect(plain.code).toBe(EXIT_CODES.usage);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toBe(`xiexus-kling: --image: image file ${JSON.stringify(file)} is text, not an image (by its bytes); the relay accepts PNG or JPEG\n`);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { name: "InvalidArgumentError", argument: "image", exitCode: 2 } });
    expect(relay.requests).toEqual([]);
    expect(relay.creates.length).toBe(0);
  });

  it("refuses bad request flags with exit 2 before any request", async () => {
    const relay = await startRelay();
    const runs = await Promise.all([
      cli(relay, ["create"]),
      cli(relay, ["create", "--prompt", " "]),
      cli(relay, ["create", "--prompt", "p", "--duration", "5.5"]),
      cli(relay, ["create", "--prompt", "p", "--width", "0"]),
      cli(relay, ["create", "some-task-id", "--prompt", "p"]),
      cli(relay, ["create", "--prompt", "p", "--output", path.join(scratch, "x.mp4")]),
      cli(relay, ["status", "t", "--prompt", "p"]),
      cli(relay, ["create", "--prompt", "p", "--image", path.join(scratch, "missing.png")]),
      cli(relay, ["status", "t", "--route", "video"]),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(EXIT_CODES.usage);
      expect(run.stdout).toBe("");
    }
    expect(runs[0]!.stderr).toContain("create needs --prompt <text>");
    expect(runs[2]!.stderr).toContain("--duration must be a whole number of seconds");
    expect(runs[3]!.stderr).toContain("--width must be a whole number of pixels");
    expect(runs[4]!.stderr).toContain("create takes no task id");
    expect(runs[5]!.stderr).toContain("create writes no file");
    expect(runs[6]!.stderr).toContain("--prompt only applies to create");
    expect(runs[7]!.stderr).toContain("no such file");
    expect(runs[8]!.stderr).toContain("--route must be image2video or text2video");
    expect(relay.requests).toEqual([]);
  });

  it.each<[string, CreateFault]>([
    ["a proxy's 502 page", { status: 502, body: "<html><body>502 Bad Gateway</body></html>", created: true }],
    ["a reset after the body was read", { fault: "reset-after-body" }],
  ])("exits 11 when a create's fate is unknown (%s): sent once, and --json says mayHaveCreatedTask", async (_name, fault) => {
    const relay = await startRelay({ createFaults: [fault, fault] });
    const [plain, json] = await Promise.all([
      cli(relay, ["create", "--prompt", "a cat"]),
      cli(relay, ["create", "--prompt", "a cat", "--json"]),
    ]);
    expect(EXIT_CODES.mayHaveCreatedTask).toBe(11);
    expect(plain.code).toBe(EXIT_CODES.mayHaveCreatedTask);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toMatch(/\nA task MAY have been created \(and paid for\): check the relay's tasks before creating it again\.\n$/);
    expect(json.code).toBe(EXIT_CODES.mayHaveCreatedTask);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { mayHaveCreatedTask: true, exitCode: 11 } });
    // Never resent: one create per run.
    expect(relay.creates).toHaveLength(2);
  });

  it("exits 12 when the balance is too low, saying to top up; a refused create in the gateway's shape is not 11", async () => {
    const relay = await startRelay({
      createFaults: [{ status: 403, body: { code: "insufficient_user_quota", message: "用户额度不足", data: null } }],
    });
    const run = await cli(relay, ["create", "--prompt", "a cat", "--json"]);
    expect(run.code).toBe(EXIT_CODES.insufficientQuota);
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        name: "InsufficientQuotaError",
        code: "insufficient_user_quota",
        status: 403,
        requestId: expect.any(String),
        message: expect.stringContaining("insufficient_user_quota"),
        exitCode: 12,
      },
    });
    const human = await cli(relay, ["create", "--prompt", "a cat"], {});
    // The fault was used up: this one is created.
    expect(human.code).toBe(EXIT_CODES.ok);
    const quota = await startRelay({ createFaults: [{ status: 403, body: { code: "quota_not_enough", message: "no", data: null } }] });
    const again = await cli(quota, ["create", "--prompt", "a cat"]);
    expect(again.code).toBe(EXIT_CODES.insufficientQuota);
    expect(again.stderr).toContain("top up");
  });

  it("Ctrl-C while the create is on its way exits 130 and says a task may have been created", async () => {
    const relay = await startRelay({ createFaults: [{ fault: "stall" }, { fault: "stall" }] });
    /** Sends SIGINT once the relay has read the run's create (its `n`th). */
    const interruptAt = (n: number) => (kill: (signal: NodeJS.Signals) => void) => {
      const poll = setInterval(() => {
        if (relay.creates.length < n) return;
        clearInterval(poll);
        kill("SIGINT");
      }, 20);
      return () => clearInterval(poll);
    };
    const plain = await cli(relay, ["create", "--prompt", "a cat"], { onSpawn: interruptAt(1) });
    expect(plain.code).toBe(EXIT_CODES.interrupted);
    expect(plain.stdout).toBe("");
    expect(plain.stderr).toBe(
      "interrupted: the create request was on its way and no answer came back: a task MAY have been created " +
        "(and paid for). Check the relay's tasks before creating it again.\n",
    );
    const json = await cli(relay, ["create", "--prompt", "a cat", "--json"], { onSpawn: interruptAt(2) });
    expect(json.code).toBe(EXIT_CODES.interrupted);
    expect(JSON.parse(json.stdout)).toEqual({ error: { name: "Interrupted", mayHaveCreatedTask: true, message: "interrupted", exitCode: 130 } });
  });
});

describe.concurrent("xiexus-kling generate", { timeout: 60_000 }, () => {
  it("--image cat.png --prompt … --output cat.mp4 writes the video (exit 0); the image reached the relay as its base64; the video host never saw Authorization", async () => {
    const relay = await startRelay();
    const png = makePng(800, 600);
    const image = scratchFile("cat.png", png);
    const output = scratchPath("cat.mp4");
    const run = await cli(relay, ["generate", "--image", image, "--prompt", "a cat turns its head", "--output", output, "--interval", "0.05"]);
    expect(run.code, run.stderr).toBe(EXIT_CODES.ok);
    expect(run.stdout).toBe(`${output}\n`);
    expect(readFileSync(output).equals(relay.video!.bytes())).toBe(true);
    expect(relay.createCount).toBe(1);
    const [sent] = relay.creates;
    expect(sent).toMatchObject({ route: "image2video", image: { form: "base64", bytesSha256: sha256(png) }, body: { model: "kling-v1" } });
    const taskId = sent!.taskId!;
    // The id, as soon as it is known, with the command that resumes the wait.
    expect(run.stderr.split("\n")).toEqual([
      "creating",
      `task ${taskId} created; if interrupted, resume with: xiexus-kling wait ${taskId} --output ${output}`,
      "queued",
      "in_progress",
      "completed",
      `downloading to ${output}`,
      expect.stringMatching(/^✔ saved .*cat\.mp4 \(262\.\d+ kB\)$/),
      "",
    ]);
    // The relay saw the key; the video host (another origin) never did.
    expect(relay.requests.every((r) => r.authorized)).toBe(true);
    expect(relay.video!.requests.length).toBeGreaterThan(0);
    expect(relay.video!.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("a text file renamed .png is refused before any request; an existing output too, unless --force", async () => {
    const relay = await startRelay();
    const text = scratchFile("cat.png", "not an image at all\n");
    const existing = scratchFile("taken.mp4", "old bytes");
    const image = scratchFile("ok.png", makePng(400, 400));
    const [refused, taken, noOutput] = await Promise.all([
      cli(relay, ["generate", "--image", text, "--prompt", "a cat", "--output", path.join(scratch, "never.mp4")]),
      cli(relay, ["generate", "--image", image, "--prompt", "a cat", "--output", existing]),
      cli(relay, ["generate", "--prompt", "a cat"]),
    ]);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toContain("is text, not an image (by its bytes)");
    expect(taken.code).toBe(EXIT_CODES.usage);
    expect(taken.stderr).toBe(`xiexus-kling: ${existing} already exists; add --force to replace it\n`);
    expect(noOutput.code).toBe(EXIT_CODES.usage);
    expect(noOutput.stderr).toContain("generate needs --output <file>");
    expect(relay.creates.length).toBe(0);
    expect(relay.requests).toEqual([]);
    expect(existsSync(path.join(scratch, "never.mp4"))).toBe(false);
    const forced = await cli(relay, ["generate", "--image", image, "--prompt", "a cat", "--output", existing, "--force", "--interval", "0.05"]);
    expect(forced.code).toBe(EXIT_CODES.ok);
    expect(forced.stderr).toContain(`--output ${existing} --force\n`);
    expect(readFileSync(existing).equals(relay.video!.bytes())).toBe(true);
  });

  it("without --image: a text2video task, resumed on its own route; --json prints {taskId, task, file}", async () => {
    const relay = await startRelay();
    const output = scratchPath("text.mp4");
    const run = await cli(relay, ["generate", "--prompt", "waves", "--output", output, "--interval", "0.05", "--json"]);
    expect(run.code).toBe(EXIT_CODES.ok);
    const taskId = relay.creates[0]!.taskId!;
    expect(relay.creates[0]!.route).toBe("text2video");
    expect(run.stderr).toContain(`resume with: xiexus-kling wait ${taskId} --route text2video --output ${output}\n`);
    expect(JSON.parse(run.stdout)).toEqual({
      taskId,
      task: expect.objectContaining({ task_id: taskId, status: "completed" }),
      file: expect.objectContaining({ path: output, bytes: relay.video!.size }),
    });
  });

  it.each([
    ["Ctrl-C", "SIGINT", EXIT_CODES.interrupted],
    ["SIGTERM", "SIGTERM", EXIT_CODES.terminated],
    ["SIGHUP", "SIGHUP", EXIT_CODES.hangup],
  ] as const)("%s after the create names the task and the resume command (which then finishes without a second create)", async (_name, signal, code) => {
    // Tasks that run long enough to be interrupted while waited for.
    const relay = await startRelay({ createdTasks: { runningPolls: 6 } });
    const dir = scratchPath("resume");
    mkdirSync(dir);
    const output = path.join(dir, "resume.mp4");
    let sent = false;
    const run = await cli(relay, ["generate", "--prompt", "a cat", "--output", output, "--interval", "0.05"], {
      onStderr: (stderr, kill) => {
        if (sent || !stderr.includes("\nqueued\n")) return;
        sent = true;
        kill(signal);
      },
    });
    expect(sent).toBe(true);
    expect(run.code).toBe(code);
    const taskId = relay.creates[0]!.taskId!;
    const resume = `xiexus-kling wait ${taskId} --route text2video --output ${output}`;
    expect(run.stderr).toMatch(new RegExp(`\\ninterrupted: task ${taskId} was created and keeps running on the relay; resume with: ${resume.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n$`));
    // Nothing half-written is left behind.
    expect(readdirSync(dir)).toEqual([]);
    // The resume command, as printed, finishes the job.
    const resumed = await cli(relay, [...resume.split(" ").slice(1), "--interval", "0.05"]);
    expect(resumed.code).toBe(EXIT_CODES.ok);
    expect(readFileSync(output).equals(relay.video!.bytes())).toBe(true);
    expect(relay.createCount).toBe(1);
  });

  it("Ctrl-C during the create says a task may have been created; --json carries it", async () => {
    const relay = await startRelay({ createFaults: [{ fault: "stall" }] });
    const run = await cli(relay, ["generate", "--prompt", "a cat", "--output", path.join(scratch, "stalled.mp4"), "--json"], {
      onSpawn: (kill) => {
        const poll = setInterval(() => {
          if (relay.creates.length === 0) return;
          clearInterval(poll);
          kill("SIGINT");
        }, 20);
        return () => clearInterval(poll);
      },
    });
    expect(run.code).toBe(EXIT_CODES.interrupted);
    expect(run.stderr).toMatch(/^creating\ninterrupted: the create request was on its way and no answer came back: a task MAY have been created/);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { name: "Interrupted", mayHaveCreatedTask: true, exitCode: 130 } });
  });

  it("a task that fails after the create exits 1; the error names the task (in --json too) without a resume hint", async () => {
    const relay = await startRelay({ createdTasks: { outcome: "failed", runningPolls: 1 } });
    const output = scratchPath("failed.mp4");
    const [plain, json] = await Promise.all([
      cli(relay, ["generate", "--prompt", "a cat", "--output", output, "--interval", "0.05"]),
      cli(relay, ["generate", "--prompt", "a cat", "--output", output, "--interval", "0.05", "--json"]),
    ]);
    expect(plain.code).toBe(EXIT_CODES.taskFailed);
    expect(plain.stderr).toMatch(/\nxiexus-kling: task task_\w+ failed: 1301: .*\n$/);
    expect(plain.stderr).not.toMatch(/Task task_\w+ was created; resume with/);
    const body = JSON.parse(json.stdout) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ name: "TaskFailedError", exitCode: 1, taskId: expect.stringMatching(TASK_ID) });
    expect(body.error.resume).toBeUndefined();
    expect(existsSync(output)).toBe(false);
  });

  it("a wait that times out after the create says how to resume it, in --json too", async () => {
    const relay = await startRelay({ createdTasks: { runningPolls: 1_000 } });
    const output = scratchPath("slow.mp4");
    const run = await cli(relay, ["generate", "--prompt", "a cat", "--output", output, "--interval", "0.05", "--timeout", "0.3", "--json"]);
    expect(run.code).toBe(EXIT_CODES.timeout);
    const taskId = relay.creates[0]!.taskId!;
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: { name: "WaitTimeoutError", exitCode: 5, taskId, resume: `xiexus-kling wait ${taskId} --route text2video --output ${output}` },
    });
  });
});
