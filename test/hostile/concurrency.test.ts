/**
 * Concurrency: revoke while 100 requests are in flight against a slow store (every request that
 * starts after revoke() resolves is refused; the cache epoch stops stale lookups from re-inserting
 * the key), concurrent create at the max-active-keys cap, concurrent rotation of one key, and an
 * exact quota under a burst.
 */
import { trackSecret } from "./leak-guard";
import express from "express";
import { KeyManager, KeywardError, MemoryStore, apiKeyAuth, type KeyStore } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { countingStore } from "../counting-store";
import { listen, sleep } from "./support";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let files = 0;
const stores: Record<string, () => KeyStore> = {
  memory: () => new MemoryStore(),
  sqlite: () => new SqliteStore(tmp.file(`c${files++}.db`)),
};

describe.each(["memory", "sqlite"] as const)("revoke while 100 requests are in flight (%s store, slow reads)", (kind) => {
  it("refuses every request that starts after revoke() resolves", async () => {
    const counting = countingStore(stores[kind]!());
    const keys = new KeyManager({ store: counting.store, cache: { ttl: "1h" } });
    const { secret, key } = await keys.create({ name: "doomed" });
    // Until the revocation each read answers what the store held when it was made, 80 ms later: those
    // lookups come back with the key still active after revoke() has resolved, and after faster reads
    // made since have cached the revoked key. Without the cache epoch they would overwrite it.
    counting.fault("findByHash", { delayMs: 80 });

    // A request "starts" when it reaches the server; the 30th arrival triggers the revocation.
    let revoked = false;
    let arrivals = 0;
    let revocation: Promise<unknown> | null = null;
    const app = express();
    app.get("/warm", (_req, res) => {
      res.end();
    });
    app.use((req, _res, next) => {
      (req as unknown as { afterRevoke: boolean }).afterRevoke = revoked;
      if (++arrivals === 30) {
        revocation = keys.revoke(key.id).then(() => {
          revoked = true;
          counting.fault("findByHash", null);
        });
      }
      next();
    });
    const flag = (req: unknown) => (req as { afterRevoke: boolean }).afterRevoke;
    app.use(apiKeyAuth({ keys, formatError: (e, req) => ({ code: e.code, afterRevoke: flag(req) }) }));
    app.get("/whoami", (req, res) => {
      res.json({ code: "ok", afterRevoke: flag(req) });
    });
    const server = await listen(app);
    const base = `http://127.0.0.1:${server.port}`;
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/warm`).then((r) => r.text()))); // open connections first
    const call = async () =>
      (await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${secret}` } })).json() as Promise<{ code: string; afterRevoke: boolean }>;

    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        await sleep(2 * i); // spread over ~200 ms: the revocation lands while the first reads are pending
        return call();
      }),
    );
    await revocation;

    const before = results.filter((r) => !r.afterRevoke);
    const after = results.filter((r) => r.afterRevoke);
    expect(before.length).toBeGreaterThanOrEqual(30);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((r) => r.code !== "key_revoked")).toEqual([]);
    expect(results.every((r) => r.code === "ok" || r.code === "key_revoked")).toBe(true);
    // Later, with no lookups in flight, the cache holds no stale pass either.
    expect((await call()).code).toBe("key_revoked");
    await server.close();
    await keys.close();
  });

  it("a lookup that began before revoke() and ends after it does not put the key back in the cache", async () => {
    const counting = countingStore(stores[kind]!());
    const keys = new KeyManager({ store: counting.store, cache: { ttl: "1h" } });
    const { secret, key } = await keys.create({ name: "raced" });
    counting.fault("findByHash", { delayMs: 30 });
    const early = keys.pipeline.authenticate(secret); // reads the active key, answers in 30 ms
    await keys.revoke(key.id);
    const late = await early;
    expect(late).not.toBeInstanceOf(KeywardError); // it started before the revocation: allowed
    counting.fault("findByHash", null);
    counting.reset();
    const next = await keys.pipeline.authenticate(secret);
    expect(next).toMatchObject({ code: "key_revoked" });
    expect(counting.calls.findByHash).toBe(1); // went to the store: nothing stale was cached
    await keys.close();
  });
});

describe.each(["memory", "sqlite"] as const)("concurrent writes on a %s store", (kind) => {
  it("25 concurrent creates at a cap of 5 active keys create exactly 5", async () => {
    const keys = new KeyManager({ store: stores[kind]!(), tiers: { free: { maxActiveKeys: 5 } }, tierOf: async () => "free" });
    const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => keys.create({ name: `k${i}`, ownerId: "owner_1" })));
    const created = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(created).toHaveLength(5);
    expect(refused.map((r) => (r.reason as KeywardError).code)).toEqual(Array(20).fill("key_limit_reached"));
    expect((await keys.list({ ownerId: "owner_1", status: "active" })).keys).toHaveLength(5);
    // Another owner is unaffected; a revoked key frees a slot for exactly one more.
    await keys.create({ name: "other", ownerId: "owner_2" });
    await keys.revoke((created[0] as PromiseFulfilledResult<{ key: { id: string } }>).value.key.id);
    const again = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => keys.create({ name: `again${i}`, ownerId: "owner_1" })));
    expect(again.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    await keys.close();
  });

  it("10 concurrent rotations of one key yield exactly one successor", async () => {
    const keys = new KeyManager({ store: stores[kind]!() });
    const { key } = await keys.create({ name: "rotated", ownerId: "o" });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => keys.rotate(key.id)));
    const winners = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<KeyManager["rotate"]>>> => r.status === "fulfilled");
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect((r.reason as KeywardError).code).toBe("conflict");
    const successors = (await keys.list({ ownerId: "o" })).keys.filter((k) => k.rotatedFrom === key.id);
    expect(successors.map((k) => k.id)).toEqual([winners[0]!.value.key.id]);
    expect((await keys.get(key.id))!.rotatedTo).toBe(winners[0]!.value.key.id);
    expect((await keys.verify(winners[0]!.value.secret)).ok).toBe(true);
    await keys.close();
  });

  it("rotate racing revoke never leaves a successor of a key revoked before the rotation", async () => {
    const keys = new KeyManager({ store: stores[kind]!() });
    for (let round = 0; round < 10; round++) {
      const { key } = await keys.create({ name: `r${round}`, ownerId: `race${round}` });
      const [rotation] = await Promise.allSettled([keys.rotate(key.id), keys.revoke(key.id)]);
      const old = (await keys.get(key.id))!;
      const successors = (await keys.list({ ownerId: `race${round}` })).keys.filter((k) => k.rotatedFrom === key.id);
      expect(old.status).toBe("revoked");
      if (rotation.status === "fulfilled") expect(successors.map((k) => k.id)).toEqual([old.rotatedTo]);
      else expect([successors.length, old.rotatedTo]).toEqual([0, null]);
    }
    await keys.close();
  });

  it("a monthly quota of 50 admits exactly 50 of 120 concurrent requests, even with slow counters", async () => {
    const counting = countingStore(stores[kind]!());
    const keys = new KeyManager({ store: counting.store, tiers: { small: { monthlyRequests: 50 } }, usage: { flushInterval: "1h" } });
    const { secret, key } = await keys.create({ name: "q", tier: "small" });
    counting.fault("consume", { delayMs: 5 });
    const results = await Promise.all(Array.from({ length: 120 }, () => keys.verify(secret)));
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual(Array(70).fill("quota_exceeded"));
    trackSecret(secret);
    await keys.flushUsage();
    expect((await keys.get(key.id))!.requestCount).toBe(50);
    await keys.close();
  });
});

describe("two managers (two connections) on one SQLite file", () => {
  it("creating concurrently through both never exceeds the cap", async () => {
    const file = tmp.file("shared-cap.db");
    const options = { tiers: { free: { maxActiveKeys: 5 } }, tierOf: async () => "free" };
    const a = new KeyManager({ store: new SqliteStore(file), ...options });
    const b = new KeyManager({ store: new SqliteStore(file), ...options });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).create({ name: `k${i}`, ownerId: "shared" })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
    expect((await a.list({ ownerId: "shared", status: "active" })).keys).toHaveLength(5);
    await a.close();
    await b.close();
  });
});
