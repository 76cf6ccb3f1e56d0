/** Exactness: no limit admits more than its count, with 200 concurrent HTTP requests or two processes on one SQLite file. */
import { fork, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { KeyManager, MemoryStore, type CounterStore, type KeyStore } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeApp, tempDir, TestClock } from "../helpers";
import { nodeEntry } from "../node-entry";
import { TIERS } from "./fixtures/tiers";

/** Counters that answer asynchronously (like a network store), to exercise the async hot path. */
function asyncCounters(inner: CounterStore): CounterStore {
  const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    consume: async (name, limit, resetAt) => {
      await tick();
      return inner.consume(name, limit, resetAt);
    },
    refund: async (name) => {
      await tick();
      return inner.refund(name);
    },
  };
}

const stores: Array<[string, (file: string) => { store: KeyStore; counters?: CounterStore }]> = [
  ["memory", () => ({ store: new MemoryStore() })],
  ["sqlite", (file) => ({ store: new SqliteStore(file) })],
  [
    "sqlite, async counters",
    (file) => {
      const store = new SqliteStore(file);
      return { store, counters: asyncCounters(store) };
    },
  ],
];

describe.each(stores)("200 concurrent HTTP requests against a limit of 50 (%s)", (_name, open) => {
  it.each([
    ["monthly quota", { monthlyRequests: 50 }],
    ["rate limit", { rateLimit: { limit: 50, window: "1m" } }],
  ])("admits exactly 50 under a %s", async (_kind, tier) => {
    const tmp = tempDir();
    const file = tmp.file("exact.db");
    const keys = new KeyManager({ ...open(file), clock: new TestClock().now, tiers: { t: tier } });
    const { secret, key } = await keys.create({ name: "hammered", tier: "t" });
    const server = makeApp(keys).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`;
    const agent = new http.Agent({ keepAlive: false });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        http
          .get(url, { agent, headers: { Authorization: `Bearer ${secret}` } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode!));
          })
          .on("error", reject);
      });
    const statuses = await Promise.all(Array.from({ length: 200 }, get));
    await new Promise((resolve) => server.close(resolve));
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(150);
    await keys.close();
    const stored = open === stores[0]![1] ? null : new SqliteStore(file);
    if (stored) {
      expect(stored.findById(key.id)!.requestCount).toBe(50);
      stored.close();
    }
    tmp.cleanup();
  });
});

describe("two processes sharing one SQLite file", () => {
  const hammer = nodeEntry(join(__dirname, "fixtures", "hammer.ts"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill();
  });

  it("admit exactly the limit in total, for a monthly quota and a rate limit", async () => {
    const tmp = tempDir();
    const file = tmp.file("shared.db");
    const now = new TestClock().ms;
    const admin = new KeyManager({ store: new SqliteStore(file), clock: () => now, tiers: TIERS });
    const quota = await admin.create({ name: "quota", tier: "quota" });
    const rate = await admin.create({ name: "rate", tier: "rate" });
    await admin.close();

    const start = (): Promise<{ child: ChildProcess; done: Promise<{ admitted: number[]; refusals: Record<string, number> }> }> =>
      new Promise((resolveReady, rejectReady) => {
        const child = fork(hammer, [file, String(now), "200", quota.secret, rate.secret], {
          execArgv: [],
          stdio: ["ignore", "ignore", "inherit", "ipc"],
        });
        children.push(child);
        const done = new Promise<{ admitted: number[]; refusals: Record<string, number> }>((resolveDone, rejectDone) => {
          child.on("message", (m: { ready?: boolean; admitted?: number[]; refusals?: Record<string, number> }) => {
            if (m.ready) resolveReady({ child, done });
            else resolveDone(m as { admitted: number[]; refusals: Record<string, number> });
          });
          child.on("exit", (code) => rejectDone(new Error(`child exited with ${code}`)));
        });
        child.on("error", rejectReady);
        done.catch(rejectReady);
      });

    const [a, b] = await Promise.all([start(), start()]);
    a.child.send("go");
    b.child.send("go");
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.admitted[0]! + rb.admitted[0]!).toBe(150);
    expect(ra.admitted[1]! + rb.admitted[1]!).toBe(120);
    expect((ra.refusals.quota_exceeded ?? 0) + (rb.refusals.quota_exceeded ?? 0)).toBe(250);
    expect((ra.refusals.rate_limited ?? 0) + (rb.refusals.rate_limited ?? 0)).toBe(280);
    expect(Object.keys({ ...ra.refusals, ...rb.refusals }).sort()).toEqual(["quota_exceeded", "rate_limited"]);

    const store = new SqliteStore(file);
    expect(store.findById(quota.key.id)!.requestCount).toBe(150);
    expect(store.findById(rate.key.id)!.requestCount).toBe(120);
    store.close();
    tmp.cleanup();
  });

  it("admit exactly the credits of a key and the quota shared by an owner's keys, in total", async () => {
    const tmp = tempDir();
    const file = tmp.file("shared.db");
    const now = new TestClock().ms;
    const admin = new KeyManager({ store: new SqliteStore(file), clock: () => now, tiers: TIERS });
    const credits = await admin.create({ name: "credits", credits: { remaining: 130 } });
    const [one, two] = await Promise.all([
      admin.create({ name: "one", ownerId: "acme", tier: "team" }),
      admin.create({ name: "two", ownerId: "acme", tier: "team" }),
    ]);
    await admin.close();
    const run = () =>
      new Promise<{ admitted: number[]; refusals: Record<string, number> }>((resolve, reject) => {
        const child = fork(hammer, [file, String(now), "200", credits.secret, one!.secret, two!.secret], {
          execArgv: [],
          stdio: ["ignore", "ignore", "inherit", "ipc"],
        });
        children.push(child);
        child.on("message", (m: { ready?: boolean; admitted?: number[]; refusals?: Record<string, number> }) => {
          if (m.ready) child.send("go");
          else resolve(m as { admitted: number[]; refusals: Record<string, number> });
        });
        child.on("exit", (code) => reject(new Error(`child exited with ${code}`)));
      });
    const [ra, rb] = await Promise.all([run(), run()]);
    expect(ra.admitted[0]! + rb.admitted[0]!).toBe(130);
    expect(ra.admitted[1]! + rb.admitted[1]! + ra.admitted[2]! + rb.admitted[2]!).toBe(90);
    expect((ra.refusals.credits_exhausted ?? 0) + (rb.refusals.credits_exhausted ?? 0)).toBe(270);
    expect((ra.refusals.quota_exceeded ?? 0) + (rb.refusals.quota_exceeded ?? 0)).toBe(710);
    const check = new KeyManager({ store: new SqliteStore(file), clock: () => now, tiers: TIERS });
    expect((await check.get(credits.key.id))?.credits?.remaining).toBe(0);
    await check.close();
    tmp.cleanup();
  }, 60_000);
});
