/**
 * The JSON form of a key in management responses: an explicit list of fields (dates as ISO
 * strings), so a hash or secret can never leak through a field added to the record later.
 */
import type { ApiKey, CreditRefill } from "../core/types.js";

/**
 * A key's credits in the management API.
 *
 * @example
 * const { key } = (await res.json()) as { key: ApiKeyJson };
 * console.log(key.credits?.remaining, key.credits?.refillsAt);
 */
export interface CreditsJson {
  /** Credits left now (null when the counter store cannot tell). */
  remaining: number | null;
  /** The refill, or null for none. */
  refill: CreditRefill | null;
  /** When the balance next refills (ISO 8601), or null for never. */
  refillsAt: string | null;
}

/**
 * A key as the management API returns it: the fields of {@link ApiKey}, with dates as ISO strings.
 *
 * @example
 * const { key } = (await res.json()) as { key: ApiKeyJson };
 * new Date(key.createdAt);
 */
export type ApiKeyJson = {
  [K in Exclude<keyof ApiKey, "credits">]: ApiKey[K] extends Date ? string : ApiKey[K] extends Date | null ? string | null : ApiKey[K];
} & {
  /** The key's credits (`remaining` left now, the refill, `refillsAt` as an ISO string), or null. */
  credits: CreditsJson | null;
};

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/**
 * The management-API view of a key.
 *
 * @example
 * res.json({ key: keyJson(await keys.get(id)) });
 */
export function keyJson(key: ApiKey): ApiKeyJson {
  return {
    id: key.id,
    name: key.name,
    start: key.start,
    ownerId: key.ownerId,
    kind: key.kind,
    projectId: key.projectId,
    projects: [...key.projects],
    mode: key.mode,
    scopes: [...key.scopes],
    tier: key.tier,
    rateLimit: key.rateLimit && { limit: key.rateLimit.limit, windowMs: key.rateLimit.windowMs },
    credits: key.credits && {
      remaining: key.credits.remaining,
      refill: key.credits.refill && { ...key.credits.refill },
      refillsAt: iso(key.credits.refillsAt),
    },
    metadata: key.metadata,
    status: key.status,
    createdAt: key.createdAt.toISOString(),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    disabledAt: iso(key.disabledAt),
    allowedIps: [...key.allowedIps],
    lastUsedAt: iso(key.lastUsedAt),
    requestCount: key.requestCount,
    rotatedFrom: key.rotatedFrom,
    rotatedTo: key.rotatedTo,
  };
}
