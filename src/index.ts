// The public surface of xiexus-kling: every export by name, types apart.
// Deliberately not exported: the transport, the redactor, the compat tables, the status table and
// the schema interpreter with its generated data (internal seams that may change in any release);
// the fake relay lives in `xiexus-kling/testing` and downloads in `xiexus-kling/node`, so neither
// reaches a browser bundle.

export { createKlingClient } from "./client.js";
export {
  KlingError,
  InvalidArgumentError,
  APIError,
  AuthenticationError,
  PermissionDeniedError,
  InsufficientQuotaError,
  TaskNotFoundError,
  RateLimitError,
  InternalServerError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIUserAbortError,
  ResponseValidationError,
  ResponseTooLargeError,
  TaskFailedError,
  TaskCancelledError,
  WaitTimeoutError,
} from "./errors.js";
export { DEFAULTS } from "./options.js";
export { DEFAULT_WAIT_TIMEOUT_MS } from "./wait.js";
export { DEFAULT_CONCURRENCY } from "./wait-many.js";
export { IMAGE_RULES } from "./image.js";
export { MAX_PROMPT_LENGTH } from "./create.js";
export {
  KLING_MODES,
  KLING_ASPECT_RATIOS,
  KLING_CAMERA_TYPES,
  KLING_CAMERA_AXES,
  DEFAULT_TEXT2VIDEO_ASPECT_RATIO,
  KLING_CONTROL_RULES,
  KLING_REFUSED_METADATA,
  KLING_EXCLUSIVE_GROUPS,
  KLING_IMAGE2VIDEO_ONLY,
  GATEWAY_DROPPED_FIELDS,
} from "./kling-controls.js";

export type { KlingClient, GetTaskOptions, CreateTaskOptions, GenerateOptions } from "./client.js";
export type { APIErrorInit } from "./errors.js";
export type { KlingClientOptions, ValidationMode, FetchLike, HttpGet, HttpGetRequest, HttpGetResponse } from "./options.js";
export type { WaitOptions } from "./wait.js";
export type { WaitManyOptions, WaitOutcome, WaitSuccess, WaitFailure } from "./wait-many.js";
export type {
  Image2VideoTask,
  Image2VideoTaskStatus,
  Image2VideoTaskResult,
  CompletedImage2VideoTask,
  FailedImage2VideoTask,
  Text2VideoTask,
  Text2VideoTaskStatus,
  Text2VideoTaskResult,
  CompletedText2VideoTask,
  VideoTask,
  VideoTaskStatus,
  VideoTaskResult,
  CompletedVideoTask,
  TaskNotFoundResponse,
  VideoRequest,
  VideoResponse,
  CreateVideoRequest,
  CreateImage2VideoRequest,
  CreateText2VideoRequest,
  CreatedTask,
  ImageInput,
} from "./types.js";
export type { ImageInfo } from "./image.js";
export type {
  KlingControls,
  KlingMetadata,
  KlingMode,
  KlingAspectRatio,
  KlingCameraType,
  KlingCameraAxis,
  KlingCameraConfig,
  KlingCameraControl,
  KlingTrajectoryPoint,
  KlingDynamicMask,
  ControlRule,
} from "./kling-controls.js";
export type { paths, operations, components, ValidationIssue } from "./_spec.js";
