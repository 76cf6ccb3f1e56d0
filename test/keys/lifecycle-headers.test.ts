/**
 * Lifecycle headers over HTTP (supertest, a test clock): a key in its rotation overlap, or within
 * `warnBeforeExpiry` of its expiry, answers with `Deprecation` (RFC 9745) and `Sunset` (RFC 8594),
 * and `Link; rel="deprecation"` only when the app configured one; a fresh key and the successor get
 * none; `lifecycleHeaders: false` turns them off.
 */
import request from "supertest";
import { apiKeyAuth, KeywardConfigError } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const DAY = 86_400_000;
const LINK = "https://example.com/docs/rotating-keys";

describe("lifecycle headers", () => {
  const get = (app: ReturnType<typeof makeApp>, secret: string) => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);

  it("a key in its rotation overlap gets Deprecation at the rotation time and Sunset at the overlap's end", async () => {
    const { keys, clock, close } = makeKeys();
    const { secret, key } = await keys.create({ name: "old" });
    clock.advance(3_600_500);
    const rotatedAt = clock.now();
    const { secret: successor } = await keys.rotate(key.id, { overlap: "24h" });
    clock.advance(60_000);
    const app = makeApp(keys, { deprecationLink: LINK });
    const res = await get(app, secret);
    expect(res.headers.deprecation).toBe(`@${Math.floor(rotatedAt / 1000)}`);
    expect(res.headers.sunset).toBe(new Date(rotatedAt + DAY).toUTCString());
    expect(res.headers.link).toBe(`<${LINK}>; rel="deprecation"`);
    const fresh = await get(app, successor);
    expect(fresh.headers.deprecation).toBeUndefined();
    expect(fresh.headers.sunset).toBeUndefined();
    expect(fresh.headers.link).toBeUndefined();
    await close();
  });

  it("a key within warnBeforeExpiry (default 14d) of its expiry gets Deprecation at the window's start and Sunset at its expiry", async () => {
    const { keys, clock, close } = makeKeys();
    const created = clock.now();
    const { secret } = await keys.create({ name: "expiring", expiresIn: "30d" });
    const app = makeApp(keys);
    const early = await get(app, secret); // 30 days left: nothing to say (and the entry is now cached)
    expect(early.headers.deprecation).toBeUndefined();
    expect(early.headers.sunset).toBeUndefined();
    clock.set(created + 16 * DAY - 1);
    expect((await get(app, secret)).headers.deprecation).toBeUndefined();
    clock.set(created + 16 * DAY);
    const res = await get(app, secret);
    expect(res.headers.deprecation).toBe(`@${Math.floor((created + 16 * DAY) / 1000)}`);
    expect(res.headers.sunset).toBe(new Date(created + 30 * DAY).toUTCString());
    expect(res.headers.link).toBeUndefined(); // no deprecationLink configured
    await close();
  });

  it("follows the KeyManager's warnBeforeExpiry", async () => {
    const { keys, clock, close } = makeKeys({ warnBeforeExpiry: "30d" });
    const { secret } = await keys.create({ name: "expiring", expiresIn: "20d" });
    const res = await get(makeApp(keys), secret);
    expect(res.headers.deprecation).toBe(`@${Math.floor((clock.now() + 20 * DAY - 30 * DAY) / 1000)}`);
    expect(res.headers.sunset).toBe(new Date(clock.now() + 20 * DAY).toUTCString());
    await close();
  });

  it("a fresh key, with or without an expiry, gets none", async () => {
    const { keys, close } = makeKeys();
    const app = makeApp(keys, { deprecationLink: LINK });
    for (const input of [{ name: "forever" }, { name: "90d", expiresIn: "90d" }]) {
      const { secret } = await keys.create(input);
      const res = await get(app, secret);
      expect(res.headers.deprecation).toBeUndefined();
      expect(res.headers.sunset).toBeUndefined();
      expect(res.headers.link).toBeUndefined();
    }
    await close();
  });

  it("lifecycleHeaders: false sends none, even for an overlap key", async () => {
    const { keys, close } = makeKeys();
    const { secret, key } = await keys.create({ name: "old" });
    await keys.rotate(key.id, { overlap: "1h" });
    const res = await get(makeApp(keys, { lifecycleHeaders: false, deprecationLink: LINK }), secret);
    expect(res.headers.deprecation).toBeUndefined();
    expect(res.headers.sunset).toBeUndefined();
    expect(res.headers.link).toBeUndefined();
    await close();
  });

  it("refuses a deprecationLink that is not an absolute http(s) URL", () => {
    const { keys } = makeKeys();
    expect(() => apiKeyAuth({ keys, deprecationLink: "docs/rotating" })).toThrow(KeywardConfigError);
    expect(() => apiKeyAuth({ keys, deprecationLink: "https://example.com/a>b" })).toThrow(/deprecationLink/);
    return keys.close();
  });
});
