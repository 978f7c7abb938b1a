/** Request bodies, response statuses, media types and response headers. */
import { asRecord, deref, type Emit, type Rec } from "./core.js";
import type { OperationRef } from "./operations.js";
import { compareSchema, walkContext } from "./schemas.js";

function contentOf(doc: Rec, raw: unknown): Map<string, unknown> {
  return new Map(Object.entries(asRecord(deref(doc, raw).value.content)).map(([type, media]) => [type, asRecord(media).schema]));
}

/** Request body presence, required-ness, media types and schemas. */
export function compareRequestBody(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const hadBody = before.op.requestBody !== undefined;
  const hasBody = after.op.requestBody !== undefined;
  if (!hadBody && !hasBody) return;
  const oldRequired = deref(oldDoc, before.op.requestBody).value.required === true;
  const newRequired = deref(newDoc, after.op.requestBody).value.required === true;
  if (hadBody && !hasBody) {
    emit("request-body-removed", "request body", "request body removed");
    return;
  }
  if (!hadBody) {
    emit(newRequired ? "request-body-added-required" : "request-body-added-optional", "request body", `${newRequired ? "required" : "optional"} request body added`);
    return;
  }
  if (!oldRequired && newRequired) emit("request-body-became-required", "request body", "request body became required (was optional)");
  if (oldRequired && !newRequired) emit("request-body-became-optional", "request body", "request body became optional (was required)");
  const oldContent = contentOf(oldDoc, before.op.requestBody);
  const newContent = contentOf(newDoc, after.op.requestBody);
  for (const type of oldContent.keys()) {
    if (!newContent.has(type)) emit("request-body-media-type-removed", `request ${type}`, `request media type ${type} no longer accepted`);
  }
  for (const [type, schema] of newContent) {
    if (!oldContent.has(type)) {
      emit("request-body-media-type-added", `request ${type}`, `request media type ${type} now accepted`);
      continue;
    }
    compareSchema(walkContext(oldDoc, newDoc, emit, "request", "request-body", "request-property"), oldContent.get(type), schema, `request ${type} body`, true);
  }
}

function isSuccess(status: string): boolean {
  return /^2(\d\d|XX)$/i.test(status);
}

/** Response statuses, media types, headers and body schemas. */
export function compareResponses(oldDoc: Rec, newDoc: Rec, before: OperationRef, after: OperationRef, emit: Emit): void {
  const oldResponses = asRecord(before.op.responses);
  const newResponses = asRecord(after.op.responses);
  for (const status of Object.keys(oldResponses)) {
    if (!(status in newResponses)) {
      emit(isSuccess(status) ? "response-success-status-removed" : "response-non-success-status-removed", `response ${status}`, `response status ${status} removed`);
    }
  }
  for (const [status, response] of Object.entries(newResponses)) {
    if (!(status in oldResponses)) {
      emit(isSuccess(status) ? "response-success-status-added" : "response-non-success-status-added", `response ${status}`, `response status ${status} added`);
      continue;
    }
    compareHeaders(oldDoc, newDoc, oldResponses[status], response, status, emit);
    const oldContent = contentOf(oldDoc, oldResponses[status]);
    const newContent = contentOf(newDoc, response);
    for (const type of oldContent.keys()) {
      if (!newContent.has(type)) emit("response-media-type-removed", `response ${status} ${type}`, `response ${status} no longer returns ${type}`);
    }
    for (const [type, schema] of newContent) {
      if (!oldContent.has(type)) {
        emit("response-media-type-added", `response ${status} ${type}`, `response ${status} may now return ${type}`);
        continue;
      }
      compareSchema(walkContext(oldDoc, newDoc, emit, "response", "response-body", "response-property"), oldContent.get(type), schema, `response ${status} ${type} body`, true);
    }
  }
}

function headersOf(doc: Rec, response: unknown): Map<string, Rec> {
  const headers = asRecord(deref(doc, response).value.headers);
  return new Map(Object.entries(headers).map(([name, raw]) => [name.toLowerCase(), deref(doc, raw).value]));
}

function compareHeaders(oldDoc: Rec, newDoc: Rec, oldResponse: unknown, newResponse: unknown, status: string, emit: Emit): void {
  const before = headersOf(oldDoc, oldResponse);
  const after = headersOf(newDoc, newResponse);
  for (const [name, header] of before) {
    const location = `response ${status} header ${name}`;
    const next = after.get(name);
    if (!next) {
      emit(header.required === true ? "required-response-header-removed" : "optional-response-header-removed", location, `header ${name} removed`);
      continue;
    }
    if (header.required === true && next.required !== true) emit("response-header-became-optional", location, `header ${name} became optional`);
    else if (header.required !== true && next.required === true) emit("response-header-became-required", location, `header ${name} became required`);
    compareSchema(walkContext(oldDoc, newDoc, emit, "response", "response-header", "response-property"), header.schema, next.schema, location, true);
  }
  for (const name of after.keys()) {
    if (!before.has(name)) emit("response-header-added", `response ${status} header ${name}`, `header ${name} added`);
  }
}
