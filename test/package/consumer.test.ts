/**
 * The packed package, as a consumer gets it. `npm pack` once (the tarball `npm publish` would
 * upload; `npm test` has just built dist/), unpack it into fresh consumer directories and give
 * them its runtime dependencies by symlinking this repository's installed copies (an `npm
 * install` of the tarball would compile better-sqlite3 for minutes and needs the registry), then:
 * - a node:http consumer without Express loads `keyward` (require and import) with neither express
 *   nor better-sqlite3, and runs apiKeyAuth, a guard and keysRouter as plain middleware; the
 *   zero-config store loads better-sqlite3 on first use, in both builds;
 * - its strict TypeScript (`skipLibCheck: false`, no @types of optional packages, only @types/node)
 *   compiles under moduleResolution node16, bundler and node10 (and without esModuleInterop: the
 *   published declarations reach no zod declarations, scripts/build.mjs checks that);
 * - an Express consumer with @types/express and @types/better-sqlite3 compiles
 *   test/package/types.test-d.ts (req.apiKey, keysRouter's Express request) as CommonJS and as ESM;
 * - a Fastify consumer (fastify and fastify-plugin installed) loads `keyward/fastify` with require
 *   and import, `keyward` alone loads neither, the plugin answers real HTTP, and its strict
 *   TypeScript (`request.apiKey`, route config `scopes`) compiles under node16;
 * - @arethetypeswrong/cli finds no problem in the tarball.
 * The five TypeScript programs run in this process (test/package/typecheck.ts), sharing one
 * TypeScript load and the parsed lib and @types files.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "../helpers";
import { ensureBuilt } from "./built";
import { tsc } from "./typecheck";

const root = join(__dirname, "..", "..");
const modules = join(root, "node_modules");
const tmp = tempDir();
let tarball = "";
let packed: {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
} = {};

/** A consumer directory holding the unpacked tarball, its runtime dependencies and `extra` packages, all but keyward symlinked. */
function consumer(name: string, extra: string[]): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `consumer-${name}`, private: true }));
  execFileSync("tar", ["-xzf", tarball, "-C", dir]);
  renameSync(join(dir, "package"), join(dir, "node_modules", "keyward"));
  for (const pkg of [...Object.keys(packed.dependencies ?? {}), ...extra]) {
    mkdirSync(dirname(join(dir, "node_modules", pkg)), { recursive: true }); // a scoped package's scope folder
    symlinkSync(join(modules, pkg), join(dir, "node_modules", pkg), "dir");
  }
  return dir;
}

function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const run = spawnSync(process.execPath, args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, timeout: 30_000 });
  if (run.status !== 0) throw new Error(`node ${args.join(" ")} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

beforeAll(() => {
  ensureBuilt();
  // --ignore-scripts: dist/ is fresh, so prepack's build would only repeat it.
  const out = execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp.dir], {
    cwd: root,
    encoding: "utf8",
  });
  tarball = join(tmp.dir, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename);
  packed = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
}, 120_000);

afterAll(() => (process.env.KEEP_CONSUMER ? console.log(tmp.dir) : tmp.cleanup()));

describe("the packed package", () => {
  it("ships dist/, LICENSE and no Express: express is an optional peer", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    expect(files).toEqual(
      expect.arrayContaining(["package/LICENSE", "package/dist/cjs/index.js", "package/dist/esm/index.js", "package/dist/cjs/sqlite.d.ts"]),
    );
    expect(Object.keys(packed.dependencies ?? {}).sort()).toEqual(["better-sqlite3", "lru-cache", "zod"]);
    expect(packed.peerDependencies?.express).toBeDefined();
    expect(packed.peerDependenciesMeta?.express).toEqual({ optional: true });
    expect(packed.peerDependenciesMeta?.hono).toEqual({ optional: true });
  });

  it("@arethetypeswrong/cli finds no problem", () => {
    const run = spawnSync(process.execPath, [join(modules, "@arethetypeswrong/cli/dist/index.js"), tarball, "--format", "json"], { encoding: "utf8" });
    expect(JSON.parse(run.stdout).problems).toEqual({});
    expect(run.status).toBe(0);
  });
});

describe("a node:http consumer without Express", () => {
  let dir = "";
  beforeAll(() => {
    dir = consumer("plain", []);
    symlinkSync(join(modules, "@types/node"), join(dir, "node_modules/@types/node"), "dir");
  });

  /** Loads keyward (`load` binds `kw`), reports what was loaded, then serves apiKeyAuth + a guard and keysRouter on node:http, and opens the zero-config store. */
  const script = (load: string, cache: string) => `
    const started = process.hrtime.bigint();
    ${load}
    const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
    const heavy = (files) => files.filter((f) => /[\\\\/]node_modules[\\\\/](express|better-sqlite3|body-parser|router|hono|fastify|fastify-plugin|@opentelemetry)[\\\\/]/.test(f));
    const atLoad = { modules: ${cache}.length, heavy: heavy(${cache}), loadMs };
    const http = await import("node:http");
    const keys = new kw.KeyManager({ store: new kw.MemoryStore() });
    const auth = kw.apiKeyAuth({ keys });
    const guard = kw.requireScope("notes:read");
    const router = kw.keysRouter({ keys, owner: (req) => req.headers["x-user"] ?? null });
    const server = http.createServer((req, res) => {
      const fail = (err) => { res.statusCode = 500; res.end(String(err)); };
      if (req.url.startsWith("/keys")) {
        req.url = req.url.slice(5) || "/";
        return router(req, res, (err) => (err ? fail(err) : (res.statusCode = 404, res.end())));
      }
      auth(req, res, (err) => err ? fail(err) : guard(req, res, (err2) => err2 ? fail(err2) : res.end(JSON.stringify({ id: req.apiKey.id }))));
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const base = "http://127.0.0.1:" + server.address().port;
    const created = await fetch(base + "/keys", { method: "POST", headers: { "x-user": "u1", "content-type": "application/json" }, body: JSON.stringify({ name: "ci", scopes: ["notes:read"] }) });
    const { secret, key } = await created.json();
    const shown = await fetch(base + "/keys/" + key.id, { headers: { "x-user": "u1" } });
    const authed = await fetch(base + "/notes", { headers: { authorization: "Bearer " + secret } });
    const anonymous = await fetch(base + "/notes");
    server.close();
    await keys.close();
    kw.apiKeyAuth(); // zero-config: opens $KEYWARD_DB, loading better-sqlite3 now
    console.log(JSON.stringify({ atLoad, created: created.status, shown: shown.status, authed: [authed.status, (await authed.json()).id === key.id], anonymous: anonymous.status,
      sqliteLoaded: heavy(${cache}).some((f) => f.includes("better-sqlite3")) }));`;

  const expected = { created: 201, shown: 200, authed: [200, true], anonymous: 401, sqliteLoaded: true };

  it("require('keyward') loads neither express nor better-sqlite3, and works as plain middleware", () => {
    const db = join(dir, "cjs.db");
    const out = JSON.parse(
      node(
        [
          "-e",
          `(async () => {${script(`const kw = require("keyward");`, "Object.keys(require.cache)")}})().catch((e) => { console.error(e); process.exit(1); });`,
        ],
        dir,
        { KEYWARD_DB: db },
      ),
    );
    expect(out).toMatchObject({ ...expected, atLoad: { heavy: [] } });
    expect(out.atLoad.modules).toBeLessThan(200);
    expect(existsSync(db)).toBe(true);
  });

  it("import 'keyward' (ESM) likewise, and loads better-sqlite3 lazily from the ESM build", () => {
    const db = join(dir, "esm.db");
    const load = `const kw = await import("keyward"); const { createRequire } = await import("node:module"); const req = createRequire(process.cwd() + "/x.js");`;
    const out = JSON.parse(node(["--input-type=module", "-e", script(load, "Object.keys(req.cache)")], dir, { KEYWARD_DB: db }));
    expect(out).toMatchObject({ ...expected, atLoad: { heavy: [] } });
    expect(existsSync(db)).toBe(true);
  });

  it("keyward/fetch and keyward/hono load without hono, express or better-sqlite3, and fetchAuth answers Web Requests", () => {
    const out = JSON.parse(
      node(
        [
          "-e",
          `(async () => {
      const kw = require("keyward"); const { fetchAuth } = require("keyward/fetch"); const hono = require("keyward/hono");
      const heavy = Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](express|better-sqlite3|hono|@opentelemetry)[\\\\/]/.test(f));
      const keys = new kw.KeyManager({ store: new kw.MemoryStore() });
      const { secret } = await keys.create({ name: "ci" });
      const auth = fetchAuth({ keys });
      const ok = await auth(new Request("http://x/", { headers: { authorization: "Bearer " + secret } }));
      const no = await auth(new Request("http://x/"));
      await keys.close();
      console.log(JSON.stringify({ heavy, ok: ok.ok, refused: no.response.status, hono: typeof hono.apiKeyAuth }));
    })().catch((e) => { console.error(e); process.exit(1); });`,
        ],
        dir,
      ),
    );
    expect(out).toEqual({ heavy: [], ok: true, refused: 401, hono: "function" });
  });

  it("strict TypeScript without @types of optional packages compiles under node16, bundler and node10", () => {
    writeFileSync(
      join(dir, "consumer.ts"),
      `
      import { createServer, type IncomingMessage } from "node:http";
      import { KeyManager, apiKeyAuth, keysRouter, requireScope, type AuthenticatedKey, type Middleware } from "keyward";
      import { SqliteStore, type SqliteDatabase } from "keyward/sqlite";
      import { PostgresStore } from "keyward/postgres";
      import { RedisCounters } from "keyward/redis";
      import { fetchAuth, type FetchAuthResult } from "keyward/fetch";

      export function plain(): void {
        const store = new SqliteStore(":memory:");
        const db: SqliteDatabase = store.db;
        const keys = new KeyManager({ store, prefix: "sk", modes: ["live", "test"] });
        const auth: Middleware = apiKeyAuth({ keys });
        const guard = requireScope("notes:read");
        const router = keysRouter({ keys, owner: (req) => (typeof req.headers["x-user"] === "string" ? req.headers["x-user"] : null) });
        createServer((req, res) => {
          const key: AuthenticatedKey | undefined = req.apiKey;
          void key;
          auth(req, res, () => guard(req, res, () => router(req, res, () => res.end())));
        });
        // @ts-expect-error no Express types here: keysRouter's request is node:http's
        keysRouter({ keys, owner: (req) => req.header("x-user") });
        const read = (req: IncomingMessage): string | undefined => req.apiKey?.id;
        const web = async (request: Request): Promise<Response> => {
          const result: FetchAuthResult = await fetchAuth({ keys })(request);
          return result.ok ? Response.json({ id: result.key?.id }, { headers: result.headers }) : result.response;
        };
        void [db, read, PostgresStore, RedisCounters, web];
      }
    `,
    );
    copyFileSync(join(dir, "consumer.ts"), join(dir, "consumer.cts"));
    copyFileSync(join(dir, "consumer.ts"), join(dir, "consumer.mts"));
    // skipDefaultLibCheck only skips TypeScript's own lib.*.d.ts; the package's declarations are checked.
    const base = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: "ES2022", types: ["node"] };
    expect([
      tsc(dir, { ...base, module: "node16", moduleResolution: "node16" }, ["consumer.cts", "consumer.mts"], "node16"),
      tsc(dir, { ...base, module: "esnext", moduleResolution: "bundler" }, ["consumer.ts"], "bundler"),
      tsc(dir, { ...base, module: "commonjs", moduleResolution: "node10" }, ["consumer.ts"], "node10"),
    ]).toEqual(["node16: exit 0", "bundler: exit 0", "node10: exit 0"]);
  }, 60_000);
});

describe("an Express consumer with @types/express and @types/better-sqlite3", () => {
  it("compiles the type tests (req.apiKey, keysRouter's Express request) as CommonJS and as ESM, skipLibCheck off", () => {
    const dir = consumer("express", ["express"]);
    for (const types of [
      "node",
      "express",
      "express-serve-static-core",
      "serve-static",
      "qs",
      "range-parser",
      "send",
      "mime",
      "http-errors",
      "body-parser",
      "connect",
      "better-sqlite3",
    ]) {
      if (existsSync(join(modules, "@types", types))) symlinkSync(join(modules, "@types", types), join(dir, "node_modules/@types", types), "dir");
    }
    // One program per module format: the Express augmentation is global, so a program holding
    // both builds would pass even if one build lost it.
    const compile = (file: string) => {
      copyFileSync(join(__dirname, "types.test-d.ts"), join(dir, file));
      const options = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: "ES2022", types: ["node"] };
      return tsc(dir, { ...options, module: "node16", moduleResolution: "node16", esModuleInterop: true }, [file], file);
    };
    expect([compile("consumer.cts"), compile("consumer.mts")]).toEqual(["consumer.cts: exit 0", "consumer.mts: exit 0"]);
  }, 60_000);
});

describe("a Fastify consumer with fastify and fastify-plugin", () => {
  let dir = "";
  beforeAll(() => {
    dir = consumer("fastify", ["fastify", "fastify-plugin"]);
    symlinkSync(join(modules, "@types/node"), join(dir, "node_modules/@types/node"), "dir");
  });

  /** Loads keyward (reporting whether fastify came with it), then keyward/fastify, and serves one protected route. */
  const script = (loadMain: string, loadFastify: string, cache: string) => `
    ${loadMain}
    const framework = (files) => files.filter((f) => /[\\\\/]node_modules[\\\\/](fastify|fastify-plugin|express|hono)[\\\\/]/.test(f));
    const withMain = framework(${cache});
    ${loadFastify}
    const keys = new kw.KeyManager({ store: new kw.MemoryStore() });
    const { secret } = await keys.create({ name: "ci", scopes: ["notes:read"] });
    const app = Fastify();
    await app.register(kf.keyward, { keys });
    app.get("/notes", { config: { scopes: ["notes:read"] } }, async (request) => ({ id: request.apiKey.id }));
    app.post("/notes", { preHandler: kf.requireScope("notes:write") }, async () => ({ created: true }));
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const statuses = [];
    for (const [method, headers] of [["GET", { authorization: "Bearer " + secret }], ["GET", {}], ["POST", { authorization: "Bearer " + secret }]])
      statuses.push((await fetch(base + "/notes", { method, headers })).status);
    await app.close();
    await keys.close();
    console.log(JSON.stringify({ withMain, statuses, fastifyLoaded: framework(${cache}).some((f) => /[\\\\/]fastify[\\\\/]/.test(f)) }));`;

  const expected = { withMain: [], statuses: [200, 401, 403], fastifyLoaded: true };

  it("require('keyward') loads no fastify; require('keyward/fastify') registers into a real Fastify", () => {
    const load = `const kw = require("keyward");`;
    const loadFastify = `const kf = require("keyward/fastify"); const Fastify = require("fastify");`;
    const out = node(
      ["-e", `(async () => {${script(load, loadFastify, "Object.keys(require.cache)")}})().catch((e) => { console.error(e); process.exit(1); });`],
      dir,
    );
    expect(JSON.parse(out)).toEqual(expected);
  });

  it("import 'keyward/fastify' (ESM) likewise", () => {
    const load = `const kw = await import("keyward"); const { createRequire } = await import("node:module"); const req = createRequire(process.cwd() + "/x.js");`;
    const loadFastify = `const kf = await import("keyward/fastify"); const { default: Fastify } = await import("fastify");`;
    const out = node(["--input-type=module", "-e", script(load, loadFastify, "Object.keys(req.cache)")], dir);
    expect(JSON.parse(out)).toEqual(expected);
  });

  it("strict TypeScript compiles request.apiKey, route config scopes and requireScope under node16", async () => {
    writeFileSync(
      join(dir, "consumer.ts"),
      `
      import Fastify from "fastify";
      import { KeyManager, MemoryStore, type AuthenticatedKey } from "keyward";
      import { keyward, requireScope, type FastifyApiKeyAuthOptions } from "keyward/fastify";

      export async function main(): Promise<void> {
        const keys = new KeyManager({ store: new MemoryStore() });
        const options: FastifyApiKeyAuthOptions = { keys, header: "x-api-key", global: false };
        const app = Fastify();
        await app.register(keyward, options);
        app.get("/notes", { config: { scopes: ["notes:read"] } }, async (request) => {
          const key: AuthenticatedKey | undefined = request.apiKey;
          return { id: key?.id };
        });
        app.post("/notes", { preHandler: requireScope("notes:write"), config: { apiKey: true } }, async () => ({ created: true }));
        // @ts-expect-error config.scopes is a list of scope strings
        app.get("/bad", { config: { scopes: "notes:read" } }, async () => null);
      }
    `,
    );
    copyFileSync(join(dir, "consumer.ts"), join(dir, "consumer.cts"));
    copyFileSync(join(dir, "consumer.ts"), join(dir, "consumer.mts"));
    const options = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: "ES2022", types: ["node"] };
    expect(tsc(dir, { ...options, module: "node16", moduleResolution: "node16" }, ["consumer.cts", "consumer.mts"], "node16")).toBe("node16: exit 0");
  }, 60_000);
});

describe("a consumer with @opentelemetry/api installed", () => {
  let dir = "";
  beforeAll(() => {
    dir = consumer("otel", ["@opentelemetry/api"]);
  });

  /** Loads keyward (`load` binds `kw`), notes whether @opentelemetry is loaded, then loads keyward/otel (`loadOtel` binds `otel`) and instruments a manager. */
  const script = (load: string, loadOtel: string, cache: string) => `
    const otelFiles = () => ${cache}.filter((f) => /[\\\\/]node_modules[\\\\/]@opentelemetry[\\\\/]/.test(f)).length;
    ${load}
    const keys = new kw.KeyManager({ store: new kw.MemoryStore(), usage: false });
    const { secret } = await keys.create({ name: "ci" });
    const before = { files: otelFiles(), ok: (await keys.verify(secret)).ok };
    ${loadOtel}
    const stop = otel.instrument(keys); // the global (no-op) providers
    const after = { files: otelFiles(), ok: (await keys.verify(secret)).ok };
    stop();
    await keys.close();
    console.log(JSON.stringify({ before, loaded: after.files > 0, ok: after.ok, exports: Object.keys(otel).sort() }));`;
  const expected = { before: { files: 0, ok: true }, loaded: true, ok: true, exports: ["ATTR", "METRIC", "SPAN_NAME", "instrument"] };

  it("require('keyward') does not load @opentelemetry/api; require('keyward/otel') does, and instruments", () => {
    const body = script(`const kw = require("keyward");`, `const otel = require("keyward/otel");`, "Object.keys(require.cache)");
    const out = JSON.parse(node(["-e", `(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });`], dir));
    expect(out).toEqual(expected);
    // The ESM build's named imports from @opentelemetry/api (a CommonJS package) link too.
    const esm = `const kw = await import("keyward"); const otel = await import("keyward/otel");
      const keys = new kw.KeyManager({ store: new kw.MemoryStore(), usage: false }); const stop = otel.instrument(keys);
      const { secret } = await keys.create({ name: "ci" }); const ok = (await keys.verify(secret)).ok; stop(); await keys.close();
      console.log(JSON.stringify({ ok }));`;
    expect(JSON.parse(node(["--input-type=module", "-e", esm], dir))).toEqual({ ok: true });
  });

  it("import 'keyward' (ESM) and its other entry points never load it (a trap package that throws when loaded)", () => {
    const trap = join(tmp.dir, "otel-trap");
    mkdirSync(join(trap, "node_modules", "@opentelemetry", "api"), { recursive: true });
    writeFileSync(join(trap, "package.json"), JSON.stringify({ name: "consumer-otel-trap", private: true }));
    execFileSync("tar", ["-xzf", tarball, "-C", trap]);
    renameSync(join(trap, "package"), join(trap, "node_modules", "keyward"));
    for (const pkg of Object.keys(packed.dependencies ?? {})) symlinkSync(join(modules, pkg), join(trap, "node_modules", pkg), "dir");
    const api = join(trap, "node_modules", "@opentelemetry", "api");
    writeFileSync(join(api, "package.json"), JSON.stringify({ name: "@opentelemetry/api", version: "1.9.0", main: "index.js" }));
    writeFileSync(join(api, "index.js"), 'throw new Error("@opentelemetry/api was loaded");\n');
    const out = node(
      [
        "--input-type=module",
        "-e",
        `const kw = await import("keyward"); await import("keyward/fetch"); await import("keyward/hono");
        const keys = new kw.KeyManager({ store: new kw.MemoryStore(), usage: false });
        const { secret } = await keys.create({ name: "ci" });
        const ok = (await keys.verify(secret)).ok;
        await keys.close();
        const otel = await import("keyward/otel").then(() => "loaded", (e) => e.message);
        console.log(JSON.stringify({ ok, otel }));`,
      ],
      trap,
    );
    const answer = JSON.parse(out);
    expect(answer.ok).toBe(true);
    expect(answer.otel).toContain("@opentelemetry/api"); // keyward/otel does reach the trap
  });
});
