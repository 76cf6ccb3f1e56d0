/**
 * keyward/otel with the real OpenTelemetry SDK (in-memory metric and span exporters), over real
 * HTTP: metric names, attributes and values for verify outcomes by code, cache hits and misses,
 * limiter decisions, guard refusals, store latency, counter-store failures and revocation lag; a
 * span per verification carrying the key id; no attribute anywhere holding the secret or its hash;
 * `stop()` removing it all.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import express from "express";
import Redis from "ioredis";
import request from "supertest";
import { KeyManager, KeywardConfigError, MemoryStore, apiKeyAuth, requireScope } from "keyward";
import { fetchAuth } from "keyward/fetch";
import { instrument } from "keyward/otel";
import { redisInvalidation } from "keyward/redis";
import { FlakyStore } from "../http/flaky-store";
import { lastCharChanged, TestClock } from "../helpers";
import { describeWithServices, REDIS_URL } from "../stores/services";
import { points, telemetry, value } from "./telemetry";

const tiers = { t: { monthlyRequests: 100, rateLimit: { limit: 2, window: "1m" } } };

/** An instrumented manager behind apiKeyAuth + requireScope("notes:read") on /notes, over real HTTP. */
async function setUp(counters?: FlakyStore) {
  const otel = telemetry();
  const clock = new TestClock();
  const keys = new KeyManager({ store: new MemoryStore(), tiers, clock: clock.now, usage: false, ...(counters ? { counters } : {}) });
  const stop = instrument(keys, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
  const app = express();
  app.get("/notes", apiKeyAuth({ keys }), requireScope("notes:read"), (req, res) => void res.json({ id: req.apiKey?.id }));
  app.get("/local", apiKeyAuth({ keys, onStoreError: "local" }), (_req, res) => void res.end("ok"));
  const server = http.createServer(app).listen(0, "127.0.0.1");
  const get = (path: string, token?: string) => {
    const r = request(server).get(path);
    return token === undefined ? r : r.set("Authorization", `Bearer ${token}`);
  };
  return {
    otel,
    keys,
    clock,
    stop,
    get,
    async close() {
      server.close();
      stop();
      await keys.close();
      await otel.shutdown();
    },
  };
}

/** Every attribute value of every span and data point, as one string. */
async function everyAttribute(otel: ReturnType<typeof telemetry>): Promise<string> {
  const metrics = await otel.collect();
  const values: unknown[] = otel.spans().flatMap((s) => [s.name, ...Object.values(s.attributes), ...s.events.map((e) => e.attributes)]);
  for (const m of metrics.values()) for (const [attributes] of points(m)) values.push(...Object.values(attributes));
  return JSON.stringify(values);
}

describe("instrument(keys): metrics", () => {
  it("counts outcomes by code, cache hits and misses, limiter decisions and guard refusals", async () => {
    const t = await setUp();
    const { secret, key } = await t.keys.create({ name: "reader", tier: "t", scopes: ["notes:read"] });
    const writer = await t.keys.create({ name: "writer", tier: "t", scopes: ["notes:write"] });
    const revoked = await t.keys.create({ name: "gone", scopes: ["notes:read"] });
    await t.keys.revoke(revoked.key.id);

    await t.get("/notes", secret).expect(200); // cache miss, then admitted
    await t.get("/notes", secret).expect(200); // hit
    await t.get("/notes", secret).expect(429); // hit, rate limited (2 per minute)
    await t.get("/notes").expect(401); // no key: refused before verification
    await t.get("/notes", lastCharChanged(secret)).expect(401); // bad checksum: a cache miss, no store read
    await t.get("/notes", revoked.secret).expect(401);
    await t.get("/notes", writer.secret).expect(403); // admitted, then refused by the guard

    const m = await t.otel.collect();
    expect(points(m.get("keyward.verifications"))).toEqual([
      [{ "keyward.outcome": "admitted" }, 3],
      [{ "keyward.outcome": "refused", "keyward.code": "invalid_key" }, 1],
      [{ "keyward.outcome": "refused", "keyward.code": "key_revoked" }, 1],
      [{ "keyward.outcome": "refused", "keyward.code": "missing_key" }, 1],
      [{ "keyward.outcome": "refused", "keyward.code": "rate_limited" }, 1],
    ]);
    expect(m.get("keyward.verifications")?.descriptor.unit).toBe("{verification}");
    // Six verifications ran (the request without a key reached none): four cache misses (the reader's
    // first request, the near miss, the revoked key, the writer) and two hits.
    expect(value(m.get("keyward.cache.lookups"), { "keyward.cache.result": "miss" })).toBe(4);
    expect(value(m.get("keyward.cache.lookups"), { "keyward.cache.result": "hit" })).toBe(2);
    expect(value(m.get("keyward.verification.duration"), { "keyward.outcome": "admitted" })).toBe(3);
    expect(value(m.get("keyward.verification.duration"), { "keyward.outcome": "refused" })).toBe(3);
    expect(m.get("keyward.verification.duration")?.descriptor.unit).toBe("s");
    expect(points(m.get("keyward.limiter.decisions"))).toEqual([
      [{ "keyward.limit.policy": "monthly", "keyward.limit.decision": "admitted" }, 3],
      [{ "keyward.limit.policy": "window", "keyward.limit.decision": "admitted" }, 3],
      [{ "keyward.limit.policy": "window", "keyward.limit.decision": "refused" }, 1],
    ]);
    expect(points(m.get("keyward.guard.refusals"))).toEqual([[{ "keyward.code": "insufficient_scope" }, 1]]);
    // Store latency: one key-store read per key not cached (the near miss never reaches the store), one charge per metered admission try.
    expect(value(m.get("keyward.store.duration"), { "keyward.store": "keys", "keyward.store.operation": "findByHash", "keyward.store.outcome": "ok" })).toBe(3);
    expect(value(m.get("keyward.store.duration"), { "keyward.store": "counters", "keyward.store.operation": "charge", "keyward.store.outcome": "ok" })).toBe(4);
    expect(points(m.get("keyward.cache.size"))).toEqual([
      [{ "keyward.cache.kind": "keys" }, 3],
      [{ "keyward.cache.kind": "unknown" }, 0],
    ]);
    expect(key.id).toMatch(/^key_/);
    await t.close();
  });

  it("counts every counter-store failure by the route's mode, and marks the closed route's span as an error", async () => {
    const counters = new FlakyStore(new MemoryStore());
    const t = await setUp(counters);
    const { secret } = await t.keys.create({ name: "outage", tier: "t", scopes: ["notes:read"] });
    counters.broken = true;
    for (let i = 0; i < 3; i++) await t.get("/notes", secret).expect(503);
    await t.get("/local", secret).expect(200);
    const m = await t.otel.collect();
    expect(points(m.get("keyward.counters.unavailable"))).toEqual([
      [{ "keyward.store_error.mode": "closed" }, 3],
      [{ "keyward.store_error.mode": "local" }, 1],
    ]);
    expect(value(m.get("keyward.store.duration"), { "keyward.store": "counters", "keyward.store.operation": "charge", "keyward.store.outcome": "error" })).toBe(
      4,
    );
    const refused = t.otel.spans().filter((s) => s.attributes["keyward.code"] === "store_unavailable");
    expect(refused).toHaveLength(3);
    expect(refused.every((s) => s.status.code === 2 && s.status.message === "store unavailable")).toBe(true); // SpanStatusCode.ERROR
    expect(await everyAttribute(t.otel)).not.toContain("hunter2");
    await t.close();
  });
});

describe("instrument(keys): spans", () => {
  it("one keyward.verify span per verification, with the key id (never the secret or its hash)", async () => {
    const t = await setUp();
    const { secret, key } = await t.keys.create({ name: "reader", tier: "t", scopes: ["notes:read"] });
    await t.get("/notes", secret).expect(200);
    await t.get("/notes", secret).expect(200);
    await t.get("/notes", secret).expect(429);
    await t.get("/notes", lastCharChanged(secret)).expect(401);
    const result = await t.keys.verify(secret, { scope: "notes:write" }); // keys.verify runs the same pipeline
    expect(result.ok).toBe(false);
    const web = await fetchAuth({ keys: t.keys })(new Request("http://localhost/", { headers: { authorization: `Bearer ${secret}` } }));
    expect(web.ok).toBe(false); // still rate limited

    const spans = t.otel.spans();
    expect(spans.map((s) => s.name)).toEqual(Array(6).fill("keyward.verify"));
    expect(spans.map((s) => [s.attributes["keyward.outcome"], s.attributes["keyward.code"], s.attributes["keyward.key.id"]])).toEqual([
      ["admitted", undefined, key.id],
      ["admitted", undefined, key.id],
      ["refused", "rate_limited", key.id],
      ["refused", "invalid_key", undefined],
      ["refused", "insufficient_scope", key.id],
      ["refused", "rate_limited", key.id],
    ]);
    expect(spans.map((s) => s.attributes["keyward.cache.hit"])).toEqual([false, true, true, false, true, true]);
    expect(spans[0]!.attributes["keyward.key.mode"]).toBe("live");
    expect(spans.every((s) => s.status.code === 0)).toBe(true); // refusals are answers, not errors
    const all = await everyAttribute(t.otel);
    expect(all).toContain(key.id);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(secret.slice(-20));
    expect(all).not.toContain(createHash("sha256").update(secret).digest("hex"));
    await t.close();
  });

  it("traces: false records metrics without spans", async () => {
    const otel = telemetry();
    const keys = new KeyManager({ store: new MemoryStore(), usage: false });
    const stop = instrument(keys, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider, traces: false });
    const { secret } = await keys.create({ name: "m" });
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(otel.spans()).toHaveLength(0);
    expect(value((await otel.collect()).get("keyward.verifications"), { "keyward.outcome": "admitted" })).toBe(1);
    stop();
    await keys.close();
    await otel.shutdown();
  });
});

describe("instrument(keys): lifecycle", () => {
  it("stop() removes the instrumentation; instrumenting twice or something else throws", async () => {
    const t = await setUp();
    const { secret } = await t.keys.create({ name: "s" });
    expect(() => instrument(t.keys)).toThrow(KeywardConfigError);
    expect(() => instrument({} as KeyManager)).toThrow(/instrument/);
    await t.get("/notes", secret).expect(200);
    t.stop();
    await t.get("/notes", secret).expect(200);
    expect(t.otel.spans()).toHaveLength(1);
    expect(value((await t.otel.collect()).get("keyward.verifications"), { "keyward.outcome": "admitted" })).toBe(1);
    const again = instrument(t.keys, { meterProvider: t.otel.meterProvider, tracerProvider: t.otel.tracerProvider });
    await t.get("/notes", secret).expect(200);
    expect(t.otel.spans()).toHaveLength(2);
    again();
    await t.close();
  });
});

describeWithServices("instrument(keys): revocation lag", ["redis"], () => {
  it("reports keys.stats()'s propagation lag as the keyward.revocation.lag gauge (ms, by statistic)", async () => {
    const otel = telemetry();
    const store = new MemoryStore();
    const channel = `kwtest:otel:${process.pid}:${Date.now()}`;
    const clients = [new Redis(REDIS_URL), new Redis(REDIS_URL), new Redis(REDIS_URL), new Redis(REDIS_URL)];
    const a = new KeyManager({ store, usage: false, maxStaleness: "300ms" });
    const b = new KeyManager({ store, usage: false, maxStaleness: "300ms" });
    const stop = instrument(b, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
    const channels = [
      await redisInvalidation(a, { publisher: clients[0]!, subscriber: clients[1]!, channel }),
      await redisInvalidation(b, { publisher: clients[2]!, subscriber: clients[3]!, channel }),
    ];
    const { key } = await a.create({ name: "x" });
    await a.revoke(key.id);
    for (let i = 0; i < 100 && b.stats().channel.lagMs.samples < 3; i++) await new Promise((r) => setTimeout(r, 50));
    for (const c of channels) await c.close();
    const lag = b.stats().channel.lagMs;
    expect(lag.samples).toBeGreaterThanOrEqual(3);
    const gauge = (await otel.collect()).get("keyward.revocation.lag");
    expect(gauge?.descriptor.unit).toBe("ms");
    expect(points(gauge)).toEqual(
      [
        [{ "keyward.statistic": "last" }, lag.last],
        [{ "keyward.statistic": "max" }, lag.max],
        [{ "keyward.statistic": "p50" }, lag.p50],
        [{ "keyward.statistic": "p99" }, lag.p99],
      ].sort((x, y) => JSON.stringify(x[0]).localeCompare(JSON.stringify(y[0]))),
    );
    stop();
    for (const c of clients) c.disconnect();
    await a.close();
    await b.close();
    await otel.shutdown();
  });
});
