/**
 * The store conformance part for scope usage: `recordUsage` batches carrying `scopes` rows and the
 * optional `scopeUsage` read (per scope, counts summed over a day range, latest use). Registered by
 * `describeStoreConformance` for every backend.
 */
import type { KeyStore, StoredKey } from "keyward";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

/**
 * Registers the scope-usage tests against the suite's current store.
 *
 * @example
 * describeScopeUsageConformance(() => store, (over) => storedKey(over), () => nextId());
 */
export function describeScopeUsageConformance(get: () => KeyStore, storedKey: (over?: Partial<StoredKey>) => StoredKey, unknownId: () => string): void {
  describe("scope usage (recordUsage scopes, scopeUsage)", () => {
    const today = Math.floor(T0 / DAY);
    const read = (id: string, from: number, to: number) => Promise.resolve(get().scopeUsage!(id, from, to));

    it("sums counts per scope over the day range and keeps the latest use, sorted by scope", async () => {
      const store = get();
      expect(typeof store.scopeUsage).toBe("function");
      const key = storedKey({ scopes: ["nodes:*", "users:read"] });
      await store.insert(key);
      await store.recordUsage([
        {
          id: key.id,
          count: 5,
          lastUsedAt: T0 + 50,
          days: [
            [today - 1, 2],
            [today, 3],
          ],
          scopes: [
            { scope: "nodes:read", day: today - 1, count: 2, lastUsedAt: T0 - DAY + 10 },
            { scope: "nodes:read", day: today, count: 1, lastUsedAt: T0 + 20 },
            { scope: "nodes:write", day: today, count: 2, lastUsedAt: T0 + 50 },
          ],
        },
      ]);
      await store.recordUsage([
        { id: key.id, count: 1, lastUsedAt: T0 + 5, days: [[today, 1]], scopes: [{ scope: "nodes:read", day: today, count: 1, lastUsedAt: T0 + 5 }] },
      ]);
      expect(await read(key.id, today - 6, today)).toEqual([
        { scope: "nodes:read", count: 4, lastUsedAt: T0 + 20 },
        { scope: "nodes:write", count: 2, lastUsedAt: T0 + 50 },
      ]);
      expect(await read(key.id, today, today)).toEqual([
        { scope: "nodes:read", count: 2, lastUsedAt: T0 + 20 },
        { scope: "nodes:write", count: 2, lastUsedAt: T0 + 50 },
      ]);
      expect(await read(key.id, today - 1, today - 1)).toEqual([{ scope: "nodes:read", count: 2, lastUsedAt: T0 - DAY + 10 }]);
      expect(await read(key.id, today + 1, today + 30)).toEqual([]);
      // The request counts are unchanged by the scope rows.
      expect(await store.findById(key.id)).toMatchObject({ requestCount: 6, lastUsedAt: T0 + 50 });
    });

    it("keeps keys apart, answers [] for a key without scope uses, and records nothing for unknown keys", async () => {
      const store = get();
      const a = storedKey();
      const b = storedKey();
      await store.insert(a);
      await store.insert(b);
      const ghost = unknownId();
      await store.recordUsage([
        { id: ghost, count: 1, lastUsedAt: T0, days: [[today, 1]], scopes: [{ scope: "nodes:read", day: today, count: 1, lastUsedAt: T0 }] },
        { id: a.id, count: 1, lastUsedAt: T0, days: [[today, 1]], scopes: [{ scope: "nodes:read", day: today, count: 1, lastUsedAt: T0 }] },
        { id: b.id, count: 1, lastUsedAt: T0, days: [[today, 1]] },
      ]);
      expect(await read(a.id, today - 1, today)).toEqual([{ scope: "nodes:read", count: 1, lastUsedAt: T0 }]);
      expect(await read(b.id, today - 1, today)).toEqual([]);
      expect(await read(ghost, today - 1, today)).toEqual([]);
    });

    it("takes scope rows in a delta without requests (count 0) and never moves a scope's latest use back", async () => {
      const store = get();
      const key = storedKey();
      await store.insert(key);
      await store.recordUsage([{ id: key.id, count: 2, lastUsedAt: T0 + 100, days: [[today, 2]] }]);
      await store.recordUsage([
        { id: key.id, count: 0, lastUsedAt: T0 + 100, days: [], scopes: [{ scope: "nodes:read", day: today, count: 2, lastUsedAt: T0 + 100 }] },
      ]);
      await store.recordUsage([
        { id: key.id, count: 0, lastUsedAt: T0 + 40, days: [], scopes: [{ scope: "nodes:read", day: today, count: 1, lastUsedAt: T0 + 40 }] },
      ]);
      expect(await read(key.id, today, today)).toEqual([{ scope: "nodes:read", count: 3, lastUsedAt: T0 + 100 }]);
      expect(await store.findById(key.id)).toMatchObject({ requestCount: 2, lastUsedAt: T0 + 100 });
    });

    it("counts every row when 20 batches with scope rows for one key are flushed at once", async () => {
      const store = get();
      const key = storedKey();
      await store.insert(key);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          Promise.resolve(
            store.recordUsage([
              {
                id: key.id,
                count: 1,
                lastUsedAt: T0 + i,
                days: [[today, 1]],
                scopes: [{ scope: i % 2 ? "a:read" : "b:read", day: today, count: 1, lastUsedAt: T0 + i }],
              },
            ]),
          ),
        ),
      );
      expect(await read(key.id, today, today)).toEqual([
        { scope: "a:read", count: 10, lastUsedAt: T0 + 19 },
        { scope: "b:read", count: 10, lastUsedAt: T0 + 18 },
      ]);
      expect((await store.findById(key.id))?.requestCount).toBe(20);
    });
  });
}
