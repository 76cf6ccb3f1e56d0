/**
 * Packaging. The built package loads with `require` and `import` (self-reference through the
 * exports map, `keyward` and `keyward/sqlite`) with the same names as the sources, and publint
 * passes. The packed tarball as a consumer gets it (what loads, strict types under each module
 * resolution, attw) is test/package/consumer.test.ts.
 * `npm test` builds first; run alone, this file builds when dist/ is older than src/.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import * as source from "keyward";
import * as sourceSqlite from "keyward/sqlite";
import { tempDir } from "../helpers";
import { ensureBuilt } from "./built";

const root = join(__dirname, "..", "..");
const node = (args: string[], cwd = root, env: NodeJS.ProcessEnv = {}) => {
  const run = spawnSync(process.execPath, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  if (run.status !== 0) throw new Error(`node ${args.join(" ")} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
};

beforeAll(() => {
  ensureBuilt();
}, 120_000);

/** A script that loads both entry points and proves they work: create a key, verify it. */
const smoke = (load: string) => `
${load}
const keys = new main.KeyManager({ store: new sqlite.SqliteStore(":memory:"), usage: false });
const { secret } = await keys.create({ name: "smoke", scopes: ["a:read"] });
const ok = await keys.verify(secret);
await keys.close();
console.log(JSON.stringify({ main: Object.keys(main).sort(), sqlite: Object.keys(sqlite).sort(), ok: ok.ok, mode: ok.key.mode,
  error: main.KeywardError.name, prototype: new main.KeywardError("invalid_key", "x") instanceof Error }));`;

describe("the built package", () => {
  const expected = {
    main: Object.keys(source).sort(),
    sqlite: Object.keys(sourceSqlite).sort(),
    ok: true,
    mode: "live",
    error: "KeywardError",
    prototype: true,
  };

  it("loads with require() (CommonJS) and exports the same names as the sources", () => {
    const out = node([
      "-e",
      `(async () => {${smoke("const main = require('keyward'); const sqlite = require('keyward/sqlite');")}})().catch((e) => { console.error(e); process.exit(1); });`,
    ]);
    expect(JSON.parse(out)).toEqual(expected);
    expect(expected.main).toEqual(
      expect.arrayContaining([
        "KeyManager",
        "MemoryStore",
        "apiKeyAuth",
        "requireScope",
        "requireAnyScope",
        "requireMode",
        "KeywardError",
        "KeywardConfigError",
      ]),
    );
    expect(expected.sqlite).toEqual(["SQLITE_SCHEMA_VERSION", "SqliteStore"]);
  });

  it("loads with import (ESM) and exports the same names", () => {
    const out = node(["--input-type=module", "-e", smoke("const main = await import('keyward'); const sqlite = await import('keyward/sqlite');")]);
    expect(JSON.parse(out)).toEqual(expected);
  });

  it("resolves each condition of the exports map to the right build", () => {
    const out = node([
      "--input-type=module",
      "-e",
      `
      import { createRequire } from "node:module";
      const require = createRequire(process.cwd() + "/x.js");
      console.log(JSON.stringify([import.meta.resolve("keyward"), import.meta.resolve("keyward/sqlite"), require.resolve("keyward"), require.resolve("keyward/sqlite")]));`,
    ]);
    const [esm, esmSqlite, cjs, cjsSqlite] = (JSON.parse(out) as string[]).map((p) => p.replace(/^file:\/\//, "").slice(root.length));
    expect([esm, esmSqlite, cjs, cjsSqlite]).toEqual(["/dist/esm/index.js", "/dist/esm/sqlite.js", "/dist/cjs/index.js", "/dist/cjs/sqlite.js"]);
  });

  it("keyward/postgres without pg installed: a connection string is a KeywardConfigError naming `npm install pg`", () => {
    const tmp = tempDir();
    try {
      // A consumer whose node_modules holds keyward (copied, so nothing resolves from this repository) and no pg.
      mkdirSync(tmp.file("node_modules/keyward"), { recursive: true });
      cpSync(join(root, "dist"), tmp.file("node_modules/keyward/dist"), { recursive: true });
      copyFileSync(join(root, "package.json"), tmp.file("node_modules/keyward/package.json"));
      // keyward's own runtime dependencies are installed, as npm would; pg (an optional peer) is not.
      const deps = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies);
      for (const dep of deps) symlinkSync(join(root, "node_modules", dep), tmp.file(`node_modules/${dep}`), "dir");
      const probe = (load: string) => `${load}
        let answer;
        try { new PostgresStore("postgres://app@127.0.0.1:5432/app"); answer = "constructed"; }
        catch (e) { answer = [e.name, e.option, e.message]; }
        console.log(JSON.stringify({ answer, pool: typeof new PostgresStore({ query() {}, connect() {} }) }));`;
      const cjs = JSON.parse(node(["-e", probe(`const { PostgresStore } = require("keyward/postgres");`)], tmp.dir));
      const esm = JSON.parse(node(["--input-type=module", "-e", probe(`const { PostgresStore } = await import("keyward/postgres");`)], tmp.dir));
      for (const out of [cjs, esm]) {
        expect(out.answer).toEqual(["KeywardConfigError", "PostgresStore", expect.stringContaining("npm install pg")]);
        expect(out.pool).toBe("object"); // a pool the app passes in needs no driver lookup
      }
      // With pg resolvable (this repository's own node_modules) the same construction succeeds.
      expect(JSON.parse(node(["-e", probe(`const { PostgresStore } = require(${JSON.stringify(join(root, "dist/cjs/postgres.js"))});`)])).answer).toBe(
        "constructed",
      );
    } finally {
      tmp.cleanup();
    }
  });

  it("passes publint --strict", () => {
    const run = spawnSync(process.execPath, [join(root, "node_modules/publint/src/cli.js"), "--strict", "--pack", "false"], { cwd: root, encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout + run.stderr).not.toMatch(/Errors|Warnings/);
  });

  it("zero-config: apiKeyAuth() with no options opens ./keyward.db in the working directory", () => {
    const tmp = tempDir();
    try {
      const env = { KEYWARD_DB: "" };
      const out = node(
        [
          "-e",
          `const { apiKeyAuth, defaultDatabasePath } = require(${JSON.stringify(join(root, "dist/cjs/index.js"))});
        const fs = require("node:fs");
        try { apiKeyAuth({ modes: ["prod"] }); } catch (e) { console.log(e.option, fs.existsSync("keyward.db")); }
        apiKeyAuth();
        if (defaultDatabasePath() !== "keyward.db") process.exit(2);`,
        ],
        tmp.dir,
        env,
      );
      expect(out.trim()).toBe("apiKeyAuth.modes false"); // a misconfiguration opens no database
      expect(readdirSync(tmp.dir)).toContain("keyward.db");
    } finally {
      tmp.cleanup();
    }
  });
});
