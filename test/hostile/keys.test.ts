/**
 * Key abuse: near-miss keys (checksum off by one, other prefixes and modes, the stored hash),
 * revoked / expired / unknown keys, non-string input, and a flood of 100k random well-formed keys
 * that must leave memory bounded and reach the store once per unknown key per cache TTL.
 */
import { trackSecret } from "./leak-guard";
import request from "supertest";
import { KeyFormat, type KeyManager, KeywardError, MemoryStore, createHasher, requireMode } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeApp, makeKeys, tempDir } from "../helpers";
import { countingStore } from "../counting-store";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const other = (c: string) => BASE62[(BASE62.indexOf(c) + 1) % 62]!;
const swapAt = (s: string, i: number, ch: string) => s.slice(0, i) + ch + s.slice(i + 1);

function setup(options: Parameters<typeof makeKeys>[0] = {}) {
  const counting = countingStore(new MemoryStore());
  const made = makeKeys({ ...options, store: counting.store });
  counting.reset(); // start-up (the key-format check) reads the store once; count what requests do
  return { ...made, counting };
}

/** Authenticates and returns the refusal code, or "ok". */
async function codeFor(keys: KeyManager, token: unknown): Promise<string> {
  const found = await keys.pipeline.authenticate(token as string);
  return found instanceof KeywardError ? found.code : "ok";
}

describe("near-miss keys are refused without a store read", () => {
  const env = setup();
  let S: string;
  beforeAll(async () => {
    S = (await env.keys.create({ name: "real", mode: "live" })).secret;
  });
  afterAll(() => env.close());
  beforeEach(() => env.counting.reset());

  it("accepts the real key (control)", async () => {
    expect(await codeFor(env.keys, S)).toBe("ok");
  });

  it("refuses every checksum character off by one", async () => {
    for (let i = S.length - 6; i < S.length; i++) expect(await codeFor(env.keys, swapAt(S, i, other(S[i]!)))).toBe("invalid_key");
    expect(env.counting.calls).toEqual({});
  });

  it("refuses every random-body character off by one", async () => {
    for (let i = "sk_live_".length; i < S.length - 6; i++) expect(await codeFor(env.keys, swapAt(S, i, other(S[i]!)))).toBe("invalid_key");
    expect(env.counting.calls).toEqual({});
  });

  it.each([
    ["a GitHub token", () => `ghp_${"a1B2c3D4e5".repeat(3)}abcdef`],
    ["the same body under the other mode's prefix", () => S.replace("sk_live_", "sk_test_")],
    ["the upper-cased prefix", () => S.replace("sk_live_", "SK_LIVE_")],
    ["the upper-cased mode", () => S.replace("sk_live_", "sk_LIVE_")],
    ["a valid key of another product's format", () => new KeyFormat({ prefix: "acme", modes: ["live", "test"] }).generate("live")],
    ["a valid key of a format without modes", () => new KeyFormat({ prefix: "sk" }).generate()],
    ["a key with an unknown mode but a valid checksum", () => new KeyFormat({ prefix: "sk", modes: ["prod"] }).generate("prod")],
    ["the stored hash (SHA-256 hex) sent as the key", () => createHasher()(S)],
    ["the hash behind the prefix", () => `sk_live_${createHasher()(S)}`],
    ["the display form (start)", () => S.slice(0, "sk_live_".length + 4)],
    ["the key twice", () => S + S],
    ["the key with a newline", () => `${S}\n`],
    ["the key with a NUL", () => `${S}\u0000`],
    ["Cyrillic look-alike letters", () => S.replace(/a/g, "а").replace(/e/g, "е") + (S.includes("a") || S.includes("e") ? "" : "а")],
    ["fullwidth digits", () => S.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))) + (/[0-9]/.test(S) ? "" : "１")],
    ["an empty string", () => ""],
  ])("refuses %s as invalid_key", async (_name, make) => {
    const token = make();
    trackSecret(token);
    expect(await codeFor(env.keys, token)).toBe("invalid_key");
    expect(env.counting.calls).toEqual({});
  });

  it.each([undefined, null, 42, ["sk_live_x"], { toString: () => "x" }, Symbol("k")])("never throws for non-string input (%p)", async (value) => {
    expect(await codeFor(env.keys, value)).toBe("invalid_key");
    const result = await env.keys.verify(value as string);
    expect(result.ok).toBe(false);
    expect(env.counting.calls).toEqual({});
  });
});

describe("revoked, expired, unknown and wrong-mode keys over HTTP", () => {
  const env = setup();
  afterAll(() => env.close());

  it("answers each with its code and status", async () => {
    const revoked = await env.keys.create({ name: "revoked" });
    await env.keys.revoke(revoked.key.id);
    const expiring = await env.keys.create({ name: "expiring", expiresIn: "1h" });
    const testKey = await env.keys.create({ name: "test-mode", mode: "test" });
    const unknown = new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("live");
    trackSecret(unknown);
    const app = makeApp(env.keys, {}, (a) =>
      a.get("/live-only", requireMode("live"), (_req, res) => {
        res.json({ ok: true });
      }),
    );
    const call = (secret: string, path = "/whoami") => request(app).get(path).set("Authorization", `Bearer ${secret}`);

    // The expiring key works (and is cached) until the clock reaches expiresAt exactly.
    expect((await call(expiring.secret)).status).toBe(200);
    env.clock.advance(3_600_000 - 1);
    expect((await call(expiring.secret)).status).toBe(200);
    env.clock.advance(1);
    const cases: Array<[string, string, number, string]> = [
      [revoked.secret, "/whoami", 401, "key_revoked"],
      [expiring.secret, "/whoami", 401, "key_expired"],
      [unknown, "/whoami", 401, "invalid_key"],
      [testKey.secret, "/live-only", 403, "mode_forbidden"],
    ];
    for (const [secret, path, status, code] of cases) {
      const res = await call(secret, path);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status, code });
      expect(res.text).not.toContain(secret.slice(12));
      expect(JSON.stringify(res.headers)).not.toContain(secret.slice(12));
    }
  });

  it("an apiKeyAuth limited to live keys refuses a genuine test key", async () => {
    const testKey = await env.keys.create({ name: "t", mode: "test" });
    const res = await request(makeApp(env.keys, { modes: ["live"] }))
      .get("/whoami")
      .set("Authorization", `Bearer ${testKey.secret}`);
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 403, code: "mode_forbidden" });
  });
});

describe("a flood of random well-formed keys", () => {
  const FLOOD = 100_000;

  it(`${FLOOD} distinct unknown keys: every one refused, caches stay within their max, one store read each`, () => {
    const env = setup({ cache: { max: 500, unknownMax: 1000, ttl: "5s" } });
    const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
    let refused = 0;
    for (let i = 0; i < FLOOD; i++) {
      const found = env.keys.pipeline.authenticate(format.generate(i % 2 ? "live" : "test"));
      if (found instanceof KeywardError && found.code === "invalid_key") refused++;
      if (i % 10_000 === 0) expect(env.keys.cacheSize.unknown).toBeLessThanOrEqual(1000);
    }
    expect(refused).toBe(FLOOD);
    expect(env.keys.cacheSize).toEqual({ keys: 0, unknown: 1000 });
    expect(env.counting.calls).toEqual({ findByHash: FLOOD });
    return env.close();
  });

  it("the same unknown key reads the store once per cache TTL, however often it is sent", () => {
    const env = setup({ cache: { ttl: "5s" } });
    const unknown = new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("live");
    trackSecret(unknown);
    for (let i = 0; i < 10_000; i++) env.keys.pipeline.authenticate(unknown);
    expect(env.counting.calls).toEqual({ findByHash: 1 });
    env.clock.advance(5_000);
    env.keys.pipeline.authenticate(unknown);
    expect(env.counting.calls).toEqual({ findByHash: 1 });
    env.clock.advance(1);
    for (let i = 0; i < 1_000; i++) env.keys.pipeline.authenticate(unknown);
    expect(env.counting.calls).toEqual({ findByHash: 2 });
    return env.close();
  });

  it("a key created after it was probed as unknown works at once (negative entry dropped)", async () => {
    const env = setup();
    // Probe many unknown keys, then create keys: none of the new keys is shadowed by a negative entry.
    const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
    for (let i = 0; i < 1000; i++) env.keys.pipeline.authenticate(format.generate("live"));
    for (let i = 0; i < 20; i++) {
      const { secret } = await env.keys.create({ name: `k${i}` });
      expect(await codeFor(env.keys, secret)).toBe("ok");
    }
    await env.close();
  });
});

describe("revocation across processes is bounded by the cache TTL", () => {
  it("a second manager on the same SQLite file refuses a key revoked elsewhere once its TTL has passed", async () => {
    const tmp = tempDir();
    const a = makeKeys({ store: new SqliteStore(tmp.file("k.db")), cache: { ttl: "2s" } });
    const b = makeKeys({ store: new SqliteStore(tmp.file("k.db")), cache: { ttl: "2s" } });
    try {
      const { secret, key } = await a.keys.create({ name: "shared" });
      expect(await codeFor(b.keys, secret)).toBe("ok"); // b caches it
      await a.keys.revoke(key.id);
      expect(await codeFor(a.keys, secret)).toBe("key_revoked"); // at once where revoked
      b.clock.advance(2_000);
      expect(await codeFor(b.keys, secret)).toBe("ok"); // the documented bound: up to the TTL
      b.clock.advance(1);
      expect(await codeFor(b.keys, secret)).toBe("key_revoked");
      // An explicit invalidation (what a pub/sub channel calls) ends it at once.
      const c = await a.keys.create({ name: "second" });
      expect(await codeFor(b.keys, c.secret)).toBe("ok");
      await a.keys.revoke(c.key.id);
      b.keys.invalidate(c.key.id);
      expect(await codeFor(b.keys, c.secret)).toBe("key_revoked");
    } finally {
      await a.close();
      await b.close();
      tmp.cleanup();
    }
  });
});
