/** Base62 alphabet, random base62 strings (rejection-sampled, unbiased) and fixed-width integers. */
import { randomBytes } from "node:crypto";

export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** True when the char code is in [0-9A-Za-z]. */
export function isBase62Code(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** `length` random base62 characters from `crypto.randomBytes`, without modulo bias. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (let i = 0; i < bytes.length && out.length < length; i++) {
      const b = bytes[i]! & 63; // 0..63; 62 and 63 rejected
      if (b < 62) out += BASE62[b];
    }
  }
  return out;
}

/** `value` (an unsigned 32-bit integer) as exactly `width` base62 characters. */
export function encodeBase62Fixed(value: number, width: number): string {
  let out = "";
  let v = value >>> 0;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}
