/** Hashing of secrets: SHA-256 by default, HMAC-SHA-256 with a server-side pepper. Hex output. */
import * as crypto from "node:crypto";

/** A function from a secret to the hex digest stored and looked up in place of it. */
export type SecretHasher = (secret: string) => string;

const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: string) => string }).hash;

/**
 * The hasher for a pepper (HMAC-SHA-256) or for none (SHA-256, one-shot `crypto.hash` when present).
 *
 * @example
 * const hash = createHasher();          // sha256(secret) in hex
 * const peppered = createHasher("s3cr3t-pepper"); // hmac-sha256(pepper, secret) in hex
 */
export function createHasher(pepper?: string | Buffer): SecretHasher {
  if (pepper !== undefined && pepper.length > 0) {
    const key = crypto.createSecretKey(typeof pepper === "string" ? Buffer.from(pepper) : pepper);
    return (secret) => crypto.createHmac("sha256", key).update(secret).digest("hex");
  }
  if (oneShot) return (secret) => oneShot("sha256", secret, "hex");
  return (secret) => crypto.createHash("sha256").update(secret).digest("hex");
}
