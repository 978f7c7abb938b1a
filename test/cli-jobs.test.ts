// `xiexus-kling generate --jobs <file.jsonl> --output-dir <dir>` as a user runs it, against the fake
// relay (one per test, so each counts its own creates): mixed image and text jobs, a refused image,
// a failed task, a create whose fate is unknown; the batch rule's exit code; a re-run that creates
// nothing; bad lines refused before any request.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/_exit-codes.js";
import { createFakeRelay, type FakeRelay, type FakeRelayOptions } from "../src/testing/index.js";
import { CLI_KEY, runCli } from "./helpers/cli.js";
import { makePng } from "./helpers/images.js";

const scratch = mkdtempSync(path.join(tmpdir(), "xiexus-cli-jobs-"));
const relays: FakeRelay[] = [];
afterAll(async () => {
  await Promise.all(relays.map((relay) => relay.close()));
  rmSync(scratch, { recursive: true, force: true });
});

/** A relay of the test's own: a created task whose prompt says FAIL fails, every other completes. */
async function startRelay(options: FakeRelayOptions = {}): Promise<FakeRelay> {
  const relay = await createFakeRelay({
    apiKey: CLI_KEY,
    video: true,
    createdTasks: (create) => ({ runningPolls: 1, ...(/FAIL/.test(String((create.body as { prompt?: unknown }).prompt)) && { outcome: "failed" }) }),
    ...options,
  });
  relays.push(relay);
  return relay;
}

let dirs = 0;
/** A new directory holding `cat.png` (a real PNG), `notes.png` (text) and `jobs.jsonl` with `lines`. */
function batchDir(lines: readonly (object | string)[]): { dir: string; jobs: string; out: string; png: Buffer } {
  const dir = path.join(scratch, `b${++dirs}`);
  mkdirSync(dir);
  const png = makePng(640, 480);
  writeFileSync(path.join(dir, "cat.png"), png);
  writeFileSync(path.join(dir, "notes.png"), "shopping list: milk, eggs\n");
  const jobs = path.join(dir, "jobs.jsonl");
  writeFileSync(jobs, lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n") + "\n");
  return { dir, jobs, out: path.join(dir, "out"), png };
}

function jobs(relay: FakeRelay, args: string[]) {
  return runCli(["generate", ...args, "--interval", "0.05"], { env: { XIEXUS_BASE_URL: relay.url } });
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
/** stdout's result lines as [key, result, detail], sorted by key. */
const rows = (stdout: string): string[][] =>
  stdout
    .trim()
    .split("\n")
    .map((line) => line.split("\t"))
    .sort((a, b) => a[0]!.localeCompare(b[0]!));

const MIXED = [
  { key: "cat", prompt: "a cat turns its head", image: "cat.png" },
  { key: "waves", prompt: "waves at night", duration: 5 },
  "",
  { key: "notes", prompt: "a note", image: "notes.png" },
  { key: "doomed", prompt: "FAIL please" },
];

describe.concurrent("xiexus-kling generate --jobs", { timeout: 60_000 }, () => {
  it("a mixed batch: videos written, a refused image and a failed task reported by key; exit by the batch rule", async () => {
    const relay = await startRelay();
    const { jobs: file, out, png } = batchDir(MIXED);
    const run = await jobs(relay, ["--jobs", file, "--output-dir", out]);
    // refused (2) outranks failed (1).
    expect(run.code).toBe(EXIT_CODES.usage);
    expect(rows(run.stdout)).toEqual([
      ["cat", "saved", path.join(out, "cat.mp4")],
      ["doomed", "failed", expect.stringMatching(/^task task_\w+ failed: 1301: /)],
      ["notes", "refused", `image file ${JSON.stringify(path.join(path.dirname(file), "notes.png"))} is text, not an image (by its bytes); the relay accepts PNG or JPEG`],
      ["waves", "saved", path.join(out, "waves.mp4")],
    ]);
    for (const name of ["cat.mp4", "waves.mp4"]) expect(readFileSync(path.join(out, name)).equals(relay.video!.bytes())).toBe(true);
    expect(existsSync(path.join(out, "doomed.mp4"))).toBe(false);
    // The refused image never reached the relay; the others were created once each.
    expect(relay.creates.map((c) => c.route).sort()).toEqual(["image2video", "text2video", "text2video"]);
    expect(relay.creates.find((c) => c.route === "image2video")!.image).toMatchObject({ form: "base64", bytesSha256: sha256(png) });
    expect(relay.creates.every((c) => (c.body as { model?: unknown }).model === "kling-v1")).toBe(true);
    expect(run.stderr).toMatch(/^cat creating$/m);
    expect(run.stderr).toMatch(/^waves created task_\w+$/m);
    expect(run.stderr).toMatch(/✖ 2 of 4 saved, 1 refused, 1 failed in \d+s\n$/);
    expect(relay.video!.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("--json prints one parseable line per job; the JSON says the same as the text", async () => {
    const relay = await startRelay();
    const { jobs: file, out } = batchDir(MIXED);
    const run = await jobs(relay, ["--jobs", file, "--output-dir", out, "--json"]);
    expect(run.code).toBe(EXIT_CODES.usage);
    const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    const byKey = Object.fromEntries(lines.map((line) => [line.key, line]));
    expect(byKey.cat).toEqual({ key: "cat", result: "saved", taskId: expect.any(String), path: path.join(out, "cat.mp4"), bytes: relay.video!.size, resumed: false });
    expect(byKey.notes).toMatchObject({ result: "refused", error: { name: "InvalidArgumentError", exitCode: 2 } });
    expect(byKey.doomed).toMatchObject({ result: "failed", taskId: expect.any(String), error: { name: "TaskFailedError", exitCode: 1, task: { status: "failed" } } });
  });

  it("a finished batch run again creates nothing and exits 0, its videos checked on disk", async () => {
    const relay = await startRelay();
    const { jobs: file, out } = batchDir([
      { key: "cat", prompt: "a cat", image: "cat.png" },
      { prompt: "waves at night" },
    ]);
    const first = await jobs(relay, ["--jobs", file, "--output-dir", out]);
    expect(first.code).toBe(EXIT_CODES.ok);
    expect(relay.createCount).toBe(2);
    const videos = readdirSync(out).filter((name) => name.endsWith(".mp4")).sort();
    expect(videos).toEqual(["cat.mp4", expect.stringMatching(/^job-[0-9a-f]{20}\.mp4$/)]);
    const [again, json] = [await jobs(relay, ["--jobs", file, "--output-dir", out]), await jobs(relay, ["--jobs", file, "--output-dir", out, "--json"])];
    expect(relay.createCount).toBe(2);
    expect(relay.creates).toHaveLength(2);
    expect(again.code).toBe(EXIT_CODES.ok);
    expect(rows(again.stdout).map((row) => row[1])).toEqual(["saved", "saved"]);
    expect(again.stderr).toMatch(/✔ 2 of 2 saved in \d+s \(2 saved by an earlier run\)\n$/);
    expect(json.code).toBe(EXIT_CODES.ok);
    for (const line of json.stdout.trim().split("\n")) expect(JSON.parse(line)).toMatchObject({ result: "saved", resumed: true });
  });

  it("a job whose create's fate is unknown is reported in every mode (exit 11), never re-created without --recreate-unknown", async () => {
    const relay = await startRelay({ createFaults: [{ fault: "reset-after-body" }] });
    const { jobs: file, out } = batchDir([{ key: "lost", prompt: "a lost answer" }, { key: "fine", prompt: "fine" }]);
    const args = ["--jobs", file, "--output-dir", out, "--concurrency", "1"];
    const first = await jobs(relay, args);
    expect(first.code).toBe(EXIT_CODES.mayHaveCreatedTask);
    const lost = rows(first.stdout).find((row) => row[0] === "lost")!;
    expect(lost[1]).toBe("may_have_been_created");
    expect(lost[2]).toMatch(/may have been created .*--recreate-unknown/);
    expect(first.stderr).toMatch(/⚠ 1 job MAY have been created \(and paid for\) without its task id coming back: lost\n.*--recreate-unknown\.\n$/);
    expect(relay.creates).toHaveLength(2);
    // Again, in JSON: still reported, still not sent.
    const json = await jobs(relay, [...args, "--json"]);
    expect(json.code).toBe(EXIT_CODES.mayHaveCreatedTask);
    const line = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.key === "lost");
    expect(line).toMatchObject({
      result: "may_have_been_created",
      error: { name: "JobMayHaveBeenCreatedError", mayHaveCreatedTask: true, exitCode: 11 },
      hint: expect.stringContaining("--recreate-unknown"),
    });
    expect(json.stderr).toContain("MAY have been created");
    expect(relay.creates).toHaveLength(2);
    // Asked for: created again, once.
    const recreated = await jobs(relay, [...args, "--recreate-unknown"]);
    expect(recreated.code).toBe(EXIT_CODES.ok);
    expect(relay.creates).toHaveLength(3);
    expect(readFileSync(path.join(out, "lost.mp4")).equals(relay.video!.bytes())).toBe(true);
  });

  it("Ctrl-C stops the batch (130) saying how to resume; the same command then finishes it without creating anything twice", async () => {
    const relay = await startRelay({ createdTasks: { runningPolls: 8 } });
    const { jobs: file, out } = batchDir([{ key: "a", prompt: "a" }, { key: "b", prompt: "b" }, { key: "c", prompt: "c" }]);
    let sent = false;
    const stopped = await runCli(["generate", "--jobs", file, "--output-dir", out, "--interval", "0.05"], {
      env: { XIEXUS_BASE_URL: relay.url },
      onStderr: (stderr, kill) => {
        if (sent || !/ created task_/.test(stderr)) return;
        sent = true;
        kill("SIGINT");
      },
    });
    expect(stopped.code).toBe(EXIT_CODES.interrupted);
    expect(stopped.stderr).toMatch(/\ninterrupted: the batch stopped; every task created so far is in its journal in .*: run the same command again to resume \(no job is created twice\)\n$/);
    expect(stopped.stderr).not.toMatch(/ saved in \d+s/);
    const created = relay.createCount;
    expect(created).toBeGreaterThan(0);
    const resumed = await jobs(relay, ["--jobs", file, "--output-dir", out]);
    expect(resumed.code).toBe(EXIT_CODES.ok);
    expect(relay.createCount).toBe(3);
    expect(readdirSync(out).filter((name) => name.endsWith(".mp4")).sort()).toEqual(["a.mp4", "b.mp4", "c.mp4"]);
  });

  it("a bad line is a usage error naming its line number, before any request", async () => {
    const relay = await startRelay();
    const cases: Array<[Array<object | string>, RegExp]> = [
      [[{ prompt: "ok" }, "", "{not json"], /jobs\.jsonl line 3: not JSON/],
      [[{ prompt: "ok" }, { image: "cat.png" }], /jobs\.jsonl line 2: request\.prompt is required/],
      [[{ prompt: "ok", duration: "five" }], /jobs\.jsonl line 1: .*duration/],
      [["[1, 2]"], /jobs\.jsonl line 1: each line must be a JSON object/],
      [[{ prompt: "ok", image: 42 }], /jobs\.jsonl line 1: "image" must be a file path/],
      [[{ key: "a", prompt: "one" }, { key: "a", prompt: "two" }], /jobs\.jsonl line 2 has the key "a" of .*jobs\.jsonl line 1/],
      [[{ prompt: "ok", output: "../escape.mp4" }], /jobs\.jsonl line 1: the output "\.\.\/escape\.mp4" is not inside/],
      [[""], /holds no jobs/],
    ];
    const runs = await Promise.all(cases.map(([lines]) => jobs(relay, ["--jobs", batchDir(lines).jobs, "--output-dir", path.join(scratch, `bad-${++dirs}`)])));
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(EXIT_CODES.usage);
      expect(run.stderr).toMatch(cases[i]![1]);
      expect(run.stdout).toBe("");
    });
    expect(relay.requests).toEqual([]);
  });

  it("refuses flags that do not fit a batch (or a single generate) with exit 2", async () => {
    const relay = await startRelay();
    const { jobs: file, out } = batchDir([{ prompt: "ok" }]);
    const runs = await Promise.all([
      jobs(relay, ["--jobs", file]),
      jobs(relay, ["--jobs", file, "--output-dir", out, "--prompt", "p"]),
      jobs(relay, ["--jobs", file, "--output", path.join(out, "x.mp4")]),
      jobs(relay, ["--prompt", "p", "--output-dir", out]),
      jobs(relay, ["--jobs", path.join(scratch, "missing.jsonl"), "--output-dir", out]),
      runCli(["wait", "t", "--recreate-unknown"], { env: { XIEXUS_BASE_URL: relay.url } }),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(EXIT_CODES.usage);
    expect(runs[0]!.stderr).toContain("generate --jobs needs --output-dir <dir>");
    expect(runs[1]!.stderr).toContain("--prompt is for one task: with --jobs, each line");
    expect(runs[2]!.stderr).toContain("with --jobs, the videos go to --output-dir");
    expect(runs[3]!.stderr).toContain("--output-dir is for a batch: generate --jobs");
    expect(runs[4]!.stderr).toContain("no such file");
    expect(runs[5]!.stderr).toContain("--recreate-unknown only applies to generate");
    expect(relay.requests).toEqual([]);
  });
});
