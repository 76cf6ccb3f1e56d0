/**
 * Test servers and fixtures written in TypeScript, run as plain Node processes. esbuild bundles an
 * entry and its relative imports into one CommonJS file under test-artifacts/entries/ and leaves
 * every package external, so `keyward` resolves (the package's self-reference, as a user's
 * `require("keyward")` does) to the dist/ that `npm test` has just built; `ensureBuilt()` rebuilds
 * a stale dist/ when a test file runs alone. A process then starts with plain `node`, without
 * transpiling src/ on every start as `--import tsx` did.
 */
import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureBuilt, root } from "./package/built";

const bundled = new Map<string, string>();

/**
 * The path of a plain-JavaScript build of `entry` (a .ts file) for `node`, `spawn` or `fork`;
 * built once per test process and rebuilt when the entry is newer.
 *
 * @example
 * const child = spawn(process.execPath, [nodeEntry(join(__dirname, "server.ts"))]);
 */
export function nodeEntry(entry: string): string {
  const known = bundled.get(entry);
  if (known) return known;
  ensureBuilt();
  const name = relative(root, entry).replace(/[\\/]/g, "_").replace(/\.ts$/, "");
  const stamp = createHash("sha256")
    .update(`${entry}:${statSync(entry).mtimeMs}:${process.pid}`)
    .digest("hex")
    .slice(0, 12);
  const dir = join(root, "test-artifacts", "entries");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.cjs`);
  // Written aside, then renamed: parallel test files never run a half-written bundle.
  const partial = join(dir, `${name}.${stamp}.tmp.cjs`);
  buildSync({
    entryPoints: [entry],
    outfile: partial,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    packages: "external",
    external: ["keyward", "keyward/*"],
    logLevel: "error",
  });
  renameSync(partial, out);
  bundled.set(entry, out);
  return out;
}
