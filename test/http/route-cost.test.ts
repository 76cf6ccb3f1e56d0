/**
 * A route's credit cost taken in ONE step with the request's other limits: the `cost` option of
 * apiKeyAuth, keys.verify, keyward/fetch, keyward/hono and keyward/fastify (plugin and route
 * config). A refused request takes nothing (neither credits nor rate-limit units), keys without
 * credits ignore the cost, `chargeCredits` after it takes only the rest, and N parallel requests of
 * cost c against a balance B admit exactly floor(B / c), on MemoryStore and SQLite, over real HTTP.
 */
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import request from "supertest";
import { apiKeyAuth, chargeCredits, type CounterStore, KeyManager, MemoryStore, requireScope } from "keyward";
import { keyward } from "keyward/fastify";
import { fetchAuth } from "keyward/fetch";
import { apiKeyAuth as honoAuth, requireScope as honoScope, type ApiKeyEnv } from "keyward/hono";
import { requireScope as fastifyScope } from "keyward/fastify";
import { makeKeys } from "../helpers";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const TO_MIDNIGHT = 12 * 3600;
const tiers = { limited: { rateLimit: { limit: 3, window: "1m" } } };
const daily = (remaining: number) => ({ remaining, refill: { amount: remaining, interval: "1d" } });

/** An Express app whose routes answer `{ id }` after apiKeyAuth with the given costs. */
function expressApp(keys: KeyManager) {
  const app = express();
  const ok = (req: express.Request, res: express.Response) => void res.json({ id: req.apiKey?.id });
  app.post("/report", apiKeyAuth({ keys, cost: 10 }), ok);
  app.get("/one", apiKeyAuth({ keys }), ok);
  app.get("/free", apiKeyAuth({ keys, cost: 0 }), ok);
  app.post("/more", apiKeyAuth({ keys, cost: 10 }), chargeCredits(12), ok);
  app.post("/less", apiKeyAuth({ keys, cost: 10 }), chargeCredits(4), ok);
  app.post("/same", apiKeyAuth({ keys, cost: 10 }), requireScope("reports:run", { cost: 10 }), ok);
  app.post("/scoped", apiKeyAuth({ keys, cost: 10 }), requireScope("admin:all"), ok);
  return app;
}

const remaining = async (keys: KeyManager, id: string) => (await keys.get(id))?.credits?.remaining;

describe.each(["memory", "sqlite"] as const)("a route's cost in one take (%s)", (storeKind) => {
  it("apiKeyAuth({ cost }) takes the whole cost at once; short of it: 429 credits_exhausted with Retry-After, nothing taken", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    clock.set(T0);
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:run"], credits: daily(35) });
    const app = expressApp(keys);
    const auth = (r: request.Test) => r.set("Authorization", `Bearer ${secret}`);
    for (const left of [25, 15, 5]) {
      const res = await auth(request(app).post("/report")).expect(200);
      expect(res.headers["ratelimit-policy"]).toBe('"credits";q=35;w=86400');
      expect(res.headers["ratelimit"]).toBe(`"credits";r=${left};t=${TO_MIDNIGHT}`);
    }
    const refused = await auth(request(app).post("/report")).expect(429);
    expect(refused.body.error).toMatchObject({ code: "credits_exhausted", message: expect.stringContaining("it costs 10") });
    expect(refused.headers["retry-after"]).toBe(String(TO_MIDNIGHT));
    expect(await remaining(keys, key.id)).toBe(5);
    expect((await auth(request(app).get("/one")).expect(200)).headers["ratelimit"]).toBe(`"credits";r=4;t=${TO_MIDNIGHT}`);
    // A free route admits even a key out of credits, and shows no credits (it took none).
    for (let i = 0; i < 4; i++) await auth(request(app).get("/one")).expect(200);
    await auth(request(app).get("/one")).expect(429);
    const free = await auth(request(app).get("/free")).expect(200);
    expect(free.headers["ratelimit"]).toBeUndefined();
    expect(await remaining(keys, key.id)).toBe(0);
    clock.set(T0 + TO_MIDNIGHT * 1000); // the refill
    await auth(request(app).post("/report")).expect(200);
    expect(await remaining(keys, key.id)).toBe(25);
    await close();
  });

  it("takes nothing when the rate limit refuses, and no rate-limit unit when the credits refuse; keys without credits pay 1 unit", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers });
    clock.set(T0);
    const app = expressApp(keys);
    const rich = await keys.create({ name: "rich", tier: "limited", credits: daily(100) });
    for (let i = 0; i < 3; i++) await request(app).post("/report").set("Authorization", `Bearer ${rich.secret}`).expect(200);
    const limited = await request(app).post("/report").set("Authorization", `Bearer ${rich.secret}`).expect(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(await remaining(keys, rich.key.id)).toBe(70);

    const poor = await keys.create({ name: "poor", tier: "limited", credits: daily(15) });
    await request(app).post("/report").set("Authorization", `Bearer ${poor.secret}`).expect(200);
    const broke = await request(app).post("/report").set("Authorization", `Bearer ${poor.secret}`).expect(429);
    expect(broke.body.error.code).toBe("credits_exhausted");
    const after = await keys.verify(poor.secret);
    expect(after.ok && after.limits.map((l) => [l.policy, l.remaining])).toEqual([
      ["window", 1], // 3 - the first report - this verify: the refused report's unit came back
      ["credits", 4],
    ]);

    const plain = await keys.create({ name: "plain", tier: "limited" });
    const res = await request(app).post("/report").set("Authorization", `Bearer ${plain.secret}`).expect(200);
    expect(res.headers["ratelimit"]).toBe('"window";r=2;t=60');
    const unmetered = await keys.create({ name: "unmetered" });
    const bare = await request(app).post("/report").set("Authorization", `Bearer ${unmetered.secret}`).expect(200);
    expect(bare.headers["ratelimit"]).toBeUndefined();
    await close();
  });

  it("chargeCredits and guard costs after it take only the rest of their cost, or give back the difference", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:run"], credits: { remaining: 100 } });
    const app = expressApp(keys);
    const auth = (r: request.Test) => r.set("Authorization", `Bearer ${secret}`);
    expect((await auth(request(app).post("/more")).expect(200)).headers["ratelimit"]).toBe('"credits";r=88');
    expect(await remaining(keys, key.id)).toBe(88);
    expect((await auth(request(app).post("/less")).expect(200)).headers["ratelimit"]).toBe('"credits";r=84');
    expect(await remaining(keys, key.id)).toBe(84);
    await auth(request(app).post("/same")).expect(200);
    expect(await remaining(keys, key.id)).toBe(74);
    // A guard's refusal gives back the whole cost, and its headers show it back.
    const refused = await auth(request(app).post("/scoped")).expect(403);
    expect(refused.headers["ratelimit"]).toBe('"credits";r=74');
    expect(await remaining(keys, key.id)).toBe(74);
    // A free apiKeyAuth then chargeCredits: the credits are taken (and shown) by chargeCredits alone.
    const free = express();
    free.post("/", apiKeyAuth({ keys, cost: 0 }), chargeCredits(3), (_req, res) => void res.end("ok"));
    const paid = await auth(request(free).post("/")).expect(200);
    expect([paid.headers["ratelimit-policy"], paid.headers["ratelimit"]]).toEqual(['"credits";q=100', '"credits";r=71']);
    await close();
  });

  it("Hono's and Fastify's requireScope give a refused request's whole cost back", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:read"], credits: { remaining: 50 } });
    const headers = { authorization: `Bearer ${secret}` };
    const hono = new Hono<ApiKeyEnv>();
    hono.post("/write", honoAuth({ keys, cost: 10 }), honoScope("reports:write"), (c) => c.text("ok"));
    const refused = await hono.request("/write", { method: "POST", headers });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("ratelimit")).toBe('"credits";r=50');
    const app = Fastify();
    await app.register(keyward, { keys, cost: 10 });
    app.post("/write", { preHandler: fastifyScope("reports:write") }, async () => "ok");
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const denied = await fetch(`${base}/write`, { method: "POST", headers });
    expect(denied.status).toBe(403);
    expect(denied.headers.get("ratelimit")).toBe('"credits";r=50');
    await app.close();
    expect(await remaining(keys, key.id)).toBe(50);
    await close();
  });

  it("keys.verify(secret, { cost }) takes the cost with the rest, and refuses a bad cost naming verify.cost", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:run"], credits: { remaining: 20 } });
    const first = await keys.verify(secret, { scope: "reports:run", cost: 15 });
    expect(first.ok && first.limits).toEqual([{ policy: "credits", limit: 20, remaining: 5, windowSeconds: 0, resetSeconds: 0 }]);
    const short = await keys.verify(secret, { cost: 6 });
    expect(short.ok || short.error.code).toBe("credits_exhausted");
    expect((await keys.verify(secret, { cost: 5 })).ok).toBe(true);
    expect((await keys.verify(secret, { cost: 0 })).ok).toBe(true);
    expect(await remaining(keys, key.id)).toBe(0);
    for (const cost of [-1, 2.5, 1e13, "5", Number.NaN]) await expect(keys.verify(secret, { cost: cost as never })).rejects.toThrow(/^verify\.cost: must/);
    await close();
  });

  it("fetchAuth and Hono's apiKeyAuth take their cost in one step", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    clock.set(T0);
    const { secret, key } = await keys.create({ name: "r", credits: daily(25) });
    const auth = fetchAuth({ keys, cost: 10 });
    const headers = { authorization: `Bearer ${secret}` };
    const ok = await auth(new Request("http://localhost/report", { headers }));
    expect(ok.ok && ok.headers.get("ratelimit")).toBe(`"credits";r=15;t=${TO_MIDNIGHT}`);
    const hono = new Hono<ApiKeyEnv>();
    hono.post("/report", honoAuth({ keys, cost: 10 }), (c) => c.json({ id: c.get("apiKey")?.id }));
    hono.post("/free", honoAuth({ keys, cost: 0 }), (c) => c.json({ id: c.get("apiKey")?.id }));
    const res = await hono.request("/report", { method: "POST", headers });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit")).toBe(`"credits";r=5;t=${TO_MIDNIGHT}`);
    const refused = await hono.request("/report", { method: "POST", headers });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("credits_exhausted");
    expect(refused.headers.get("retry-after")).toBe(String(TO_MIDNIGHT));
    const viaFetch = await auth(new Request("http://localhost/report", { headers }));
    expect(viaFetch.ok || viaFetch.response.status).toBe(429);
    expect((await hono.request("/free", { method: "POST", headers })).status).toBe(200);
    expect(await remaining(keys, key.id)).toBe(5);
    await close();
  });

  it("the Fastify plugin takes its cost, a route's config.cost overrides it", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:run"], credits: { remaining: 20 } });
    const app = Fastify();
    await app.register(keyward, { keys, cost: 5 });
    app.get("/default", async (req) => ({ id: req.apiKey?.id }));
    app.get("/cheap", { config: { cost: 2 } }, async (req) => ({ id: req.apiKey?.id }));
    app.get("/scoped", { config: { scopes: ["reports:run"], cost: 10 } }, async (req) => ({ id: req.apiKey?.id }));
    app.get("/free", { config: { cost: 0 } }, async (req) => ({ id: req.apiKey?.id }));
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const get = (path: string) => fetch(base + path, { headers: { authorization: `Bearer ${secret}` } });
    expect((await get("/default")).headers.get("ratelimit")).toBe('"credits";r=15');
    expect((await get("/cheap")).headers.get("ratelimit")).toBe('"credits";r=13');
    expect((await get("/scoped")).headers.get("ratelimit")).toBe('"credits";r=3');
    const refused = await get("/default");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("credits_exhausted");
    expect((await get("/cheap")).status).toBe(200);
    expect((await get("/free")).status).toBe(200);
    expect(await remaining(keys, key.id)).toBe(1);
    await app.close();
    await close();
  });

  describe("N parallel requests of cost c against a balance B admit exactly floor(B / c)", () => {
    const B = 100;
    const c = 7;
    const N = 40;
    const expected = Math.floor(B / c); // 14

    it.each(["express", "fetch", "hono", "fastify", "verify"] as const)("%s", async (adapter) => {
      const { keys, close } = makeKeys({ storeKind });
      const { secret, key } = await keys.create({ name: "c", credits: { remaining: B } });
      const headers = { authorization: `Bearer ${secret}` };
      let statuses: number[];
      if (adapter === "express") {
        const app = express();
        app.get("/", apiKeyAuth({ keys, cost: c }), (_req, res) => void res.end("ok"));
        statuses = (await Promise.all(Array.from({ length: N }, () => request(app).get("/").set(headers)))).map((r) => r.status);
      } else if (adapter === "fetch") {
        const auth = fetchAuth({ keys, cost: c });
        const results = await Promise.all(Array.from({ length: N }, () => auth(new Request("http://localhost/", { headers }))));
        statuses = results.map((r) => (r.ok ? 200 : r.response.status));
      } else if (adapter === "hono") {
        const hono = new Hono<ApiKeyEnv>();
        hono.get("/", honoAuth({ keys, cost: c }), (c2) => c2.text("ok"));
        statuses = (await Promise.all(Array.from({ length: N }, () => hono.request("/", { headers })))).map((r) => r.status);
      } else if (adapter === "fastify") {
        const app = Fastify();
        await app.register(keyward, { keys, cost: c });
        app.get("/", async () => "ok");
        const base = await app.listen({ port: 0, host: "127.0.0.1" });
        statuses = (await Promise.all(Array.from({ length: N }, () => fetch(base, { headers })))).map((r) => r.status);
        await app.close();
      } else {
        const results = await Promise.all(Array.from({ length: N }, () => keys.verify(secret, { cost: c })));
        statuses = results.map((r) => (r.ok ? 200 : r.error.status));
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(expected);
      expect(statuses.filter((s) => s === 429)).toHaveLength(N - expected);
      expect(await remaining(keys, key.id)).toBe(B - expected * c);
      await close();
    });
  });
});

describe("a route's cost on other counter stores", () => {
  it("a store without consumeAll takes the cost unit by unit, all or nothing; a cost above the balance costs no store call", async () => {
    const store = new MemoryStore();
    let consumed = 0;
    const counters: CounterStore = {
      consume: (name, limit, resetAt) => {
        consumed++;
        return store.consume(name, limit, resetAt);
      },
      refund: (name) => store.refund(name),
      count: (name) => store.count(name),
    };
    const keys = new KeyManager({ store, counters });
    const { secret, key } = await keys.create({ name: "r", credits: { remaining: 10 } });
    expect((await keys.verify(secret, { cost: 4 })).ok).toBe(true);
    expect((await keys.verify(secret, { cost: 4 })).ok).toBe(true);
    const short = await keys.verify(secret, { cost: 4 });
    expect(short.ok || short.error.code).toBe("credits_exhausted");
    expect(await remaining(keys, key.id)).toBe(2); // the refused request's units came back
    consumed = 0;
    const huge = await keys.verify(secret, { cost: 1_000_000_000_000 });
    expect(huge.ok || huge.error.code).toBe("credits_exhausted");
    expect(consumed).toBe(0);
    await keys.close();
  });

  it('onStoreError: "local" counts a route\'s cost in this process while the counter store is down', async () => {
    const store = new MemoryStore();
    const down = () => {
      throw new Error("counters down");
    };
    const counters: CounterStore = { consume: down, refund: down, consumeAll: down };
    const keys = new KeyManager({ store, counters, onStoreError: "local" });
    const { secret } = await keys.create({ name: "r", credits: { remaining: 25 } });
    const app = express();
    app.get("/", apiKeyAuth({ keys, cost: 10 }), (_req, res) => void res.end("ok"));
    const send = () => request(app).get("/").set("Authorization", `Bearer ${secret}`);
    expect((await send().expect(200)).headers["ratelimit"]).toBe('"credits";r=15');
    expect((await send().expect(200)).headers["ratelimit"]).toBe('"credits";r=5');
    expect((await send().expect(429)).body.error.code).toBe("credits_exhausted");
    await keys.close();
  });
});
