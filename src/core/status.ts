/** Status of a stored key at a given time, and helpers shared by stores. */
import type { KeyStatus, StoredKey } from "./types.js";

/**
 * `revoked` beats `expired` beats `active`. A key expires at `expiresAt` exactly.
 *
 * @example
 * keyStatus({ revokedAt: null, expiresAt: Date.now() - 1 }, Date.now()); // "expired"
 */
export function keyStatus(key: Pick<StoredKey, "revokedAt" | "expiresAt">, now: number): KeyStatus {
  if (key.revokedAt !== null) return "revoked";
  if (key.expiresAt !== null && key.expiresAt <= now) return "expired";
  return "active";
}

/** Page size for `list`, clamped to 1..1000 (default 100). */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return 100;
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}

/** A copy safe to hand out: arrays and metadata are not shared with the store's own. */
export function copyKey(key: StoredKey): StoredKey {
  return { ...key, projects: [...key.projects], scopes: [...key.scopes], metadata: structuredClone(key.metadata), rateLimit: key.rateLimit && { ...key.rateLimit } };
}
