// What --help and --version print. The help is put together from the command table, the flags and
// the exit-code table, so a command, a flag or an exit code is described where it is defined.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { allFlags, COMMANDS } from "./_commands.js";
import { EXIT_MEANINGS, EXIT_PRECEDENCE } from "./_exit-codes.js";

/**
 * `  <left padded to width><first line>`, the other lines indented to the same column. A `left` too
 * long for its column has a line of its own, so one long flag does not push every row to the right.
 */
function rows(width: number, left: string, lines: readonly string[]): string {
  const indent = " ".repeat(2 + width);
  const own = left.length >= width - 1 ? [`  ${left}`] : [];
  const texts = lines.map((line, i) => (i === 0 && own.length === 0 ? `  ${left.padEnd(width)}${line}` : `${indent}${line}`));
  return [...own, ...texts].join("\n");
}

const commandRows = [...[...COMMANDS.values()].flatMap((c) => c.help), ["help", "Show this help"] as const].map(([synopsis, text]) =>
  rows(28, synopsis, [text]),
);
const flagWidth = 22;
const flagRows = allFlags().map((flag) => rows(flagWidth, flag.usage, flag.help));
const envRows = [
  rows(flagWidth, "XIEXUS_API_KEY", [
    "API key (required). There is deliberately no --api-key flag: a key on",
    "the command line ends up in shell history and in `ps` output.",
  ]),
  rows(flagWidth, "XIEXUS_BASE_URL", ["Relay base URL, when --base-url is not given"]),
  rows(flagWidth, "NO_COLOR", ["Set to disable colours"]),
];
const exitRows = Object.entries(EXIT_MEANINGS).map(([code, meaning]) => rows(5, code, meaning.help));

/** The text printed by `xiexus-kling --help`. */
export const USAGE = `Usage: xiexus-kling <command> [<task_id>...] [options]

Create Kling video tasks on the xiexus relay, wait for them and download their videos.

Commands:
${commandRows.join("\n")}

Options:
${flagRows.join("\n")}

Environment:
${envRows.join("\n")}

Progress goes to stderr (live lines on a terminal, plain lines otherwise); stdout gets only
the results: the task id (create), the video URL or file (wait, download, generate), the task
(status), one line per task ("<task_id> TAB <result> TAB <url, file or error>") when waiting
for several, or one line per job ("<key> TAB <result> TAB <file or error>") with --jobs.

Kling's controls (create, generate): --negative-prompt, --cfg-scale, --mode, --aspect-ratio,
--image-tail and --camera set the common ones; --metadata '<json>' adds any other (e.g.
static_mask, callback_url). They are checked before any request (a bad one: exit 2). In a jobs
file, a line takes them as keys: negative_prompt, cfg_scale, mode, aspect_ratio, image_tail (a
file relative to the jobs file, or a URL), camera_control ({"type": "simple", "config": {"zoom":
5}}) and metadata.

Exit codes:
${exitRows.join("\n")}
With several task ids or a jobs file: 0 only when every task completed (and was saved);
otherwise the code of the worst outcome, in this order: ${EXIT_PRECEDENCE.join(", ")}.
On a signal or a closed stdout, every wait and download stops and no temporary file is left
(generate --jobs lets creates already sent finish, so their ids are journaled: run it again).
`;

/** The nearest package.json named xiexus-kling above this file (works from src/cli/ and from dist/esm/src/cli/). */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "xiexus-kling" && typeof pkg.version === "string") return pkg.version;
      } catch {
        // Not our package.json (or not JSON): keep looking upward.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}
