/**
 * The JSON form of a key in management responses: an explicit list of fields (dates as ISO
 * strings), so a hash or secret can never leak through a field added to the record later.
 */
import type { ApiKey, KeyKind, KeyStatus } from "../core/types.js";

/** A key as the management API returns it. */
export interface ApiKeyJson {
  id: string;
  name: string;
  /** Display form, e.g. `sk_live_AbCd`. */
  start: string;
  ownerId: string | null;
  kind: KeyKind;
  projectId: string | null;
  projects: string[];
  mode: string | null;
  scopes: string[];
  tier: string | null;
  rateLimit: { limit: number; windowMs: number } | null;
  metadata: Record<string, unknown>;
  status: KeyStatus;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  requestCount: number;
  rotatedFrom: string | null;
  rotatedTo: string | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/**
 * The management-API view of a key.
 *
 * @example
 * res.json({ key: keyJson(await keys.get(id)) });
 */
export function keyJson(key: ApiKey): ApiKeyJson {
  return {
    id: key.id, name: key.name, start: key.start, ownerId: key.ownerId, kind: key.kind,
    projectId: key.projectId, projects: [...key.projects], mode: key.mode, scopes: [...key.scopes], tier: key.tier,
    rateLimit: key.rateLimit && { limit: key.rateLimit.limit, windowMs: key.rateLimit.windowMs }, metadata: key.metadata,
    status: key.status, createdAt: key.createdAt.toISOString(), expiresAt: iso(key.expiresAt), revokedAt: iso(key.revokedAt),
    lastUsedAt: iso(key.lastUsedAt), requestCount: key.requestCount, rotatedFrom: key.rotatedFrom, rotatedTo: key.rotatedTo,
  };
}
