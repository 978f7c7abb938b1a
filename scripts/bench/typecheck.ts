// Section 4: `tsc --extendedDiagnostics --noEmit` on a consumer of xiexus-kling against the same
// calls written with bare openapi-fetch (scripts/bench/typecheck/). Shared with test/budgets.test.ts.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BUDGETS, atMost, verdict, withinRatio } from "./budgets.js";
import { CACHE, ROOT } from "./paths.js";
import { fmt, fmtRatio, median } from "./stats.js";
import type { Row, SectionResult, Settings } from "./table.js";

const run = promisify(execFile);

/** The figures of one `tsc --extendedDiagnostics` run. */
export interface TypecheckStats {
  instantiations: number;
  types: number;
  checkSeconds: number;
  totalSeconds: number;
  memoryKiB: number;
}

/** The consumer projects, by name. */
export const CONSUMERS = {
  kling: join(ROOT, "scripts/bench/typecheck/tsconfig.kling.json"),
  "openapi-fetch": join(ROOT, "scripts/bench/typecheck/tsconfig.openapi-fetch.json"),
} as const;

function field(output: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+([\\d.]+)`, "m").exec(output);
  if (!match) throw new Error(`tsc --extendedDiagnostics printed no "${name}":\n${output}`);
  return Number(match[1]);
}

/** Type-checks one project; rejects with tsc's output when it reports an error. */
export async function typecheck(project: string): Promise<TypecheckStats> {
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const { stdout } = await run(process.execPath, [tsc, "-p", project, "--noEmit", "--extendedDiagnostics"], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  }).catch((error: { stdout?: string }) => {
    throw new Error(`tsc -p ${project} failed:\n${error.stdout ?? String(error)}`);
  });
  return {
    instantiations: field(stdout, "Instantiations"),
    types: field(stdout, "Types"),
    checkSeconds: field(stdout, "Check time"),
    totalSeconds: field(stdout, "Total time"),
    memoryKiB: field(stdout, "Memory used"),
  };
}

/** The same options on an empty file: what the libraries alone cost (skipLibCheck is off). */
async function floorProject(): Promise<string> {
  const dir = join(CACHE, "typecheck-floor");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "empty.ts"), "export {};\n");
  const base = join(ROOT, "scripts/bench/typecheck/tsconfig.json").replace(/\\/g, "/");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: base, files: ["empty.ts"] }, null, 2));
  return join(dir, "tsconfig.json");
}

/** Runs the section: rounds alternate the two consumers, one at a time so they do not share the CPU. */
export async function benchTypecheck(settings: Settings): Promise<SectionResult> {
  const kling: TypecheckStats[] = [];
  const bare: TypecheckStats[] = [];
  for (let i = 0; i < settings.typecheckRounds; i++) {
    if (i % 2) kling.push(await typecheck(CONSUMERS.kling));
    bare.push(await typecheck(CONSUMERS["openapi-fetch"]));
    if (i % 2 === 0) kling.push(await typecheck(CONSUMERS.kling));
  }
  const floor = await typecheck(await floorProject());
  const pick = (list: TypecheckStats[], key: keyof TypecheckStats): number => median(list.map((s) => s[key]));
  const section = "4. Type-check";
  const ki = pick(kling, "instantiations");
  const bi = pick(bare, "instantiations");
  const ratioOk = withinRatio(ki, bi, BUDGETS.typecheckInstantiationRatio);
  const ceilingOk = atMost(ki, BUDGETS.typecheckInstantiationsMax);
  const rows: Row[] = [
    { section, subject: "bare openapi-fetch consumer: instantiations (baseline)", value: fmt(bi), ratio: "1.00x", target: "", status: "" },
    {
      section,
      subject: "xiexus-kling consumer: instantiations",
      value: fmt(ki),
      ratio: fmtRatio(ki / bi),
      target: `<= ${BUDGETS.typecheckInstantiationRatio.toFixed(2)}x and <= ${fmt(BUDGETS.typecheckInstantiationsMax)}`,
      status: verdict(ratioOk && ceilingOk),
    },
    {
      section,
      subject: "instantiations above an empty file's (libraries alone)",
      value: `${fmt(ki - floor.instantiations)} vs ${fmt(bi - floor.instantiations)}; empty file ${fmt(floor.instantiations)}`,
      ratio: fmtRatio((ki - floor.instantiations) / (bi - floor.instantiations)),
      target: "",
      status: "",
    },
    {
      section,
      subject: "check time: xiexus-kling vs bare openapi-fetch",
      value: `${pick(kling, "checkSeconds").toFixed(2)} s vs ${pick(bare, "checkSeconds").toFixed(2)} s`,
      ratio: fmtRatio(pick(kling, "checkSeconds") / pick(bare, "checkSeconds")),
      target: "",
      status: "",
    },
    {
      section,
      subject: "memory used: xiexus-kling vs bare openapi-fetch",
      value: `${fmt(pick(kling, "memoryKiB") / 1024)} MiB vs ${fmt(pick(bare, "memoryKiB") / 1024)} MiB`,
      ratio: fmtRatio(pick(kling, "memoryKiB") / pick(bare, "memoryKiB")),
      target: "",
      status: "",
    },
  ];
  return {
    rows,
    notes: [
      "Type-check: `tsc --extendedDiagnostics --noEmit` on scripts/bench/typecheck/kling.ts (client as the README uses it, " +
        "imported from src/) and openapi-fetch.ts (the same calls with bare `createClient<paths>`), strict, skipLibCheck false, " +
        `moduleResolution bundler; ${settings.typecheckRounds} run(s) each, one at a time, median. Instantiations are deterministic (same count every run); ` +
        "most of them come from checking the libraries (an empty file costs the figure in the third row), " +
        "and the kling consumer also checks every file of src/.",
    ],
  };
}
