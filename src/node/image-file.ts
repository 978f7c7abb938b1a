// readImageFile: a local image's bytes for a create, checked before any request. The size comes
// from the open file's stat first, so an oversized file (a 2 GB video picked by mistake) is
// refused unread; the same handle is then read, so the file checked is the file read.
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.js";
import { checkImageSize, inspectImage } from "../image.js";

/** Every refusal is about the `path` argument, and its message names the file. */
function refusal(error: unknown, label: string): InvalidArgumentError {
  if (error instanceof InvalidArgumentError) return new InvalidArgumentError("path", error.message);
  const code = error && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  if (code === "ENOENT" || code === "ENOTDIR") return new InvalidArgumentError("path", `${label}: no such file`);
  const why = typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
  return new InvalidArgumentError("path", `${label} cannot be read (${why})`);
}

/**
 * Reads an image file for a create's `image`, checked against `IMAGE_RULES` (size before reading,
 * then format by its bytes and dimensions): an `InvalidArgumentError` naming the file otherwise.
 */
export async function readImageFile(path: string): Promise<Uint8Array> {
  if (typeof path !== "string" || path === "") {
    const got = typeof path === "string" ? '""' : typeof path;
    throw new InvalidArgumentError("path", `path must be a non-empty string, got ${got}`);
  }
  const label = `image file ${JSON.stringify(path)}`;
  let handle: FileHandle | undefined;
  try {
    // Non-blocking, so a FIFO opens at once (and is refused below) instead of waiting for a writer.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (!info.isFile()) throw new InvalidArgumentError("path", `${label} is not a file`);
    checkImageSize(info.size, label);
    const bytes = await handle.readFile();
    inspectImage(bytes, label);
    return bytes;
  } catch (error) {
    throw refusal(error, label);
  } finally {
    await handle?.close();
  }
}
