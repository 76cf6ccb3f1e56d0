/**
 * A refused request gives back what it took BEFORE its refusal is sent: when the client gets the
 * 403 of a scope guard or the 429 of a route's credit cost, a read of the key's credits already
 * shows the balance whole, even when the counter store (PostgreSQL, Redis) answers a refund later
 * than the request it belongs to. Checked for Express (scope guard and `chargeCredits`), Hono and
 * Fastify, over real HTTP, with counters whose refunds land 40 ms after they are asked for.
 */
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import request from "supertest";
import { apiKeyAuth, chargeCredits, type CounterStore, type CounterTake, KeyManager, MemoryStore, requireScope } from "keyward";
import { keyward, requireScope as fastifyScope } from "keyward/fastify";
import { apiKeyAuth as honoAuth, requireScope as honoScope, type ApiKeyEnv } from "keyward/hono";
import { MemoryCounters } from "../../src/core/memory-counters";

const LATE_MS = 40;
const later = <T>(work: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(work()), LATE_MS));

/** In-memory counters that answer takes at once (as a promise) and apply refunds only LATE_MS later. */
class LateRefundCounters implements CounterStore {
  private readonly inner = new MemoryCounters();
  consume(counter: string, limit: number, resetAt: number) {
    return Promise.resolve(this.inner.consume(counter, limit, resetAt));
  }
  consumeAll(takes: readonly CounterTake[]) {
    return Promise.resolve(this.inner.consumeAll(takes));
  }
  count(counter: string) {
    return Promise.resolve(this.inner.count(counter));
  }
  refund(counter: string) {
    return later(() => this.inner.refund(counter));
  }
  refundAll(takes: readonly CounterTake[]) {
    return later(() => this.inner.refundAll(takes));
  }
}

let keys: KeyManager;
beforeEach(() => {
  keys = new KeyManager({ store: new MemoryStore(), counters: new LateRefundCounters() });
});
afterEach(() => keys.close());

const balance = async (id: string) => (await keys.get(id))?.credits?.remaining;

describe("a refusal after apiKeyAuth is sent once the request's credits are back", () => {
  it("Express requireScope: 403, and the credit apiKeyAuth took is already back", async () => {
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:read"], credits: { remaining: 10 } });
    const app = express();
    app.post("/reports", apiKeyAuth({ keys }), requireScope("reports:write"), (_req, res) => void res.json({}));
    const refused = await request(app).post("/reports").set("Authorization", `Bearer ${secret}`).expect(403);
    expect(refused.body.error.code).toBe("insufficient_scope");
    expect(await balance(key.id)).toBe(10);
  });

  it("Express chargeCredits(5) over a balance of 3: 429 credits_exhausted, and the balance is still 3", async () => {
    const { secret, key } = await keys.create({ name: "r", credits: { remaining: 3 } });
    const app = express();
    app.post("/report", apiKeyAuth({ keys }), chargeCredits(5), (_req, res) => void res.json({}));
    const refused = await request(app).post("/report").set("Authorization", `Bearer ${secret}`).expect(429);
    expect(refused.body.error.code).toBe("credits_exhausted");
    expect(await balance(key.id)).toBe(3);
    // The balance it left pays for cheaper routes in full.
    app.post("/cheap", apiKeyAuth({ keys }), chargeCredits(3), (_req, res) => void res.json({}));
    await request(app).post("/cheap").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(await balance(key.id)).toBe(0);
  });

  it("Express chargeCredits cheaper than apiKeyAuth's cost: the surplus is back before the route's cost is taken from it, and a free route answers once all is back", async () => {
    const { secret, key } = await keys.create({ name: "r", credits: { remaining: 10 } });
    const app = express();
    app.post("/less", apiKeyAuth({ keys, cost: 10 }), chargeCredits(4), (_req, res) => void res.json({}));
    await request(app).post("/less").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(await balance(key.id)).toBe(6);
    // A free route after it gives back all ten before answering.
    const other = await keys.create({ name: "f", credits: { remaining: 10 } });
    app.post("/free", apiKeyAuth({ keys, cost: 10 }), chargeCredits(0), (_req, res) => void res.json({}));
    await request(app).post("/free").set("Authorization", `Bearer ${other.secret}`).expect(200);
    expect(await balance(other.key.id)).toBe(10);
  });

  it("Hono requireScope: 403, and the credit is already back", async () => {
    const { secret, key } = await keys.create({ name: "r", scopes: ["nodes:read"], credits: { remaining: 10 } });
    const app = new Hono<ApiKeyEnv>();
    app.use("/v1/*", honoAuth({ keys }));
    app.post("/v1/nodes", honoScope("nodes:write"), (c) => c.json({}));
    const refused = await app.request("/v1/nodes", { method: "POST", headers: { authorization: `Bearer ${secret}` } });
    expect(refused.status).toBe(403);
    expect(await balance(key.id)).toBe(10);
  });

  it("Fastify requireScope: 403, and the credit is already back", async () => {
    const { secret, key } = await keys.create({ name: "r", scopes: ["nodes:read"], credits: { remaining: 10 } });
    const app = Fastify();
    await app.register(keyward, { keys });
    app.post("/v1/nodes", { preHandler: fastifyScope("nodes:write") }, async () => ({}));
    try {
      const base = await app.listen({ port: 0, host: "127.0.0.1" });
      const refused = await fetch(`${base}/v1/nodes`, { method: "POST", headers: { authorization: `Bearer ${secret}` } });
      expect(refused.status).toBe(403);
      expect(await balance(key.id)).toBe(10);
    } finally {
      await app.close();
    }
  });
});
