/** Max active keys per owner (e.g. 5 / 25 / unlimited by tier): 403 key_limit_reached, exact under concurrency. */
import { KeyManager, KeywardError } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeKeys, tempDir } from "../helpers";

const tiers = { free: { maxActiveKeys: 3 }, enterprise: {} };

describe.each(["memory", "sqlite"] as const)("maxActiveKeys (%s)", (storeKind) => {
  it("refuses a create past the cap with 403 key_limit_reached, counting only unrevoked, unexpired keys", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers, defaultTier: "free" });
    const a = await keys.create({ name: "a", ownerId: "u1" });
    await keys.create({ name: "b", ownerId: "u1" });
    await keys.create({ name: "c", ownerId: "u1", expiresIn: "1h" });
    const refused = (await keys.create({ name: "d", ownerId: "u1" }).catch((e: unknown) => e)) as KeywardError;
    expect(refused).toBeInstanceOf(KeywardError);
    expect(refused).toMatchObject({
      code: "key_limit_reached",
      status: 403,
      message: "This owner already has the maximum of 3 active keys for the tier; revoke one first.",
    });
    expect((await keys.list({ ownerId: "u1" })).keys).toHaveLength(3); // nothing written

    await keys.create({ name: "other-owner", ownerId: "u2" }); // caps are per owner
    await keys.create({ name: "unlimited", ownerId: "u1", tier: "enterprise" }); // per the new key's tier…
    await keys.revoke(a.key.id);
    await expect(keys.create({ name: "d", ownerId: "u1" })).rejects.toMatchObject({ code: "key_limit_reached" }); // …but every active key of the owner counts
    await keys.revoke((await keys.list({ ownerId: "u1", status: "active" })).keys.find((k) => k.tier === "enterprise")!.id);
    await keys.create({ name: "d", ownerId: "u1" }); // a revoked key frees its slot
    await expect(keys.create({ name: "e", ownerId: "u1" })).rejects.toMatchObject({ code: "key_limit_reached" });
    clock.advance(3_600_000); // key c expires
    await keys.create({ name: "e", ownerId: "u1" });
    expect((await keys.list({ ownerId: "u1", status: "active" })).keys).toHaveLength(3);
    await close();
  });

  it("never exceeds the cap with concurrent creates", async () => {
    const { keys, close } = makeKeys({ storeKind, tiers, defaultTier: "free" });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => keys.create({ name: `k${i}`, ownerId: "u1" })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const reasons = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => (r.reason as KeywardError).code);
    expect(new Set(reasons)).toEqual(new Set(["key_limit_reached"]));
    expect((await keys.list({ ownerId: "u1" })).keys).toHaveLength(3);
    await close();
  });
});

describe("maxActiveKeys across managers sharing one SQLite file", () => {
  it("admits exactly the cap when two managers create at once", async () => {
    const tmp = tempDir();
    const file = tmp.file("cap.db");
    const managers = [0, 1].map(() => new KeyManager({ store: new SqliteStore(file), tiers, defaultTier: "free" }));
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => managers[i % 2]!.create({ name: `k${i}`, ownerId: "u1" })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    await Promise.all(managers.map((m) => m.close()));
    tmp.cleanup();
  });
});
