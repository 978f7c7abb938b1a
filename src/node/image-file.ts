// Local image files for a create, checked before any request: openImageFile (a file-backed Blob,
// streamed at send time) and readImageFile (the bytes). The size comes from the open file's stat
// first, so an oversized file (a 2 GB video picked by mistake) is refused unread.
import { constants, openAsBlob } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.js";
import { checkImageSize, inspectBlob, inspectImage } from "../image.js";

/** Every refusal is about the `path` argument, and its message names the file. */
function refusal(error: unknown, label: string): InvalidArgumentError {
  if (error instanceof InvalidArgumentError) return new InvalidArgumentError("path", error.message);
  const code = error && typeof error === "object" ? (error as { code?: unknown }).code : undefined;
  if (code === "ENOENT" || code === "ENOTDIR") return new InvalidArgumentError("path", `${label}: no such file`);
  const why = typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
  return new InvalidArgumentError("path", `${label} cannot be read (${why})`);
}

function checkPath(path: unknown): string {
  if (typeof path !== "string" || path === "") {
    const got = typeof path === "string" ? '""' : typeof path;
    throw new InvalidArgumentError("path", `path must be a non-empty string, got ${got}`);
  }
  return `image file ${JSON.stringify(path)}`;
}

/** Opens `path` without blocking (a FIFO opens at once, and is refused), checks it is a file within the size rule, then runs `use` on the handle. */
async function withImageFile<T>(path: string, label: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const info = await handle.stat();
    if (!info.isFile()) throw new InvalidArgumentError("path", `${label} is not a file`);
    checkImageSize(info.size, label);
    return await use(handle);
  } catch (error) {
    throw refusal(error, label);
  } finally {
    await handle?.close();
  }
}

/**
 * Opens an image file for a create's `image` (or `image_tail`, a mask) without reading it: a Blob
 * backed by the file, checked against `IMAGE_RULES` from its size on disk and its header. A create
 * streams it from disk as base64, and reads it again if resent; memory does not grow with its size.
 * Reading fails if the file changes after this check. An `InvalidArgumentError` naming the file otherwise.
 */
export async function openImageFile(path: string): Promise<Blob> {
  const label = checkPath(path);
  return withImageFile(path, label, async () => {
    const blob = await openAsBlob(path);
    await inspectBlob(blob, label);
    return blob;
  });
}

/**
 * Reads an image file into memory, checked against `IMAGE_RULES` (size before reading, then format
 * by its bytes and dimensions): an `InvalidArgumentError` naming the file otherwise. For a create,
 * `openImageFile` does the same without holding the file in memory.
 */
export async function readImageFile(path: string): Promise<Uint8Array> {
  const label = checkPath(path);
  return withImageFile(path, label, async (handle) => {
    const bytes = await handle.readFile();
    inspectImage(bytes, label);
    return bytes;
  });
}
