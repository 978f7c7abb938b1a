// Consumers' type-check matrix: the packed tarball installed into throw-away projects, compiled
// by TypeScript 5.4, 5.9 and 7 under every module setting a consumer may use (test/consumer/matrix.ts).
// usage.ts and the README's own examples must compile; mistakes.ts must fail exactly on the lines
// it marks as expected errors.
import { beforeAll, describe, expect, it } from "vitest";
import type { RunResult } from "./consumer/exec.js";
import { CELLS, checkCell, consumerProject, pool, readmeExamples, TS_VERSIONS, unsupported, type Cell } from "./consumer/matrix.js";
import { packedPackage, type PackedPackage } from "./consumer/pack.js";

const INSTALL_TIMEOUT = 300_000;

let pkg: PackedPackage;
let shipsTesting = false;
let shipsNode = false;

beforeAll(async () => {
  pkg = await packedPackage();
  shipsTesting = pkg.files.some((f) => f.path === "dist/esm/src/testing/index.d.ts");
  shipsNode = pkg.files.some((f) => f.path === "dist/esm/src/node/index.d.ts");
}, INSTALL_TIMEOUT);

// The ./testing and ./node entries are checked once per kind of resolution, as soon as the package ships them.
const filesOf = (cell: Cell): string[] => [
  ...cell.files,
  ...(cell.testing && shipsTesting ? ["testing-entry.ts"] : []),
  ...(cell.testing && shipsNode ? ["node-entry.ts"] : []),
  ...readmeExamples(cell).map((example) => example.name),
];

describe.each(TS_VERSIONS)("TypeScript %s", (version) => {
  let project: string;
  const results = new Map<string, RunResult>();

  beforeAll(async () => {
    project = await consumerProject(version, pkg.tarball, pkg.sha256);
    const cells = CELLS.filter((cell) => !unsupported(version, cell));
    // Two at a time: the machines have two cores.
    const done = await pool(cells, 2, (cell) => checkCell(project, cell, filesOf(cell)));
    cells.forEach((cell, i) => results.set(cell.name, done[i] as RunResult));
  }, INSTALL_TIMEOUT);

  for (const cell of CELLS) {
    const reason = unsupported(version, cell);
    if (reason) {
      // Not type-checked: this TypeScript rejects the setting itself; prove that is still so.
      it(`${cell.name}: not a valid setup in TypeScript ${version} (${reason})`, async () => {
        const result = await checkCell(project, cell, filesOf(cell));
        expect(result.code).not.toBe(0);
        expect(result.output).toContain(reason);
      });
      continue;
    }
    it(`${cell.name} (${cell.module}/${cell.moduleResolution}, ${cell.packageType}) compiles usage and rejects the mistakes`, () => {
      const result = results.get(cell.name);
      expect(result, "cell did not run").toBeDefined();
      expect(result?.output).toBe("");
      expect(result?.code).toBe(0);
    });
  }
});

describe("the matrix can fail", () => {
  const base = CELLS.find((c) => c.name === "node16-esm") as Cell;
  const cell: Cell = { ...base, name: `${base.name}-must-fail` };
  let project: string;

  beforeAll(async () => {
    // TypeScript 7 because it is the quickest; the messages are the same in 5.x.
    project = await consumerProject("7", pkg.tarball, pkg.sha256);
  }, INSTALL_TIMEOUT);

  it("reports a real type error in a consumer file", async () => {
    const result = await checkCell(project, cell, ["usage.ts", "broken.ts"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/broken\.ts\(\d+,\d+\): error TS2322: Type 'string \| undefined' is not assignable to type 'string'/);
  });

  it("reports a @ts-expect-error line that compiles (a mistake the types stopped catching)", async () => {
    const result = await checkCell(project, cell, ["unused-expect-error.ts"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/unused-expect-error\.ts\(\d+,\d+\): error TS2578: Unused '@ts-expect-error' directive/);
  });
});
