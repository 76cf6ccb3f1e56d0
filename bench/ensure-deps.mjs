/**
 * `npm run bench:deps`: installs the benchmark's own packages (bench/package.json: the competitors
 * and load generators keyward is compared with) into bench/node_modules when any is missing, from
 * bench/package-lock.json (`npm ci`). keyward's own install (`npm ci` at the root) never needs them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { dependencies } = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const missing = Object.keys(dependencies).filter((name) => !existsSync(join(here, "node_modules", name, "package.json")));
if (missing.length > 0) {
  process.stderr.write(`bench: installing the benchmark's packages into bench/node_modules (missing: ${missing.join(", ")})\n`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const command = existsSync(join(here, "package-lock.json")) ? "ci" : "install";
  execFileSync(npm, [command, "--prefix", here, "--no-audit", "--no-fund"], { stdio: "inherit" });
}
