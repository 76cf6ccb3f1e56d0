/** Key ids: `key_` + 8 base62 characters of creation time + 14 random, so ids sort by creation. */
import { BASE62, encodeBase62Fixed, randomBase62 } from "./base62.js";

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

/**
 * The creation time (ms since the epoch) encoded in a key id, or null for a malformed id. A
 * successor's id therefore tells when its predecessor was rotated, without a store read.
 *
 * @example
 * keyIdTime(newKeyId(1764590400000)); // 1764590400000
 */
export function keyIdTime(id: string): number | null {
  if (!isKeyId(id)) return null;
  let high = 0;
  let low = 0;
  for (let i = 4; i < 6; i++) high = high * 62 + BASE62.indexOf(id[i]!);
  for (let i = 6; i < 12; i++) low = low * 62 + BASE62.indexOf(id[i]!);
  return high * 2 ** 32 + low;
}
