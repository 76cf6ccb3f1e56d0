/**
 * verifyWebhook(): checks a received payload against its signature header, timing-safe
 * (crypto.timingSafeEqual on the HMAC bytes), within a timestamp tolerance, and — when asked —
 * that the secret belongs to the expected mode.
 */
import { timingSafeEqual } from "node:crypto";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import { webhookSecretMode } from "./secret.js";
import { unixSeconds } from "./sign.js";
import { computeSignature, parseSignatureHeader, type WebhookPayload } from "./signature.js";

/**
 * Options for {@link verifyWebhook}.
 *
 * @example
 * verifyWebhook(body, header, [newSecret, oldSecret], { mode: "live", tolerance: 600 });
 */
export interface VerifyWebhookOptions {
  /** Largest allowed distance between the header's timestamp and now, in seconds. Defaults to 300. */
  tolerance?: number;
  /** The mode this endpoint receives (`"live"` / `"test"`); a secret of another mode is refused. Defaults to any. */
  mode?: string;
  /** The current time: Unix seconds or a Date. Defaults to now. */
  now?: number | Date;
}

/**
 * What a successful verification tells you.
 *
 * @example
 * const { timestamp, mode } = verifyWebhook(body, header, secret); // { timestamp: 1700000000, mode: "live" }
 */
export interface VerifiedWebhook {
  /** The signing time (Unix seconds). */
  timestamp: number;
  /** The mode of the secret that matched. */
  mode: string | null;
}

const MISMATCH = new KeywardError(
  "invalid_signature",
  "The webhook signature does not match the payload (tampered body, wrong secret, or a secret of the other mode).",
);

/**
 * Verifies a webhook or throws a {@link KeywardError}: `invalid_signature` (malformed header,
 * tampered payload, wrong secret or the other mode's secret), `signature_expired` (timestamp
 * outside the tolerance, past or future), `mode_forbidden` (the secret is not of `options.mode`).
 * Pass several secrets during a secret rotation.
 *
 * @example
 * app.post("/webhooks", express.raw({ type: "application/json" }), (req, res) => {
 *   verifyWebhook(req.body, req.get("keyward-signature"), process.env.WHSEC_LIVE!, { mode: "live" });
 *   res.sendStatus(204);
 * });
 */
export function verifyWebhook(
  payload: WebhookPayload,
  header: string | undefined | null,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): VerifiedWebhook {
  const tolerance = options.tolerance ?? 300;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new KeywardConfigError("tolerance", "must be a number of seconds ≥ 0");
  const secrets = typeof secret === "string" ? [secret] : [...secret];
  if (secrets.length === 0) throw new KeywardConfigError("secret", "give at least one webhook secret");
  const modes = secrets.map((s) => webhookSecretMode(s));
  if (options.mode !== undefined) {
    const wrong = modes.find((m) => m !== options.mode);
    if (wrong !== undefined)
      throw new KeywardError(
        "mode_forbidden",
        `A ${wrong ?? "mode-less"} webhook secret cannot verify ${options.mode} webhooks; use the ${options.mode} secret.`,
      );
  }
  const parsed = parseSignatureHeader(header);
  let matched = -1;
  for (let i = 0; i < secrets.length && matched < 0; i++) {
    const expected = computeSignature(payload, secrets[i]!, parsed.timestamp);
    for (const candidate of parsed.signatures) if (timingSafeEqual(candidate, expected)) matched = i;
  }
  if (matched < 0) throw MISMATCH;
  const now = options.now === undefined ? Math.floor(Date.now() / 1000) : unixSeconds(options.now, "now");
  const age = now - parsed.timestamp;
  if (age > tolerance)
    throw new KeywardError("signature_expired", `The webhook was signed ${age}s ago, more than the ${tolerance}s tolerance; it may be a replay.`);
  if (-age > tolerance)
    throw new KeywardError(
      "signature_expired",
      `The webhook timestamp is ${-age}s in the future, beyond the ${tolerance}s tolerance; check the sender's clock.`,
    );
  return { timestamp: parsed.timestamp, mode: modes[matched]! };
}
