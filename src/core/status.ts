/** Status of a stored key at a given time, and helpers shared by stores. */
import type { KeyStatus, StoredKey } from "./types.js";

/**
 * `revoked` beats `expired` beats `disabled` beats `active`. A key expires at `expiresAt` exactly.
 *
 * @example
 * keyStatus({ revokedAt: null, expiresAt: Date.now() - 1, disabledAt: null }, Date.now()); // "expired"
 */
export function keyStatus(key: Pick<StoredKey, "revokedAt" | "expiresAt"> & { disabledAt?: number | null }, now: number): KeyStatus {
  if (key.revokedAt !== null) return "revoked";
  if (key.expiresAt !== null && key.expiresAt <= now) return "expired";
  if (key.disabledAt != null) return "disabled";
  return "active";
}

/**
 * Whether a key counts towards its owner's `maxActiveKeys`: active or disabled (a pause is
 * reversible, so it must not free a place).
 *
 * @example
 * holdsPlace({ revokedAt: null, expiresAt: null, disabledAt: Date.now() }, Date.now()); // true
 */
export function holdsPlace(key: Pick<StoredKey, "revokedAt" | "expiresAt">, now: number): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);
}

/** Page size for `list`, clamped to 1..1000 (default 100). */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return 100;
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}

/** A copy safe to hand out: arrays and metadata are not shared with the store's own. */
export function copyKey(key: StoredKey): StoredKey {
  return {
    ...key,
    projects: [...key.projects],
    allowedIps: [...key.allowedIps],
    scopes: [...key.scopes],
    metadata: structuredClone(key.metadata),
    rateLimit: key.rateLimit && { ...key.rateLimit },
    credits: key.credits ? { ...key.credits, refill: key.credits.refill && { ...key.credits.refill } } : null,
  };
}
