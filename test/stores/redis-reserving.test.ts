/**
 * ReservingCounters (Redis counters taken in batches): the counter conformance suite, how many
 * Redis calls a busy key costs, refunds, giving units back (close, hold, a changed limit), and
 * exactness across three instances: in process against one Redis, and over HTTP with three
 * KeyManagers sharing one key database. Each test uses its own key prefix, removed after.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Redis from "ioredis";
import { KeyManager, KeywardConfigError, MemoryStore } from "keyward";
import { ReservingCounters, type RedisScriptClient } from "keyward/redis";
import { SqliteStore } from "keyward/sqlite";
import { makeApp, tempDir } from "../helpers";
import { describeCounterConformance } from "./store-conformance";
import { REDIS_URL, describeWithServices } from "./services";

jest.setTimeout(60_000);

describeWithServices("ReservingCounters", ["redis"], () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const clients: Redis[] = [];
  const made: ReservingCounters[] = [];
  const prefixes: string[] = [];
  const freshPrefix = () => {
    const p = `kwtest:${randomBytes(6).toString("hex")}:`;
    prefixes.push(p);
    return p;
  };
  /** A client that counts the script calls sent through it. */
  const counting = () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    const calls = { n: 0 };
    const wrapped: RedisScriptClient = {
      evalsha: (...args) => {
        calls.n++;
        return client.evalsha(...(args as [string, number, ...Array<string | number>]));
      },
      eval: (...args) => {
        calls.n++;
        return client.eval(...(args as [string, number, ...Array<string | number>]));
      },
    };
    return { client: wrapped, calls };
  };
  const reserving = (prefix: string, options: { batch?: number; hold?: string | number } = {}, client: RedisScriptClient = redis) => {
    const counters = new ReservingCounters(client, { prefix, ...options });
    made.push(counters);
    return counters;
  };
  const stored = async (prefix: string, name: string) => Number((await redis.get(prefix + name)) ?? 0);
  const reset = () => Date.now() + 3_600_000;

  afterAll(async () => {
    await Promise.all(made.map((c) => c.close().catch(() => undefined)));
    for (const p of prefixes) {
      const names = await redis.keys(`${p}*`);
      if (names.length) await redis.del(...names);
    }
    for (const c of clients) c.disconnect();
    redis.disconnect();
  });

  describeCounterConformance("ReservingCounters", async () => {
    const counters = reserving(freshPrefix());
    return { counters, cleanup: () => counters.close() };
  });

  it("serves a busy key from one reservation: 500 takes, one Redis call, exact counts; close gives the rest back", async () => {
    const prefix = freshPrefix();
    const { client, calls } = counting();
    const counters = reserving(prefix, {}, client);
    const at = reset();
    const counts: number[] = [];
    for (let i = 0; i < 500; i++) counts.push(await counters.consume("busy", 100_000, at));
    expect(counts).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(calls.n).toBe(1);
    expect(await stored(prefix, "busy")).toBe(1000); // 1 + min(batch 1000, 1% of 100,000) - 1 reserved
    expect(typeof counters.consume("busy", 100_000, at)).toBe("number"); // synchronous from the reserve
    await counters.close();
    expect(await stored(prefix, "busy")).toBe(501);
  });

  it("takes no more than 1% of what is left, and every unit from Redis near the limit", async () => {
    const prefix = freshPrefix();
    const counters = reserving(prefix);
    const at = reset();
    await counters.consume("near", 150, at);
    expect(await stored(prefix, "near")).toBe(1); // 1% of 150 is 1: nothing reserved
    expect(counters.held().size).toBe(0);
    await counters.consume("far", 10_000, at);
    expect(await stored(prefix, "far")).toBe(100);
    expect(counters.held().get("far")).toBe(99);
  });

  it("puts a refunded unit back into the reserve; a refund beyond what it handed out goes to Redis", async () => {
    const prefix = freshPrefix();
    const counters = reserving(prefix);
    const at = reset();
    expect(await counters.consume("r", 10_000, at)).toBe(1);
    expect(await counters.consume("r", 10_000, at)).toBe(2);
    await counters.refund("r");
    expect(await counters.consume("r", 10_000, at)).toBe(2);
    await counters.refund("r");
    await counters.refund("r");
    await counters.refund("r"); // one more than this process took: Redis gives it back (never below zero)
    expect(await stored(prefix, "r")).toBe(99);
    await counters.close();
    expect(await stored(prefix, "r")).toBe(0);
  });

  it("gives an outdated reserve back in the same call when the limit changes", async () => {
    const prefix = freshPrefix();
    const counters = reserving(prefix);
    const at = reset();
    await counters.consume("tier", 10_000, at); // reserves 100
    expect(await counters.consume("tier", 500, at)).toBe(2); // 99 given back, then 1 (1% of 499 is 4: 4 taken)
    expect(await stored(prefix, "tier")).toBe(5);
    expect(counters.held().get("tier")).toBe(3);
  });

  it("may refuse one process while another holds unused units, which go back on release()", async () => {
    const prefix = freshPrefix();
    const a = reserving(prefix, { hold: "1h" });
    const b = reserving(prefix);
    const at = reset();
    expect(await a.consume("shared", 1000, at)).toBe(1); // a reserves 10
    let admitted = 0;
    while ((await b.consume("shared", 1000, at)) > 0) admitted++;
    expect(admitted).toBe(990);
    expect(await stored(prefix, "shared")).toBe(1000);
    await a.release();
    while ((await b.consume("shared", 1000, at)) > 0) admitted++;
    expect(admitted).toBe(999);
  });

  it("gives back units nobody takes for `hold`", async () => {
    const prefix = freshPrefix();
    const counters = reserving(prefix, { hold: "50ms" });
    await counters.consume("idle", 100_000, reset());
    expect(await stored(prefix, "idle")).toBe(1000);
    for (let i = 0; i < 200 && counters.held().size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(counters.held().size).toBe(0);
    expect(await stored(prefix, "idle")).toBe(1);
  });

  it("three instances racing on one limit never exceed it, and admit exactly the limit once their reserves are given back", async () => {
    const prefix = freshPrefix();
    const instances = [0, 1, 2].map(() => reserving(prefix, {}, counting().client));
    const at = reset();
    const first = await Promise.all(
      instances.flatMap((c) => Array.from({ length: 3000 }, () => Promise.resolve(c.consume("race", 5000, at)).then((n) => (n > 0 ? 1 : 0)))),
    );
    const admitted = first.reduce<number>((a, b) => a + b, 0);
    expect(admitted).toBeLessThanOrEqual(5000);
    expect(await stored(prefix, "race")).toBeLessThanOrEqual(5000);
    await Promise.all(instances.map((c) => c.release()));
    expect(await stored(prefix, "race")).toBe(admitted);
    let more = 0;
    for (const c of instances) while ((await c.consume("race", 5000, at)) > 0) more++;
    expect(admitted + more).toBe(5000);
    expect(await stored(prefix, "race")).toBe(5000);
  });

  it("admits exactly the quota over HTTP across three KeyManagers sharing one key database", async () => {
    const tmp = tempDir();
    const file = tmp.file("keys.db");
    const prefix = freshPrefix();
    const tiers = { small: { monthlyRequests: 50 }, large: { monthlyRequests: 600 } };
    const counters = [0, 1, 2].map(() => reserving(prefix, {}, counting().client));
    const managers = counters.map((c) => new KeyManager({ store: new SqliteStore(file), counters: c, tiers }));
    const servers = managers.map((keys) => makeApp(keys).listen(0, "127.0.0.1"));
    await Promise.all(servers.map((s) => new Promise((resolve) => s.once("listening", resolve))));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const get = (i: number, secret: string) =>
      new Promise<number>((resolve, reject) => {
        const port = (servers[i % 3]!.address() as AddressInfo).port;
        http
          .get(`http://127.0.0.1:${port}/whoami`, { agent, headers: { Authorization: `Bearer ${secret}` } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode!));
          })
          .on("error", reject);
      });
    try {
      const small = await managers[0]!.create({ name: "small", tier: "small" });
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => get(i, small.secret)));
      expect(statuses.filter((s) => s === 200)).toHaveLength(50);
      expect(statuses.filter((s) => s !== 200)).toEqual(Array.from({ length: 150 }, () => 429));

      const large = await managers[1]!.create({ name: "large", tier: "large" });
      const burst = await Promise.all(Array.from({ length: 800 }, (_, i) => get(i, large.secret)));
      const admitted = burst.filter((s) => s === 200).length;
      expect(admitted).toBeLessThanOrEqual(600);
      expect(burst.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      await Promise.all(counters.map((c) => c.release()));
      let more = 0;
      for (let i = 0; i < 3; i++) while ((await get(i, large.secret)) === 200) more++;
      expect(admitted + more).toBe(600);
    } finally {
      agent.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      for (let i = 0; i < 3; i++) {
        await managers[i]!.close();
        await counters[i]!.close();
      }
      tmp.cleanup();
    }
  });

  describe("consumeAll: a request's several counters", () => {
    const take = (counter: string, limit: number, at: number, units = 1) => ({ counter, limit, resetAt: at, units });

    it("serves a hot key's four counters from one reservation: 300 requests, one Redis call, exact counts; close gives the rest back", async () => {
      const prefix = freshPrefix();
      const { client, calls } = counting();
      const counters = reserving(prefix, {}, client);
      const at = reset();
      const plan = [take("burst", 100_000, at), take("sustained", 1_000_000, at), take("month", 50_000, at), take("credits", 200_000, at, 3)];
      for (let i = 1; i <= 300; i++) expect(await counters.consumeAll(plan)).toEqual([i, i, i, 3 * i]);
      expect(calls.n).toBe(1);
      // Each counter reserved up to 1% of what was left, at most 1000 units, its request's included.
      expect(await stored(prefix, "burst")).toBe(1000);
      expect(await stored(prefix, "sustained")).toBe(1000);
      expect(await stored(prefix, "month")).toBe(500);
      expect(await stored(prefix, "credits")).toBe(1000);
      expect(counters.consumeAll(plan)).toEqual([301, 301, 301, 903]); // synchronous, from the reserves
      expect(calls.n).toBe(1);
      expect(await counters.count("credits")).toBe(903);
      await counters.close();
      expect([await stored(prefix, "burst"), await stored(prefix, "month"), await stored(prefix, "credits")]).toEqual([301, 301, 903]);
    });

    it("takes nothing from the reserves when one counter lacks units, and goes to Redis once for all of them", async () => {
      const prefix = freshPrefix();
      const { client, calls } = counting();
      const counters = reserving(prefix, {}, client);
      const at = reset();
      await counters.consumeAll([take("big", 100_000, at), take("small", 150, at)]); // big reserves 999 more, small none (1% of 150 is 1)
      expect(counters.held().get("big")).toBe(999);
      expect(counters.held().has("small")).toBe(false);
      const pending = counters.consumeAll([take("big", 100_000, at), take("small", 150, at)]);
      expect(pending).toBeInstanceOf(Promise); // small has nothing reserved: no unit of big taken locally
      expect(await pending).toEqual([2, 2]);
      expect(calls.n).toBe(2);
      // The call gave big's 999 spare units back and reserved again: 1% of the 99,999 then left, its request's unit included.
      expect(await stored(prefix, "big")).toBe(1000);
      expect(counters.held().get("big")).toBe(998);
      expect(await stored(prefix, "small")).toBe(2);
    });

    it("refuses all or nothing at the limit, though the other counters hold reserved units", async () => {
      const prefix = freshPrefix();
      const counters = reserving(prefix);
      const at = reset();
      const plan = [take("wide", 100_000, at), take("tight", 3, at)];
      for (let i = 1; i <= 3; i++) expect(await counters.consumeAll(plan)).toEqual([i, i]);
      const refused = await counters.consumeAll(plan);
      expect(refused.indexOf(-1)).toBe(1);
      expect(refused[0]).toBe(4); // what "wide" would have reached
      expect(await counters.count("wide")).toBe(3);
      expect(await counters.count("tight")).toBe(3);
      await counters.close();
      expect(await stored(prefix, "wide")).toBe(3);
    });

    it("puts refunded units back into the reserve and sends the rest to Redis in one call", async () => {
      const prefix = freshPrefix();
      const { client, calls } = counting();
      const counters = reserving(prefix, {}, client);
      const at = reset();
      await counters.consumeAll([take("a", 100_000, at, 5), take("b", 100_000, at, 5)]);
      expect(calls.n).toBe(1);
      expect(counters.refundAll([take("a", 100_000, at, 4), take("b", 100_000, at, 2)])).toBeUndefined(); // into the reserves, no call
      expect(calls.n).toBe(1);
      expect(await counters.count("a")).toBe(1);
      expect(await counters.count("b")).toBe(3);
      expect(calls.n).toBe(3); // the two counts
      await counters.refundAll([take("a", 100_000, at, 3), take("b", 100_000, at, 1)]); // a: 1 into the reserve, the 2 beyond it to Redis
      expect(calls.n).toBe(4);
      expect(await stored(prefix, "a")).toBe(998);
      expect(await counters.count("a")).toBe(0);
      expect(await counters.count("b")).toBe(2);
    });

    it("serves a burst arriving during a reservation from one more call: 300 concurrent requests, two calls", async () => {
      const prefix = freshPrefix();
      const { client, calls } = counting();
      const counters = reserving(prefix, {}, client);
      const at = reset();
      const plan = [take("r1", 10_000, at), take("r2", 100_000, at), take("q", 20_000, at)];
      const counts = await Promise.all(Array.from({ length: 300 }, () => Promise.resolve(counters.consumeAll(plan))));
      expect(calls.n).toBe(2);
      expect(counts.map((c) => c[2]).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      await counters.close();
      expect(await stored(prefix, "q")).toBe(300);
    });

    it("three instances racing on several counters never exceed any limit, and admit exactly the tightest once their reserves are given back", async () => {
      const prefix = freshPrefix();
      const instances = [0, 1, 2].map(() => reserving(prefix, {}, counting().client));
      const at = reset();
      const plan = [take("x-rate", 1_000_000, at), take("x-quota", 4000, at), take("x-credits", 30_000, at, 5)];
      const first = await Promise.all(
        instances.flatMap((c) => Array.from({ length: 1500 }, () => Promise.resolve(c.consumeAll(plan)).then((n) => (n.every((v) => v >= 0) ? 1 : 0)))),
      );
      const admitted = first.reduce<number>((a, b) => a + b, 0);
      expect(admitted).toBeLessThanOrEqual(4000);
      expect(await stored(prefix, "x-quota")).toBeLessThanOrEqual(4000);
      expect(await stored(prefix, "x-credits")).toBeLessThanOrEqual(30_000);
      await Promise.all(instances.map((c) => c.release()));
      expect(await stored(prefix, "x-quota")).toBe(admitted);
      expect(await stored(prefix, "x-credits")).toBe(5 * admitted);
      let more = 0;
      for (const c of instances) while ((await c.consumeAll(plan)).every((v) => v >= 0)) more++;
      expect(admitted + more).toBe(4000);
      await Promise.all(instances.map((c) => c.release()));
      expect([await stored(prefix, "x-rate"), await stored(prefix, "x-quota"), await stored(prefix, "x-credits")]).toEqual([4000, 4000, 20_000]);
    });

    it("a hot key with named limits, a monthly quota and credits costs at most one Redis call per request, and well under 0.05 in steady state", async () => {
      const prefix = freshPrefix();
      const { client, calls } = counting();
      const counters = reserving(prefix, {}, client);
      const keys = new KeyManager({
        store: new MemoryStore(),
        counters,
        tiers: { hot: { rateLimit: { burst: "100000/h", sustained: "1000000/d" }, monthlyRequests: 10_000_000 } },
      });
      try {
        const { secret } = await keys.create({ name: "hot", tier: "hot", credits: { remaining: 1_000_000 } });
        // Cold: 100 concurrent requests, none reserved yet.
        const cold = await Promise.all(Array.from({ length: 100 }, () => keys.verify(secret)));
        expect(cold.every((r) => r.ok)).toBe(true);
        expect(calls.n).toBeLessThanOrEqual(2);
        // Steady state: 3,000 requests in bursts of 50.
        const before = calls.n;
        for (let i = 0; i < 60; i++) {
          const burst = await Promise.all(Array.from({ length: 50 }, () => keys.verify(secret)));
          expect(burst.every((r) => r.ok)).toBe(true);
        }
        const perRequest = (calls.n - before) / 3000;
        expect(perRequest).toBeLessThanOrEqual(0.005); // four counters refilled together every ~1000 requests
        expect(calls.n).toBeLessThanOrEqual(3100);
      } finally {
        await keys.close();
        await counters.close();
      }
    });
  });

  it("names a missing client and a bad option at construction", () => {
    expect(() => new ReservingCounters({} as never)).toThrow(KeywardConfigError);
    expect(() => new ReservingCounters(redis, { batch: 0 })).toThrow(/batch/);
    expect(() => new ReservingCounters(redis, { hold: "soon" })).toThrow(/hold/);
  });
});
