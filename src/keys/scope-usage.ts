/**
 * `keys.scopeUsage(id, days)`: which scopes a key's requests were admitted for over the last
 * `days` UTC days (the store's per-day rows plus uses not yet flushed), and which of the key's
 * granted scopes none of them needed: the list a least-privilege review narrows the key by.
 */
import { DAY_MS } from "../core/duration.js";
import { KeywardConfigError } from "../core/errors.js";
import { type RequiredScope, ScopeSet } from "../core/scopes.js";
import type { ScopeUseDelta, ScopeUseTotal } from "../core/types.js";
import type { ManagerConfig } from "./options.js";
import type { StoreCalls } from "./store-calls.js";
import type { UsageRecorder } from "./usage-recorder.js";

/**
 * One scope a key's requests were admitted for.
 *
 * @example
 * const use: ScopeUse = { scope: "nodes:read", count: 42, lastUsedAt: new Date("2026-11-30T17:02:11Z") };
 */
export interface ScopeUse {
  /** The scope as the guard (or scope check) required it, e.g. `nodes:read`. */
  scope: string;
  /** Requests admitted because of it in the period. */
  count: number;
  /** The latest of them. */
  lastUsedAt?: Date;
}

/**
 * What {@link KeyManager.scopeUsage} answers.
 *
 * @example
 * const { used, unused } = await keys.scopeUsage(id, 30);
 * if (unused.length && used.length) await keys.update(id, { scopes: used.map((u) => u.scope) }); // least privilege
 */
export interface ScopeUsage {
  /**
   * The scopes requests were admitted for, most used first, limited to those the key still holds
   * (so `used.map((u) => u.scope)` is always a narrowing of the key's scopes).
   */
  used: ScopeUse[];
  /** The key's own scopes (as stored) that none of the used scopes needed: never used in the period. */
  unused: string[];
}

/** The check form of a concrete scope as a guard recorded it. */
function asRequired(scope: string): RequiredScope {
  const colon = scope.indexOf(":");
  return { scope, resource: colon < 0 ? scope : scope.slice(0, colon), hasAction: colon >= 0 };
}

/**
 * Sums stored totals and unflushed rows into the answer for a key holding `scopes`.
 *
 * @example
 * summarize(["nodes:*", "users:read"], undefined, [{ scope: "nodes:read", count: 3, lastUsedAt: 1 }], []);
 * // { used: [{ scope: "nodes:read", count: 3, lastUsedAt: new Date(1) }], unused: ["users:read"] }
 */
export function summarize(
  scopes: readonly string[],
  implies: ManagerConfig["implies"],
  stored: readonly ScopeUseTotal[],
  pending: readonly Pick<ScopeUseDelta, "scope" | "count" | "lastUsedAt">[],
  projectKey = false,
): ScopeUsage {
  const totals = new Map<string, { count: number; lastUsedAt: number }>();
  for (const row of [...stored, ...pending]) {
    const t = totals.get(row.scope);
    if (t === undefined) totals.set(row.scope, { count: row.count, lastUsedAt: row.lastUsedAt });
    else {
      t.count += row.count;
      if (row.lastUsedAt > t.lastUsedAt) t.lastUsedAt = row.lastUsedAt;
    }
  }
  const grant = ScopeSet.compile(projectKey ? ["*"] : scopes, implies);
  const used: ScopeUse[] = [];
  for (const [scope, t] of totals) {
    if (t.count > 0 && grant.has(asRequired(scope))) used.push({ scope, count: t.count, lastUsedAt: new Date(t.lastUsedAt) });
  }
  used.sort((a, b) => b.count - a.count || (a.scope < b.scope ? -1 : 1));
  const needed = used.map((u) => asRequired(u.scope));
  const unused = scopes.filter((scope) => {
    const one = ScopeSet.compile([scope], implies);
    return !needed.some((n) => one.has(n));
  });
  return { used, unused };
}

/**
 * The scope usage of key `id` over the last `days` UTC days (1-90) up to `now`. Throws 404
 * `not_found` for an unknown key, and a {@link KeywardConfigError} when the store keeps no scope usage.
 *
 * @example
 * const usage = await scopeUsage(store, recorder, config, "key_…", 30, Date.now());
 */
export async function scopeUsage(
  store: StoreCalls,
  recorder: UsageRecorder | null,
  config: Pick<ManagerConfig, "implies">,
  id: string,
  days: number,
  now: number,
): Promise<ScopeUsage> {
  await store.init();
  const key = await store.mustFind(id);
  const backend = store.store;
  if (typeof backend.scopeUsage !== "function") {
    throw new KeywardConfigError(
      "store",
      `${backend.constructor.name} keeps no scope usage (it has no scopeUsage method); use MemoryStore, SqliteStore or PostgresStore`,
    );
  }
  const span = Math.min(90, Math.max(1, Math.floor(days)));
  const today = Math.floor(now / DAY_MS);
  const from = today - span + 1;
  const stored = await store.call(() => backend.scopeUsage!(key.id, from, today));
  const pending = (recorder?.pendingScopes(key.id) ?? []).filter((row) => row.day >= from && row.day <= today);
  return summarize(key.scopes, config.implies, stored, pending, key.kind === "project");
}
