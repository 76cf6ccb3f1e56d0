/**
 * Compile-only type tests (never run). `npm run typecheck` checks this file against the sources;
 * test/package/packaging.test.ts compiles it again, as CommonJS and as ESM, against the built `.d.ts`
 * through the package's exports map. Each `@ts-expect-error` line must fail to compile.
 */
import Database from "better-sqlite3";
import express from "express";
import type { IncomingMessage as HttpIncomingMessage } from "http";
import type { IncomingMessage } from "node:http";
import {
  KeyManager,
  KeywardConfigError,
  KeywardError,
  MemoryStore,
  apiKeyAuth,
  requireAnyScope,
  requireMode,
  requireScope,
  keysRouter,
  type ApiKey,
  type AuthenticatedKey,
  type KeywardErrorCode,
  type Middleware,
} from "keyward";
import { SqliteStore, type SqliteDatabase } from "keyward/sqlite";

export function typeTests(): void {
  const keys = new KeyManager({ store: new SqliteStore(":memory:"), prefix: "sk", modes: ["live", "test"] });
  const memory = new KeyManager({ store: new MemoryStore() });
  const app = express();
  const auth: Middleware = apiKeyAuth({ keys, header: "x-api-key", required: false, formatError: (e) => ({ data: null, error: e.message }) });
  app.use(auth);
  app.get("/", requireScope("a:read"), requireAnyScope("b:read", "c:read"), requireMode("live"), (req, res) => {
    // req.apiKey is typed on Express's Request by declaration merging.
    const key: AuthenticatedKey | undefined = req.apiKey;
    if (!req.apiKey) return void res.status(401).end();
    const id: string = req.apiKey.id;
    const mode: string | null = req.apiKey.mode;
    const project: string | null = req.apiKey.project;
    const scopes: readonly string[] = req.apiKey.scopes;
    // @ts-expect-error the secret is never on req.apiKey
    void req.apiKey.secret;
    // @ts-expect-error nor its hash
    void req.apiKey.hash;
    // @ts-expect-error req.apiKey is read-only
    req.apiKey.scopes = [];
    // @ts-expect-error and so are its lists
    req.apiKey.scopes.push("x:y");
    res.json({ key, id, mode, project, scopes });
  });

  // keysRouter's callbacks get Express's Request when @types/express is installed.
  app.use("/keys", keysRouter({ keys, owner: (req) => req.header("x-user"), allowedScopes: (req) => (req.get("x-role") === "admin" ? ["*"] : []) }));
  // A better-sqlite3 handle fits SqliteStore, and the store's handle is keyward's SqliteDatabase.
  const shared = new SqliteStore(new Database(":memory:"));
  const handle: SqliteDatabase = shared.db;
  const count = handle.prepare("SELECT 1").pluck().get();
  void count;

  // And on node:http's IncomingMessage, under both module names.
  const a = (req: IncomingMessage): AuthenticatedKey | undefined => req.apiKey;
  const b = (req: HttpIncomingMessage): AuthenticatedKey | undefined => req.apiKey;

  // @ts-expect-error unknown options are type errors as well as KeywardConfigErrors
  apiKeyAuth({ keys, requried: false });
  // @ts-expect-error a store is required
  new KeyManager({ prefix: "sk" });
  // @ts-expect-error ApiKey views carry no hash
  void ({} as ApiKey).hash;

  void (async () => {
    const { secret, key } = await memory.create({ name: "ci", scopes: ["a:read"], expiresIn: "90d" });
    const s: string = secret;
    const view: ApiKey = key;
    const result = await memory.verify(secret);
    if (result.ok) {
      const principal: AuthenticatedKey = result.key;
      void principal;
    } else {
      const code: KeywardErrorCode = result.error.code;
      void code;
    }
    void s;
    void view;
  })();

  const describe = (e: unknown): string => {
    if (e instanceof KeywardConfigError) return e.option;
    if (!(e instanceof KeywardError)) return "other";
    switch (e.code) {
      case "missing_key":
      case "insufficient_scope":
        return `${e.status}`;
      // @ts-expect-error codes are a closed union
      case "no_such_code":
        return "";
      default:
        return e.code;
    }
  };
  void a;
  void b;
  void describe;
}
