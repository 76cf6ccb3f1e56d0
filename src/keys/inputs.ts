/** Inputs of create / update / rotate, validated with zod into `validation_failed` errors per field. */
import { z } from "zod";
import type { Duration } from "../core/duration.js";
import { KeywardError } from "../core/errors.js";
import { rateLimitOption } from "../core/options.js";
import { requestError } from "../core/zod-issues.js";
import type { CreditRefill, KeyKind } from "../core/types.js";
import { allowedIpsField, keyName, metadataField, projectIdField } from "./fields.js";
import { creditsInput } from "./limit-options.js";

/**
 * What `create` accepts.
 *
 * @example
 * const { secret, key } = await keys.create({ name: "n8n-production", ownerId: "user_1", scopes: ["notes:read"], expiresIn: "90d" });
 */
export interface CreateKeyInput {
  /** A label, 1-128 characters (e.g. `"n8n-production"`). Required. */
  name: string;
  /** Who owns the key (your user id). Defaults to null. */
  ownerId?: string | null;
  /** `"user"` (default) or `"project"` (bound to `project`, not scope-gated). */
  kind?: KeyKind;
  /** The project a project key is bound to. Required for project keys. */
  project?: string;
  /** A user key's project allow-list; empty = every project of the owner. */
  projects?: string[];
  /** The key's mode, one of the manager's `modes`. Defaults to the first mode. */
  mode?: string;
  /** Granted scopes. Defaults to the manager's `defaultScopes`, stored on the key. */
  scopes?: string[];
  /** Your own JSON data (at most 4 KiB). */
  metadata?: Record<string, unknown>;
  /** The key's tier (see `tiers`). */
  tier?: string;
  /** Lifetime: `"90d"`, `"12h"`, seconds, or null for none. */
  expiresIn?: Duration | null;
  /** Absolute expiry instead of `expiresIn`. */
  expiresAt?: Date | number | string | null;
  /** A rate limit for this key alone, e.g. `{ limit: 10, window: "1s" }`. */
  rateLimit?: {
    /** Requests admitted per window. */ limit: number;
    /** The window, e.g. `"1s"`. */ window: Duration;
  } | null;
  /**
   * Client addresses the key may be used from: at most 64 IPv4/IPv6 addresses and CIDR ranges
   * (`"203.0.113.0/24"`, `"2001:db8::/32"`, `"198.51.100.7"`); an IPv4-mapped client address
   * (`::ffff:203.0.113.9`) matches as IPv4. A range with host bits set (`10.0.0.1/8`) is refused.
   * Null or `[]` (the default): any address. Other addresses get 403 `ip_forbidden`.
   *
   * @example
   * await keys.create({ name: "office-ci", allowedIps: ["203.0.113.0/24", "2001:db8::/32"] });
   */
  allowedIps?: string[] | null;
  /**
   * Credits the key spends: every admitted request costs 1, a route may cost more
   * (`requireScope("reports:run", { cost: 10 })`, `chargeCredits(10)`). `remaining` is the balance
   * now; `refill` resets it to `amount` every `interval` (`"1d"`: at 00:00 UTC; `"1mo"`: on the
   * 1st). Whole numbers from 0 to 10^12. Over the balance: 429 `credits_exhausted`. Defaults to none.
   *
   * @example
   * await keys.create({ name: "reports", credits: { remaining: 1000, refill: { amount: 1000, interval: "1d" } } });
   */
  credits?: {
    /** Credits available now. */ remaining: number;
    /** Resets the balance to `amount` every `interval` (`"1d"`, `"1h"`, `"1mo"`); null or absent for never. */
    refill?: CreditRefill | null;
  } | null;
}

/**
 * What `update` may change.
 *
 * @example
 * await keys.update("key_…", { name: "n8n (old)", scopes: ["notes:read"] });
 */
export interface UpdateKeyInput {
  /** A new name. */
  name?: string;
  /** New scopes (validated like `create`'s). */
  scopes?: string[];
  /** New metadata (replaces the old object). */
  metadata?: Record<string, unknown>;
  /**
   * A new IP allow-list (replaces the old one); null or `[]` for any address.
   *
   * @example
   * await keys.update("key_…", { allowedIps: ["198.51.100.7"] });
   * await keys.update("key_…", { allowedIps: null }); // any address again
   */
  allowedIps?: string[] | null;
  /**
   * New credits: the balance becomes `remaining` now (whatever was spent before) with the given
   * refill; null removes the key's credits (no credit limit). Validated like `create`'s. A key in
   * a rotation overlap shares its credits with its successor until one of them is updated.
   *
   * @example
   * await keys.update("key_…", { credits: { remaining: 5000, refill: { amount: 5000, interval: "1mo" } } });
   * await keys.update("key_…", { credits: null }); // no credit limit any more
   */
  credits?: CreateKeyInput["credits"];
}

const name = keyName(z.string());
const projectId = projectIdField(z.string());

/** @internal The zod schema (left out of the published types, which stay free of zod's). */
export const createSchema = z.strictObject({
  name,
  ownerId: z.string().min(1).max(256).nullable().optional(),
  kind: z.enum(["user", "project"]).optional(),
  project: projectId.optional(),
  projects: z.array(projectId).max(256).optional(),
  mode: z.string().optional(),
  scopes: z.array(z.unknown()).optional(),
  metadata: metadataField.optional(),
  tier: z.string().max(64).optional(),
  expiresIn: z.union([z.string().max(32), z.number(), z.null()]).optional(),
  expiresAt: z.union([z.date(), z.number(), z.string().max(64), z.null()]).optional(),
  rateLimit: z.union([rateLimitOption, z.null()]).optional(),
  allowedIps: allowedIpsField.optional(),
  credits: creditsInput.nullable().optional(),
});

/** @internal The zod schema (left out of the published types, which stay free of zod's). */
export const updateSchema = z.strictObject({
  name: name.optional(),
  scopes: z.array(z.unknown()).optional(),
  metadata: metadataField.optional(),
  allowedIps: allowedIpsField.optional(),
  credits: creditsInput.nullable().optional(),
});

/** @internal The zod schema (left out of the published types, which stay free of zod's). */
export const rotateSchema = z.strictObject({
  overlap: z.union([z.string().max(32), z.number()]).optional(),
  expiresIn: z.union([z.string().max(32), z.number(), z.null()]).optional(),
});

/** @internal Parses `input` or throws `validation_failed` with one detail per bad field. */
export function validateInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new KeywardError("validation_failed", `${what} must be an object`, { details: [{ path: "", message: "must be an object" }] });
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw requestError(result.error.issues);
}
