// Peak RSS of the running process, for the workers that report one.
import { readFileSync } from "node:fs";

/** VmHWM of /proc/self/status in bytes: the kernel's high-water mark of this process image alone; NaN without /proc. */
export function vmHwmBytes(): number {
  try {
    const kb = /^VmHWM:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * This process's peak RSS in bytes: VmHWM where Linux has it, else `process.resourceUsage().maxRSS`.
 * Not maxRSS on Linux: it keeps the high-water mark of the image before exec, so a child spawned by
 * a large parent reports at least the parent's RSS at the fork (a node child peaking at 42 MB,
 * spawned by a 343 MB parent, says 304 MB). The bench's parents hold the fake relay and its bodies.
 */
export function peakRssBytes(): number {
  const hwm = vmHwmBytes();
  return Number.isNaN(hwm) ? process.resourceUsage().maxRSS * 1024 : hwm;
}
