// A create request from the command line, for `create` and `generate`: the request flags, their
// checks, the image (a local file read and checked here, before any request; a URL passed on), the
// create itself (a Ctrl-C while it is on its way says a task may exist), and the command that
// resumes the wait for a task once its id is known.
import { InvalidArgumentError, type CreatedTask, type CreateImage2VideoRequest, type CreateText2VideoRequest } from "../index.js";
import { readImageFile } from "../node/index.js";
import type { RouteName } from "../routes.js";
import { FLAGS, type CommandLine, type Flag } from "./args.js";
import { Interrupted, UsageError } from "./errors.js";
import type { Session } from "./session.js";
import type { TaskCalls } from "./task-routes.js";

/**
 * The model a create uses when --model (or a jobs line's `model`) is not given: the spec's own
 * example. The relay's gateway refuses a create without a model, so there has to be one.
 */
export const DEFAULT_MODEL = "kling-v1";

/** The flags of a create request, in --help order. */
export const CREATE_FLAGS = {
  image: {
    name: "image",
    type: "string",
    usage: "--image <file|url>",
    help: ["create, generate: the start image: a PNG or JPEG file (checked before any", "request) or an http(s) URL; without it, a text2video task"],
  },
  prompt: { name: "prompt", type: "string", usage: "--prompt <text>", help: ["create, generate: what the video shows (required)"] },
  model: { name: "model", type: "string", usage: "--model <id>", help: [`create, generate: the model (default ${DEFAULT_MODEL})`] },
  duration: { name: "duration", type: "string", usage: "--duration <seconds>", help: ["create, generate: the video's length, whole seconds (e.g. 5 or 10)"] },
  mode: { name: "mode", type: "string", usage: "--mode <mode>", help: ["create, generate: Kling's mode, e.g. std or pro (sent as `mode`)"] },
  width: { name: "width", type: "string", usage: "--width <px>", help: ["create, generate: the video's width in pixels"] },
  height: { name: "height", type: "string", usage: "--height <px>", help: ["create, generate: the video's height in pixels"] },
} as const satisfies Record<string, Flag>;

/** A create request as the command line gave it; the image not read yet. */
export interface CreateSpec {
  route: RouteName;
  /** The request's fields (model, prompt, duration, ...), without the image. */
  fields: Record<string, unknown>;
  /** --image: a URL to pass on, or a file to read. */
  image: { url: string } | { file: string } | undefined;
}

/** A string image the library takes as it is: an http(s) URL, or a `data:` URL it decodes and checks. */
const IMAGE_URL = /^(https?:\/\/|data:)/i;

/** A whole number from `min` given as `flag`, or undefined when not given. */
function wholeNumber(line: CommandLine, flag: Flag, min: number, what: string): number | undefined {
  const value = line.string(flag);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${flag.name} must be ${what}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** Reads and checks the request flags of `create` or `generate` (no operands; --prompt required). */
export function readCreateSpec(line: CommandLine): CreateSpec {
  if (line.operands.length > 0) {
    throw new UsageError(`${line.command} takes no task id (got ${JSON.stringify(line.operands[0])}): it creates the task`);
  }
  const prompt = line.string(CREATE_FLAGS.prompt);
  if (prompt === undefined || prompt.trim() === "") {
    throw new UsageError(`${line.command} needs --prompt <text> (the relay asks for a prompt even with an image)`);
  }
  const model = line.string(CREATE_FLAGS.model) ?? DEFAULT_MODEL;
  if (model.trim() === "") throw new UsageError("--model needs a model id");
  const mode = line.string(CREATE_FLAGS.mode);
  if (mode !== undefined && mode.trim() === "") throw new UsageError("--mode needs a value");
  const duration = wholeNumber(line, CREATE_FLAGS.duration, 0, "a whole number of seconds");
  const width = wholeNumber(line, CREATE_FLAGS.width, 1, "a whole number of pixels");
  const height = wholeNumber(line, CREATE_FLAGS.height, 1, "a whole number of pixels");
  const fields: Record<string, unknown> = {
    model,
    prompt,
    ...(duration !== undefined && { duration }),
    ...(mode !== undefined && { mode }),
    ...(width !== undefined && { width }),
    ...(height !== undefined && { height }),
  };
  const image = line.string(CREATE_FLAGS.image);
  if (image === undefined) return { route: "text2video", fields, image: undefined };
  if (image.trim() === "") throw new UsageError("--image needs a file or an http(s) URL");
  return { route: "image2video", fields, image: IMAGE_URL.test(image) ? { url: image } : { file: image } };
}

/**
 * The request to send: a file given as --image is read and checked against the image rules now,
 * before any request (a text file renamed .png is refused here, naming the rule: exit 2).
 */
export async function loadCreateRequest(spec: CreateSpec): Promise<CreateImage2VideoRequest | CreateText2VideoRequest> {
  if (spec.image === undefined) return spec.fields as CreateText2VideoRequest;
  let image: string | Uint8Array;
  if ("url" in spec.image) {
    image = spec.image.url;
  } else {
    try {
      image = await readImageFile(spec.image.file);
    } catch (error) {
      throw error instanceof InvalidArgumentError ? new InvalidArgumentError("image", `--image: ${error.message}`) : error;
    }
  }
  return { ...spec.fields, image } as CreateImage2VideoRequest;
}

/**
 * Sends the create. Interrupted while it is on its way, the run says a task may have been created
 * (the request may have reached the relay; its answer never came back) and exits with the signal's code.
 */
export async function sendCreate(
  calls: TaskCalls,
  request: CreateImage2VideoRequest | CreateText2VideoRequest,
  session: Session,
): Promise<CreatedTask> {
  const note =
    "the create request was on its way and no answer came back: a task MAY have been created (and paid for). " +
    "Check the relay's tasks before creating it again.";
  return Interrupted.during(session.signal, { note, mayHaveCreatedTask: true }, () => calls.create(request, { signal: session.signal }));
}

/** `arg` as one shell word: as it is when plainly safe, else in single quotes. */
export function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that waits for (and with `output`, downloads) a created task: what an interrupted run is resumed with. */
export function resumeCommand(line: CommandLine, taskId: string, route: RouteName, output?: string, force = false): string {
  const words = ["xiexus-kling", "wait", taskId];
  if (route !== "image2video") words.push("--route", route);
  if (output !== undefined) words.push("--output", output);
  if (force) words.push("--force");
  // The same relay: a base URL given as a flag is not in the environment of the next run.
  const baseUrl = line.string(FLAGS.baseUrl);
  if (baseUrl !== undefined) words.push("--base-url", baseUrl);
  return words.map(shellWord).join(" ");
}
