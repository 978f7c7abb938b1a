/**
 * Lifecycle: deprecation of operations, parameters and properties, their `x-sunset` dates
 * (YYYY-MM-DD or RFC 3339) and operations' `x-stability-level` (draft < alpha < beta < stable).
 * A sunset promise is part of the contract: dropping it, moving it earlier, or removing before it
 * breaks that promise.
 */
import { show, type Emit, type Rec } from "./core.js";
import type { OperationRef } from "./operations.js";

/** A sunset date as a day number, `invalid`, or undefined when none is declared. */
export function sunsetOf(node: Rec): number | "invalid" | undefined {
  const value = node["x-sunset"];
  if (value === undefined) return undefined;
  if (typeof value !== "string") return "invalid";
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`)
    : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(day) ? "invalid" : Math.floor(day / 86_400_000);
}

/** Whether a sunset lies ahead (today counts as ahead). */
export function sunsetAhead(sunset: number | "invalid" | undefined, now = Date.now()): boolean {
  return typeof sunset === "number" && sunset >= Math.floor(now / 86_400_000);
}

const STABILITY = ["draft", "alpha", "beta", "stable"];

function compareSunset(before: Rec, after: Rec, location: string, what: string, ids: { parse: string; deleted: string; earlier: string }, emit: Emit): void {
  const was = sunsetOf(before);
  const is = sunsetOf(after);
  if (after.deprecated === true && is === "invalid") {
    emit(ids.parse, location, `${what} x-sunset ${show(after["x-sunset"])} is not a date`);
    return;
  }
  if (before.deprecated === true && was === "invalid" && after.deprecated === true) {
    emit(ids.parse, location, `${what} x-sunset ${show(before["x-sunset"])} was not a date`);
    return;
  }
  if (before.deprecated !== true || after.deprecated !== true || typeof was !== "number") return;
  if (is === undefined) emit(ids.deleted, location, `${what} x-sunset ${show(before["x-sunset"])} removed`);
  else if (typeof is === "number" && is < was) emit(ids.earlier, location, `${what} x-sunset moved earlier, from ${show(before["x-sunset"])} to ${show(after["x-sunset"])}`);
}

/** An operation deprecated or reactivated, its sunset date and its stability level. */
export function compareOperationLifecycle(before: OperationRef, after: OperationRef, emit: Emit): void {
  const was = before.op.deprecated === true;
  const is = after.op.deprecated === true;
  if (!was && is) emit("endpoint-deprecated", "operation", "operation deprecated");
  else if (was && !is) emit("endpoint-reactivated", "operation", "operation no longer deprecated");
  compareSunset(before.op, after.op, "operation", "operation", { parse: "api-path-sunset-parse", deleted: "sunset-deleted", earlier: "api-sunset-date-changed-too-small" }, emit);

  const [oldLevel, newLevel] = [before.op["x-stability-level"], after.op["x-stability-level"]];
  for (const level of [oldLevel, newLevel]) {
    if (level !== undefined && (typeof level !== "string" || !STABILITY.includes(level))) {
      emit("api-invalid-stability-level", "operation", `x-stability-level ${show(level)} is not one of ${STABILITY.join(", ")}`);
      return;
    }
  }
  if (typeof oldLevel === "string" && typeof newLevel === "string" && oldLevel !== newLevel) {
    const lower = STABILITY.indexOf(newLevel) < STABILITY.indexOf(oldLevel);
    emit(lower ? "api-stability-decreased" : "api-stability-increased", "operation", `x-stability-level changed from ${oldLevel} to ${newLevel}`);
  }
}

/** The rule for removing an operation: before its sunset, or at all. */
export function operationRemovedRule(before: OperationRef): string {
  return before.op.deprecated === true && sunsetAhead(sunsetOf(before.op)) ? "api-removed-before-sunset" : "operation-removed";
}

/** The rule for removing a parameter: a deprecated one goes quietly once its sunset has passed. */
export function parameterRemovedRule(param: Rec): string {
  if (param.deprecated !== true) return "request-parameter-removed";
  const sunset = sunsetOf(param);
  if (sunset === "invalid") return "request-parameter-sunset-parse";
  return sunsetAhead(sunset) ? "request-parameter-removed-before-sunset" : "request-parameter-removed-with-deprecation";
}

/** A parameter deprecated or reactivated, and its sunset date. */
export function compareParameterLifecycle(before: Rec, after: Rec, key: string, emit: Emit): void {
  const location = `parameter ${key}`;
  if (before.deprecated !== true && after.deprecated === true) emit("request-parameter-deprecated", location, `parameter ${key} deprecated`);
  else if (before.deprecated === true && after.deprecated !== true) emit("request-parameter-reactivated", location, `parameter ${key} no longer deprecated`);
  compareSunset(before, after, location, `parameter ${key}`, {
    parse: "request-parameter-sunset-parse", deleted: "request-parameter-sunset-deleted", earlier: "request-parameter-sunset-date-changed-too-small",
  }, emit);
}
