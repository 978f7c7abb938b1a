/// <reference types="node" />
// Compiled only when the package ships `xiexus-kling/node`: the subpath must resolve to its own
// declarations in every cell (node10 through typesVersions), and its errors must be the main
// entry's classes (a FileExistsError is a KlingError to the type checker too).
import { KlingError } from "xiexus-kling";
import { downloadVideo, FileExistsError } from "xiexus-kling/node";

export const download: typeof downloadVideo = downloadVideo;
export const asKlingError = (error: FileExistsError): KlingError => error;
export const isFileExists = (error: unknown): boolean => error instanceof FileExistsError && error instanceof KlingError;
