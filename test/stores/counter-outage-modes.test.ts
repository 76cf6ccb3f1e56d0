/**
 * `onStoreError` with Redis counters on a private redis-server that is killed and restarted, over
 * real HTTP, with two KeyManagers (two "instances") sharing the Redis and the key store: while
 * Redis is down a "closed" route answers 503, an "open" route admits everything, and a "local"
 * route admits at most N_instances × limit per window (here 2 × 4), each instance counting alone;
 * once Redis is back, every route counts in Redis again.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import express from "express";
import Redis from "ioredis";
import request from "supertest";
import { KeyManager, MemoryStore, apiKeyAuth, type KeywardEvent } from "keyward";
import { RedisCounters } from "keyward/redis";
import { TestClock } from "../helpers";
import { PrivateRedis } from "./private-redis";

jest.setTimeout(60_000);

const LIMIT = 4;

describe("onStoreError with Redis counters killed and restarted", () => {
  let redisServer: PrivateRedis;
  beforeAll(async () => {
    redisServer = await PrivateRedis.start();
  });
  afterAll(async () => {
    await redisServer?.stop();
  });

  it("closed refuses, open admits, local admits at most N × limit per window; all count in Redis once it is back", async () => {
    const store = new MemoryStore();
    const prefix = `kwtest:${randomBytes(6).toString("hex")}:`;
    // A frozen clock (moved by hand), so the test never straddles a window boundary.
    const clock = new TestClock(Math.floor(Date.now() / 60_000) * 60_000 + 1000);
    const events: KeywardEvent[] = [];
    const clients: Redis[] = [];
    const instance = () => {
      const client = new Redis({ port: redisServer.port, host: "127.0.0.1", retryStrategy: () => 50 });
      client.on("error", () => undefined);
      clients.push(client);
      const keys = new KeyManager({
        store,
        counters: new RedisCounters(client, { prefix }),
        rateLimit: { limit: LIMIT, window: "1m" },
        storeTimeout: "200ms",
        usage: false,
        clock: clock.now,
        onEvent: (e) => events.push(e),
      });
      const app = express();
      for (const mode of ["closed", "open", "local"] as const) app.get(`/${mode}`, apiKeyAuth({ keys, onStoreError: mode }), (_req, res) => void res.end(mode));
      return { keys, server: http.createServer(app).listen(0, "127.0.0.1") };
    };
    const a = instance();
    const b = instance();
    try {
      const { secret, key } = await a.keys.create({ name: "outage" });
      const send = (i: { server: http.Server }, path: string) => request(i.server).get(path).set("Authorization", `Bearer ${secret}`);
      const counter = () => `${prefix}r:${key.id}:${Math.floor(clock.ms / 60_000) * 60_000}`;

      // Counted in Redis; each instance's local routes remember the count Redis answered them.
      await send(a, "/local").expect(200);
      await send(b, "/local").expect(200);
      const probe = new Redis({ port: redisServer.port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      probe.on("error", () => undefined);
      await probe.connect();
      expect(await probe.get(counter())).toBe("2");
      probe.disconnect();

      await redisServer.kill();
      // closed: 503 on both instances.
      for (const i of [a, b]) expect((await send(i, "/closed").expect(503)).body.error.code).toBe("store_unavailable");
      // local: each instance counts alone from the count it last saw (a saw 1, b saw 2), so together
      // they admit (4 - 1) + (4 - 2) = 5 more: within the bound of N × limit = 8 for the window.
      const admitted = { a: 0, b: 0 };
      for (let n = 0; n < 6; n++) {
        if ((await send(a, "/local")).status === 200) admitted.a++;
        if ((await send(b, "/local")).status === 200) admitted.b++;
      }
      expect(admitted).toEqual({ a: LIMIT - 1, b: LIMIT - 2 });
      expect((await send(a, "/local").expect(429)).body.error.code).toBe("rate_limited");
      // open: everything admitted, on both.
      for (let n = 0; n < 6; n++) for (const i of [a, b]) await send(i, "/open").expect(200);
      // A new window while Redis is still down: each instance grants a full limit, never more.
      clock.advance(60_000);
      let next = 0;
      for (let n = 0; n < LIMIT + 2; n++) for (const i of [a, b]) if ((await send(i, "/local")).status === 200) next++;
      expect(next).toBe(2 * LIMIT);

      await redisServer.restart();
      clock.advance(1000); // past the second in which open and local routes skip a failed store
      for (const c of clients) await c.ping();
      for (const path of ["/closed", "/open", "/local"]) await send(a, path).expect(200);
      const after = new Redis({ port: redisServer.port, host: "127.0.0.1" });
      expect(await after.get(counter())).toBe("3"); // the restarted Redis counted the three requests
      after.disconnect();

      const modes = new Set(events.flatMap((e) => (e.type === "counters.unavailable" ? [e.mode] : [])));
      expect([...modes].sort()).toEqual(["closed", "local", "open"]);
    } finally {
      for (const i of [a, b]) {
        i.server.close();
        await i.keys.close();
      }
      for (const c of clients) c.disconnect();
    }
  });
});
