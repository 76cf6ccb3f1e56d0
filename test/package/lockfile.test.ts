/**
 * The lockfile installs as committed: `npm ci` (what CI and a fresh clone run) refuses a
 * package-lock.json that is out of step with package.json, for example one that lacks the optional
 * packages of other platforms. `npm ci --dry-run` checks exactly that without touching node_modules.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = join(__dirname, "..", "..");

it("package-lock.json is in step with package.json, so `npm ci` works on a fresh clone", () => {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const run = spawnSync(npm, ["ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  const errors = run.stderr.split("\n").filter((line) => line.startsWith("npm error") && /Missing|Invalid|sync/i.test(line));
  expect(errors).toEqual([]);
  expect(run.status).toBe(0);
});
