/**
 * Faults an unlucky operator meets: a store that throws, rejects or hangs (503 store_unavailable
 * within storeTimeout, never a pass), a store that is down at start-up and comes back, usage flushes
 * that fail (counts kept and retried, exact totals), SQLite locked by another process (waits via
 * busy_timeout, or fails closed and retries), and close() in the middle of traffic.
 */
import { trackSecret } from "./leak-guard";
import Database from "better-sqlite3";
import request from "supertest";
import { KeyManager, KeywardError, MemoryStore, type KeyStore } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { holdWriteLock, makeApp, makeKeys, tempDir } from "../helpers";
import { countingStore } from "../counting-store";
import { listen, sleep } from "./support";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on("unhandledRejection", onUnhandled));
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

function expectStoreDown(res: request.Response) {
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 503, code: "store_unavailable" });
  expect(res.headers["retry-after"]).toBe("1");
  expect(res.text).not.toMatch(/injected|timed out/); // internal causes stay internal
}

describe("the store fails on the request path: 503, never a pass", () => {
  const counting = countingStore(new MemoryStore());
  const env = makeKeys({ store: counting.store, storeTimeout: "200ms", rateLimit: { limit: 1000, window: "1m" } });
  const app = makeApp(env.keys);
  let secret = "";
  beforeAll(async () => {
    secret = (await env.keys.create({ name: "k" })).secret;
  });
  afterEach(() => {
    counting.fault("findByHash", null);
    counting.fault("consume", null);
    env.keys.invalidate();
  });
  afterAll(() => env.close());
  const call = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);

  it("works when the store is healthy (control)", async () => {
    expect((await call()).status).toBe(200);
  });

  it.each([
    ["throws", "throw"],
    ["rejects", { reject: true }],
    ["hangs (answered at storeTimeout)", "hang"],
  ] as const)("findByHash %s → 503", async (_name, fault) => {
    counting.fault("findByHash", fault);
    expectStoreDown(await call());
  });

  it.each([
    ["throws", "throw"],
    ["rejects", { reject: true }],
    ["hangs", "hang"],
  ] as const)("the rate-limit counter %s → 503", async (_name, fault) => {
    counting.fault("consume", fault);
    expectStoreDown(await call());
  });

  it("a store slower than storeTimeout is treated as down, and its late answer is not cached", async () => {
    counting.fault("findByHash", { delayMs: 400 });
    expectStoreDown(await call());
    await sleep(250); // the late answer arrives now
    counting.fault("findByHash", "throw");
    expectStoreDown(await call()); // still down: nothing stale was cached as a pass
  });

  it("verify() reports store_unavailable instead of throwing", async () => {
    counting.fault("findByHash", "throw");
    const result = await env.keys.verify(secret);
    expect(result.ok ? "ok" : result.error.code).toBe("store_unavailable");
  });

  it("a tier resolver that throws fails closed with 503, not 500", async () => {
    const store = new MemoryStore();
    const tiers = { free: { monthlyRequests: 10 } };
    const { secret } = await new KeyManager({ store, tiers }).create({ name: "t" });
    for (const tierOf of [
      () => {
        throw new Error("plans db down");
      },
      async () => {
        throw new Error("plans db down");
      },
    ]) {
      const keys = new KeyManager({ store, tiers, tierOf });
      expectStoreDown(await request(makeApp(keys)).get("/whoami").set("Authorization", `Bearer ${secret}`));
      await expect(keys.create({ name: "u" })).rejects.toMatchObject({ code: "store_unavailable" });
      await keys.close();
    }
  });
});

/** A store whose init() fails (or never ends) until `healthy` is set. */
class FlakyInitStore extends MemoryStore {
  healthy = false;
  hang = false;
  inits = 0;
  init(): Promise<void> {
    this.inits++;
    if (this.hang && !this.healthy) return new Promise(() => undefined);
    return this.healthy ? Promise.resolve() : Promise.reject(new Error("connection refused"));
  }
}

describe("a store that is down at start-up", () => {
  it("answers 503 while init fails, raises no unhandled rejection, and recovers when the store is back", async () => {
    const store = new FlakyInitStore();
    const probeKeys = new KeyManager({ store: new MemoryStore() });
    const keys = new KeyManager({ store, storeTimeout: "200ms" });
    await sleep(10); // let the failed init settle with nobody awaiting it
    const app = makeApp(keys);
    const probe = probeKeys.format.generate("live");
    trackSecret(probe);
    expectStoreDown(await request(app).get("/whoami").set("Authorization", `Bearer ${probe}`));
    await expect(keys.create({ name: "x" })).rejects.toMatchObject({ code: "store_unavailable" });
    store.healthy = true;
    const { secret } = await keys.create({ name: "x" });
    expect((await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`)).status).toBe(200);
    await keys.close();
    await probeKeys.close();
  });

  it("answers 503 within storeTimeout when init never completes", async () => {
    const store = new FlakyInitStore();
    store.hang = true;
    const keys = new KeyManager({ store, storeTimeout: "200ms" });
    const probe = keys.format.generate("live");
    trackSecret(probe);
    expectStoreDown(await request(makeApp(keys)).get("/whoami").set("Authorization", `Bearer ${probe}`));
    await expect(keys.create({ name: "x" })).rejects.toMatchObject({ code: "store_unavailable" });
    store.healthy = true;
    await keys.create({ name: "y" });
    await keys.close();
  });
});

describe("usage flushes that fail", () => {
  it("keeps the counts, retries them, and ends with exact totals", async () => {
    const counting = countingStore(new MemoryStore());
    const env = makeKeys({ store: counting.store, usage: { flushInterval: "1h" } });
    const a = await env.keys.create({ name: "a" });
    const b = await env.keys.create({ name: "b" });
    const app = makeApp(env.keys);
    const hit = (secret: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200)));

    await hit(a.secret, 30);
    counting.fault("recordUsage", "throw");
    await expect(env.keys.flushUsage()).rejects.toThrow("injected");
    await hit(a.secret, 5);
    await hit(b.secret, 7);
    await expect(env.keys.flushUsage()).rejects.toThrow("injected");
    // Views include what is still buffered, so nothing dips while the store is failing.
    expect((await env.keys.get(a.key.id))!.requestCount).toBe(35);
    counting.fault("recordUsage", null);
    await env.keys.flushUsage();
    expect(counting.store.findById(a.key.id)!.requestCount).toBe(35);
    expect(counting.store.findById(b.key.id)!.requestCount).toBe(7);
    expect((await env.keys.usage(a.key.id, 1))[0]!.count).toBe(35);
    const failures = env.events.filter((e) => e.type === "usage.flush_failed");
    expect(failures).toHaveLength(2);
    await env.close();
  });

  it("close() retries a failing flush and loses nothing when the store comes back", async () => {
    const counting = countingStore(new MemoryStore());
    const keys = new KeyManager({ store: counting.store, usage: { flushInterval: "1h" } });
    const { secret, key } = await keys.create({ name: "c" });
    for (let i = 0; i < 50; i++) keys.pipeline.recordUse(keys.pipeline.authenticate(secret) as never);
    let failures = 2;
    const inner = counting.store.recordUsage.bind(counting.store);
    (counting.store as KeyStore).recordUsage = (batch) => {
      if (failures-- > 0) throw new Error("injected flush failure");
      return inner(batch);
    };
    await keys.close();
    expect(counting.store.findById(key.id)!.requestCount).toBe(50);
  });
});

describe("SQLite locked by another process", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("writes wait for another process's lock (busy_timeout) and succeed; reads are not blocked (WAL)", async () => {
    const file = tmp.file("busy.db");
    const keys = new KeyManager({ store: new SqliteStore(file), usage: { flushInterval: "1h" } });
    const first = await keys.create({ name: "first" });
    for (let i = 0; i < 10; i++) keys.pipeline.recordUse(keys.pipeline.authenticate(first.secret) as never);
    const lock = await holdWriteLock(file, 300);
    keys.invalidate();
    expect(keys.pipeline.authenticate(first.secret)).not.toBeInstanceOf(KeywardError); // a read during the lock
    const second = await keys.create({ name: "second" }); // waits for the lock
    await keys.flushUsage(); // waits too
    expect(await lock.released).toBe(0);
    expect((await keys.get(second.key.id))!.name).toBe("second");
    expect((await keys.get(first.key.id))!.requestCount).toBe(10);
    await keys.close();
  });

  it("a lock held longer than busy_timeout (second connection) fails closed (503 / flush retried) and loses no counts", async () => {
    const file = tmp.file("locked.db");
    const events: string[] = [];
    const keys = new KeyManager({ store: new SqliteStore(file, { busyTimeoutMs: 50 }), usage: { flushInterval: "1h" }, onEvent: (e) => events.push(e.type) });
    const k = await keys.create({ name: "k" });
    for (let i = 0; i < 25; i++) keys.pipeline.recordUse(keys.pipeline.authenticate(k.secret) as never);
    // A second connection holds the write lock; it needs no concurrency to do so, so no timing is involved.
    const holder = new Database(file);
    holder.exec("BEGIN IMMEDIATE");
    holder.prepare("UPDATE keyward_keys SET name = name").run();
    const refused = await keys.create({ name: "during lock" }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "store_unavailable", status: 503 });
    // (Not `rejects.toThrow`: better-sqlite3's error class comes from whichever jest realm loaded the
    // addon first, so `instanceof Error` can be false here. The message is what matters.)
    const outcome = await keys.flushUsage().then(
      () => "written",
      (e: Error) => e.message,
    );
    expect(outcome).toMatch(/locked|busy/i);
    expect(events).toContain("usage.flush_failed");
    holder.exec("COMMIT");
    holder.close();
    await keys.flushUsage();
    expect((await keys.get(k.key.id))!.requestCount).toBe(25);
    expect((await keys.list()).keys.map((x) => x.name)).toEqual(["k"]);
    await keys.close();
  });
});

describe("close() during traffic", () => {
  /** Polls (real time) until `ready()` holds. */
  async function until(ready: () => boolean) {
    while (!ready()) await sleep(1);
  }

  it("in-process store: every admitted request is counted, requests after close() get 503, nothing rejects unhandled", async () => {
    const tmp = tempDir();
    const file = tmp.file("close.db");
    const keys = new KeyManager({ store: new SqliteStore(file), usage: { flushInterval: "20ms" } });
    const { secret, key } = await keys.create({ name: "busy" });
    const server = await listen(makeApp(keys));
    const base = `http://127.0.0.1:${server.port}`;
    const call = () => request(base).get("/whoami").set("Authorization", `Bearer ${secret}`);
    const statuses: number[] = [];
    let closing: Promise<void> | null = null;
    await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        await sleep(i);
        const res = await call();
        statuses.push(res.status);
        if (statuses.length === 40) closing = keys.close(); // mid-traffic, with the key in the cache
      }),
    );
    await closing;
    for (let i = 0; i < 5; i++) expectStoreDown(await call()); // a cache hit after close() is refused too
    await server.close();
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(40);
    expect(ok + statuses.filter((s) => s === 503).length).toBe(150);
    const check = new SqliteStore(file);
    expect(check.findById(key.id)!.requestCount).toBe(ok);
    check.close();
    tmp.cleanup();
  });

  it("slow async store: requests in flight at close() are either counted or refused, never lost", async () => {
    const counting = countingStore(new MemoryStore());
    const keys = new KeyManager({ store: counting.store, usage: { flushInterval: "1h" }, cache: false, rateLimit: { limit: 10_000, window: "1m" } });
    const { secret, key } = await keys.create({ name: "slow" });
    counting.fault("findByHash", { delayMs: 30 });
    counting.fault("consume", { delayMs: 30 });
    const app = makeApp(keys);
    const statuses: number[] = [];
    const traffic = Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        await sleep(i);
        const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
        statuses.push(res.status);
      }),
    );
    // Close while some requests wait on their key lookup and others on their rate-limit charge.
    await until(() => (counting.calls.consume ?? 0) >= 5);
    await keys.close();
    await traffic;
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok + statuses.filter((s) => s === 503).length).toBe(60);
    expect(counting.store.findById(key.id)!.requestCount).toBe(ok);
  });
});
