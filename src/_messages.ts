// How input checks word their refusals: one InvalidArgumentError shape and one way to show a value.
// Apart from src/errors.ts so the other entries (xiexus-kling/node, /testing) that check input
// import the error classes from the main entry by name instead of carrying copies of them.
import { InvalidArgumentError } from "./errors.js";

/** Throws an InvalidArgumentError whose message is the argument's name, then `rest` ("taskId is empty"). */
export function invalid(argument: string, rest: string): never {
  throw new InvalidArgumentError(argument, `${argument} ${rest}`);
}

/** A value as a message shows it: JSON (else its String), cut to 60 characters. */
export function show(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // JSON.stringify threw (a cycle, a BigInt): the String below.
  }
  text ??= String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
