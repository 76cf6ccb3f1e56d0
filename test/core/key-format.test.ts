/**
 * Key format. Generate/parse/check round trip, the `start` display form, formats
 * without modes, randomness, checksum rejection without a store read, case sensitivity, `pattern()`.
 */
import { KeyFormat, KeyManager, MemoryStore, KeywardConfigError } from "keyward";
import { countingStore } from "../counting-store";

const BODY = 38; // 32 random + 6 checksum characters

describe("KeyFormat", () => {
  const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });

  it("generates <prefix>_<mode>_<body> keys that parse back to their parts", () => {
    for (const mode of ["live", "test"]) {
      const secret = format.generate(mode);
      expect(secret).toMatch(new RegExp(`^sk_${mode}_[0-9A-Za-z]{${BODY}}$`));
      expect(format.parse(secret)).toEqual({ prefix: "sk", mode, body: secret.slice(`sk_${mode}_`.length) });
      expect(format.check(secret)).toBe(mode);
    }
    expect(format.generate()).toMatch(/^sk_live_/); // first mode by default
  });

  it("keeps prefix + mode + 4 body characters as the display form", () => {
    const secret = format.generate("test");
    expect(format.start(secret)).toBe(secret.slice(0, "sk_test_".length + 4));
    const long = new KeyFormat({ prefix: "averylongprefix1", modes: ["production"] });
    const s2 = long.generate("production");
    expect(long.start(s2)).toBe(`averylongprefix1_production_${s2.slice(28, 32)}`);
  });

  it("supports formats without a mode (orbit_…)", () => {
    const orbit = new KeyFormat({ prefix: "orbit" });
    const secret = orbit.generate();
    expect(secret).toMatch(new RegExp(`^orbit_[0-9A-Za-z]{${BODY}}$`));
    expect(orbit.parse(secret)).toEqual({ prefix: "orbit", mode: null, body: secret.slice(6) });
    expect(orbit.check(secret)).toBeNull();
    expect(orbit.start(secret)).toBe(secret.slice(0, 10));
    expect(() => orbit.generate("live")).toThrow(KeywardConfigError);
    // A moded key is not a key of the mode-less format and vice versa.
    expect(orbit.parse(new KeyFormat({ prefix: "orbit", modes: ["live"] }).generate("live"))).toBeNull();
    expect(format.parse(secret)).toBeNull();
  });

  it("carries at least 160 random bits (32 base62 characters, all distinct across 2000 keys)", () => {
    expect(32 * Math.log2(62)).toBeGreaterThanOrEqual(160);
    const bodies = new Set<string>();
    const seen = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const body = format.parse(format.generate("live"))!.body.slice(0, 32);
      bodies.add(body);
      for (const ch of body) seen.set(ch, (seen.get(ch) ?? 0) + 1);
    }
    expect(bodies.size).toBe(2000);
    expect(seen.size).toBe(62); // every base62 character shows up: no truncated alphabet
  });

  it("rejects any single-character change through the checksum", () => {
    const secret = format.generate("live");
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let tried = 0;
    for (let i = "sk_live_".length; i < secret.length; i++) {
      for (const c of ["0", "z", "A"]) {
        if (secret[i] === c) continue;
        const typo = secret.slice(0, i) + c + secret.slice(i + 1);
        expect(format.parse(typo)).toBeNull();
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(100);
    // Swapping two adjacent different characters is caught too.
    const i = secret.split("").findIndex((ch, j) => j >= 8 && j < secret.length - 1 && ch !== secret[j + 1]);
    const swapped = secret.slice(0, i) + secret[i + 1] + secret[i] + secret.slice(i + 2);
    expect(format.parse(swapped)).toBeNull();
    expect(alphabet).toHaveLength(62);
  });

  it("is case-sensitive: a key with its case flipped is not the key", () => {
    const secret = format.generate("live");
    const body = secret.slice(8);
    const flipped = "sk_live_" + body.replace(/[a-zA-Z]/, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    expect(flipped).not.toBe(secret);
    expect(format.parse(flipped)).toBeNull();
    expect(format.parse(secret.toUpperCase())).toBeNull();
    expect(format.parse("SK_LIVE_" + body)).toBeNull();
  });

  it("refuses wrong prefix, unknown mode, wrong length and non-strings without throwing", () => {
    const secret = format.generate("live");
    for (const bad of [
      "",
      "sk_",
      "sk_live_",
      secret + "a",
      secret.slice(0, -1),
      "pk" + secret.slice(2),
      secret.replace("_live_", "_prod_"),
      secret.replace("_live_", "_test_"), // checksum covers the mode
      secret.slice(0, 20) + "-" + secret.slice(21),
      `${secret} `,
      ` ${secret}`,
      "sk_live_" + "é".repeat(BODY),
    ]) {
      expect(format.parse(bad)).toBeNull();
      expect(format.check(bad)).toBeUndefined();
    }
    for (const bad of [undefined, null, 42, {}, [], Symbol("x")]) expect(format.parse(bad)).toBeNull();
  });

  it("pattern() matches keys in text for secret scanners, and nothing else", () => {
    const re = format.pattern();
    const live = format.generate("live");
    const test = format.generate("test");
    expect(re.test(`export TOKEN=${live}\n`)).toBe(true);
    expect(`a ${test} b`.match(re)?.[0]).toBe(test);
    expect(re.test(live.replace("_live_", "_prod_"))).toBe(false);
    expect(re.test("sk_live_short")).toBe(false);
    const global = new RegExp(re.source, "g");
    expect(`${live},${test}`.match(global)).toEqual([live, test]);
    const orbit = new KeyFormat({ prefix: "orbit" });
    expect(orbit.pattern().test(orbit.generate())).toBe(true);
  });

  it("validates prefix and modes", () => {
    for (const prefix of ["", "SK", "s-k", "sk_", "a".repeat(17)]) expect(() => new KeyFormat({ prefix })).toThrow(KeywardConfigError);
    expect(() => new KeyFormat({ prefix: "sk", modes: ["Live"] })).toThrow(/modes/);
    expect(() => new KeyFormat({ prefix: "sk", modes: ["live", "live"] })).toThrow(/repeat/);
    expect(() => format.generate("prod")).toThrow(/unknown mode "prod"/);
  });
});

describe("KeyManager and the key format", () => {
  it("refuses a mistyped key as invalid_key without reading the store", async () => {
    const store = countingStore(new MemoryStore());
    const keys = new KeyManager({ store: store.store, usage: false });
    const { secret, key } = await keys.create({ name: "ci" });
    expect(key.start).toBe(secret.slice(0, "sk_live_".length + 4));
    store.reset();
    const typo = secret.slice(0, 10) + (secret[10] === "a" ? "b" : "a") + secret.slice(11);
    for (const bad of [typo, secret.toLowerCase(), "sk_live_nope", "garbage", secret.slice(0, -1)]) {
      const result = await keys.verify(bad);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.code).toBe("invalid_key");
    }
    expect(store.calls).toEqual({});
    // The well-formed key does reach the store.
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(store.calls.findByHash).toBe(1);
    await keys.close();
  });

  it("issues mode-less keys when modes is []", async () => {
    const keys = new KeyManager({ store: new MemoryStore(), prefix: "orbit", modes: [], usage: false });
    const { secret, key } = await keys.create({ name: "dev" });
    expect(secret).toMatch(/^orbit_[0-9A-Za-z]{38}$/);
    expect(key.mode).toBeNull();
    expect(key.start).toBe(secret.slice(0, 10));
    const result = await keys.verify(secret);
    expect(result.ok && result.key.mode).toBeNull();
    await expect(keys.create({ name: "x", mode: "live" })).rejects.toMatchObject({ code: "validation_failed", details: [{ path: "mode" }] });
    await keys.close();
  });
});
