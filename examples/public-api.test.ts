/**
 * The examples use keyward as a user would: every import is a package ("keyward", "keyward/sqlite",
 * "keyward/fastify", express, node:…) or a file inside the example's own folder; none reaches src/ or another folder.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const root = __dirname;
const PUBLIC_SUBPATHS = ["keyward/sqlite", "keyward/postgres", "keyward/redis", "keyward/fetch", "keyward/hono", "keyward/fastify"];
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g;

const tsFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
const importsOf = (source: string) => [...source.matchAll(IMPORT)].map((m) => m[1]!);

/** The one file every example may share: `serve.ts` (listen, or exit non-zero when the port is taken). */
const SHARED = join(root, "serve");

/** True when `spec`, imported from a file in `folder`, reaches outside the example or into keyward's internals. */
function leaves(folder: string, spec: string): boolean {
  if (spec.startsWith(".")) return !resolve(folder, spec).startsWith(folder + sep) && resolve(folder, spec) !== SHARED;
  if (/(^|\/)src(\/|$)/.test(spec)) return true;
  return spec.startsWith("keyward/") && !PUBLIC_SUBPATHS.includes(spec);
}

const exampleFiles = tsFiles(root).filter((f) => dirname(f) !== root || f === `${SHARED}.ts`);

test("every example folder is scanned", () => {
  const folders = new Set(exampleFiles.map((f) => relative(root, dirname(f))));
  expect([...folders].sort()).toEqual([
    "",
    "custom-header",
    "fastify",
    "hono",
    "lifecycle-webhook",
    "open-reads",
    "projects",
    "quickstart",
    "scoped-envelope",
    "test-live",
  ]);
});

test.each(exampleFiles.map((f) => [relative(root, f), f] as const))("%s imports only packages and its own folder", (_name, file) => {
  const specs = importsOf(readFileSync(file, "utf8"));
  expect(specs.filter((s) => leaves(dirname(file), s))).toEqual([]);
});

test("the check flags imports of src/, of another folder and of private subpaths", () => {
  const folder = join(root, "quickstart");
  const source = `import { KeyManager } from "../../src/index";\nimport x from "../projects/app";\nimport { serve } from "../serve";\nconst y = require("keyward/keys/key-manager");\nimport "./app";\nimport { SqliteStore } from "keyward/sqlite";`;
  expect(importsOf(source).filter((s) => leaves(folder, s))).toEqual(["../../src/index", "../projects/app", "keyward/keys/key-manager"]);
});
