// A throw-away copy of the project's src/ and openapi/ under .cache/, with node_modules linked, for
// tests that change the spec set and regenerate without touching the checkout.
import { cp, mkdir, mkdtemp, symlink } from "node:fs/promises";
import path from "node:path";
import { ROOT } from "./spec.js";

/** Copies src/ and openapi/ into a new .cache/<prefix>XXXXXX directory; returns its path. */
export async function copyProject(prefix: string): Promise<string> {
  await mkdir(path.join(ROOT, ".cache"), { recursive: true });
  const copy = await mkdtemp(path.join(ROOT, ".cache", prefix));
  await cp(path.join(ROOT, "src"), path.join(copy, "src"), { recursive: true });
  await cp(path.join(ROOT, "openapi"), path.join(copy, "openapi"), { recursive: true });
  await symlink(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
  return copy;
}
