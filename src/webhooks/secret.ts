/**
 * Webhook signing secrets, one per mode: `whsec_test_…` / `whsec_live_…`, 32 random
 * base62 characters (≈190 bits), so a test secret can never verify a live event.
 */
import { randomBase62 } from "../core/base62.js";
import { KeywardConfigError } from "../core/errors.js";
import { NAME_PATTERN } from "../core/key-format.js";

/** Random characters in a webhook secret (32 × log2(62) ≈ 190 bits). */
export const WEBHOOK_SECRET_RANDOM_LENGTH = 32;

const SECRET = /^whsec_(?:([a-z0-9]{1,16})_)?([0-9A-Za-z]{32,128})$/;

/**
 * A new signing secret for `mode` (or without a mode when `mode` is null/omitted).
 *
 * @example
 * createWebhookSecret("test"); // "whsec_test_4fQ…" (store it; show it to the receiving app once)
 * createWebhookSecret("live"); // "whsec_live_…"
 */
export function createWebhookSecret(mode?: string | null): string {
  if (mode === undefined || mode === null) return `whsec_${randomBase62(WEBHOOK_SECRET_RANDOM_LENGTH)}`;
  if (typeof mode !== "string" || !NAME_PATTERN.test(mode))
    throw new KeywardConfigError("mode", `"${String(mode).slice(0, 40)}" is not a valid mode: use 1-16 characters from [a-z0-9], e.g. "live"`);
  return `whsec_${mode}_${randomBase62(WEBHOOK_SECRET_RANDOM_LENGTH)}`;
}

/**
 * The mode of a webhook secret (`"live"`, `"test"`, or null for one without a mode); throws
 * {@link KeywardConfigError} when `secret` is not a webhook secret. Never echoes the secret.
 *
 * @example
 * webhookSecretMode("whsec_live_…"); // "live"
 */
export function webhookSecretMode(secret: unknown): string | null {
  const match = typeof secret === "string" ? SECRET.exec(secret) : null;
  if (!match) throw new KeywardConfigError("secret", "is not a webhook signing secret: expected whsec_<mode>_<random>, as made by createWebhookSecret()");
  return match[1] ?? null;
}
