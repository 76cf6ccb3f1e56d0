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
import { KeyManager, KeywardConfigError } from "keyward";
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

  describeCounterConformance(
    "ReservingCounters",
    async () => {
      const counters = reserving(freshPrefix());
      return { counters, cleanup: () => counters.close() };
    },
    { consumeAll: false },
  );

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

  it("names a missing client and a bad option at construction", () => {
    expect(() => new ReservingCounters({} as never)).toThrow(KeywardConfigError);
    expect(() => new ReservingCounters(redis, { batch: 0 })).toThrow(/batch/);
    expect(() => new ReservingCounters(redis, { hold: "soon" })).toThrow(/hold/);
  });
});
