// scripts/spec-update.ts: JSON stored as published (YAML as its JSON twin) under --name (default:
// the input's basename), the whole spec set generated before anything is written, warnings and the
// API diff printed, nothing touched when the spec cannot be generated; a remembered selection,
// --supersedes, the project's overlays shown apart, servers as maintainer decisions, and a rollback
// when the contract suite fails. The documented flow on the relay's real file, from the seed's tree.
// A spec from an http(s) URL (loopback), and the CHANGELOG entry an update writes, in words.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateAll, staleFiles, writeGenerated } from "../scripts/generate.js";
import { addUnreleasedEntry, changelogEntry, describeChange, mdCode, wrap } from "../scripts/spec-changelog.js";
import { main, targetName } from "../scripts/spec-update.js";
import { main as specDiff, type SpecChange } from "../scripts/spec-diff.js";
import { ROOT } from "./helpers/spec.js";

const SPEC_NAME = "kling-image2video.json";
// The seed's spec as it was before openapi/relay.json superseded it: the "fresh clone" openapi/.
const SEED = path.join(ROOT, "test", "fixtures", "specs", SPEC_NAME);
// The relay's real combined file, as published (openapi/relay.json is kept byte for byte).
const RELAY = path.join(ROOT, "openapi", "relay.json");
const OVERLAY = "relay.error-code.overlay.json";
const KLING_PATH = "/kling/v1/videos/image2video/{task_id}";
const RELAY_LIKE = path.join(ROOT, "test", "fixtures", "specs", "relay-like.json");
const RELAY_LIKE_YAML = path.join(ROOT, "test", "fixtures", "specs", "relay-like.yaml");

type Json = Record<string, unknown>;

let root: string;
let specDir: string;
let outDir: string;
let incoming: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "spec-update-"));
  specDir = path.join(root, "openapi");
  outDir = path.join(root, "generated");
  incoming = path.join(root, "incoming");
  // The seed spec alone, as openapi/ held it before the relay's file: these tests are about the flow, not the set.
  await mkdir(specDir);
  await cp(SEED, path.join(specDir, SPEC_NAME));
  await writeGenerated(outDir, await generateAll(specDir));
  await mkdir(incoming);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file under the temp project (overlays/ included), by relative path: compared before and after a refusal. */
async function snapshot(): Promise<Map<string, Buffer>> {
  return filesUnder(root, [specDir, outDir]);
}

async function filesUnder(base: string, dirs: string[]): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const dir of dirs) {
    for (const entry of (await readdir(dir, { withFileTypes: true, recursive: true })).sort((a, b) => (a.parentPath + a.name < b.parentPath + b.name ? -1 : 1))) {
      if (entry.isFile()) files.set(path.relative(base, path.join(entry.parentPath, entry.name)), await readFile(path.join(entry.parentPath, entry.name)));
    }
  }
  return files;
}

async function update(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run([...argv, "--no-test"]);
}

/** spec-update on the temp project; `contract` stands in for the contract suite (never run here: it reads the real checkout). */
async function run(argv: string[], contract?: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    out: (t: string) => {
      stdout += t;
    },
    err: (t: string) => {
      stderr += t;
    },
  };
  const code = await main([...argv, "--spec-dir", specDir, "--out-dir", outDir], io, contract);
  return { code, stdout, stderr };
}

async function realSpec(): Promise<Json> {
  return JSON.parse(await readFile(SEED, "utf8")) as Json;
}

/** The documented command: the relay's real file, its Kling operations, superseding the seed's file. */
const DOCUMENTED = [RELAY, "--name", "relay", "--select-path", "/kling/v1/videos/", "--supersedes", SPEC_NAME];

/** The project's overlay, put where a maintainer writes it before running the documented command. */
async function addOverlay(): Promise<void> {
  await mkdir(path.join(specDir, "overlays"));
  await cp(path.join(ROOT, "openapi", "overlays", OVERLAY), path.join(specDir, "overlays", OVERLAY));
}

function okSchema(doc: Json): { properties: Record<string, Json> } {
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>>;
  return paths[KLING_PATH]?.get?.responses["200"]?.content["application/json"]?.schema as { properties: Record<string, Json> };
}

describe("spec:update", () => {
  it("replaces the spec of the same name, stores it as published, prints the diff and regenerates", async () => {
    const next = await realSpec();
    (okSchema(next).properties.status as { enum: string[] }).enum.push("cancelled");
    okSchema(next).properties.progress = { type: "number", description: "0..1" };
    const source = path.join(incoming, SPEC_NAME);
    await writeFile(source, JSON.stringify(next, null, 4) + "\n\n"); // odd formatting on purpose: kept

    const { code, stdout, stderr } = await update(source);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`replacing ${path.join(specDir, SPEC_NAME)}`);
    expect(stdout).toMatch(/WARN {2}response-property-enum-value-added +response 200 application\/json body\.status/);
    expect(stdout).toMatch(/^0 breaking, 1 maybe-breaking, 1 non-breaking$/m);

    expect(await readdir(specDir)).toEqual([SPEC_NAME]);
    expect(await readFile(path.join(specDir, SPEC_NAME))).toEqual(await readFile(source));
    expect(stdout).toContain("bytes, as published)");
    const types = await readFile(path.join(outDir, "kling-image2video.ts"), "utf8");
    expect(types).toContain("progress?: number");
    expect(types).toContain('"cancelled"');
    expect(await readFile(path.join(outDir, "index.ts"), "utf8")).toContain('"cancelled"');
    expect(await staleFiles(outDir, await generateAll(specDir))).toEqual([]);
  });

  it("adds a 3.0 combined spec beside the seed's, from YAML, with warnings naming each defect's location", async () => {
    await rm(path.join(specDir, "relay.json"), { force: true }); // in case openapi/ holds the real one
    const before = await readdir(specDir);
    const { code, stdout, stderr } = await update(RELAY_LIKE_YAML, "--name", "relay");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`new spec file: ${path.join(specDir, "relay.json")}`);
    expect(stdout).toMatch(/^POST \/kling\/v1\/videos\/image2video \(createKlingImage2Video\)\n +INFO +operation-added/m);
    expect(stdout).toContain('warning: openapi/relay.json#/paths/~1v1beta~1models~1{model}:generateContent~1/post: operationId "geminiRelayV1Beta" is already used');
    expect(stdout).toContain("warning: openapi/relay.json#/paths/~1v1~1images~1edits~1/post: no operationId");
    expect(stdout).toMatch(/warning: openapi\/relay\.json#\/paths\/.*\/format: unknown format "unix-time"/);

    expect((await readdir(specDir)).sort()).toEqual([...new Set([...before, "relay.json"])].sort());
    // YAML converted: what is stored is the JSON twin, byte for byte.
    expect(await readFile(path.join(specDir, "relay.json"), "utf8")).toBe(await readFile(RELAY_LIKE, "utf8"));
    expect(await readdir(outDir)).toEqual(expect.arrayContaining(["index.ts", "kling-image2video.ts", "relay.ts"]));
    const index = await readFile(path.join(outDir, "index.ts"), "utf8");
    expect(index).toContain('"/kling/v1/videos/text2video/{task_id}": {');
    expect(index).not.toMatch(/baseUrl/i);
    expect(await staleFiles(outDir, await generateAll(specDir))).toEqual([]);
  });

  it("refuses an operation another spec defines differently, naming both files, and writes nothing", async () => {
    const before = await snapshot();
    const relay = JSON.parse(await readFile(RELAY_LIKE, "utf8")) as { components: { schemas: Record<string, { properties: Record<string, Json> }> } };
    relay.components.schemas.VideoTaskMetadata!.properties.fps = { type: "string" };
    const source = path.join(incoming, "relay.json");
    await writeFile(source, JSON.stringify(relay));
    const { code, stdout, stderr } = await update(source);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`GET ${KLING_PATH} is defined by openapi/${SPEC_NAME} and openapi/relay.json with different meanings`);
    expect(stderr).toContain("/metadata/properties/fps/type");
    expect(stderr).toContain("Nothing was written");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses what cannot be generated (a $ref to nowhere, an external $ref) naming the location", async () => {
    const before = await snapshot();
    const relay = JSON.parse(await readFile(RELAY_LIKE, "utf8")) as { components: { schemas: Record<string, Json> } };
    relay.components.schemas.Model = { $ref: "#/components/schemas/Nowhere" };
    await writeFile(path.join(incoming, "relay.json"), JSON.stringify(relay));
    const broken = await update(path.join(incoming, "relay.json"));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('openapi/relay.json#/components/schemas/Model/$ref: "#/components/schemas/Nowhere" points nowhere');

    relay.components.schemas.Model = { $ref: "other.json#/Model" };
    await writeFile(path.join(incoming, "relay.json"), JSON.stringify(relay));
    const external = await update(path.join(incoming, "relay.json"));
    expect(external.code).toBe(1);
    expect(external.stderr).toContain('openapi/relay.json#/components/schemas/Model/$ref: "other.json#/Model" points outside the document');
    expect(await snapshot()).toEqual(before);
  });

  it("refuses invalid JSON or YAML and leaves openapi/ and generated/ byte for byte unchanged", async () => {
    const before = await snapshot();
    await writeFile(path.join(incoming, "broken.json"), '{"openapi": "3.1.0", "paths": {');
    const json = await update(path.join(incoming, "broken.json"));
    expect(json.code).toBe(2);
    expect(json.stdout).toBe("");
    expect(json.stderr).toMatch(/^spec-update: refused: .*broken\.json is not JSON: .*Nothing was written to .*openapi\/\.\n$/);
    await writeFile(path.join(incoming, "broken.yaml"), "openapi: 3.0.1\npaths: {\n  a: [\n");
    const yaml = await update(path.join(incoming, "broken.yaml"));
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/broken\.yaml is neither JSON nor YAML/);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses documents that are not OpenAPI 3.x, or have no paths, and writes nothing", async () => {
    const before = await snapshot();
    const cases: Array<[string, unknown, RegExp]> = [
      ["swagger.json", { swagger: "2.0", info: { title: "x", version: "1" }, paths: {} }, /is not an OpenAPI 3\.0\/3\.1 document: "openapi" is undefined/],
      ["list.json", [1, 2, 3], /the top level is not an object/],
      ["no-paths.json", { openapi: "3.1.0", info: { title: "x", version: "1" } }, /has no "paths" object/],
    ];
    for (const [name, doc, reason] of cases) {
      const source = path.join(incoming, name);
      await writeFile(source, JSON.stringify(doc));
      const { code, stderr } = await update(source, "--name", SPEC_NAME);
      expect(code, name).toBe(2);
      expect(stderr, name).toContain(source);
      expect(stderr, name).toMatch(reason);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a missing file, a bad --name and a wrong argument count", async () => {
    const before = await snapshot();
    const source = path.join(incoming, "next.json");
    await writeFile(source, JSON.stringify(await realSpec()));
    expect((await update(path.join(incoming, "absent.json"))).stderr).toMatch(/cannot read .*absent\.json: ENOENT/);
    const escape = await update(source, "--name", "../outside.json");
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/--name takes a file name without directories/);
    expect((await update(source, "--name", "index")).code).toBe(1); // generated/index.ts is the merged module
    expect((await update()).code).toBe(2);
    expect((await update(source, source)).code).toBe(2);
    expect(await snapshot()).toEqual(before);
  });
});

describe("spec:update on the relay's combined file: selection, supersede, overlays", () => {
  it("the documented command, on the seed's tree: exit 0, warnings only, the committed openapi/ and generated/; a second run changes nothing", async () => {
    await addOverlay();
    const first = await update(...DOCUMENTED);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`new spec file: ${path.join(specDir, "relay.json")}; operations selected by openapi/spec-set.json (paths /kling/v1/videos/, remembered from now on)`);
    expect(first.stdout).toContain(`supersedes openapi/${SPEC_NAME}: its operations are compared with their new definitions`);
    // Per operation, the seed's definition against the relay's: cancelled is a new response enum value (WARN).
    expect(first.stdout).toMatch(/^GET \/kling\/v1\/videos\/image2video\/\{task_id\} \(getKlingImage2Video\)\n(  WARN .*\n)*  WARN  response-property-enum-value-added +response 200 application\/json body\.status +enum value "cancelled" added$/m);
    expect(first.stdout).toMatch(/^POST \/kling\/v1\/videos\/text2video \(createKlingText2Video\)\n +INFO +operation-added/m);
    expect(first.stdout.slice(0, first.stdout.indexOf("project overlays"))).toMatch(/^0 breaking, 2 maybe-breaking, \d+ non-breaking$/m); // the relay's own
    // The overlay's effect, apart from the relay's.
    const overlays = first.stdout.slice(first.stdout.indexOf("project overlays"));
    expect(overlays).toMatch(/^-- openapi\/overlays\/relay\.error-code\.overlay\.json --$/m);
    expect(overlays).toMatch(/ERR +response-property-type-generalized +response 200 application\/json body\.error\.code +type widened from integer to integer\|string/);
    expect(first.stdout).not.toContain("maintainer decisions");
    expect(first.stdout).toContain(`removed ${path.join(specDir, SPEC_NAME)} (superseded by ${path.join(specDir, "relay.json")})`);

    // What the flow leaves is what is committed, byte for byte (the relay's file as published).
    const made = await filesUnder(root, [specDir, outDir]);
    const committed = await filesUnder(ROOT, [path.join(ROOT, "openapi"), path.join(ROOT, "generated")]);
    expect([...made.keys()].sort()).toEqual([...committed.keys()].sort());
    for (const [file, bytes] of made) expect(bytes.equals(committed.get(file)!), file).toBe(true);
    expect(await readFile(path.join(specDir, "relay.json"))).toEqual(await readFile(RELAY));

    const second = await update(...DOCUMENTED);
    expect(second.code).toBe(0);
    expect(second.stderr).toBe("");
    expect(second.stdout).toContain(`note: --supersedes ${SPEC_NAME}: no such spec`);
    expect(second.stdout).toMatch(/the relay's own\):\nno changes\n/);
    expect(second.stdout).toContain("regenerated");
    expect(second.stdout).toContain("(0 of 2 files changed)");
    expect(await snapshot()).toEqual(made);
  }, 120_000);

  it("remembers the selection: the next drop-in of the whole file needs no flags; new flags replace it, --select-all forgets it", async () => {
    await rm(path.join(specDir, SPEC_NAME));
    expect((await update(RELAY, "--name", "relay", "--select-operation", "getKlingText2Video", "--select-tag", "视频生成/Kling格式")).code).toBe(0);
    expect(JSON.parse(await readFile(path.join(specDir, "spec-set.json"), "utf8"))).toMatchObject({
      select: { "relay.json": { tags: ["视频生成/Kling格式"], operationIds: ["getKlingText2Video"] } },
    });
    const again = await update(RELAY, "--name", "relay");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("operations selected by openapi/spec-set.json (tags 视频生成/Kling格式; operationIds getKlingText2Video, as remembered)");
    const paths = () =>
      readFile(path.join(outDir, "index.ts"), "utf8").then((t) => {
        const block = t.slice(t.indexOf("export interface paths {"), t.indexOf("\n}\n", t.indexOf("export interface paths {")));
        return [...block.matchAll(/^ {4}"(\/[^"]*)": \{$/gm)].map((m) => m[1]);
      });
    expect(await paths()).toHaveLength(4);

    const narrower = await update(RELAY, "--name", "relay", "--select-operation", "getKlingText2Video");
    expect(narrower.code).toBe(0);
    expect(narrower.stdout).toMatch(/ERR +operation-removed/); // the create operations leave the generated paths
    expect(await paths()).toEqual(["/kling/v1/videos/text2video/{task_id}"]);

    const whole = await update(RELAY, "--name", "relay", "--select-all");
    expect(whole.code).toBe(0);
    expect(await readdir(specDir)).not.toContain("spec-set.json");
    expect((await paths()).length).toBeGreaterThan(30);
    expect((await update(RELAY, "--name", "relay", "--select-all", "--select-tag", "x")).code).toBe(2);
  }, 120_000);

  it("without --supersedes, the seed's and the relay's different definitions are still refused, naming both; nothing written", async () => {
    const before = await snapshot();
    const { code, stderr } = await update(RELAY, "--name", "relay", "--select-path", "/kling/v1/videos/");
    expect(code).toBe(1);
    expect(stderr).toContain(`GET ${KLING_PATH} is defined by openapi/${SPEC_NAME} and openapi/relay.json with different meanings`);
    expect(stderr).toContain("/status/enum");
    expect(await snapshot()).toEqual(before);
  });

  it("a superseded operation the new file no longer has is reported removed (breaking)", async () => {
    const { code, stdout } = await update(RELAY, "--name", "relay", "--select-operation", "createKlingImage2Video", "--supersedes", `openapi/${SPEC_NAME}`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^GET \/kling\/v1\/videos\/image2video\/\{task_id\} \(getklingimage2video\)\n +ERR +operation-removed/m);
    expect(await readdir(specDir)).not.toContain(SPEC_NAME);
  }, 60_000);

  it("an overlay that no longer matches refuses the update, naming the overlay and action; nothing written", async () => {
    await addOverlay();
    const fixed = JSON.parse(await readFile(RELAY, "utf8")) as { components: { schemas: { VideoTaskError: { properties: { code: unknown } } } } };
    fixed.components.schemas.VideoTaskError.properties.code = { oneOf: [{ type: "integer" }, { type: "string" }] };
    const source = path.join(incoming, "relay.json");
    await writeFile(source, JSON.stringify(fixed));
    const before = await snapshot();
    const { code, stdout, stderr } = await update(source, "--select-path", "/kling/v1/videos/", "--supersedes", SPEC_NAME);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(new RegExp(`openapi/overlays/${OVERLAY.replace(/\./g, "\\.")} action 1 .*matches nothing in relay\\.json`));
    expect(await snapshot()).toEqual(before);
  });

  it("a spec naming another server: reported as a maintainer decision, never applied", async () => {
    const github = await realSpec();
    github.servers = [{ url: "https://api.github.com" }];
    github.paths = { "/repos/{owner}/{repo}": { get: { operationId: "repos/get", parameters: [{ name: "owner", in: "path", required: true, schema: { type: "string" } }, { name: "repo", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "ok", content: { "application/json": { schema: { type: "object" } } } } } } } };
    const source = path.join(incoming, "github.json");
    await writeFile(source, JSON.stringify(github));
    const { code, stdout } = await update(source);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^maintainer decisions \(not applied\):\n {2}.*github\.json#\/servers\/0\/url: "https:\/\/api\.github\.com" is not the pinned base URL "https:\/\/api\.xiexus\.cn": not applied/m);
    expect(stdout).toContain('warning: openapi/github.json#/servers/0/url: "https://api.github.com" is not the pinned base URL');
    expect(stdout).not.toMatch(/default-server-changed|server-added/); // servers are no API change any more
    const generated = await Promise.all((await readdir(outDir)).map((f) => readFile(path.join(outDir, f), "utf8")));
    expect(generated.join("\n")).not.toContain("api.github.com");
  });
});

describe("spec:update when the contract suite fails", () => {
  it("puts openapi/ and generated/ back exactly as they were, says what to do next, exits 1", async () => {
    await addOverlay();
    const before = await snapshot();
    let ran = 0;
    const { code, stdout, stderr } = await run(DOCUMENTED, async () => {
      ran++;
      // The suite ran against the new files.
      expect(await readdir(specDir)).toEqual(expect.arrayContaining(["relay.json", "spec-set.json"]));
      return 1;
    });
    expect(ran).toBe(1);
    expect(code).toBe(1);
    expect(stdout).toContain("running the contract suite (test/contract.test.ts)");
    expect(stderr).toContain(`the contract suite failed (exit 1) against the new files; ${specDir}/ and ${outDir}/ are back exactly as they were.`);
    expect(stderr).toContain("Next: fix or re-record the fixtures named above (test/fixtures/)");
    expect(stderr).toContain("--no-test");
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it("keeps the new files when the suite passes", async () => {
    await addOverlay();
    const { code } = await run(DOCUMENTED, async () => 0);
    expect(code).toBe(0);
    expect((await readdir(specDir)).sort()).toEqual(["overlays", "relay.json", "spec-set.json"]);
  }, 60_000);
});

describe("spec:diff --as <spec>: the relay's changes and the project's overlays apart", () => {
  async function diff(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const code = await specDiff(argv, {
      out: (t) => {
        stdout += t;
      },
      err: (t) => {
        stderr += t;
      },
    });
    return { code, stdout, stderr };
  }

  it("reads both files through the remembered selection and lists each overlay's effect in its own section", async () => {
    const { code, stdout, stderr } = await diff(SEED, RELAY, "--as", "relay.json", "--spec-dir", path.join(ROOT, "openapi"));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const [relay, overlays] = stdout.split(/^project overlays/m) as [string, string];
    expect(relay).toContain('enum value "cancelled" added');
    expect(relay).not.toContain("error.code"); // the relay did not change it: the overlay did
    expect(relay).not.toMatch(/\/v1\/chat|default-server-changed/); // unselected operations, servers: not API changes here
    expect(overlays).toMatch(/^ \(1\), applied on top of the relay's file/);
    expect(overlays).toContain("-- openapi/overlays/relay.error-code.overlay.json --");
    expect(overlays).toMatch(/action 1 \(Drop the integer-only error\.code\..*\): \$\.components\.schemas\.VideoTaskError\[\?@\.code\.type == 'integer'\]\.code matched 1/);
    expect(overlays).toMatch(/ERR +response-property-type-generalized +response 200 application\/json body\.error\.code/);
    // --fail-on counts the overlays' changes too; --json carries them apart.
    expect((await diff(SEED, RELAY, "--as", "relay.json", "--spec-dir", path.join(ROOT, "openapi"), "--fail-on", "breaking")).code).toBe(1);
    const json = JSON.parse((await diff(SEED, RELAY, "--as", "relay.json", "--spec-dir", path.join(ROOT, "openapi"), "--json")).stdout) as {
      overlays: Array<{ overlay: string; changes: unknown[] }>;
      decisions: string[];
    };
    expect(json.overlays.map((o) => [o.overlay, o.changes.length])).toEqual([["openapi/overlays/relay.error-code.overlay.json", 2]]);
    expect(json.decisions).toEqual([]);
  });

  it("names a new file's other server as a maintainer decision, and an overlay that no longer matches as an error", async () => {
    const moved = JSON.parse(await readFile(RELAY, "utf8")) as Json & { components: { schemas: { VideoTaskError: { properties: { code: unknown } } } } };
    moved.servers = [{ url: "https://other-relay.example" }];
    await writeFile(path.join(incoming, "moved.json"), JSON.stringify(moved));
    const decided = await diff(RELAY, path.join(incoming, "moved.json"), "--as", "relay.json", "--spec-dir", path.join(ROOT, "openapi"));
    expect(decided.code).toBe(0);
    expect(decided.stdout).toMatch(/^maintainer decisions \(not applied\):\n {2}.*moved\.json#\/servers\/0\/url: "https:\/\/other-relay\.example" is not the pinned base URL/m);
    expect(decided.stdout).toMatch(/^no changes$/m);

    moved.components.schemas.VideoTaskError.properties.code = { type: "string" };
    await writeFile(path.join(incoming, "fixed.json"), JSON.stringify(moved));
    const stale = await diff(RELAY, path.join(incoming, "fixed.json"), "--as", "relay.json", "--spec-dir", path.join(ROOT, "openapi"));
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/openapi\/overlays\/relay\.error-code\.overlay\.json action 1 .*matches nothing in relay\.json/);
  });
});

describe("targetName", () => {
  it("is --name or the input's basename, always .json", () => {
    expect(targetName("/x/relay.json")).toBe("relay.json");
    expect(targetName("/x/relay.yaml")).toBe("relay.json");
    expect(targetName("/x/openapi (3).yml")).toBe("openapi (3).json");
    expect(targetName("/x/openapi (3).json", "kling-image2video")).toBe("kling-image2video.json");
    expect(targetName("/x/a.json", "relay.yaml")).toBe("relay.json");
    expect(() => targetName("/x/a.json", "sub/relay.json")).toThrow(/without directories/);
    expect(() => targetName("/x/a.json", ".hidden.json")).toThrow(/without directories/);
    expect(() => targetName("/x/spec-set.json")).toThrow(/reserved: spec-set\.json holds the remembered selection/);
  });

  it("reads a URL's last path segment, without its query", () => {
    expect(targetName("https://docs.example/openapi/relay.json?v=2")).toBe("relay.json");
    expect(targetName("https://docs.example/openapi/relay.yaml")).toBe("relay.json");
    expect(() => targetName("https://docs.example/")).toThrow(/names no file; pass --name/);
    expect(targetName("https://docs.example/", "relay")).toBe("relay.json");
  });
});

describe("spec:update <url>: downloaded under limits, then the CHANGELOG entry", () => {
  let server: http.Server;
  let base: string;
  const requests: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
  const served = new Map<string, string>();
  const CHANGELOG = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- Something earlier.\n\n## [0.0.1] - 2026-01-01\n\n- First.\n";

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push({ url: req.url ?? "", headers: req.headers });
      const body = served.get(req.url ?? "");
      if (body !== undefined) {
        res.writeHead(200, { "content-type": req.url?.endsWith(".html") ? "text/html" : "application/json" });
        res.end(body);
      } else if (req.url === "/cut/kling-image2video.json") {
        res.writeHead(200, { "content-type": "application/json", "content-length": "100000" });
        res.write('{"openapi": "3.1.0", "paths": {');
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        res.writeHead(404);
        res.end("not here");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(async () => {
    requests.length = 0;
    await writeFile(path.join(root, "CHANGELOG.md"), CHANGELOG);
    const next = await realSpec();
    (okSchema(next).properties.status as { enum: string[] }).enum.push("cancelled");
    okSchema(next).properties.progress = { type: "number", description: "0..1" };
    served.set(`/specs/${SPEC_NAME}`, JSON.stringify(next, null, 2));
    const breaking = await realSpec();
    delete okSchema(breaking).properties.url;
    served.set(`/breaking/${SPEC_NAME}`, JSON.stringify(breaking));
    served.set(`/page/${SPEC_NAME}`, "<html>the docs moved</html>");
  });

  afterEach(() => {
    for (const request of requests) {
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers.cookie).toBeUndefined();
    }
  });

  const changelog = () => readFile(path.join(root, "CHANGELOG.md"), "utf8");

  it("regenerates from the URL and adds an entry first under [Unreleased]: the spec, the URL, the date, the changes in words", async () => {
    const url = `${base}/specs/${SPEC_NAME}`;
    const { code, stdout, stderr } = await update(url);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(await readFile(path.join(specDir, SPEC_NAME), "utf8")).toBe(served.get(`/specs/${SPEC_NAME}`));
    expect(await readFile(path.join(outDir, "kling-image2video.ts"), "utf8")).toContain("progress?: number");
    expect(stdout).toContain(`added an entry under [Unreleased] in ${path.join(root, "CHANGELOG.md")}`);

    const text = await changelog();
    const entry = text.slice(text.indexOf("## [Unreleased]\n\n") + "## [Unreleased]\n\n".length, text.indexOf("### Added"));
    expect(entry).toMatch(/^### Spec updated: `kling-image2video\.json` \(\d{4}-\d{2}-\d{2}\)\n\n/);
    expect(entry.slice(0, entry.indexOf("####")).replace(/\s+/g, " ")).toContain(`Taken from <${url}> by \`npm run spec:update\`. Implies a **patch** release`);
    const mayBreak = entry.slice(entry.indexOf("#### May break"), entry.indexOf("#### Other changes"));
    expect(mayBreak.replace(/\s+/g, " ")).toContain("- `getklingimage2video` (`GET /kling/v1/videos/image2video/{task_id}`): the answer's `status` may now be `\"cancelled\"`");
    expect(entry.slice(entry.indexOf("#### Other changes")).replace(/\s+/g, " ")).toContain("the answer may now include `progress`");
    expect(entry).not.toContain("#### Breaking");
    // Words, not JSON pointers or rule ids.
    expect(entry).not.toMatch(/#\/|response-optional-property-added|enum-value-added|application\/json/);
    // The earlier entries stay as they were, after it.
    expect(text.startsWith("# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Spec updated")).toBe(true);
    expect(text.endsWith("### Added\n\n- Something earlier.\n\n## [0.0.1] - 2026-01-01\n\n- First.\n")).toBe(true);

    // The same spec again: nothing in openapi/ changes, so no second entry.
    const again = await update(url);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("added an entry");
    expect(await changelog()).toBe(text);
  });

  it("puts breaking changes under their own heading, with the bump they imply", async () => {
    const { code } = await update(`${base}/breaking/${SPEC_NAME}`);
    expect(code).toBe(0);
    const text = (await changelog()).replace(/\n {2,}/g, " ");
    expect(text).toContain("Implies a **minor** release (0.x: breaking changes bump the minor version).");
    expect(text).toMatch(/#### Breaking\n\n- `getklingimage2video` \(`GET \/kling\/v1\/videos\/image2video\/\{task_id\}`\): the answer no longer includes `url`: code reading it stops compiling\n/);
  });

  it("refuses a 404, a cut connection and a page that is not a spec, naming the URL; nothing written, no entry", async () => {
    const before = await snapshot();
    const missing = await update(`${base}/nowhere/${SPEC_NAME}`);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`spec-update: cannot read ${base}/nowhere/${SPEC_NAME}: HTTP 404 Not Found. Nothing was written to ${specDir}/ or ${outDir}/.\n`);
    const cut = await update(`${base}/cut/${SPEC_NAME}`);
    expect(cut.code).toBe(2);
    expect(cut.stderr).toMatch(new RegExp(`cannot read ${base}/cut/kling-image2video\\.json: the connection was cut after \\d+ bytes`));
    const page = await update(`${base}/page/${SPEC_NAME}`);
    expect(page.code).toBe(2);
    expect(page.stderr).toContain(`spec-update: refused: ${base}/page/${SPEC_NAME} is`);
    const credentials = await update(`${base.replace("://", "://me:secret@")}/specs/${SPEC_NAME}`);
    expect(credentials.code).toBe(2);
    expect(credentials.stderr).not.toContain("secret");
    expect(await snapshot()).toEqual(before);
    expect(await changelog()).toBe(CHANGELOG);
  });

  it("writes no entry when the contract suite fails (rolled back), nor with --no-changelog", async () => {
    const failed = await run([`${base}/specs/${SPEC_NAME}`], async () => 1);
    expect(failed.code).toBe(1);
    expect(await changelog()).toBe(CHANGELOG);
    const quiet = await update(`${base}/specs/${SPEC_NAME}`, "--no-changelog");
    expect(quiet.code).toBe(0);
    expect(await changelog()).toBe(CHANGELOG);
    const passed = await run([`${base}/breaking/${SPEC_NAME}`], async () => 0);
    expect(passed.code).toBe(0);
    expect(await changelog()).toContain("#### Breaking");
  });

  it("spec:diff compares two URLs, and exits 2 naming a URL it cannot read", async () => {
    served.set("/old.json", await readFile(SEED, "utf8"));
    let stdout = "";
    let stderr = "";
    const io = { out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t) };
    expect(await specDiff([`${base}/old.json`, `${base}/specs/${SPEC_NAME}`], io)).toBe(0);
    expect(stdout).toMatch(/WARN +response-property-enum-value-added/);
    expect(await specDiff([`${base}/old.json`, `${base}/gone.json`], io)).toBe(2);
    expect(stderr).toBe(`spec-diff: cannot read ${base}/gone.json: HTTP 404 Not Found\n`);
  });
});

describe("the CHANGELOG entry's words (scripts/spec-changelog.ts)", () => {
  const change = (over: Partial<SpecChange>): SpecChange => ({
    level: "non-breaking",
    operation: "GET /tasks/{id} (getTask)",
    path: "/tasks/{id}",
    method: "get",
    location: "response 200 application/json body",
    change: "operation-added",
    detail: "",
    ...over,
  });

  it("says what a user of the package meets, per rule", () => {
    const words = (over: Partial<SpecChange>) => describeChange(change(over));
    expect(words({ change: "response-optional-property-added", location: "response 200 application/json body.progress" })).toBe("the answer may now include `progress`");
    expect(words({ change: "response-property-type-generalized", location: "response 200 application/json body.error.code", detail: "type widened from integer to integer|string" })).toBe(
      "the answer's `error.code` may now be an integer or a string (it was an integer)",
    );
    expect(words({ change: "request-property-enum-value-removed", location: "request application/json body.model", detail: 'enum value "kling-v1" removed' })).toBe(
      'the request\'s `model` no longer accepts `"kling-v1"`',
    );
    expect(words({ change: "new-required-request-parameter", location: "parameter query.limit" })).toBe("a call must now pass the `limit` query parameter");
    expect(words({ change: "response-non-success-status-added", location: "response 429" })).toBe("may now answer with error status `429`");
    // A rule without its own words still reads as a sentence, never as a rule id.
    expect(words({ change: "response-property-max-length-increased", location: "response 200 application/json body.id", detail: "maxLength increased from 10 to 20" })).toBe(
      "the answer's `id`: maxLength increased from 10 to 20",
    );
  });

  it("keeps spec text from breaking the Markdown: backticks fenced, control characters and line breaks out", () => {
    expect(mdCode("a`b")).toBe("``a`b``");
    expect(mdCode("`x")).toBe("`` `x ``");
    expect(mdCode("line\nbreak\u202e")).toBe("`line break `");
    const entry = changelogEntry({
      spec: "relay.json",
      source: "https://docs.example/openapi/relay.json",
      date: "2026-09-01",
      added: false,
      superseded: [],
      version: "0.1.0",
      changes: [change({ change: "response-optional-property-added", location: "response 200 application/json body.evil\n## [9.9.9]", level: "non-breaking" })],
    });
    expect(entry).not.toMatch(/^## /m);
    for (const line of wrap("- " + "`a b c d e f` ".repeat(20))) expect(line.split("`").length % 2, line).toBe(1); // never broken inside a code span
  });

  it("adds [Unreleased] when the file has none: before the first release, or to an empty file", () => {
    expect(addUnreleasedEntry("# Changelog\n\n## [1.0.0]\n\n- x\n", "### E\n")).toBe("# Changelog\n\n## [Unreleased]\n\n### E\n\n## [1.0.0]\n\n- x\n");
    expect(addUnreleasedEntry("", "### E\n")).toMatch(/^# Changelog\n\n.*\n\n## \[Unreleased\]\n\n### E\n\n$/);
  });
});
