/** Tiers: stored on the key or resolved from its owner by tierOf (sync or async), with a default tier. */
import request from "supertest";
import { KeyManager, KeywardConfigError, MemoryStore } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const tiers = {
  free: { monthlyRequests: 2, maxActiveKeys: 5 },
  pro: { monthlyRequests: 4, maxActiveKeys: 25 },
  enterprise: {},
};

async function admitted(keys: KeyManager, secret: string, n = 10): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await keys.verify(secret)).ok) ok++;
  return ok;
}

describe("tiers", () => {
  it("applies the tier stored on the key; a tier without limits is unlimited", async () => {
    const { keys, close } = makeKeys({ tiers });
    expect(keys.tierNames).toEqual(["free", "pro", "enterprise"]);
    const free = await keys.create({ name: "f", tier: "free" });
    const pro = await keys.create({ name: "p", tier: "pro" });
    const ent = await keys.create({ name: "e", tier: "enterprise" });
    expect(free.key.tier).toBe("free");
    expect(await admitted(keys, free.secret)).toBe(2);
    expect(await admitted(keys, pro.secret)).toBe(4);
    expect(await admitted(keys, ent.secret)).toBe(10);
    await close();
  });

  it("refuses an unknown tier at create, and bad tier options at start-up", async () => {
    const { keys, close } = makeKeys({ tiers });
    await expect(keys.create({ name: "x", tier: "gold" })).rejects.toMatchObject({
      code: "validation_failed",
      message: "tier: unknown tier; use one of free, pro, enterprise",
    });
    await close();
    const store = new MemoryStore();
    expect(() => new KeyManager({ store, tiers: { free: { monthlyRequests: 0 } } })).toThrow(KeywardConfigError);
    expect(() => new KeyManager({ store, tiers: { free: { monthlyRequests: 10, perDay: 5 } as never } })).toThrow(/tiers\.free/);
    expect(() => new KeyManager({ store, tiers, defaultTier: "gold" })).toThrow(
      'KeyManager.defaultTier: "gold" is not one of the tiers (free, pro, enterprise)',
    );
  });

  it.each([
    ["sync", (plans: Map<string, string>) => (key: { ownerId: string | null }) => plans.get(key.ownerId ?? "")],
    [
      "async",
      (plans: Map<string, string>) => async (key: { ownerId: string | null }) => {
        await new Promise((r) => setImmediate(r));
        return plans.get(key.ownerId ?? "");
      },
    ],
  ])("resolves the tier from the owner with a %s tierOf, falling back to defaultTier", async (_kind, make) => {
    const plans = new Map([
      ["alice", "pro"],
      ["bob", "free"],
      ["carol", "platinum"],
    ]);
    const { keys, close } = makeKeys({ tiers, defaultTier: "free", tierOf: make(plans) });
    const alice = await keys.create({ name: "a", ownerId: "alice" });
    const bob = await keys.create({ name: "b", ownerId: "bob" });
    const dave = await keys.create({ name: "d", ownerId: "dave" }); // no plan: defaultTier
    const carol = await keys.create({ name: "c", ownerId: "carol" }); // unknown plan name: defaultTier
    const pinned = await keys.create({ name: "p", ownerId: "bob", tier: "enterprise" }); // a stored tier wins
    expect(await admitted(keys, alice.secret)).toBe(4);
    expect(await admitted(keys, bob.secret)).toBe(2);
    expect(await admitted(keys, dave.secret)).toBe(2);
    expect(await admitted(keys, carol.secret)).toBe(2);
    expect(await admitted(keys, pinned.secret)).toBe(10);

    // A plan change applies once the cached key is dropped (at most the cache TTL, or at once with invalidate).
    plans.set("bob", "pro");
    const more = await keys.create({ name: "b2", ownerId: "bob" });
    expect(await admitted(keys, more.secret)).toBe(4);
    await close();
  });

  it("fails closed with 503 when tierOf throws or rejects", async () => {
    for (const tierOf of [
      () => {
        throw new Error("plans db down");
      },
      () => Promise.reject(new Error("plans db down")),
    ]) {
      const store = new MemoryStore();
      const keys = new KeyManager({ store, tiers, tierOf });
      const planned = new KeyManager({ store, tiers });
      const { secret } = await planned.create({ name: "x" }); // no stored tier: the plan decides
      const res = await request(makeApp(keys)).get("/whoami").set("Authorization", `Bearer ${secret}`);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("store_unavailable");
      await keys.close();
      await planned.close();
    }
  });
});
