/** Key ids: `key_` + 8 base62 characters of creation time + 14 random, so ids sort by creation. */
import { encodeBase62Fixed, randomBase62 } from "./base62.js";

/**
 * A new key id, sortable by creation time.
 *
 * @example
 * newKeyId(Date.now()); // "key_0LmQ7x2a9fKq3ZrT1bN0cD"
 */
export function newKeyId(now: number): string {
  const high = Math.floor(now / 2 ** 32);
  const low = now % 2 ** 32;
  return `key_${encodeBase62Fixed(high, 2)}${encodeBase62Fixed(low, 6)}${randomBase62(14)}`;
}

/** Whether `id` has the shape of a key id (cheap check before a store read). */
export function isKeyId(id: unknown): id is string {
  return typeof id === "string" && /^key_[0-9A-Za-z]{22}$/.test(id);
}
