/**
 * RedisCounters against the counter conformance suite and its own window rules, and quotas through
 * a KeyManager whose counters live in Redis. Each test uses its own key prefix, removed after.
 */
import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import { KeyManager, KeywardConfigError, MemoryStore } from "keyward";
import { RedisCounters } from "keyward/redis";
import { consumeInTurn } from "../../src/redis/consume-in-turn";
import { describeCounterConformance } from "./store-conformance";
import { REDIS_URL, describeWithServices } from "./services";

describeWithServices("RedisCounters", ["redis"], () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefixes: string[] = [];
  const freshPrefix = () => {
    const p = `kwtest:${randomBytes(6).toString("hex")}:`;
    prefixes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of prefixes) {
      const names = await redis.keys(`${p}*`);
      if (names.length) await redis.del(...names);
    }
    redis.disconnect();
  });

  describeCounterConformance("RedisCounters", async () => ({ counters: new RedisCounters(redis, { prefix: freshPrefix() }), cleanup: async () => {} }));

  describe("one counter at a time (how a Redis Cluster takes several)", () => {
    it("takes every counter when all have room, and gives back the earlier ones when a later one refuses", async () => {
      const prefix = freshPrefix();
      const counters = new RedisCounters(redis, { prefix });
      const resetAt = Date.now() + 3_600_000;
      const takes = [
        { counter: "a", limit: 5, resetAt, units: 2 },
        { counter: "b", limit: 3, resetAt, units: 2 },
      ];
      expect(await consumeInTurn(counters, takes)).toEqual([2, 2]);
      const refused = await consumeInTurn(counters, takes); // b has 1 unit left: refused after a was taken
      expect(refused[0]).toBe(4);
      expect(refused[1]!).toBeLessThan(0);
      expect([await counters.count("a"), await counters.count("b")]).toEqual([2, 2]);
    });
  });

  describe("windows", () => {
    it("sets the expiry to the window's end with the first unit, and traffic never moves it", async () => {
      const prefix = freshPrefix();
      const counters = new RedisCounters(redis, { prefix });
      const resetAt = Date.now() + 3_600_000;
      await counters.consume("w", 10, resetAt);
      expect(await redis.pexpiretime(`${prefix}w`)).toBe(resetAt);
      await counters.consume("w", 10, resetAt + 60_000);
      await counters.refund("w");
      await counters.consume("w", 10, resetAt + 120_000);
      expect(await redis.pexpiretime(`${prefix}w`)).toBe(resetAt);
      expect(await redis.get(`${prefix}w`)).toBe("2");
    });

    it("starts over once the window has ended", async () => {
      const counters = new RedisCounters(redis, { prefix: freshPrefix() });
      expect(await counters.consume("gone", 1, Date.now() - 1)).toBe(1);
      expect(await counters.consume("gone", 1, Date.now() - 1)).toBe(1);
    });

    it("recovers when Redis forgot the script (SCRIPT FLUSH)", async () => {
      const counters = new RedisCounters(redis, { prefix: freshPrefix() });
      await counters.consume("s", 5, Date.now() + 60_000);
      await redis.script("FLUSH");
      expect(await counters.consume("s", 5, Date.now() + 60_000)).toBe(2);
    });

    it("names a missing client at construction", () => {
      expect(() => new RedisCounters({} as never)).toThrow(KeywardConfigError);
    });
  });

  describe("with a KeyManager", () => {
    it("admits exactly the monthly quota of 50 out of 200 concurrent verifications", async () => {
      const keys = new KeyManager({
        store: new MemoryStore(),
        counters: new RedisCounters(redis, { prefix: freshPrefix() }),
        tiers: { free: { monthlyRequests: 50 } },
      });
      const { secret } = await keys.create({ name: "q", tier: "free" });
      const results = await Promise.all(Array.from({ length: 200 }, () => keys.verify(secret)));
      expect(results.filter((r) => r.ok)).toHaveLength(50);
      expect(results.filter((r) => !r.ok && r.error.code === "quota_exceeded")).toHaveLength(150);
      await keys.close();
    });

    it("gives a unit back when a later check refuses the request", async () => {
      const keys = new KeyManager({
        store: new MemoryStore(),
        counters: new RedisCounters(redis, { prefix: freshPrefix() }),
        rateLimit: { limit: 2, window: "1h" },
        scopes: ["a:read", "b:read"],
      });
      const { secret } = await keys.create({ name: "r", scopes: ["a:read"] });
      const found = await keys.pipeline.authenticate(secret);
      if (!("grant" in found)) throw new Error("not authenticated");
      const charge = await keys.pipeline.charge(found);
      if (!("counters" in charge)) throw new Error("not charged");
      keys.pipeline.refund(charge);
      // The refund is fire-and-forget, but one connection runs commands in order.
      expect((await keys.verify(secret)).ok).toBe(true);
      expect((await keys.verify(secret)).ok).toBe(true);
      expect((await keys.verify(secret)).ok).toBe(false);
      await keys.close();
    });
  });
});
