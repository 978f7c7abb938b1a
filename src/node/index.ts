// xiexus-kling/node: the Node-only helpers (file system, node:http): downloads, image files, the
// resumable batch (generateVideos and its journal), and the task GETs over node:http for the
// client's `httpGet` option. Kept out of src/index.ts so
// the main entry stays free of Node built-ins and works in browsers and edge runtimes.
// The error classes shared with the main entry are not re-exported here: import them from
// "xiexus-kling" (they are the same classes, so instanceof works across both entries).

export { downloadVideo, FileExistsError, DEFAULT_DOWNLOAD_TIMEOUT_MS, DEFAULT_MAX_DOWNLOAD_BYTES } from "./download.js";
export { nodeHttpGet } from "./http-get.js";
export { openImageFile, readImageFile } from "./image-file.js";
export { generateVideos, JobMayHaveBeenCreatedError, VideoFileError, DEFAULT_JOB_TIMEOUT_MS } from "./generate-videos.js";
export { JournalLockedError, JournalCorruptError, JOURNAL_FILE, JOURNAL_LOCK_FILE } from "./journal.js";
/** The batch journal could not be written (disk full, I/O error): the batch stopped; `jobs` lists what it left, task ids included. */
export { JournalWriteError } from "./journal.js";

export type { DownloadOptions, DownloadProgress, DownloadResult, DownloadSource } from "./download.js";
export type { GenerateVideosOptions, VideoFailed, VideoJob, VideoJobEvent, VideoJobImage, VideoOutcome, VideoSaved } from "./generate-videos.js";
export type { UnfinishedJob, UnfinishedJobBase } from "./journal.js";
