// A flag declared in one line of code: --help's usage is made from the name, so the name is written
// once and the usage cannot drift from it.
import type { Flag } from "./_args.js";

/** A flag that takes a value, `--<name> <value>` in --help (e.g. `valueFlag("route", "<route>", [...])`). */
export function valueFlag(name: string, value: string, help: Flag["help"]): Flag {
  return { name, type: "string", usage: `--${name} ${value}`, help };
}

/** A flag without a value (`--<name>`: on when given). */
export function switchFlag(name: string, help: Flag["help"]): Flag {
  return { name, type: "boolean", usage: `--${name}`, help };
}
