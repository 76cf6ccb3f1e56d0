// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with .d.ts files, using tsc only.
// The emits skip type checking (`--noCheck`, same output): `npm run typecheck` checks src/ with
// the tests, and `npm test` and `prepack` run it before this build.
// The .d.ts files need no types of optional packages: the one type import of express (an optional
// peer, for `keysRouter`'s request type) is marked `@ts-ignore` here, since tsc drops that comment;
// any other import of an optional package's types in a .d.ts fails the build. First regenerates
// src/page/assets/client-bundle.ts from the keys page browser script (build-client.mjs).
import { spawn } from "node:child_process";
import { rmSync, writeFileSync, chmodSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeClientBundle } from "./build-client.mjs";

/** One tsc run in a process of its own; resolves when it exits 0, rejects otherwise. */
const tsc = (args) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code, signal) => (code === 0 ? resolve() : reject(new Error(`build: tsc ${args.join(" ")} failed (${signal ?? code})`))));
  });
writeClientBundle();
rmSync("dist", { recursive: true, force: true });
// --stripInternal: declarations tagged @internal (the zod schemas behind the public input types)
// stay out of the .d.ts, so a consumer's program does not load and check zod's large declarations.
// The two builds run at once (one tsc process each): on two cores that halves the build's wall time.
const results = await Promise.allSettled([
  tsc(["-p", "tsconfig.build.json", "--outDir", "dist/esm", "--stripInternal", "--noCheck"]),
  tsc(["-p", "tsconfig.build.json", "--outDir", "dist/cjs", "--module", "commonjs", "--moduleResolution", "node10", "--stripInternal", "--noCheck"]),
]);
const failed = results.find((r) => r.status === "rejected");
if (failed) {
  console.error(failed.reason.message);
  process.exit(1);
}
writeFileSync("dist/esm/package.json", JSON.stringify({ type: "module" }) + "\n");
writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
for (const bin of ["dist/cjs/cli/main.js"]) if (existsSync(bin)) chmodSync(bin, 0o755);

const OPTIONAL = /^(express|better-sqlite3|pg|ioredis|connect)(\/|$)/;
// The entry points' declarations must not reach zod's either (see --stripInternal above).
const PUBLIC = new Set(["index.d.ts", "sqlite.d.ts", "postgres.d.ts", "redis.d.ts", "fetch.d.ts", "hono.d.ts", "fastify.d.ts", "otel.d.ts"]);
const IGNORE = "// @ts-ignore -- express is an optional peer: without its types this is `any` and the fallback type applies";
for (const entry of readdirSync("dist", { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
  const file = join(entry.parentPath, entry.name);
  const lines = readFileSync(file, "utf8").split("\n");
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const from =
      /^import type \{ Request as ExpressRequest \} from "([^"]+)";$/.exec(lines[i]) ?? /(?:from\s+|import\(\s*|require\(\s*)"([^"]+)"/.exec(lines[i]);
    if (!from || !OPTIONAL.test(from[1]) || /^\s*\*/.test(lines[i])) continue;
    if (from[1] === "express" && lines[i].startsWith("import type { Request as ExpressRequest }")) {
      if (lines[i - 1] !== IGNORE) {
        lines.splice(i, 0, IGNORE);
        i++;
        changed = true;
      }
      continue;
    }
    throw new Error(`build: ${file}:${i + 1} imports the types of an optional package: ${lines[i]}`);
  }
  if (changed) writeFileSync(file, lines.join("\n"));
}

// Walk the declarations each entry point reaches; none may import zod.
for (const build of ["dist/esm", "dist/cjs"]) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const [, spec] of text.matchAll(/(?:from\s+|import\(\s*|import\s+)"([^"]+)"/g)) {
      if (spec === "zod" || spec.startsWith("zod/")) throw new Error(`build: ${file} reaches zod's declarations; tag the declaration @internal`);
      if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".d.ts")));
    }
  };
  for (const entry of PUBLIC) visit(join(build, entry));
}
