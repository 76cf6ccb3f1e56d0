/** signWebhook(): the `t=…,v1=…` header value a sender attaches to a webhook request. */
import { KeywardConfigError } from "../core/errors.js";
import { computeSignature, type WebhookPayload } from "./signature.js";
import { webhookSecretMode } from "./secret.js";

/** Options for {@link signWebhook}. */
export interface SignWebhookOptions {
  /** Signing time: Unix seconds or a Date. Defaults to now. */
  timestamp?: number | Date;
}

/**
 * Signs a raw payload: returns `t=<unix>,v1=<hex HMAC-SHA-256 of "<t>.<payload>">`.
 *
 * @example
 * const body = JSON.stringify({ type: "model.published", id: "m_1" });
 * const header = signWebhook(body, secret); // send as e.g. `Keyward-Signature: t=…,v1=…`
 */
export function signWebhook(payload: WebhookPayload, secret: string, options: SignWebhookOptions = {}): string {
  webhookSecretMode(secret);
  const t = options.timestamp === undefined ? Math.floor(Date.now() / 1000) : unixSeconds(options.timestamp, "timestamp");
  return `t=${t},v1=${computeSignature(payload, secret, t).toString("hex")}`;
}

/** Unix seconds from a Date or a non-negative whole number of seconds. */
export function unixSeconds(value: number | Date, option: string): number {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new KeywardConfigError(option, "must be a Date or a whole number of Unix seconds");
  return seconds;
}
