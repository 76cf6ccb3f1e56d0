/**
 * The one store conformance suite: every `KeyStore` method's contract (src/core/types.ts), run
 * against each backend (memory, SQLite, PostgreSQL). A store that passes it can back a KeyManager.
 *
 * Usage, in a `*.test.ts` file:
 *   describeStoreConformance("MemoryStore", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
 */
import { randomBytes } from "node:crypto";
import type { CounterStore, KeyStore, StoredKey } from "keyward";
import { describeScopeUsageConformance } from "./scope-usage-conformance";

/** What a backend's test file hands the suite: a fresh, empty store and a way to dispose of it. */
export type StoreFactory = () => Promise<{ store: KeyStore; cleanup(): Promise<void> }>;

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

let sequence = 0;

/** A key id that sorts after every id made before it (ids sort by creation, like `newKeyId`). */
function nextId(): string {
  sequence++;
  let seq = "";
  for (let n = sequence, i = 0; i < 8; i++, n = Math.floor(n / 62)) seq = ALPHABET[n % 62] + seq;
  let rand = "";
  for (const b of randomBytes(14)) rand += ALPHABET[b % 62];
  return `key_${seq}${rand}`;
}

/** A stored key with sensible defaults; every field can be overridden. */
export function storedKey(over: Partial<StoredKey> = {}): StoredKey {
  const id = over.id ?? nextId();
  return {
    id,
    hash: randomBytes(32).toString("hex"),
    start: "sk_live_AbCd",
    name: "k",
    ownerId: "user_1",
    kind: "user",
    projectId: null,
    projects: [],
    mode: "live",
    scopes: ["nodes:read"],
    tier: null,
    rateLimit: null,
    metadata: {},
    createdAt: T0,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    requestCount: 0,
    rotatedFrom: null,
    rotatedTo: null,
    disabledAt: null,
    allowedIps: [],
    credits: null,
    ...over,
  };
}

/**
 * Registers the conformance tests for one backend.
 *
 * @example
 * describeStoreConformance("SqliteStore", async () => {
 *   const tmp = tempDir();
 *   const store = new SqliteStore(tmp.file("keys.db"));
 *   return { store, cleanup: async () => { store.close(); tmp.cleanup(); } };
 * });
 */
export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`${name} conformance`, () => {
    let store: KeyStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const made = await factory();
      store = made.store;
      cleanup = made.cleanup;
      await store.init?.();
    });
    afterEach(async () => {
      await cleanup();
    });

    const ids = (keys: StoredKey[]) => keys.map((k) => k.id);

    describe("insert", () => {
      it("stores every field and finds the key by hash and by id", async () => {
        const key = storedKey({
          name: "ci deploys",
          kind: "user",
          projects: ["proj_a", "proj_b"],
          scopes: ["nodes:read", "nodes:write"],
          tier: "pro",
          rateLimit: { limit: 10, windowMs: 60_000 },
          metadata: { team: "infra", nested: { n: 1, list: [1, "two"] } },
          expiresAt: T0 + 90 * DAY,
          mode: "test",
          start: "sk_test_XyZw",
        });
        expect(await store.insert(key)).toBe(true);
        expect(await store.findByHash(key.hash)).toEqual(key);
        expect(await store.findById(key.id)).toEqual(key);
      });

      it("keeps project keys, keys without owner and keys without mode as given", async () => {
        const project = storedKey({ kind: "project", projectId: "proj_x", ownerId: null, scopes: [], mode: null });
        await store.insert(project);
        expect(await store.findById(project.id)).toEqual(project);
      });

      it("answers null for an unknown hash or id", async () => {
        await store.insert(storedKey());
        expect(await store.findByHash("0".repeat(64))).toBeNull();
        expect(await store.findById(nextId())).toBeNull();
      });

      it("refuses a duplicate hash (the lookup index is unique)", async () => {
        const key = storedKey();
        await store.insert(key);
        // Not `.rejects.toThrow()`: better-sqlite3's native errors come from the realm that first
        // loaded the addon, which jest's isError does not recognise in a later test file's realm.
        const outcome = await Promise.resolve()
          .then(() => store.insert(storedKey({ hash: key.hash })))
          .then(
            () => "inserted",
            () => "refused",
          );
        expect(outcome).toBe("refused");
        expect(ids(await store.list({}))).toEqual([key.id]);
      });

      it("with a cap, inserts only while the owner has fewer active keys than the cap", async () => {
        const cap = { max: 2, now: T0 };
        expect(await store.insert(storedKey({ ownerId: "u" }), cap)).toBe(true);
        expect(await store.insert(storedKey({ ownerId: "u" }), cap)).toBe(true);
        expect(await store.insert(storedKey({ ownerId: "u" }), cap)).toBe(false);
        expect(await store.insert(storedKey({ ownerId: "other" }), cap)).toBe(true);
        expect(await store.list({ ownerId: "u" })).toHaveLength(2);
      });

      it("with a cap, does not count revoked or expired keys", async () => {
        const cap = { max: 1, now: T0 };
        await store.insert(storedKey({ ownerId: "u", revokedAt: T0 - 1000 }));
        await store.insert(storedKey({ ownerId: "u", expiresAt: T0 }));
        expect(await store.insert(storedKey({ ownerId: "u", expiresAt: T0 + 1 }), cap)).toBe(true);
        expect(await store.insert(storedKey({ ownerId: "u" }), cap)).toBe(false);
      });

      it("holds the cap under 30 concurrent inserts for one owner", async () => {
        const results = await Promise.all(Array.from({ length: 30 }, () => Promise.resolve(store.insert(storedKey({ ownerId: "race" }), { max: 5, now: T0 }))));
        expect(results.filter(Boolean)).toHaveLength(5);
        expect(await store.list({ ownerId: "race" })).toHaveLength(5);
      });
    });

    describe("list", () => {
      let a: StoredKey, b: StoredKey, c: StoredKey, d: StoredKey, e: StoredKey;
      beforeEach(async () => {
        a = storedKey({ ownerId: "u1", mode: "live", projects: [] });
        b = storedKey({ ownerId: "u1", mode: "test", projects: ["p1"], revokedAt: T0 });
        c = storedKey({ ownerId: "u2", mode: "live", projects: ["p2"], expiresAt: T0 + 10 });
        d = storedKey({ ownerId: null, kind: "project", projectId: "p1", scopes: [] });
        e = storedKey({ ownerId: "u2", kind: "project", projectId: "p2", scopes: [], expiresAt: T0 + 1000 });
        for (const k of [c, a, e, b, d]) await store.insert(k);
      });

      it("returns every key newest first (by id) with no filter", async () => {
        expect(ids(await store.list({}))).toEqual([e, d, c, b, a].map((k) => k.id));
      });

      it("filters by owner, including keys without one", async () => {
        expect(ids(await store.list({ ownerId: "u1" }))).toEqual([b.id, a.id]);
        expect(ids(await store.list({ ownerId: null }))).toEqual([d.id]);
      });

      it("filters by mode and kind", async () => {
        expect(ids(await store.list({ mode: "test" }))).toEqual([b.id]);
        expect(ids(await store.list({ kind: "project" }))).toEqual([e.id, d.id]);
        expect(ids(await store.list({ kind: "user", mode: "live" }))).toEqual([c.id, a.id]);
      });

      it("filters by project: bound project keys, allow-lists, and empty allow-lists", async () => {
        expect(ids(await store.list({ projectId: "p1" }))).toEqual([d.id, b.id, a.id]);
        expect(ids(await store.list({ projectId: "p2" }))).toEqual([e.id, c.id, a.id]);
        expect(ids(await store.list({ projectId: "p9" }))).toEqual([a.id]);
      });

      it("filters by status at the given time", async () => {
        expect(ids(await store.list({ status: "active", now: T0 }))).toEqual([e.id, d.id, c.id, a.id]);
        expect(ids(await store.list({ status: "expired", now: T0 + 10 }))).toEqual([c.id]);
        expect(ids(await store.list({ status: "active", now: T0 + 5000 }))).toEqual([d.id, a.id]);
        expect(ids(await store.list({ status: "revoked", now: T0 }))).toEqual([b.id]);
      });

      it("combines filters", async () => {
        expect(ids(await store.list({ ownerId: "u2", kind: "project", status: "active", now: T0 }))).toEqual([e.id]);
      });

      it("pages with limit and before, newest first, without gaps or repeats", async () => {
        const seen: string[] = [];
        let before: string | undefined;
        for (let page = 0; page < 5; page++) {
          const got = await store.list({ limit: 2, before });
          seen.push(...ids(got));
          if (got.length < 2) break;
          before = got[got.length - 1]!.id;
        }
        expect(seen).toEqual([e, d, c, b, a].map((k) => k.id));
      });

      it("defaults to 100 per page and never returns more than 1000", async () => {
        for (let i = 0; i < 101; i++) await store.insert(storedKey({ ownerId: "many" }));
        expect(await store.list({ ownerId: "many" })).toHaveLength(100);
        expect(await store.list({ ownerId: "many", limit: 5000 })).toHaveLength(101);
        expect(await store.list({ ownerId: "many", limit: 0 })).toHaveLength(1);
      });
    });

    describe("update", () => {
      it("changes only the fields in the patch", async () => {
        const key = storedKey({ name: "old", scopes: ["a:read"], metadata: { x: 1 }, expiresAt: T0 + DAY });
        await store.insert(key);
        const renamed = await store.update(key.id, { name: "new" });
        expect(renamed).toEqual({ ...key, name: "new" });
        const rescoped = await store.update(key.id, { scopes: ["b:write"], metadata: { y: [2] }, expiresAt: null });
        expect(rescoped).toEqual({ ...key, name: "new", scopes: ["b:write"], metadata: { y: [2] }, expiresAt: null });
        expect(await store.findById(key.id)).toEqual(rescoped);
        expect(await store.findByHash(key.hash)).toEqual(rescoped);
      });

      it("answers null for an unknown id and an empty patch changes nothing", async () => {
        const key = storedKey();
        await store.insert(key);
        expect(await store.update(nextId(), { name: "x" })).toBeNull();
        expect(await store.update(key.id, {})).toEqual(key);
      });
    });

    describe("allowed IPs and pause (allowedIps, disabledAt)", () => {
      it("stores an IP allow-list and a pause time, and reads them back by hash, by id and in listings", async () => {
        const key = storedKey({ allowedIps: ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"], disabledAt: T0 + 5 });
        await store.insert(key);
        expect(await store.findByHash(key.hash)).toEqual(key);
        expect(await store.findById(key.id)).toEqual(key);
        expect(await store.list({})).toEqual([key]);
      });

      it("keeps a key without a list and unpaused as [] and null", async () => {
        const key = storedKey();
        await store.insert(key);
        expect(await store.findById(key.id)).toMatchObject({ allowedIps: [], disabledAt: null });
      });

      it("update replaces the allow-list, clears it with [], and sets and clears disabledAt, touching nothing else", async () => {
        const key = storedKey({ allowedIps: ["10.0.0.0/8"], name: "kept" });
        await store.insert(key);
        expect(await store.update(key.id, { allowedIps: ["192.0.2.1", "2001:db8::1"] })).toEqual({ ...key, allowedIps: ["192.0.2.1", "2001:db8::1"] });
        expect(await store.update(key.id, { disabledAt: T0 + 7 })).toEqual({ ...key, allowedIps: ["192.0.2.1", "2001:db8::1"], disabledAt: T0 + 7 });
        expect(await store.update(key.id, { allowedIps: [], disabledAt: null })).toEqual({ ...key, allowedIps: [] });
        expect(await store.findByHash(key.hash)).toEqual({ ...key, allowedIps: [] });
      });

      it("lists disabled keys under status disabled, not active; revoked and expired win over disabled", async () => {
        const active = storedKey();
        const paused = storedKey({ disabledAt: T0 - 1 });
        const pausedRevoked = storedKey({ disabledAt: T0 - 1, revokedAt: T0 - 1 });
        const pausedExpired = storedKey({ disabledAt: T0 - 1, expiresAt: T0 });
        for (const k of [active, paused, pausedRevoked, pausedExpired]) await store.insert(k);
        expect(ids(await store.list({ status: "active", now: T0 }))).toEqual([active.id]);
        expect(ids(await store.list({ status: "disabled", now: T0 }))).toEqual([paused.id]);
        expect(ids(await store.list({ status: "revoked", now: T0 }))).toEqual([pausedRevoked.id]);
        expect(ids(await store.list({ status: "expired", now: T0 }))).toEqual([pausedExpired.id]);
      });

      it("counts a disabled key towards the owner's cap (a pause frees no place)", async () => {
        await store.insert(storedKey({ ownerId: "u", disabledAt: T0 - 1 }));
        expect(await store.insert(storedKey({ ownerId: "u" }), { max: 1, now: T0 })).toBe(false);
      });

      it("a rotation successor carries the allow-list it is given", async () => {
        const old = storedKey({ allowedIps: ["203.0.113.0/24"] });
        await store.insert(old);
        const successor = storedKey({ allowedIps: ["203.0.113.0/24"], rotatedFrom: old.id });
        expect(await store.rotate(old.id, successor, { expiresAt: T0 + DAY })).toBe(true);
        expect(await store.findById(successor.id)).toEqual(successor);
      });
    });

    describe("revoke", () => {
      it("sets revokedAt and returns the key", async () => {
        const key = storedKey();
        await store.insert(key);
        expect(await store.revoke(key.id, T0 + 5)).toEqual({ ...key, revokedAt: T0 + 5 });
        expect((await store.findByHash(key.hash))?.revokedAt).toBe(T0 + 5);
      });

      it("is idempotent: a second revoke keeps the first time", async () => {
        const key = storedKey();
        await store.insert(key);
        await store.revoke(key.id, T0 + 5);
        expect((await store.revoke(key.id, T0 + 99))?.revokedAt).toBe(T0 + 5);
      });

      it("is irreversible: updates keep it revoked and it cannot be rotated", async () => {
        const key = storedKey();
        await store.insert(key);
        await store.revoke(key.id, T0 + 5);
        await store.update(key.id, { name: "renamed", expiresAt: null });
        expect((await store.findById(key.id))?.revokedAt).toBe(T0 + 5);
        const successor = storedKey({ rotatedFrom: key.id });
        expect(await store.rotate(key.id, successor, { expiresAt: T0 + DAY })).toBe(false);
        expect(await store.findById(successor.id)).toBeNull();
      });

      it("answers null for an unknown id", async () => {
        expect(await store.revoke(nextId(), T0)).toBeNull();
      });
    });

    describe("rotate", () => {
      it("inserts the successor, links both and shortens the old key's expiry", async () => {
        const old = storedKey({ expiresAt: T0 + 30 * DAY });
        await store.insert(old);
        const successor = storedKey({ rotatedFrom: old.id, createdAt: T0 + 1 });
        expect(await store.rotate(old.id, successor, { expiresAt: T0 + DAY })).toBe(true);
        expect(await store.findByHash(successor.hash)).toEqual(successor);
        expect(await store.findById(old.id)).toEqual({ ...old, rotatedTo: successor.id, expiresAt: T0 + DAY });
      });

      it("never lengthens an expiry that ends before the overlap, and sets one when there was none", async () => {
        const soon = storedKey({ expiresAt: T0 + 1000 });
        const never = storedKey({ expiresAt: null });
        await store.insert(soon);
        await store.insert(never);
        await store.rotate(soon.id, storedKey({ rotatedFrom: soon.id }), { expiresAt: T0 + DAY });
        await store.rotate(never.id, storedKey({ rotatedFrom: never.id }), { expiresAt: T0 + DAY });
        expect((await store.findById(soon.id))?.expiresAt).toBe(T0 + 1000);
        expect((await store.findById(never.id))?.expiresAt).toBe(T0 + DAY);
      });

      it("with revokedAt (no overlap) revokes the old key in the same step", async () => {
        const old = storedKey();
        await store.insert(old);
        const successor = storedKey({ rotatedFrom: old.id });
        expect(await store.rotate(old.id, successor, { revokedAt: T0 + 7 })).toBe(true);
        expect(await store.findById(old.id)).toEqual({ ...old, rotatedTo: successor.id, revokedAt: T0 + 7 });
      });

      it("refuses an unknown or already rotated key and inserts nothing then", async () => {
        const old = storedKey();
        await store.insert(old);
        const orphan = storedKey();
        expect(await store.rotate(nextId(), orphan, {})).toBe(false);
        expect(await store.findById(orphan.id)).toBeNull();
        const first = storedKey({ rotatedFrom: old.id });
        expect(await store.rotate(old.id, first, {})).toBe(true);
        const second = storedKey({ rotatedFrom: old.id });
        expect(await store.rotate(old.id, second, {})).toBe(false);
        expect(await store.findByHash(second.hash)).toBeNull();
        expect((await store.findById(old.id))?.rotatedTo).toBe(first.id);
      });

      it("gives exactly one successor when 10 rotations race", async () => {
        const old = storedKey();
        await store.insert(old);
        const successors = Array.from({ length: 10 }, () => storedKey({ rotatedFrom: old.id }));
        const results = await Promise.all(successors.map((s) => Promise.resolve(store.rotate(old.id, s, { expiresAt: T0 + DAY })).catch(() => false)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = successors[results.indexOf(true)]!;
        expect((await store.findById(old.id))?.rotatedTo).toBe(winner.id);
        expect(ids(await store.list({}))).toEqual([winner.id, old.id].sort().reverse());
      });

      it("is atomic: a successor whose insert fails leaves the old key unlinked", async () => {
        const old = storedKey();
        const taken = storedKey();
        await store.insert(old);
        await store.insert(taken);
        const clash = storedKey({ rotatedFrom: old.id, hash: taken.hash });
        await Promise.resolve()
          .then(() => store.rotate(old.id, clash, { revokedAt: T0 }))
          .catch(() => false);
        expect(await store.findById(old.id)).toEqual(old);
        expect(await store.findById(clash.id)).toBeNull();
      });
    });

    describe("recordUsage and usage", () => {
      const today = Math.floor(T0 / DAY);

      it("adds counts and per-day counts in one batch for several keys", async () => {
        const k1 = storedKey();
        const k2 = storedKey();
        await store.insert(k1);
        await store.insert(k2);
        await store.recordUsage([
          {
            id: k1.id,
            count: 3,
            lastUsedAt: T0 + 10,
            days: [
              [today - 1, 1],
              [today, 2],
            ],
          },
          { id: k2.id, count: 1, lastUsedAt: T0 + 20, days: [[today, 1]] },
        ]);
        await store.recordUsage([{ id: k1.id, count: 4, lastUsedAt: T0 + 30, days: [[today, 4]] }]);
        expect(await store.findById(k1.id)).toMatchObject({ requestCount: 7, lastUsedAt: T0 + 30 });
        expect(await store.findById(k2.id)).toMatchObject({ requestCount: 1, lastUsedAt: T0 + 20 });
        expect(await store.usage(k1.id, today - 5, today)).toEqual([
          [today - 1, 1],
          [today, 6],
        ]);
        expect(await store.usage(k2.id, today - 5, today)).toEqual([[today, 1]]);
      });

      it("never moves lastUsedAt back", async () => {
        const key = storedKey();
        await store.insert(key);
        await store.recordUsage([{ id: key.id, count: 1, lastUsedAt: T0 + 100, days: [[today, 1]] }]);
        await store.recordUsage([{ id: key.id, count: 1, lastUsedAt: T0 + 50, days: [[today, 1]] }]);
        expect(await store.findById(key.id)).toMatchObject({ requestCount: 2, lastUsedAt: T0 + 100 });
      });

      it("ignores unknown keys and empty batches without failing the rest", async () => {
        const key = storedKey();
        await store.insert(key);
        await store.recordUsage([]);
        await store.recordUsage([
          { id: nextId(), count: 5, lastUsedAt: T0, days: [[today, 5]] },
          { id: key.id, count: 2, lastUsedAt: T0, days: [[today, 2]] },
        ]);
        expect((await store.findById(key.id))?.requestCount).toBe(2);
      });

      it("returns the inclusive day range, oldest first, and nothing outside it", async () => {
        const key = storedKey();
        await store.insert(key);
        await store.recordUsage([
          {
            id: key.id,
            count: 10,
            lastUsedAt: T0,
            days: [
              [today - 40, 1],
              [today - 30, 2],
              [today - 1, 3],
              [today, 4],
            ],
          },
        ]);
        expect(await store.usage(key.id, today - 30, today - 1)).toEqual([
          [today - 30, 2],
          [today - 1, 3],
        ]);
        expect(await store.usage(key.id, today + 1, today + 10)).toEqual([]);
        expect(await store.usage(nextId(), today - 90, today)).toEqual([]);
      });

      it("counts every increment when 20 batches for one key are flushed at once", async () => {
        const key = storedKey();
        await store.insert(key);
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => Promise.resolve(store.recordUsage([{ id: key.id, count: 1, lastUsedAt: T0 + i, days: [[today, 1]] }]))),
        );
        expect(await store.findById(key.id)).toMatchObject({ requestCount: 20, lastUsedAt: T0 + 19 });
        expect(await store.usage(key.id, today, today)).toEqual([[today, 20]]);
      });
    });

    describeCounters(() => store);
    describeScopeUsageConformance(() => store, storedKey, nextId);

    describe("credits", () => {
      it("stores a key's credits and reads them back by hash, by id and in listings; a rotation successor carries them", async () => {
        const credits = { remaining: 1000, refill: { amount: 500, interval: "1mo" }, counter: "key_first", since: T0 };
        const key = storedKey({ credits });
        await store.insert(key);
        expect((await store.findById(key.id))?.credits).toEqual(credits);
        expect((await store.findByHash(key.hash))?.credits).toEqual(credits);
        expect((await store.list({})).find((k) => k.id === key.id)?.credits).toEqual(credits);
        const successor = storedKey({ credits, rotatedFrom: key.id });
        expect(await store.rotate(key.id, successor, { expiresAt: T0 + DAY })).toBe(true);
        expect((await store.findById(successor.id))?.credits).toEqual(credits);
      });

      it("keeps a key without credits as null, and credits without refill as given", async () => {
        const plain = storedKey();
        const once = storedKey({ credits: { remaining: 0, refill: null, counter: "key_x", since: T0 } });
        await store.insert(plain);
        await store.insert(once);
        expect((await store.findById(plain.id))?.credits ?? null).toBeNull();
        expect((await store.findById(once.id))?.credits).toEqual({ remaining: 0, refill: null, counter: "key_x", since: T0 });
      });

      it("update replaces a key's credits, or removes them with null, and leaves them alone otherwise", async () => {
        const key = storedKey({ credits: { remaining: 10, refill: null, counter: "key_a", since: T0 } });
        await store.insert(key);
        const credits = { remaining: 50, refill: { amount: 50, interval: "1d" }, counter: "key_a", since: T0 + 5 };
        expect((await store.update(key.id, { credits }))?.credits).toEqual(credits);
        expect((await store.update(key.id, { name: "renamed" }))?.credits).toEqual(credits);
        expect((await store.findByHash(key.hash))?.credits).toEqual(credits);
        expect((await store.update(key.id, { credits: null }))?.credits ?? null).toBeNull();
        expect((await store.findById(key.id))?.credits ?? null).toBeNull();
      });
    });

    describe("key format (keyFormat, claimKeyFormat)", () => {
      const xk = { prefix: "xk", modes: ["test", "live"] };
      const sk = { prefix: "sk", modes: ["live", "test"] };

      it("records nothing until claimed, then the first claim, modes in order", async () => {
        expect(await store.keyFormat!()).toBeNull();
        expect(await store.claimKeyFormat!(xk)).toEqual(xk);
        expect(await store.keyFormat!()).toEqual(xk);
        expect(await store.claimKeyFormat!({ prefix: "orbit", modes: [] })).toEqual(xk);
      });

      it("never overwrites: a later claim with another format answers the recorded one", async () => {
        await store.claimKeyFormat!(xk);
        expect(await store.claimKeyFormat!(sk)).toEqual(xk);
        expect(await store.keyFormat!()).toEqual(xk);
      });

      it("keeps a format without modes as an empty list", async () => {
        expect(await store.claimKeyFormat!({ prefix: "orbit", modes: [] })).toEqual({ prefix: "orbit", modes: [] });
        expect(await store.keyFormat!()).toEqual({ prefix: "orbit", modes: [] });
      });

      it("gives every one of 10 racing claims the same winner", async () => {
        const formats = Array.from({ length: 10 }, (_, i) => ({ prefix: `p${i}`, modes: ["live"] }));
        const answers = await Promise.all(formats.map((f) => store.claimKeyFormat!(f)));
        expect(new Set(answers.map((a) => a.prefix)).size).toBe(1);
        expect(await store.keyFormat!()).toEqual(answers[0]);
      });

      it("hands out copies of the recorded format", async () => {
        const claimed = await store.claimKeyFormat!(xk);
        claimed.modes.push("staging");
        const read = (await store.keyFormat!())!;
        read.modes.length = 0;
        expect(await store.keyFormat!()).toEqual(xk);
      });
    });

    describe("lifecycle notices (claimNotice)", () => {
      it("claims a notice once: the first claim is true, every later one false", async () => {
        expect(await store.claimNotice!("key_a", "key.expiring", "14d", "1767225600000")).toBe(true);
        expect(await store.claimNotice!("key_a", "key.expiring", "14d", "1767225600000")).toBe(false);
        expect(await store.claimNotice!("key_a", "key.expiring", "14d", "1767225600000")).toBe(false);
      });

      it("keeps notices apart by key, kind, threshold and period", async () => {
        expect(await store.claimNotice!("key_a", "quota.threshold", "80", "2026-11")).toBe(true);
        expect(await store.claimNotice!("key_b", "quota.threshold", "80", "2026-11")).toBe(true);
        expect(await store.claimNotice!("key_a", "key.idle", "80", "2026-11")).toBe(true);
        expect(await store.claimNotice!("key_a", "quota.threshold", "100", "2026-11")).toBe(true);
        expect(await store.claimNotice!("key_a", "quota.threshold", "80", "2026-12")).toBe(true);
        expect(await store.claimNotice!("key_a", "quota.threshold", "80", "2026-11")).toBe(false);
      });

      it("does not mistake one split of the values for another", async () => {
        expect(await store.claimNotice!("key_a", "k", "1", "2")).toBe(true);
        expect(await store.claimNotice!("key_a", "k1", "", "2")).toBe(true);
        expect(await store.claimNotice!("key_a", "k", "12", "")).toBe(true);
      });

      it("gives exactly one of 10 racing claims the notice", async () => {
        const answers = await Promise.all(Array.from({ length: 10 }, () => store.claimNotice!("key_r", "key.idle", "30d", "1764000000000")));
        expect(answers.filter(Boolean)).toHaveLength(1);
      });
    });

    describe("copies", () => {
      it("hands out copies: changing a returned record changes nothing stored", async () => {
        const key = storedKey({ scopes: ["a:read"], projects: ["p1"], metadata: { deep: { x: 1 } }, rateLimit: { limit: 5, windowMs: 1000 } });
        await store.insert(key);
        const got = (await store.findById(key.id))!;
        got.scopes.push("b:write");
        got.projects.push("p2");
        (got.metadata.deep as { x: number }).x = 2;
        got.rateLimit!.limit = 99;
        got.name = "changed";
        const listed = (await store.list({}))[0]!;
        listed.scopes.length = 0;
        expect(await store.findByHash(key.hash)).toEqual(key);
      });

      it("keeps its own copy of inserted and patched values", async () => {
        const key = storedKey({ scopes: ["a:read"], metadata: { x: 1 } });
        const expected = structuredClone(key);
        await store.insert(key);
        key.scopes.push("b:write");
        key.metadata.x = 2;
        const patch = { scopes: ["c:read"], metadata: { y: [1] } };
        await store.update(key.id, patch);
        patch.scopes.push("d:read");
        patch.metadata.y.push(2);
        expect(await store.findById(key.id)).toEqual({ ...expected, scopes: ["c:read"], metadata: { y: [1] } });
      });
    });
  });
}

/**
 * Registers the counter contract (`consume`/`refund`) alone, for counter-only backends such as
 * RedisCounters. `describeStoreConformance` includes it.
 *
 * @example
 * describeCounterConformance("RedisCounters", async () => ({ counters: new RedisCounters(redis), cleanup: async () => {} }));
 */
export function describeCounterConformance(
  name: string,
  factory: () => Promise<{ counters: CounterStore; cleanup(): Promise<void> }>,
  /** `consumeAll: false` for a store without the optional all-or-nothing methods (the KeyManager takes its counters one by one). */
  { consumeAll = true }: { consumeAll?: boolean } = {},
): void {
  describe(`${name} counter conformance`, () => {
    let counters: CounterStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      const made = await factory();
      counters = made.counters;
      cleanup = made.cleanup;
    });
    afterEach(async () => {
      await cleanup();
    });
    describeCounters(() => counters, consumeAll);
  });
}

function describeCounters(get: () => CounterStore, consumeAll = true): void {
  if (consumeAll) describeConsumeAll(get);
  describeConsumeAndRefund(get);
}

function describeConsumeAll(get: () => CounterStore): void {
  describe("consumeAll, refundAll and count (all or nothing)", () => {
    const reset = Date.now() + 3_600_000;
    const take = (counter: string, limit: number, units = 1) => ({ counter, limit, resetAt: reset, units });

    it("takes every counter's units in one step and answers the new counts", async () => {
      const counters = get();
      expect(await counters.consumeAll!([take("m1", 10), take("m2", 100, 7)])).toEqual([1, 7]);
      expect(await counters.consumeAll!([take("m1", 10), take("m2", 100, 7)])).toEqual([2, 14]);
      expect(await counters.count!("m1")).toBe(2);
      expect(await counters.count!("m2")).toBe(14);
      expect(await counters.count!("never")).toBe(0);
    });

    it("takes nothing when one counter would pass its limit, and marks it -1", async () => {
      const counters = get();
      expect(await counters.consumeAll!([take("n1", 5), take("n2", 10, 8)])).toEqual([1, 8]);
      const refused = await counters.consumeAll!([take("n1", 5), take("n2", 10, 3)]);
      expect(refused.indexOf(-1)).toBe(1);
      expect(refused[0]).toBe(2); // the count the first counter would have reached
      expect(await counters.count!("n1")).toBe(1); // not taken
      expect(await counters.count!("n2")).toBe(8);
      expect((await counters.consumeAll!([take("n1", 1), take("n2", 10)]))[0]).toBe(-1); // the first refuses: nothing taken either
      expect(await counters.count!("n2")).toBe(8);
      expect(await counters.consumeAll!([take("n2", 10, 2)])).toEqual([10]); // exactly up to the limit
      expect((await counters.consumeAll!([take("n2", 10)]))[0]).toBe(-1);
    });

    it("refundAll gives back each counter's units, never below zero", async () => {
      const counters = get();
      await counters.consumeAll!([take("f1", 100, 10), take("f2", 100, 1)]);
      await counters.refundAll!([take("f1", 100, 4), take("f2", 100, 5)]);
      expect(await counters.count!("f1")).toBe(6);
      expect(await counters.count!("f2")).toBe(0);
      await counters.refundAll!([take("unknown", 10, 3)]);
      expect(await counters.count!("unknown")).toBe(0);
    });

    it("is exact under 60 concurrent takes of two counters: no counter passes its limit, none is partly taken", async () => {
      const counters = get();
      const answers = await Promise.all(Array.from({ length: 60 }, () => Promise.resolve(counters.consumeAll!([take("x1", 25), take("x2", 1000, 30)]))));
      const admitted = answers.filter((a) => a.every((n) => n >= 0)).length;
      expect(admitted).toBe(25);
      expect(await counters.count!("x1")).toBe(25);
      expect(await counters.count!("x2")).toBe(750);
      const credits = await Promise.all(Array.from({ length: 40 }, () => Promise.resolve(counters.consumeAll!([take("x3", 100, 7)]))));
      expect(credits.filter((a) => a[0]! >= 0).length).toBe(14); // 14 × 7 = 98 ≤ 100 < 105
      expect(await counters.count!("x3")).toBe(98);
    });
  });
}

function describeConsumeAndRefund(get: () => CounterStore): void {
  describe("consume and refund", () => {
    // Real time: Redis expires counters by the wall clock.
    const reset = Date.now() + 3_600_000;

    it("counts up to the limit, then refuses with -1 and changes nothing", async () => {
      expect(await get().consume("c1", 3, reset)).toBe(1);
      expect(await get().consume("c1", 3, reset)).toBe(2);
      expect(await get().consume("c1", 3, reset)).toBe(3);
      expect(await get().consume("c1", 3, reset)).toBe(-1);
      expect(await get().consume("c1", 3, reset)).toBe(-1);
      await get().refund("c1");
      expect(await get().consume("c1", 3, reset)).toBe(3);
    });

    it("prune (where a store has it) deletes counters whose window ended and keeps the others", async () => {
      const counters = get();
      if (!counters.prune) return; // Redis expires counters itself (PEXPIREAT)
      const now = Date.now();
      expect(await counters.consume("ended", 5, now - 1000)).toBe(1);
      expect(await counters.consume("ended", 5, now - 1000)).toBe(2);
      expect(await counters.consume("running", 5, reset)).toBe(1);
      await counters.prune(now);
      expect(await counters.consume("ended", 5, now + 60_000)).toBe(1); // a fresh window: the ended counter is gone
      expect(await counters.consume("running", 5, reset)).toBe(2);
    });

    it("refuses everything for a limit below one", async () => {
      expect(await get().consume("zero", 0, reset)).toBe(-1);
      expect(await get().consume("zero", 1, reset)).toBe(1);
    });

    it("keeps counters apart by name", async () => {
      expect(await get().consume("a", 1, reset)).toBe(1);
      expect(await get().consume("b", 1, reset)).toBe(1);
      expect(await get().consume("a", 1, reset)).toBe(-1);
      expect(await get().consume("a", 2, reset)).toBe(2);
    });

    it("refund gives back exactly one unit, never below zero, and ignores unknown counters", async () => {
      await get().refund("never-used");
      expect(await get().consume("never-used", 5, reset)).toBe(1);
      await get().consume("r", 5, reset);
      await get().refund("r");
      await get().refund("r");
      expect(await get().consume("r", 5, reset)).toBe(1);
    });

    it("admits exactly 50 of 200 concurrent consumes against a limit of 50", async () => {
      const results = await Promise.all(Array.from({ length: 200 }, () => Promise.resolve(get().consume("hot", 50, reset))));
      const admitted = results.filter((n) => n > 0).sort((x, y) => x - y);
      expect(admitted).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(results.filter((n) => n === -1)).toHaveLength(150);
    });

    it("loses no update when 10 refunds and 10 consumes race on a full counter", async () => {
      for (let i = 0; i < 10; i++) await get().consume("mix", 10, reset);
      const ops = Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? Promise.resolve(get().refund("mix")).then(() => 0) : Promise.resolve(get().consume("mix", 10, reset)),
      );
      const admitted = (await Promise.all(ops)).filter((n) => n > 0).length;
      // The count is now 10 - 10 + admitted, so exactly 10 - admitted more units fit.
      let extra = 0;
      while ((await get().consume("mix", 10, reset)) > 0) extra++;
      expect(admitted + extra).toBe(10);
    });
  });
}
