// Local image files for a create, checked before any request: openImageFile (a file-backed Blob,
// streamed at send time) and readImageFile (the bytes). The size comes from the open file's stat
// first, so an oversized file (a 2 GB video picked by mistake) is refused unread.
import { constants, openAsBlob } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.js";
import { checkImageSize, inspectBlob, inspectImage, MAX_PIECE_BYTES, READ_PIECES, type PieceReadingBlob } from "../image.js";

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
  return withImageFile(path, label, async (handle) => {
    const blob: PieceReadingBlob = await openAsBlob(path);
    await inspectBlob(blob, label);
    const { size, mtimeMs } = await handle.stat();
    Object.defineProperty(blob, READ_PIECES, { value: (pieceBytes: () => number) => readPieces(path, label, size, mtimeMs, pieceBytes) });
    return blob;
  });
}

/**
 * The file's bytes for a create, read afresh (a resend reads it again) through one reused buffer:
 * each piece is a view valid until the next is asked for. A file that changed since it was checked
 * (size or modification time) fails the read, so what is sent is what was checked.
 */
async function* readPieces(path: string, label: string, size: number, mtimeMs: number, pieceBytes: () => number): AsyncGenerator<Uint8Array> {
  const changed = (): InvalidArgumentError => new InvalidArgumentError("path", `${label} changed after it was checked`);
  const file = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const now = await file.stat();
    if (now.size !== size || now.mtimeMs !== mtimeMs) throw changed();
    const buffer = new Uint8Array(MAX_PIECE_BYTES);
    let total = 0;
    for (;;) {
      // As many bytes as the creates in flight share now (a multiple of 3, so no base64 carry on full reads).
      const { bytesRead } = await file.read(buffer, 0, Math.min(pieceBytes(), MAX_PIECE_BYTES), null);
      if (bytesRead === 0) break;
      total += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
    if (total !== size) throw changed();
  } finally {
    await file.close();
  }
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
