/** KeyFormat.check (the one-pass hot-path version) accepts and refuses exactly what the spec says. */
import fc from "fast-check";
import { KeyFormat } from "keyward";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** The straightforward definition: head, length, base62 body, base62 CRC-32 of the rest as the last 6 chars. */
function reference(format: KeyFormat, secret: string): string | null | undefined {
  const heads = format.modes.length
    ? format.modes.map((m) => ({ head: `${format.prefix}_${m}_`, mode: m as string | null }))
    : [{ head: `${format.prefix}_`, mode: null }];
  for (const { head, mode } of heads) {
    if (!secret.startsWith(head) || secret.length !== head.length + 38) continue;
    const body = secret.slice(head.length);
    if (!/^[0-9A-Za-z]+$/.test(body)) return undefined;
    let crc = -1;
    for (const ch of secret.slice(0, -6)) {
      crc ^= ch.charCodeAt(0);
      for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
    let v = (crc ^ -1) >>> 0;
    let sum = "";
    for (let i = 0; i < 6; i++) {
      sum = BASE62[v % 62] + sum;
      v = Math.floor(v / 62);
    }
    return secret.endsWith(sum) ? mode : undefined;
  }
  return undefined;
}

describe.each([
  ["sk", ["live", "test"]],
  ["orbit", []],
] as const)("KeyFormat.check for prefix %s", (prefix, modes) => {
  const format = new KeyFormat({ prefix, modes: [...modes] });

  it("accepts generated keys and matches the reference on every one-character change", () => {
    for (let n = 0; n < 20; n++) {
      const secret = format.generate(modes[n % Math.max(1, modes.length)] ?? null);
      expect(format.check(secret)).toBe(reference(format, secret));
      expect(format.check(secret)).not.toBeUndefined();
      for (let i = 0; i < secret.length; i++) {
        for (const ch of ["0", "z", "_", "-", "é", "\u0000"]) {
          const changed = secret.slice(0, i) + ch + secret.slice(i + 1);
          expect(format.check(changed)).toBe(reference(format, changed));
        }
      }
    }
  });

  it("matches the reference on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => format.check(s) === reference(format, s)),
      { numRuns: 2000 },
    );
  });
});
