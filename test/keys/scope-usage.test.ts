/**
 * Scope usage: guards (requireScope, requireAnyScope) and pipeline scope checks (keys.verify)
 * count the scopes each key's requests were admitted for, buffered with the usage (no store write
 * per request), per UTC day; keys.scopeUsage answers used and never-used scopes, exact after close().
 */
import express from "express";
import request from "supertest";
import { apiKeyAuth, KeyManager, KeywardConfigError, MemoryStore, requireAnyScope, requireScope, type KeyStore } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { countingStore } from "../counting-store";
import { tempDir, TestClock } from "../helpers";
import { DAY } from "./support";

/** An app with scope-guarded routes and one route that checks no scope. */
function appFor(keys: KeyManager) {
  const app = express();
  app.use(apiKeyAuth({ keys }));
  app.get("/nodes", requireScope("nodes:read"), (_req, res) => res.json({ ok: true }));
  app.post("/nodes", requireScope("nodes:read", "nodes:write"), (_req, res) => res.json({ ok: true }));
  app.get("/report", requireAnyScope("reports:read", "nodes:read"), (_req, res) => res.json({ ok: true }));
  app.get("/open", (_req, res) => res.json({ ok: true }));
  return app;
}

describe.each(["memory", "sqlite"] as const)("scope usage (%s)", (storeKind) => {
  it("counts each admitted scope per day with no store write per request, and stores exactly that after close()", async () => {
    const tmp = tempDir();
    const file = tmp.file("scopes.db");
    const counted = countingStore(storeKind === "sqlite" ? new SqliteStore(file) : new MemoryStore());
    const clock = new TestClock(Date.UTC(2026, 10, 20, 9, 0, 0));
    const keys = new KeyManager({ store: counted.store, clock: clock.now, usage: { flushInterval: "1h" } });
    const { secret, key } = await keys.create({ name: "ci", scopes: ["nodes:read", "nodes:write", "users:read", "reports:read"] });
    const app = request(appFor(keys));
    const auth = { Authorization: `Bearer ${secret}` };
    for (let i = 0; i < 7; i++) await app.get("/nodes").set(auth).expect(200);
    clock.set(Date.UTC(2026, 10, 21, 10, 0, 0));
    for (let i = 0; i < 3; i++) await app.post("/nodes").set(auth).expect(200);
    await app.get("/report").set(auth).expect(200); // the first scope the key holds: reports:read
    await app.get("/open").set(auth).expect(200); // checks no scope: counts nothing
    const last = clock.ms;
    expect(counted.count("recordUsage")).toBe(0);

    // Unflushed uses are included.
    const live = await keys.scopeUsage(key.id, 7);
    expect(live).toEqual({
      used: [
        { scope: "nodes:read", count: 10, lastUsedAt: new Date(Date.UTC(2026, 10, 21, 10, 0, 0)) },
        { scope: "nodes:write", count: 3, lastUsedAt: new Date(last) },
        { scope: "reports:read", count: 1, lastUsedAt: new Date(last) },
      ],
      unused: ["users:read"],
    });
    // One day back: only the second day's uses.
    expect((await keys.scopeUsage(key.id, 1)).used.map((u) => [u.scope, u.count])).toEqual([
      ["nodes:read", 3],
      ["nodes:write", 3],
      ["reports:read", 1],
    ]);

    await keys.close();
    expect(counted.count("recordUsage")).toBe(1); // with the request counts, in one batch
    const reread: KeyStore = storeKind === "sqlite" ? new SqliteStore(file) : counted.store;
    const again = new KeyManager({ store: reread, clock: clock.now });
    expect(await again.scopeUsage(key.id, 7)).toEqual(live);
    expect((await again.get(key.id))!.requestCount).toBe(12);
    const today = Math.floor(clock.ms / DAY);
    expect(await reread.scopeUsage!(key.id, today - 1, today - 1)).toEqual([{ scope: "nodes:read", count: 7, lastUsedAt: Date.UTC(2026, 10, 20, 9, 0, 0) }]);
    await again.close();
    tmp.cleanup();
  });

  it("counts nothing for refused requests (missing scope, rate limit) and nothing for keys that use no scope", async () => {
    const tmp = tempDir();
    const store = storeKind === "sqlite" ? new SqliteStore(tmp.file("k.db")) : new MemoryStore();
    const keys = new KeyManager({ store, rateLimit: { limit: 2, window: "1h" } });
    const reader = await keys.create({ name: "reader", scopes: ["nodes:read"] });
    const idle = await keys.create({ name: "idle", scopes: ["nodes:read"] });
    const app = request(appFor(keys));
    await app.post("/nodes").set("Authorization", `Bearer ${reader.secret}`).expect(403);
    await app.get("/nodes").set("Authorization", `Bearer ${reader.secret}`).expect(200);
    await app.get("/nodes").set("Authorization", `Bearer ${reader.secret}`).expect(200);
    await app.get("/nodes").set("Authorization", `Bearer ${reader.secret}`).expect(429);
    await app.get("/open").set("Authorization", `Bearer ${idle.secret}`).expect(200);
    await keys.flushUsage();
    expect((await keys.scopeUsage(reader.key.id)).used.map((u) => [u.scope, u.count])).toEqual([["nodes:read", 2]]);
    expect(await keys.scopeUsage(idle.key.id)).toEqual({ used: [], unused: ["nodes:read"] });
    await keys.close();
    tmp.cleanup();
  });
});

describe("scope usage: what counts as used", () => {
  it("a wildcard or implied grant is used by the concrete scopes it admitted; used keeps only scopes the key still holds", async () => {
    const keys = new KeyManager({ store: new MemoryStore(), implies: { "admin:write": ["nodes:write"] } });
    const wide = await keys.create({ name: "wide", scopes: ["nodes:*", "admin:write", "users:*", "billing:read"] });
    const app = request(appFor(keys));
    await app.post("/nodes").set("Authorization", `Bearer ${wide.secret}`).expect(200);
    const usage = await keys.scopeUsage(wide.key.id);
    expect(usage.used.map((u) => u.scope)).toEqual(["nodes:read", "nodes:write"]);
    // nodes:* admitted both; admin:write implies nodes:write, so it was needed too (it could have admitted it).
    expect(usage.unused).toEqual(["users:*", "billing:read"]);

    // Narrowed to what was used: the route still works, and the uses of dropped scopes are left out of `used`.
    await keys.update(wide.key.id, { scopes: ["nodes:read"] });
    await app.post("/nodes").set("Authorization", `Bearer ${wide.secret}`).expect(403);
    expect((await keys.scopeUsage(wide.key.id)).used.map((u) => u.scope)).toEqual(["nodes:read"]);
    await keys.close();
  });

  it("keys.verify with scope counts its scopes (all of them), a refused or scope-less call none", async () => {
    const keys = new KeyManager({ store: new MemoryStore() });
    const { secret, key } = await keys.create({ name: "v", scopes: ["nodes:read", "nodes:write"] });
    expect((await keys.verify(secret, { scope: ["nodes:read"] })).ok).toBe(true);
    expect((await keys.verify(secret, { scope: "nodes:read" })).ok).toBe(true);
    expect((await keys.verify(secret, { scope: "users:read" })).ok).toBe(false);
    expect((await keys.verify(secret)).ok).toBe(true); // no scope asked: none counted
    expect(await keys.scopeUsage(key.id)).toMatchObject({ used: [{ scope: "nodes:read", count: 2 }], unused: ["nodes:write"] });
    await keys.close();
  });

  it("a project key (not scope-gated) lists what it used and has no unused scopes", async () => {
    const keys = new KeyManager({ store: new MemoryStore() });
    const { secret, key } = await keys.create({ name: "p", kind: "project", project: "proj_1" });
    await request(appFor(keys)).get("/nodes").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(await keys.scopeUsage(key.id)).toMatchObject({ used: [{ scope: "nodes:read", count: 1 }], unused: [] });
    await keys.close();
  });

  it("keeps scope uses of a failed flush and writes them with the next one, counted once", async () => {
    const counted = countingStore(new MemoryStore());
    const keys = new KeyManager({ store: counted.store, usage: { flushInterval: "1h" } });
    const { secret, key } = await keys.create({ name: "f", scopes: ["nodes:read"] });
    const app = request(appFor(keys));
    for (let i = 0; i < 4; i++) await app.get("/nodes").set("Authorization", `Bearer ${secret}`).expect(200);
    counted.fail("recordUsage");
    await expect(keys.flushUsage()).rejects.toThrow("recordUsage failed (test)");
    expect((await keys.scopeUsage(key.id)).used).toMatchObject([{ scope: "nodes:read", count: 4 }]);
    await app.get("/nodes").set("Authorization", `Bearer ${secret}`).expect(200);
    await keys.flushUsage();
    await keys.flushUsage();
    expect(counted.store.scopeUsage(key.id, 0, 1e6)).toMatchObject([{ scope: "nodes:read", count: 5 }]);
    expect((await keys.scopeUsage(key.id)).used).toMatchObject([{ scope: "nodes:read", count: 5 }]);
    await keys.close();
  });

  it("answers 404 for an unknown key and a KeywardConfigError for a store that keeps no scope usage", async () => {
    const keys = new KeyManager({ store: new MemoryStore() });
    await expect(keys.scopeUsage("key_0000000000000000000000")).rejects.toMatchObject({ code: "not_found" });
    const inner = new MemoryStore();
    const bare: KeyStore = new Proxy(inner, { get: (t, p) => (p === "scopeUsage" ? undefined : Reflect.get(t, p, t)) });
    const old = new KeyManager({ store: bare });
    const { key } = await old.create({ name: "x" });
    await expect(old.scopeUsage(key.id)).rejects.toThrow(KeywardConfigError);
    await old.close();
    await keys.close();
  });
});
