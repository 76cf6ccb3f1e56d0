/**
 * The signature header format: `t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<payload>">`,
 * keyed with the whole webhook secret. Parsing is strict and bounded; several `v1` entries are
 * allowed (a sender mid-way through a secret rotation signs with both).
 */
import { createHmac } from "node:crypto";
import { KeywardConfigError, KeywardError } from "../core/errors.js";

/**
 * A raw request body: the exact bytes that were signed (not re-serialized JSON).
 *
 * @example
 * app.post("/hooks", express.raw({ type: "application/json" }), (req, res) => { verifyWebhook(req.body as WebhookPayload, req.get("keyward-signature"), secret); res.sendStatus(204); });
 */
export type WebhookPayload = string | Uint8Array;

/** Longest signature header inspected. */
export const MAX_SIGNATURE_HEADER = 4096;

/** HMAC-SHA-256 of `"<timestamp>.<payload>"` under `secret`. */
export function computeSignature(payload: WebhookPayload, secret: string, timestamp: number): Buffer {
  if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
    throw new KeywardConfigError("payload", "must be the raw body as a string or Buffer (sign and verify the exact bytes, not parsed JSON)");
  }
  return createHmac("sha256", secret).update(`${timestamp}.`).update(payload).digest();
}

/**
 * A parsed signature header.
 *
 * @example
 * const { timestamp, signatures } = parseSignatureHeader(req.get("keyward-signature"));
 */
export interface ParsedSignature {
  /** The `t` value: Unix seconds. */
  timestamp: number;
  /** The `v1` signatures, 32 bytes each. */
  signatures: Buffer[];
}

const malformed = (why: string) => new KeywardError("invalid_signature", `The webhook signature header is malformed: ${why}.`);

/**
 * Parses `t=…,v1=…[,v1=…]`; other schemes (e.g. `v0=`) are ignored. Throws `invalid_signature`.
 *
 * @example
 * parseSignatureHeader("t=1700000000,v1=5257a8…"); // { timestamp: 1700000000, signatures: [<Buffer>] }
 */
export function parseSignatureHeader(header: unknown): ParsedSignature {
  if (typeof header !== "string" || header.length === 0) throw malformed("it is missing");
  if (header.length > MAX_SIGNATURE_HEADER) throw malformed("it is too long");
  let timestamp: number | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw malformed("expected comma-separated key=value pairs");
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") {
      if (timestamp !== null) throw malformed("t appears more than once");
      if (!/^\d{1,12}$/.test(value)) throw malformed("t must be a Unix time in seconds");
      timestamp = Number(value);
    } else if (key === "v1") {
      if (!/^[0-9a-f]{64}$/.test(value)) throw malformed("v1 must be 64 lower-case hex characters");
      signatures.push(Buffer.from(value, "hex"));
    }
  }
  if (timestamp === null) throw malformed("t is missing");
  if (signatures.length === 0) throw malformed("no v1 signature");
  return { timestamp, signatures };
}
