// The one table the bench prints and writes to BENCHMARKS.md, and the run settings.

/** One row of the table. */
export interface Row {
  section: string;
  subject: string;
  value: string;
  /** The figure as a ratio to the section's baseline, measured in the same run. */
  ratio: string;
  target: string;
  status: "met" | "missed" | "";
}

/** What a section hands back: its rows and the sentences that explain them (method, misses). */
export interface SectionResult {
  rows: Row[];
  notes: string[];
}

/** Rounds and sizes of a run (`--quick` shrinks them for a smoke run). */
export interface Settings {
  quick: boolean;
  requests: { rounds: number; perRound: number; warmup: number };
  importSpawns: number;
  typecheckRounds: number;
  codegen: { sizes: readonly number[]; rounds: (paths: number) => number };
  waits: { tasks: number; spreadMs: number; pollIntervalMs: number };
}

const HEADERS = ["Section", "Subject", "Value", "Ratio", "Target", "Status"] as const;

function cells(row: Row): string[] {
  return [row.section, row.subject, row.value, row.ratio, row.target, row.status];
}

/** Renders the rows as a GitHub-flavoured markdown table, columns padded for the terminal. */
export function renderTable(rows: readonly Row[]): string {
  const all = [[...HEADERS], ...rows.map(cells)].map((r) => r.map((c) => c.replace(/\|/g, "\\|")));
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join(" | ")} |`;
  const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join("\n");
}
