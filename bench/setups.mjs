/**
 * The servers the load benchmark compares. Each setup builds a request listener for one GET route
 * (`/v1/ping`, answering `{"ok":true}`) and says which headers a valid request carries. Every setup
 * runs in its own process (see server.mjs), so nothing one of them allocates or JITs slows another.
 * Plain JavaScript over the built package (dist/), so the servers run exactly what users run.
 */
import { createHash, hash as cryptoHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import connect from "connect";
import express from "express";
import { KeyManager, MemoryStore, apiKeyAuth, requireScope } from "../dist/esm/index.js";
import { SqliteStore } from "../dist/esm/sqlite.js";

/**
 * What a setup hands the server process.
 * @typedef {{ listener: import("node:http").RequestListener, headers: Record<string, string>, notes?: string, close?: () => unknown }} Built
 */

/**
 * One compared configuration. `diagnostic` setups run only when named in BENCH_SETUPS: they split
 * keyward's cost into parts and are not part of the default comparison.
 * @typedef {{ name: string, label: string, diagnostic?: boolean, build: () => Promise<Built> }} Setup
 */

const BODY = JSON.stringify({ ok: true });
const PATH = "/v1/ping";

/** The plain node:http answer every setup ends with. */
/** @param {import("node:http").ServerResponse} res */
function sendOk(res) {
  res.statusCode = 200;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", BODY.length);
  res.end(BODY);
}

/** @param {import("node:http").ServerResponse} res */
function notFound(res) {
  res.statusCode = 404;
  res.end();
}

/** One SHA-256 of a string, hex: the one-shot `crypto.hash` where Node has it (as keyward uses), else createHash. */
const sha256Hex =
  typeof cryptoHash === "function"
    ? (/** @type {string} */ s) => cryptoHash("sha256", s, "hex")
    : (/** @type {string} */ s) => createHash("sha256").update(s).digest("hex");

const tempFile = (/** @type {string} */ name) => join(mkdtempSync(join(tmpdir(), "keyward-bench-")), name);

/** Limits high enough never to refuse during a run, so every request pays for both counters. */
const HIGH = { monthlyRequests: 1_000_000_000, rateLimit: { limit: 1_000_000_000, window: "1m" } };

/** A KeyManager on a store with one key holding `nodes:read`, with or without tier limits. */
/** @param {"memory" | "sqlite" | "memory-limits"} kind */
async function keyward(kind) {
  const limited = kind !== "memory";
  const file = kind === "sqlite" ? tempFile("keys.db") : null;
  // bench:instructions may stretch the wall-clock timers (INSTR_TIME_SCALE): see bench/instructions.mts.
  // KeyManager's defaults are a 1 s usage flush and a 5 s cache TTL, bounded by a 5 s maxStaleness
  // without an invalidation channel: the TTL is stretched only with the bound.
  const scale = Number(process.env.KEYWARD_BENCH_TIME_SCALE) || 1;
  const seconds = (/** @type {number} */ s) => `${s * scale}s`;
  const timers = scale === 1 ? {} : { usage: { flushInterval: seconds(1) }, cache: { ttl: seconds(5) }, maxStaleness: seconds(5) };
  const keys = new KeyManager({ store: file ? new SqliteStore(file) : new MemoryStore(), ...timers, ...(limited ? { tiers: { bench: HIGH } } : {}) });
  const { secret } = await keys.create({ name: "bench", scopes: ["nodes:read"], ...(limited ? { tier: "bench" } : {}) });
  const store = file ? `SqliteStore (WAL, synchronous=NORMAL) at ${file}` : "MemoryStore";
  return { keys, secret, notes: `${store}; usage tracking${limited ? " + per-key rate limit + monthly quota" : ""} on` };
}

const bearer = (/** @type {string} */ secret) => ({ authorization: `Bearer ${secret}` });

/**
 * What the bare servers are sent: the same request as keyward's setups (an Authorization header
 * with a key of the same length, which they ignore), so the comparison measures only what the
 * server does with it. Parsing the header costs Node ~2.4k instructions per request on node:http
 * and ~3.2k on Express (measured with and without it).
 */
const SAME_REQUEST = bearer("sk_live_" + "a".repeat(38));

/**
 * node:http with keyward as a user would write it: the middleware, then the guard, then the answer.
 * @param {Function} auth @param {Function} guard
 */
function plainHttp(auth, guard) {
  return (req, res) => {
    if (req.url !== PATH) return notFound(res);
    auth(req, res, (err) => {
      if (err) return fail(res);
      guard(req, res, (err2) => (err2 ? fail(res) : sendOk(res)));
    });
  };
}

/**
 * keyward on a framework, as a user would write it: apiKeyAuth, then requireScope on the route.
 * @param {"memory" | "sqlite" | "memory-limits"} kind @param {"express" | "http" | "connect"} framework
 * @param {import("../dist/esm/index.js").ApiKeyAuthOptions} [options]
 * @param {boolean} [guarded] false: a pass-through instead of `requireScope` (a route that checks no scope)
 * @returns {Promise<Built>}
 */
async function keywardOn(kind, framework, options = {}, guarded = true) {
  const { keys, secret, notes } = await keyward(kind);
  const auth = apiKeyAuth({ keys, ...options });
  const guard = guarded ? requireScope("nodes:read") : (_req, _res, next) => next();
  let listener;
  if (framework === "http") listener = plainHttp(auth, guard);
  else if (framework === "connect") {
    const app = connect();
    app.use(auth);
    app.use(PATH, guard);
    app.use(PATH, (_req, res) => sendOk(res));
    listener = app;
  } else {
    const app = express();
    app.use(auth);
    app.get(PATH, guard, (_req, res) => {
      res.json({ ok: true });
    });
    listener = app;
  }
  return { listener, headers: bearer(secret), notes, close: () => keys.close() };
}

/**
 * The floor of a key check that looks keys up by hash and reports its limits: reads the Bearer
 * header, hashes it once (SHA-256, looked up in a Set) and writes two constant RateLimit fields.
 * @returns {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => boolean}
 */
function floorCheck() {
  const known = new Set([sha256Hex(SAME_REQUEST.authorization.slice(7))]);
  return (req, res) => {
    const header = req.headers.authorization;
    if (typeof header !== "string" || !known.has(sha256Hex(header.slice(7)))) return false;
    res.setHeader("ratelimit-policy", '"window";q=1000000000;w=60, "monthly";q=1000000000;w=2592000');
    res.setHeader("ratelimit", '"window";r=999999999;t=42, "monthly";r=999999999;t=600000');
    return true;
  };
}

/**
 * The bench route on `app` behind a no-op route middleware (where keyward's `requireScope` goes).
 * @param {import("express").Express} app
 */
function routeBehindNoopGuard(app) {
  app.get(
    PATH,
    (_req, _res, next) => next(),
    (_req, res) => {
      res.json({ ok: true });
    },
  );
}

/** @param {import("node:http").ServerResponse} res */
function fail(res) {
  res.statusCode = 500;
  res.end();
}

/**
 * In the order the load benchmark runs them: each keyward setup next to the bare server it is
 * compared with, so the two run close together in time.
 * @type {Setup[]}
 */
export const SETUPS = [
  {
    name: "http",
    label: "bare node:http",
    build: async () => ({ listener: (req, res) => (req.url === PATH ? sendOk(res) : notFound(res)), headers: SAME_REQUEST }),
  },
  {
    name: "kw-http-sqlite",
    label: "keyward, node:http, SQLite, all features",
    build: () => keywardOn("sqlite", "http"),
  },
  {
    name: "kw-connect-sqlite",
    label: "keyward, Connect, SQLite, all features",
    build: () => keywardOn("sqlite", "connect"),
  },
  {
    name: "express",
    label: "bare Express 5",
    build: async () => {
      const app = express();
      app.get(PATH, (_req, res) => {
        res.json({ ok: true });
      });
      return { listener: app, headers: SAME_REQUEST };
    },
  },
  {
    name: "kw-express-sqlite",
    label: "keyward, Express 5, SQLite, all features",
    build: () => keywardOn("sqlite", "express"),
  },
  {
    name: "handwritten",
    label: "hand-written Express middleware: Bearer + SHA-256 + Map + scope",
    build: async () => {
      // What teams write by hand: no store, no limits, no usage tracking.
      const secret = "sk_live_" + createHash("sha256").update(String(Math.random())).digest("base64url").slice(0, 38);
      const keys = new Map([[createHash("sha256").update(secret).digest("hex"), { id: "key_1", scopes: ["nodes:read"] }]]);
      const app = express();
      app.use((req, res, next) => {
        const header = req.headers.authorization;
        if (typeof header !== "string" || !header.startsWith("Bearer ")) return void res.status(401).json({ error: "missing_key" });
        const key = keys.get(createHash("sha256").update(header.slice(7)).digest("hex"));
        if (!key) return void res.status(401).json({ error: "invalid_key" });
        req.apiKey = key;
        next();
      });
      const scope = (name) => (req, res, next) => (req.apiKey.scopes.includes(name) ? next() : res.status(403).json({ error: "insufficient_scope" }));
      app.get(PATH, scope("nodes:read"), (_req, res) => {
        res.json({ ok: true });
      });
      return { listener: app, headers: bearer(secret), notes: "in-memory Map of SHA-256 hashes (createHash), req.apiKey assigned; no store, limits or usage" };
    },
  },
  {
    name: "express-noop",
    label: "Express 5 + two no-op middleware (floor for any middleware)",
    build: async () => {
      const app = express();
      app.use((_req, _res, next) => next());
      routeBehindNoopGuard(app);
      return { listener: app, headers: SAME_REQUEST };
    },
  },
  {
    name: "express-floor",
    label:
      "Express 5 + http-floor's work as apiKeyAuth + a route guard: the header read, one SHA-256, two constant RateLimit headers, a no-op guard (floor for any key check in that shape)",
    diagnostic: true,
    build: async () => {
      const admits = floorCheck();
      const app = express();
      app.use((req, res, next) => (admits(req, res) ? next() : fail(res)));
      routeBehindNoopGuard(app);
      return { listener: app, headers: SAME_REQUEST };
    },
  },
  {
    name: "kw-express-memory",
    label: "keyward, Express 5, MemoryStore",
    build: () => keywardOn("memory", "express"),
  },
  {
    name: "passport",
    label: "passport + passport-headerapikey",
    build: async () => {
      const { default: passport } = await import("passport");
      const { HeaderAPIKeyStrategy } = await import("passport-headerapikey");
      // What the package's README suggests, with the key stored hashed (SHA-256) in a Map: no DB, no scopes.
      const secret = "pk_" + createHash("sha256").update(String(Math.random())).digest("hex");
      const users = new Map([[createHash("sha256").update(secret).digest("hex"), { id: "user_1", scopes: ["nodes:read"] }]]);
      passport.use(
        new HeaderAPIKeyStrategy({ header: "Authorization", prefix: "Bearer " }, false, (apikey, done) => {
          done(null, users.get(createHash("sha256").update(apikey).digest("hex")) ?? false);
        }),
      );
      const app = express();
      app.use(passport.initialize());
      app.get(PATH, passport.authenticate("headerapikey", { session: false }), (_req, res) => {
        res.json({ ok: true });
      });
      return { listener: app, headers: bearer(secret), notes: "in-memory Map of SHA-256 hashes (no store, no limits, no usage)" };
    },
  },
  {
    name: "better-auth",
    label: "better-auth api-key plugin, SQLite",
    build: async () => {
      const [{ betterAuth }, { apiKey }, { getMigrations }, { default: Database }, pkg] = await Promise.all([
        import("better-auth"),
        import("@better-auth/api-key"),
        import("better-auth/db/migration"),
        import("better-sqlite3"),
        import("better-auth/package.json", { with: { type: "json" } }).catch(() => ({ default: { version: "?" } })),
      ]);
      const file = tempFile("better-auth.db");
      const db = new Database(file);
      db.pragma("journal_mode = WAL");
      const options = {
        database: db,
        secret: "bench-secret-bench-secret-bench-secret-0123456789",
        baseURL: "http://127.0.0.1",
        emailAndPassword: { enabled: true },
        logger: { disabled: true },
        telemetry: { enabled: false },
        // Its default per-key limit is 10 requests a day; raise it so every request is admitted.
        plugins: [apiKey({ rateLimit: { enabled: true, timeWindow: 60_000, maxRequests: 1_000_000_000 } })],
      };
      const auth = betterAuth(options);
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      const { user } = await auth.api.signUpEmail({ body: { email: "bench@example.com", password: "bench-password-123", name: "bench" } });
      const created = await auth.api.createApiKey({
        body: { userId: user.id, name: "bench", rateLimitEnabled: true, rateLimitMax: 1_000_000_000, rateLimitTimeWindow: 60_000 },
      });
      const verify = auth.api.verifyApiKey;
      const app = express();
      app.get(PATH, (req, res, next) => {
        const key = req.headers["x-api-key"];
        if (typeof key !== "string") {
          res.status(401).json({ error: "missing" });
          return;
        }
        verify({ body: { key } }).then((r) => {
          if (r.valid) res.json({ ok: true });
          else res.status(401).json({ error: "invalid" });
        }, next);
      });
      return {
        listener: app,
        headers: { "x-api-key": created.key },
        notes: `better-auth ${pkg.default.version} + @better-auth/api-key, better-sqlite3 (WAL) at ${file}; verifyApiKey per request, rate limit on (high)`,
        close: () => db.close(),
      };
    },
  },
  {
    name: "http-floor",
    label: "node:http reading the Bearer header, one SHA-256 and two constant RateLimit headers (floor for any key check that reports its limits)",
    diagnostic: true,
    build: async () => {
      const admits = floorCheck();
      return {
        listener: (req, res) => {
          if (req.url !== PATH) return notFound(res);
          if (!admits(req, res)) return fail(res);
          sendOk(res);
        },
        headers: SAME_REQUEST,
      };
    },
  },
  {
    name: "kw-http-memory",
    label: "keyward, node:http, MemoryStore, no limits",
    diagnostic: true,
    build: () => keywardOn("memory", "http"),
  },
  {
    name: "kw-http-memory-unguarded",
    label: "keyward, node:http, MemoryStore, no limits, no scope guard",
    diagnostic: true,
    build: () => keywardOn("memory", "http", {}, false),
  },
  {
    name: "kw-http-memory-limits",
    label: "keyward, node:http, MemoryStore, limits, RateLimit headers",
    diagnostic: true,
    build: () => keywardOn("memory-limits", "http"),
  },
  {
    name: "kw-express-sqlite-noheaders",
    label: "keyward, Express 5, SQLite, all features, rateLimitHeaders: false",
    diagnostic: true,
    build: () => keywardOn("sqlite", "express", { rateLimitHeaders: false }),
  },
  {
    name: "kw-http-sqlite-noheaders",
    label: "keyward, node:http, SQLite, all features, rateLimitHeaders: false",
    diagnostic: true,
    build: () => keywardOn("sqlite", "http", { rateLimitHeaders: false }),
  },
];

/**
 * Fastify and Hono, each compared with its own bare server and the bearer-auth plugin its users
 * reach for. Opt-in (`diagnostic`): run them by name, e.g.
 * `INSTR_SETUPS=fastify,kw-fastify-sqlite,fastify-bearer,hono,kw-hono-sqlite,hono-bearer`. The
 * frameworks load only when one of these setups is built. Fastify serves through `app.routing`
 * and Hono through @hono/node-server's request listener, so every setup runs on the same node:http server.
 * @type {Setup[]}
 */
const FRAMEWORK_SETUPS = [
  {
    name: "fastify",
    label: "bare Fastify 5",
    diagnostic: true,
    build: async () => {
      const { default: Fastify } = await import("fastify");
      const app = Fastify();
      app.get(PATH, async () => ({ ok: true }));
      await app.ready();
      return { listener: app.routing, headers: SAME_REQUEST, close: () => app.close() };
    },
  },
  {
    name: "kw-fastify-sqlite",
    label: "keyward, Fastify 5, SQLite, all features",
    diagnostic: true,
    build: async () => {
      const [{ default: Fastify }, { keyward: plugin }] = await Promise.all([import("fastify"), import("../dist/esm/fastify.js")]);
      const { keys, secret, notes } = await keyward("sqlite");
      const app = Fastify();
      await app.register(plugin, { keys });
      app.get(PATH, { config: { scopes: ["nodes:read"] } }, async () => ({ ok: true }));
      await app.ready();
      return { listener: app.routing, headers: bearer(secret), notes: `${notes}; route config scopes`, close: () => app.close().then(() => keys.close()) };
    },
  },
  {
    name: "fastify-bearer",
    label: "@fastify/bearer-auth on Fastify 5",
    diagnostic: true,
    build: async () => {
      const [{ default: Fastify }, { default: bearerAuth }] = await Promise.all([import("fastify"), import("@fastify/bearer-auth")]);
      // The plugin compares the token against a fixed set in constant time: no store, scopes, limits or usage.
      const secret = "sk_live_" + createHash("sha256").update(String(Math.random())).digest("base64url").slice(0, 38);
      const app = Fastify();
      await app.register(bearerAuth, { keys: new Set([secret]) });
      app.get(PATH, async () => ({ ok: true }));
      await app.ready();
      return {
        listener: app.routing,
        headers: bearer(secret),
        notes: "a fixed key set, constant-time compare (no store, scopes, limits or usage)",
        close: () => app.close(),
      };
    },
  },
  {
    name: "hono",
    label: "bare Hono (@hono/node-server)",
    diagnostic: true,
    build: async () => {
      const [{ Hono }, { getRequestListener }] = await Promise.all([import("hono"), import("@hono/node-server")]);
      const app = new Hono();
      app.get(PATH, (c) => c.json({ ok: true }));
      return { listener: getRequestListener(app.fetch), headers: SAME_REQUEST };
    },
  },
  {
    name: "kw-hono-sqlite",
    label: "keyward, Hono (@hono/node-server), SQLite, all features",
    diagnostic: true,
    build: async () => {
      const [{ Hono }, { getRequestListener }, kwHono] = await Promise.all([import("hono"), import("@hono/node-server"), import("../dist/esm/hono.js")]);
      const { keys, secret, notes } = await keyward("sqlite");
      const app = new Hono();
      app.use(kwHono.apiKeyAuth({ keys }));
      app.get(PATH, kwHono.requireScope("nodes:read"), (c) => c.json({ ok: true }));
      return { listener: getRequestListener(app.fetch), headers: bearer(secret), notes, close: () => keys.close() };
    },
  },
  {
    name: "hono-bearer",
    label: "hono/bearer-auth (@hono/node-server)",
    diagnostic: true,
    build: async () => {
      const [{ Hono }, { getRequestListener }, { bearerAuth }] = await Promise.all([import("hono"), import("@hono/node-server"), import("hono/bearer-auth")]);
      const secret = "sk_live_" + createHash("sha256").update(String(Math.random())).digest("base64url").slice(0, 38);
      const app = new Hono();
      app.use(bearerAuth({ token: secret }));
      app.get(PATH, (c) => c.json({ ok: true }));
      return {
        listener: getRequestListener(app.fetch),
        headers: bearer(secret),
        notes: "one fixed token, timing-safe compare (no store, scopes, limits or usage)",
      };
    },
  },
];
SETUPS.push(...FRAMEWORK_SETUPS);

/**
 * Starts a built setup on 127.0.0.1 at a free port.
 * @param {Built} built
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function listen(built) {
  const server = createServer(built.listener);
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
