/** Usage tracking: lastUsedAt, requestCount and per-day counts, coalesced writes, exact after close(), retried flushes. */
import request from "supertest";
import { KeyManager, MemoryStore, type KeyStore, type KeywardEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeApp, tempDir, TestClock } from "../helpers";
import { countingStore } from "../counting-store";
import { DAY } from "./support";

const K = 137;

describe.each(["memory", "sqlite"] as const)("usage tracking (%s)", (storeKind) => {
  it("counts K requests with no store write per request, and stores exactly K after close()", async () => {
    const tmp = tempDir();
    const file = tmp.file("usage.db");
    const counted = countingStore(storeKind === "sqlite" ? new SqliteStore(file) : new MemoryStore());
    const clock = new TestClock(Date.UTC(2026, 10, 20, 9, 0, 0));
    const keys = new KeyManager({ store: counted.store, clock: clock.now, usage: { flushInterval: "1h" } });
    const { secret, key } = await keys.create({ name: "ci" });
    const server = makeApp(keys).listen(0, "127.0.0.1");
    const app = request(server);
    const perDay = [40, 0, 60, K - 100];
    let last = 0;
    for (const [i, n] of perDay.entries()) {
      clock.set(Date.UTC(2026, 10, 20 + i, 9, 0, 0));
      for (let j = 0; j < n; j++) {
        clock.advance(1000);
        last = clock.ms;
        await app.get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
      }
    }
    await new Promise((resolve) => server.close(resolve));
    expect(counted.count("recordUsage")).toBe(0); // coalesced: nothing written yet

    // Reads include what is still buffered.
    const live = (await keys.get(key.id))!;
    expect(live.requestCount).toBe(K);
    expect(live.lastUsedAt).toEqual(new Date(last));
    const days = await keys.usage(key.id, 5);
    expect(days).toEqual([
      { date: "2026-11-19", count: 0 },
      { date: "2026-11-20", count: 40 },
      { date: "2026-11-21", count: 0 },
      { date: "2026-11-22", count: 60 },
      { date: "2026-11-23", count: K - 100 },
    ]);

    await keys.close();
    expect(counted.count("recordUsage")).toBe(1); // one batch for all K requests
    const reread: KeyStore = storeKind === "sqlite" ? new SqliteStore(file) : counted.store;
    const stored = reread.findById(key.id) as ReturnType<MemoryStore["findById"]>;
    expect(stored!.requestCount).toBe(K);
    expect(stored!.lastUsedAt).toBe(last);
    const today = Math.floor(clock.ms / DAY);
    expect(reread.usage(key.id, today - 4, today)).toEqual([
      [today - 3, 40],
      [today - 1, 60],
      [today, K - 100],
    ]);
    reread.close?.();
    tmp.cleanup();
  });

  it("retries a failed flush (the store throws) without losing or doubling counts", async () => {
    const tmp = tempDir();
    const file = tmp.file("retry.db");
    const counted = countingStore(storeKind === "sqlite" ? new SqliteStore(file) : new MemoryStore());
    const events: KeywardEvent[] = [];
    const keys = new KeyManager({ store: counted.store, usage: { flushInterval: "1h" }, onEvent: (e) => events.push(e) });
    const { secret, key } = await keys.create({ name: "ci" });
    for (let i = 0; i < 10; i++) expect((await keys.verify(secret)).ok).toBe(true);

    counted.fail("recordUsage"); // the store throws synchronously
    await expect(keys.flushUsage()).rejects.toThrow("recordUsage failed (test)");
    expect(events.at(-1)).toMatchObject({ type: "usage.flush_failed", message: "recordUsage failed (test)" });
    expect((await keys.get(key.id))!.requestCount).toBe(10); // still counted while buffered

    for (let i = 0; i < 5; i++) await keys.verify(secret);
    await keys.flushUsage(); // the retry writes the merged batch
    expect((await keys.get(key.id))!.requestCount).toBe(15);

    for (let i = 0; i < 3; i++) await keys.verify(secret);
    counted.fail("recordUsage", 2); // close() retries too
    await keys.close();
    const reread: KeyStore = storeKind === "sqlite" ? new SqliteStore(file) : counted.store;
    expect((reread.findById(key.id) as ReturnType<MemoryStore["findById"]>)!.requestCount).toBe(18);
    reread.close?.();
    tmp.cleanup();
  });
});

describe("usage with many concurrent requests", () => {
  it("stores exactly K after close() when requests and background flushes interleave", async () => {
    const tmp = tempDir();
    const file = tmp.file("busy.db");
    const keys = new KeyManager({ store: new SqliteStore(file), usage: { flushInterval: "5ms" } });
    const { secret, key } = await keys.create({ name: "busy" });
    const app = makeApp(keys);
    const server = app.listen(0);
    const agent = request(server);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 40 }, () => agent.get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200)));
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await keys.close();
    const reread = new SqliteStore(file);
    expect(reread.findById(key.id)!.requestCount).toBe(200);
    reread.close();
    tmp.cleanup();
  });
});
