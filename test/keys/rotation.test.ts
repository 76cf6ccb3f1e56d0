/** Rotation: overlap, overlap 0, links, copied attributes, one successor only. */
import request from "supertest";
import { KeywardError } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const HOUR = 3_600_000;

describe.each(["memory", "sqlite"] as const)("rotation (%s)", (storeKind) => {
  it("keeps both keys working during the overlap and only the new one after it", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, cache: { ttl: "1h" } });
    const old = await keys.create({ name: "deploys", scopes: ["nodes:read"] });
    const app = makeApp(keys);
    const as = (secret: string) => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    await as(old.secret).expect(200); // warm cache
    const start = clock.ms;
    const next = await keys.rotate(old.key.id, { overlap: "24h" });
    expect(next.secret).not.toBe(old.secret);
    expect(next.previous.expiresAt).toEqual(new Date(start + 24 * HOUR));

    await as(old.secret).expect(200);
    await as(next.secret).expect(200);
    clock.set(start + 24 * HOUR - 1);
    await as(old.secret).expect(200);
    clock.set(start + 24 * HOUR);
    const res = await as(old.secret);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("key_expired");
    const ok = await as(next.secret).expect(200);
    expect(ok.body.apiKey.id).toBe(next.key.id);
    await close();
  });

  it("revokes the old key at once with overlap: 0, even with a warm cache", async () => {
    const { keys, events, close } = makeKeys({ storeKind, cache: { ttl: "1h" } });
    const old = await keys.create({ name: "deploys" });
    const app = makeApp(keys);
    await request(app).get("/whoami").set("Authorization", `Bearer ${old.secret}`).expect(200);
    const next = await keys.rotate(old.key.id, { overlap: 0 });
    expect(next.previous.status).toBe("revoked");
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${old.secret}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("key_revoked");
    await request(app).get("/whoami").set("Authorization", `Bearer ${next.secret}`).expect(200);
    expect(events.map((e) => e.type)).toEqual(["key.created", "key.rotated", "key.revoked", "auth.failed"]);
    await close();
  });

  it("copies name, scopes, projects, mode, owner, tier, metadata and lifetime, and links both keys in listings", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers: { pro: { monthlyRequests: 10 } } });
    const old = await keys.create({
      name: "n8n-production",
      ownerId: "user_1",
      mode: "test",
      scopes: ["models:read", "nodes:write"],
      projects: ["proj_a", "proj_b"],
      tier: "pro",
      metadata: { team: "ml", n: 1 },
      expiresIn: "90d",
    });
    clock.advance(10 * 86_400_000);
    const { key, previous } = await keys.rotate(old.key.id);
    for (const field of ["name", "ownerId", "mode", "scopes", "projects", "tier", "metadata", "kind"] as const) expect(key[field]).toEqual(old.key[field]);
    expect(key.start.startsWith("sk_test_")).toBe(true);
    expect(key.expiresAt).toEqual(new Date(clock.ms + 90 * 86_400_000)); // same lifetime length, from now
    expect(key.rotatedFrom).toBe(old.key.id);
    expect(previous.rotatedTo).toBe(key.id);
    expect(previous.expiresAt).toEqual(new Date(clock.ms + 24 * HOUR)); // default overlap 24h

    const listed = (await keys.list({ ownerId: "user_1" })).keys;
    expect(listed.map((k) => [k.id, k.rotatedFrom, k.rotatedTo])).toEqual([
      [key.id, old.key.id, null],
      [old.key.id, null, key.id],
    ]);
    await close();
  });

  it("refuses a second rotation of the same key with 409 conflict", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const old = await keys.create({ name: "deploys" });
    await keys.rotate(old.key.id, { overlap: "1h" });
    const error = (await keys.rotate(old.key.id).catch((e: unknown) => e)) as KeywardError;
    expect(error).toBeInstanceOf(KeywardError);
    expect(error).toMatchObject({ code: "conflict", status: 409 });
    expect((await keys.list()).keys).toHaveLength(2);
    await close();
  });

  it("yields exactly one successor when two rotations race", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const old = await keys.create({ name: "deploys" });
    const results = await Promise.allSettled([keys.rotate(old.key.id), keys.rotate(old.key.id), keys.rotate(old.key.id)]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost.map((r) => (r.reason as KeywardError).code)).toEqual(["conflict", "conflict"]);
    const all = (await keys.list()).keys;
    expect(all).toHaveLength(2);
    expect(all.filter((k) => k.rotatedFrom === old.key.id)).toHaveLength(1);
    await close();
  });

  it("refuses to rotate an expired key, and rejects a bad overlap", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    const old = await keys.create({ name: "deploys", expiresIn: "1h" });
    await expect(keys.rotate(old.key.id, { overlap: "soon" })).rejects.toMatchObject({ code: "validation_failed" });
    clock.advance(HOUR);
    await expect(keys.rotate(old.key.id)).rejects.toMatchObject({ code: "conflict", message: "Only an active key can be rotated; this one is expired." });
    await close();
  });
});
