/** Local helpers for the keysRouter tests: an app whose "session" is the `x-user` header, and a store snapshot. */
import express from "express";
import { keysRouter, type KeyManager, type KeysRouterOptions, type KeyStore } from "keyward";

/** An Express app mounting keysRouter at /api/keys; the signed-in user is the `x-user` request header. */
export function routerApp(keys: KeyManager, options: Partial<KeysRouterOptions> = {}, before?: (app: express.Express) => void) {
  const app = express();
  before?.(app);
  app.use("/api/keys", keysRouter({ keys, owner: (req) => req.header("x-user"), ...options }));
  return app;
}

/**
 * Every stored row, for asserting that a refused request wrote nothing. Usage counters
 * (`requestCount`, `lastUsedAt`) are left out: the usage recorder flushes them on its own timer.
 */
export async function snapshot(store: KeyStore): Promise<string> {
  const rows = await store.list({ limit: 1000, now: 0 });
  return JSON.stringify(rows.map(({ requestCount: _count, lastUsedAt: _used, ...row }) => row));
}
