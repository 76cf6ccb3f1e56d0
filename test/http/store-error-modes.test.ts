/**
 * `onStoreError` over real HTTP with a counter store that really fails (FlakyStore over a
 * MemoryStore, kept apart from the healthy key store): "closed" answers 503 (today's codes),
 * "open" admits uncounted, "local" counts in this process over the same windows, starting from
 * what the store last answered; a key LOOKUP failure is refused on every route; the manager's
 * default, `keys.verify`, `fetchAuth` (on node:http) and the throttled `counters.unavailable` event.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import express from "express";
import request from "supertest";
import { KeyManager, KeywardConfigError, MemoryStore, apiKeyAuth, requireScope, type CountersUnavailableEvent, type KeywardEvent } from "keyward";
import { fetchAuth, type FetchAuthOptions } from "keyward/fetch";
import { TestClock } from "../helpers";
import { FlakyStore } from "./flaky-store";

const tiers = { t: { monthlyRequests: 1000, rateLimit: { limit: 3, window: "1m" } } };

/** A manager whose counters live in a FlakyStore; routes /closed, /open, /local and /local-guarded. */
async function setUp(options: { mode?: "sync" | "async"; onStoreError?: "closed" | "open" | "local" } = {}) {
  const clock = new TestClock(Date.UTC(2026, 10, 23, 12, 0, 0));
  const events: KeywardEvent[] = [];
  const counters = new FlakyStore(new MemoryStore(), options.mode ?? "sync");
  const keys = new KeyManager({
    store: new MemoryStore(),
    counters,
    tiers,
    clock: clock.now,
    storeTimeout: "200ms",
    usage: false,
    onEvent: (e) => events.push(e),
    ...(options.onStoreError ? { onStoreError: options.onStoreError } : {}),
  });
  const { secret, key } = await keys.create({ name: "outage", tier: "t", scopes: ["notes:read"] });
  const app = express();
  const ok = (req: express.Request, res: express.Response) => void res.json({ id: req.apiKey?.id });
  app.get("/closed", apiKeyAuth({ keys, onStoreError: "closed" }), ok);
  app.get("/open", apiKeyAuth({ keys, onStoreError: "open" }), ok);
  app.get("/local", apiKeyAuth({ keys, onStoreError: "local" }), ok);
  app.get("/local-guarded", apiKeyAuth({ keys, onStoreError: "local" }), requireScope("notes:write"), ok);
  app.get("/default", apiKeyAuth({ keys }), ok);
  const server = http.createServer(app).listen(0, "127.0.0.1");
  const get = (path: string, token = secret) => request(server).get(path).set("Authorization", `Bearer ${token}`);
  const unavailable = () => events.filter((e): e is CountersUnavailableEvent => e.type === "counters.unavailable");
  return {
    clock,
    events,
    counters,
    keys,
    secret,
    key,
    get,
    unavailable,
    async close() {
      server.close();
      await keys.close();
    },
  };
}

describe.each(["sync", "async"] as const)("onStoreError with a %s counter store that fails", (mode) => {
  it('"closed" refuses with 503 store_unavailable and Retry-After: 1, as before', async () => {
    const t = await setUp({ mode });
    await t.get("/closed").expect(200);
    t.counters.broken = true;
    for (const path of ["/closed", "/default"]) {
      const res = await t.get(path).expect(503);
      expect(res.body.error.code).toBe("store_unavailable");
      expect(res.headers["retry-after"]).toBe("1");
    }
    await t.close();
  });

  it('"open" admits every request, uncounted and without RateLimit headers', async () => {
    const t = await setUp({ mode });
    t.counters.broken = true;
    for (let i = 0; i < 6; i++) {
      const res = await t.get("/open").expect(200);
      expect(res.body.id).toBe(t.key.id);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    t.counters.broken = false;
    t.clock.advance(1000); // past the second in which open routes skip the failed store
    const res = await t.get("/open").expect(200);
    expect(res.headers.ratelimit).toMatch(/^"window";r=2;t=\d+$/); // the six uncounted requests took nothing
    await t.close();
  });

  it('"local" counts in this process over the same window, from the count the store last answered', async () => {
    const t = await setUp({ mode });
    await t.get("/local").expect(200); // the store counts 1 of 3 in this window
    t.counters.broken = true;
    const first = await t.get("/local").expect(200);
    expect(first.headers.ratelimit).toMatch(/^"window";r=1;t=\d+$/);
    await t.get("/local").expect(200);
    const refused = await t.get("/local").expect(429);
    expect(refused.body.error.code).toBe("rate_limited");
    expect(refused.headers["retry-after"]).toBe("60");
    // The next window: a fresh local count.
    t.clock.advance(60_000);
    await t.get("/local").expect(200);
    await t.close();
  });

  it('a guard refusal after a "local" admission gives the unit back to the local counters', async () => {
    const t = await setUp({ mode });
    t.counters.broken = true;
    for (let i = 0; i < 5; i++) expect((await t.get("/local-guarded").expect(403)).body.error.code).toBe("insufficient_scope");
    for (let i = 0; i < 3; i++) await t.get("/local").expect(200); // all three units are still there
    await t.get("/local").expect(429);
    await t.close();
  });

  it("a key LOOKUP failure is refused (503) on every route, whatever its mode", async () => {
    const clock = new TestClock();
    const store = new FlakyStore(new MemoryStore(), mode);
    const keys = new KeyManager({ store, counters: new MemoryStore(), clock: clock.now, usage: false, onStoreError: "open" });
    const { secret } = await keys.create({ name: "uncached" });
    keys.invalidate(); // nothing cached: the next request must read the key store
    store.broken = true;
    const app = express();
    for (const m of ["closed", "open", "local"] as const) app.get(`/${m}`, apiKeyAuth({ keys, onStoreError: m }), (_req, res) => void res.end("ok"));
    for (const m of ["closed", "open", "local"]) {
      const res = await request(app).get(`/${m}`).set("Authorization", `Bearer ${secret}`).expect(503);
      expect(res.body.error.code).toBe("store_unavailable");
    }
    store.broken = false;
    await keys.close();
  });
});

describe("counters.unavailable events", () => {
  it("one per mode per 10 s, the rest counted in the next one's `suppressed`; no secret, hash or store message", async () => {
    const t = await setUp();
    t.counters.broken = true;
    for (let i = 0; i < 4; i++) await t.get("/open").expect(200);
    for (let i = 0; i < 3; i++) await t.get("/closed").expect(503);
    await t.get("/local").expect(200);
    expect(t.unavailable().map((e) => [e.mode, e.keyId, e.suppressed])).toEqual([
      ["open", t.key.id, 0],
      ["closed", t.key.id, 0],
      ["local", t.key.id, 0],
    ]);
    t.clock.advance(10_000);
    await t.get("/closed").expect(503);
    expect(t.unavailable().at(-1)).toMatchObject({ type: "counters.unavailable", mode: "closed", keyId: t.key.id, suppressed: 2 });
    expect(t.unavailable().at(-1)!.at).toEqual(new Date(t.clock.ms));
    const text = JSON.stringify(t.events);
    expect(text).not.toContain(t.secret);
    expect(text).not.toContain(createHash("sha256").update(t.secret).digest("hex"));
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("ECONNREFUSED");
    await t.close();
  });
});

describe("the KeyManager default and keys.verify", () => {
  it("routes without onStoreError and keys.verify use the manager's; a route or a call can say otherwise", async () => {
    const t = await setUp({ onStoreError: "open" });
    t.counters.broken = true;
    await t.get("/default").expect(200);
    await t.get("/closed").expect(503);
    expect((await t.keys.verify(t.secret)).ok).toBe(true);
    const refused = await t.keys.verify(t.secret, { onStoreError: "closed" });
    expect(refused.ok || refused.error.code).toBe("store_unavailable");
    const local = await t.keys.verify(t.secret, { onStoreError: "local" });
    expect(local.ok && local.limits.map((l) => l.remaining)).toEqual([2, 999]);
    await t.close();
  });

  it("refuses a bad mode at construction, naming the option", async () => {
    const keys = new KeyManager({ store: new MemoryStore(), usage: false });
    expect(() => apiKeyAuth({ keys, onStoreError: "maybe" as "open" })).toThrow(KeywardConfigError);
    expect(() => apiKeyAuth({ keys, onStoreError: "maybe" as "open" })).toThrow(/apiKeyAuth\.onStoreError/);
    expect(() => fetchAuth({ keys, onStoreError: "shut" as "closed" })).toThrow(/fetchAuth\.onStoreError/);
    expect(() => new KeyManager({ store: new MemoryStore(), onStoreError: "ajar" as "open" })).toThrow(/KeyManager\.onStoreError/);
    await expect(keys.verify("sk_live_x", { onStoreError: "x" as "open" })).rejects.toThrow(/verify\.onStoreError/);
    await keys.close();
  });
});

describe("fetchAuth (keyward/fetch, also keyward/hono) on node:http", () => {
  /** Serves fetchAuth's answers over real HTTP. */
  function serve(options: FetchAuthOptions): http.Server {
    const auth = fetchAuth(options);
    return http
      .createServer(async (req, res) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
        const result = await auth(new Request(`http://localhost${req.url}`, { headers }));
        const response = result.ok ? Response.json({ id: result.key?.id }, { headers: result.headers }) : result.response;
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(await response.text());
      })
      .listen(0, "127.0.0.1");
  }

  it('applies "open" and "local" the same way', async () => {
    const t = await setUp({ mode: "async" });
    const open = serve({ keys: t.keys, onStoreError: "open" });
    const local = serve({ keys: t.keys, onStoreError: "local" });
    const closed = serve({ keys: t.keys });
    t.counters.broken = true;
    const auth = `Bearer ${t.secret}`;
    await request(closed).get("/").set("Authorization", auth).expect(503);
    for (let i = 0; i < 5; i++) await request(open).get("/").set("Authorization", auth).expect(200);
    for (let i = 0; i < 3; i++) await request(local).get("/").set("Authorization", auth).expect(200);
    expect((await request(local).get("/").set("Authorization", auth).expect(429)).body.error.code).toBe("rate_limited");
    for (const s of [open, local, closed]) s.close();
    await t.close();
  });
});
