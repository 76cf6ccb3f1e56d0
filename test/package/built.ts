/**
 * The package tests run against `dist/`: `npm test` builds first; run alone (or after an edit of
 * `src/`), `ensureBuilt()` builds when `dist/` is older than `src/`. Test files run in parallel, so
 * the build is taken under a lock folder: a second file waits for the first build instead of
 * deleting `dist/` under it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

/** The repository root. */
export const root = join(__dirname, "..", "..");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function stale(): boolean {
  const outputs = ["dist/cjs/index.js", "dist/esm/index.js", "dist/cjs/sqlite.d.ts", "dist/esm/sqlite.d.ts"].map((f) => join(root, f));
  const built = outputs.every(existsSync) ? Math.min(...outputs.map((f) => statSync(f).mtimeMs)) : 0;
  return built < newestMtime(join(root, "src"));
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Builds `dist/` when it is older than `src/`, one test file at a time. */
export function ensureBuilt(): void {
  const lock = join(root, "dist.building");
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 180_000) rmSync(lock, { recursive: true, force: true }); // a crashed run left it behind
      sleep(200);
    }
  }
  try {
    if (stale()) execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "pipe" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
