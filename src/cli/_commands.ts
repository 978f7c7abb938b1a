// The command table: the one place a command is registered. Its order is the order of --help and of
// "expected ..." in the unknown-command message; the flags parseArgs reads are the global ones plus
// every command's own, and a flag given to a command that does not list it is refused by name.
import { GLOBAL_FLAGS, type Flag } from "./_args.js";
import { create } from "./_create.js";
import { download } from "./_download.js";
import { generate } from "./_generate.js";
import type { Command } from "./_session.js";
import { status } from "./_status.js";
import { wait } from "./_wait.js";

/** Every command, by name. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ["create", create],
  ["generate", generate],
  ["status", status],
  ["wait", wait],
  ["download", download],
]);

/** The commands' own flags, each once, in the order the table first names them. */
export function commandFlags(): Flag[] {
  const flags = new Map<string, Flag>();
  for (const command of COMMANDS.values()) {
    for (const flag of command.flags) {
      const known = flags.get(flag.name);
      // Two commands sharing a name must share the flag, or parseArgs would read one of them wrongly.
      if (known !== undefined && known !== flag) throw new Error(`two different flags named --${flag.name}`);
      flags.set(flag.name, flag);
    }
  }
  return [...flags.values()];
}

/** Every flag parseArgs reads, in --help order. */
export function allFlags(): Flag[] {
  return [...GLOBAL_FLAGS.first, ...commandFlags(), ...GLOBAL_FLAGS.last];
}

/** The names of the commands that list `flag` among their own, in table order. */
export function takersOf(flag: Flag): readonly string[] {
  return [...COMMANDS].filter(([, command]) => command.flags.includes(flag)).map(([name]) => name);
}
