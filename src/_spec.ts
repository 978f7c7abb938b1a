// The one seam between hand-written code and generated/: a regeneration touches only this file's
// imports. Everything the runtime knows about the spec arrives through here.
export type { paths, operations, components } from "../generated/kling-image2video.js";
export type { ResponseValidator, ValidationIssue } from "../generated/kling-image2video.runtime.js";
export { defaultBaseUrl, responseValidators } from "../generated/kling-image2video.runtime.js";
