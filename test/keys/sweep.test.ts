/**
 * keys.sweep(): `key.expiring` at each threshold before an expiry, `quota.threshold` at 80 % and
 * 100 % of the monthly quota per UTC month, `key.idle` after `idleAfter`, and `idleExpiry`
 * (warned first, then expired through the update path), each notice once, on a test clock.
 */
import { KeyManager, KeywardConfigError, MemoryStore, type KeyStore, type KeywardEvent, type LifecycleEvent } from "keyward";
import { makeKeys } from "../helpers";
import { DAY, expectNoSecrets } from "./support";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const types = (notices: LifecycleEvent[]) => notices.map((n) => `${n.type}:${n.threshold}`);

describe.each(["memory", "sqlite"] as const)("keys.sweep() (%s)", (storeKind) => {
  it("emits key.expiring once at 14d and once at 1d before the expiry, with the key's details", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind, idleAfter: false });
    const { secret, key } = await keys.create({ name: "ci", ownerId: "user_1", expiresIn: "30d" });
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(16 * DAY - 1);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(1);
    const first = await keys.sweep();
    expect(first.notices).toEqual([
      {
        type: "key.expiring",
        at: new Date(T0 + 16 * DAY),
        keyId: key.id,
        ownerId: "user_1",
        name: "ci",
        mode: "live",
        expiresAt: key.expiresAt,
        threshold: "14d",
        reason: "expiry",
      },
    ]);
    expect(events.filter((e) => e.type === "key.expiring")).toEqual(first.notices);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(12 * DAY);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(DAY);
    expect(types((await keys.sweep()).notices)).toEqual(["key.expiring:1d"]);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(DAY);
    expect(await keys.sweep()).toEqual({ notices: [], expired: [], scanned: 0 }); // expired keys are not active
    expectNoSecrets(events, [secret]);
    await close();
  });

  it("sends only the tightest threshold crossed since the last sweep, in any configured order", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, idleAfter: false, expiringThresholds: ["7d", "14d", "1d"] });
    await keys.create({ name: "short", expiresIn: "12h" });
    await keys.create({ name: "week", expiresIn: "10d" });
    expect(types((await keys.sweep()).notices).sort()).toEqual(["key.expiring:14d", "key.expiring:1d"]);
    clock.advance(3 * DAY);
    expect(types((await keys.sweep()).notices)).toEqual(["key.expiring:7d"]);
    clock.advance(6 * DAY);
    expect(types((await keys.sweep()).notices)).toEqual(["key.expiring:1d"]);
    await close();
  });

  it("emits no expiry notices for a key in its rotation overlap, only for its successor", async () => {
    const { keys, close } = makeKeys({ storeKind, idleAfter: false });
    const { key } = await keys.create({ name: "rotating", expiresIn: "10d" });
    const { key: successor } = await keys.rotate(key.id, { overlap: "1h" });
    const { notices } = await keys.sweep();
    expect(notices.map((n) => [n.keyId, n.threshold])).toEqual([[successor.id, "14d"]]);
    await close();
  });

  it("emits quota.threshold at 80 % and 100 % of the monthly quota, once each per UTC month", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, idleAfter: false, tiers: { free: { monthlyRequests: 10 } } });
    const { secret, key } = await keys.create({ name: "metered", tier: "free", ownerId: "user_2" });
    const { secret: other } = await keys.create({ name: "unmetered" });
    const use = async (n: number) => {
      for (let i = 0; i < n; i++) expect((await keys.verify(secret)).ok).toBe(true);
    };
    await use(7);
    for (let i = 0; i < 20; i++) await keys.verify(other);
    expect((await keys.sweep()).notices).toEqual([]);
    await use(1);
    const at80 = await keys.sweep();
    expect(at80.notices).toEqual([
      {
        type: "quota.threshold",
        at: new Date(T0),
        keyId: key.id,
        ownerId: "user_2",
        name: "metered",
        mode: "live",
        threshold: 80,
        used: 8,
        limit: 10,
        month: "2026-11",
      },
    ]);
    await use(1);
    expect((await keys.sweep()).notices).toEqual([]);
    await use(1);
    expect((await keys.sweep()).notices).toMatchObject([{ type: "quota.threshold", threshold: 100, used: 10, limit: 10 }]);
    expect((await keys.verify(secret)).ok).toBe(false);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.set(Date.UTC(2026, 11, 1, 0, 0, 0));
    await use(9);
    expect((await keys.sweep()).notices).toMatchObject([{ type: "quota.threshold", threshold: 80, used: 9, month: "2026-12" }]);
    await close();
  });

  it("emits key.idle after idleAfter without use (from creation, then from the last use), once per idle spell", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "quiet" });
    clock.advance(30 * DAY - 1);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(1);
    expect((await keys.sweep()).notices).toEqual([
      {
        type: "key.idle",
        at: new Date(T0 + 30 * DAY),
        keyId: key.id,
        ownerId: null,
        name: "quiet",
        mode: "live",
        lastUsedAt: null,
        idleSince: new Date(T0),
        threshold: "30d",
      },
    ]);
    clock.advance(DAY);
    expect((await keys.sweep()).notices).toEqual([]);
    expect((await keys.verify(secret)).ok).toBe(true);
    const usedAt = clock.now();
    clock.advance(29 * DAY);
    expect((await keys.sweep()).notices).toEqual([]);
    clock.advance(DAY);
    expect((await keys.sweep()).notices).toMatchObject([{ type: "key.idle", lastUsedAt: new Date(usedAt), idleSince: new Date(usedAt) }]);
    await close();
  });

  it("idleExpiry: warns at the thresholds before the idle deadline, then expires the key through the update path", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind, idleAfter: false, idleExpiry: "90d" });
    const { secret, key } = await keys.create({ name: "forgotten", ownerId: "user_3" });
    clock.advance(76 * DAY);
    expect((await keys.sweep()).notices).toEqual([
      expect.objectContaining({ type: "key.expiring", keyId: key.id, threshold: "14d", reason: "idle", expiresAt: new Date(T0 + 90 * DAY) }),
    ]);
    clock.advance(13 * DAY);
    expect(types((await keys.sweep()).notices)).toEqual(["key.expiring:1d"]);
    clock.advance(DAY);
    const swept = await keys.sweep();
    expect(swept).toEqual({ notices: [], expired: [key.id], scanned: 1 });
    expect(await keys.get(key.id)).toMatchObject({ status: "expired", expiresAt: new Date(T0 + 90 * DAY) });
    expect(events.filter((e) => e.type === "key.updated").map((e) => (e as { keyId: string }).keyId)).toEqual([key.id]);
    const refused = await keys.verify(secret);
    expect(refused.ok || refused.error.code).toBe("key_expired");
    await close();
  });

  it("idleExpiry: a key never warned (no sweep ran) is warned on one sweep and expired on the next; a use in between keeps it", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, idleAfter: false, idleExpiry: "90d" });
    const { key } = await keys.create({ name: "late" });
    const { secret: usedSecret, key: used } = await keys.create({ name: "used-again" });
    clock.advance(95 * DAY);
    const warned = await keys.sweep();
    expect(warned.expired).toEqual([]);
    expect(warned.notices.map((n) => [n.keyId, n.threshold]).sort()).toEqual(
      [
        [used.id, "1d"],
        [key.id, "1d"],
      ].sort(),
    );
    expect((await keys.verify(usedSecret)).ok).toBe(true);
    clock.advance(1000);
    expect(await keys.sweep()).toEqual({ notices: [], expired: [key.id], scanned: 2 });
    expect((await keys.get(used.id))!.status).toBe("active");
    await close();
  });

  it("pages through more keys than one store page", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    const ids = new Set<string>();
    for (let i = 0; i < 450; i++) ids.add((await keys.create({ name: `k${i}` })).key.id);
    clock.advance(30 * DAY);
    const { notices, scanned } = await keys.sweep();
    expect(scanned).toBe(450);
    expect(new Set(notices.map((n) => n.keyId))).toEqual(ids);
    expect((await keys.sweep()).notices).toEqual([]);
    await close();
  }, 60_000);
});

describe("sweep options", () => {
  const store = () => new MemoryStore();

  it.each([
    [{ expiringThresholds: [] }, "expiringThresholds"],
    [{ expiringThresholds: ["soon"] }, "expiringThresholds.0"],
    [{ quotaThresholds: [0] }, "quotaThresholds.0"],
    [{ quotaThresholds: [120] }, "quotaThresholds.0"],
    [{ idleAfter: "0s" }, "idleAfter"],
    [{ idleExpiry: "never" }, "idleExpiry"],
    [{ sweepInterval: "10ms" }, "sweepInterval"],
  ])("refuses %j at construction, naming %s", (options, path) => {
    expect(() => new KeyManager({ store: store(), ...(options as object) })).toThrow(KeywardConfigError);
    expect(() => new KeyManager({ store: store(), ...(options as object) })).toThrow(`KeyManager.${path}`);
  });

  it("refuses sweepInterval or idleExpiry on a store without claimNotice, and sweep() rejects there", async () => {
    const bare = store() as KeyStore;
    Object.defineProperty(bare, "claimNotice", { value: undefined });
    expect(() => new KeyManager({ store: bare, sweepInterval: "1h" })).toThrow("KeyManager.sweepInterval: the store has no claimNotice()");
    expect(() => new KeyManager({ store: bare, idleExpiry: "90d" })).toThrow("KeyManager.idleExpiry");
    const keys = new KeyManager({ store: bare });
    await expect(keys.sweep()).rejects.toThrow(KeywardConfigError);
    await keys.close();
  });

  it("fails closed when the store fails: sweep() rejects with store_unavailable and emits nothing; a background sweep reports sweep.failed", async () => {
    class FailingNotices extends MemoryStore {
      override claimNotice(): boolean {
        throw new Error("disk full");
      }
    }
    const seen: KeywardEvent[] = [];
    let clock = T0;
    let failed: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => {
      failed = resolve;
    });
    const keys = new KeyManager({
      store: new FailingNotices(),
      clock: () => clock,
      sweepInterval: "1s",
      onEvent: (e) => {
        seen.push(e);
        if (e.type === "sweep.failed") failed();
      },
    });
    await keys.create({ name: "k" });
    clock += 31 * DAY;
    await expect(keys.sweep()).rejects.toMatchObject({ code: "store_unavailable" });
    expect(seen.filter((e) => e.type === "key.idle")).toEqual([]);
    await reported;
    expect(seen.find((e) => e.type === "sweep.failed")).toMatchObject({ type: "sweep.failed", at: new Date(clock), message: expect.any(String) });
    await keys.close();
  });

  it("sweepInterval runs the sweep in the background until close()", async () => {
    const seen: KeywardEvent[] = [];
    let clock = T0;
    let heard: () => void = () => undefined;
    const idle = new Promise<void>((resolve) => {
      heard = resolve;
    });
    const keys = new KeyManager({
      store: store(),
      clock: () => clock,
      sweepInterval: "1s",
      onEvent: (e) => {
        seen.push(e);
        if (e.type === "key.idle") heard();
      },
    });
    const { key } = await keys.create({ name: "background" });
    clock += 31 * DAY;
    await idle;
    expect(seen.filter((e) => e.type === "key.idle")).toMatchObject([{ keyId: key.id }]);
    await keys.close();
    await expect(keys.sweep()).rejects.toMatchObject({ code: "store_unavailable" });
  });
});
