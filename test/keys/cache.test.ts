/** Verification cache: warm hits read no store, TTL, invalidation on update/revoke/rotate, bounded under a flood. */
import request from "supertest";
import { KeyManager, MemoryStore, requireScope } from "keyward";
import { makeApp, TestClock } from "../helpers";
import { countingStore } from "../counting-store";

function setup(cache?: false | { max?: number; ttl?: string | number; unknownMax?: number }, maxStaleness?: string) {
  const counted = countingStore(new MemoryStore());
  const clock = new TestClock();
  const keys = new KeyManager({
    store: counted.store,
    clock: clock.now,
    usage: false,
    ...(cache === undefined ? {} : { cache }),
    ...(maxStaleness ? { maxStaleness } : {}),
  });
  return { keys, clock, counted, reads: () => counted.count("findByHash") };
}

describe("verification cache", () => {
  it("without an invalidation channel never serves an entry older than maxStaleness, whatever the TTL", async () => {
    const { keys, clock, reads } = setup({ ttl: "60s" }, "2s");
    const { secret } = await keys.create({ name: "ci" });
    expect((await keys.verify(secret)).ok).toBe(true);
    clock.advance(2000);
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(reads()).toBe(1); // still within the bound
    clock.advance(1);
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(reads()).toBe(2); // older than the bound: re-read from the store
    expect(keys.stats().channel.state).toBe("none");
  });

  it("validates maxStaleness like the other durations", () => {
    expect(() => new KeyManager({ store: new MemoryStore(), maxStaleness: "soon" })).toThrow(/maxStaleness.*not a duration/);
    expect(() => new KeyManager({ store: new MemoryStore(), maxStaleness: "10ms" })).toThrow(/maxStaleness.*at least 30ms/);
  });

  it("serves warm hits without a store read, until the TTL (default 5s) runs out", async () => {
    const { keys, clock, reads } = setup();
    const { secret } = await keys.create({ name: "ci" });
    const app = makeApp(keys);
    for (let i = 0; i < 10; i++) await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(1);
    clock.advance(5_000);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(1);
    clock.advance(1);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(2);
  });

  it("caches unknown keys too (a repeated bad key costs one store read per TTL)", async () => {
    const { keys, reads } = setup();
    const unknown = keys.format.generate("live");
    for (let i = 0; i < 5; i++) expect((await keys.verify(unknown)).ok).toBe(false);
    expect(reads()).toBe(1);
    expect(keys.cacheSize).toEqual({ keys: 0, unknown: 1 });
    expect((await keys.verify("sk_live_not-even-well-formed")).ok).toBe(false);
    expect(reads()).toBe(1); // a malformed key never reaches the store
  });

  it("expires cached unknown keys after the TTL, so a key created elsewhere is found then", async () => {
    const { keys, clock, reads } = setup({ ttl: "10s" }, "10s");
    const unknown = keys.format.generate("live");
    expect((await keys.verify(unknown)).ok).toBe(false);
    clock.advance(9_999);
    expect((await keys.verify(unknown)).ok).toBe(false);
    expect(reads()).toBe(1);
    clock.advance(2);
    expect((await keys.verify(unknown)).ok).toBe(false);
    expect(reads()).toBe(2);
  });

  it("re-reads the store when the clock went back by more than the TTL (an entry is never served longer than the TTL)", async () => {
    const { keys, clock, reads } = setup({ ttl: "5s" });
    const { secret } = await keys.create({ name: "ci" });
    const app = makeApp(keys);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    clock.advance(2_000);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    clock.advance(-1_000); // a step back within the entry's age: still served from the cache
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(1);
    clock.advance(-3_600_000); // an hour back: without the guard the entry would live for another hour
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(2);
    clock.advance(4_999);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(2); // the re-read entry runs from the new time
  });

  it("reads the store on every request with cache: false", async () => {
    const { keys, reads } = setup(false);
    const { secret } = await keys.create({ name: "ci" });
    for (let i = 0; i < 3; i++) await keys.verify(secret);
    expect(reads()).toBe(3);
    expect(keys.cacheSize).toEqual({ keys: 0, unknown: 0 });
  });

  it("drops the entry at once on update, revoke and rotate", async () => {
    const { keys, reads } = setup({ ttl: "1h" });
    const { secret, key } = await keys.create({ name: "ci", scopes: ["notes:read"] });
    const app = makeApp(keys, {}, (a) =>
      a.post("/notes", requireScope("notes:write"), (_req, res) => {
        res.status(201).end();
      }),
    );
    const post = () => request(app).post("/notes").set("Authorization", `Bearer ${secret}`);
    await post().expect(403);
    await keys.update(key.id, { scopes: ["notes:read", "notes:write"] });
    await post().expect(201);
    expect(reads()).toBe(2);

    const { secret: next } = await keys.rotate(key.id, { overlap: "1h" });
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(reads()).toBe(3); // re-read after rotate (the old key now has an end)
    expect(res.body.apiKey.expiresAt).not.toBeNull();
    await keys.revoke(key.id);
    await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(401);
    await request(app).get("/whoami").set("Authorization", `Bearer ${next}`).expect(200);
  });

  it("stays within its bounds under 100k random well-formed keys", async () => {
    const { keys, reads } = setup({ max: 50, unknownMax: 1000 });
    const real: string[] = [];
    for (let i = 0; i < 200; i++) real.push((await keys.create({ name: `k${i}` })).secret);
    let refused = 0;
    for (let i = 0; i < 100_000; i++) {
      const secret = i % 500 === 0 ? real[(i / 500) % real.length]! : keys.format.generate(i % 2 ? "live" : "test");
      const found = keys.pipeline.authenticate(secret);
      if (found instanceof Error) refused++;
      if (i % 100 !== 0) continue;
      const size = keys.cacheSize;
      if (size.keys > 50 || size.unknown > 1000) throw new Error(`cache grew past its bounds: ${JSON.stringify(size)}`);
    }
    expect(refused).toBe(100_000 - 200);
    expect(keys.cacheSize).toEqual({ keys: 50, unknown: 1000 });
    expect(reads()).toBe(100_000);
  });
});
