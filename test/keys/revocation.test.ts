/** Revocation: immediate with a warm cache in this process, bounded by the cache TTL in others, idempotent, irreversible. */
import request from "supertest";
import { KeyManager, KeywardError } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeKeys, tempDir, TestClock } from "../helpers";
import { cachedKey } from "./support";

describe.each(["memory", "sqlite"] as const)("revocation (%s)", (storeKind) => {
  it("refuses the key at once although the cache holds it, with 401 key_revoked", async () => {
    const { keys, events, close, key, app, auth } = await cachedKey(storeKind);

    await keys.revoke(key.id);
    const res = await request(app).get("/whoami").set(auth);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: "key_revoked", message: "The API key has been revoked." } });
    expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(events.at(-1)).toMatchObject({ type: "auth.failed", code: "key_revoked", keyId: key.id });
    await close();
  });

  it("is idempotent: a second revoke keeps the first time and emits no second event", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind });
    const { key } = await keys.create({ name: "ci" });
    const first = await keys.revoke(key.id);
    clock.advance(60_000);
    const second = await keys.revoke(key.id);
    expect(second.revokedAt).toEqual(first.revokedAt);
    expect(second.status).toBe("revoked");
    expect(events.filter((e) => e.type === "key.revoked")).toHaveLength(1);
    await close();
  });

  it("is irreversible: update, rotate and time never bring the key back", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "ci" });
    await keys.revoke(key.id);
    await keys.update(key.id, { name: "renamed", scopes: ["*"] });
    const rotated = await keys.rotate(key.id).catch((e: unknown) => e);
    expect(rotated).toBeInstanceOf(KeywardError);
    expect((rotated as KeywardError).code).toBe("conflict");
    expect((rotated as KeywardError).status).toBe(409);
    clock.advance(365 * 86_400_000);
    expect((await keys.get(key.id))!.status).toBe("revoked");
    const result = await keys.verify(secret);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe("key_revoked");
    await close();
  });

  it("answers not_found for an unknown id", async () => {
    const { keys, close } = makeKeys({ storeKind });
    await expect(keys.revoke("key_0000000000000000000000")).rejects.toMatchObject({ code: "not_found", status: 404 });
    await close();
  });
});

describe("revocation seen from another process on the same SQLite file", () => {
  it("is accepted there for at most the cache TTL, and at once with cache: false", async () => {
    const tmp = tempDir();
    const clock = new TestClock();
    const file = tmp.file("shared.db");
    const admin = new KeyManager({ store: new SqliteStore(file), clock: clock.now });
    const cached = new KeyManager({ store: new SqliteStore(file), clock: clock.now, cache: { ttl: "5s" } });
    const uncached = new KeyManager({ store: new SqliteStore(file), clock: clock.now, cache: false });
    const { secret, key } = await admin.create({ name: "shared" });
    expect((await cached.verify(secret)).ok).toBe(true); // warms that process's cache
    expect((await uncached.verify(secret)).ok).toBe(true);

    await admin.revoke(key.id);
    expect((await admin.verify(secret)).ok).toBe(false);
    expect((await uncached.verify(secret)).ok).toBe(false);
    clock.advance(4_999);
    expect((await cached.verify(secret)).ok).toBe(true); // stale for up to the TTL…
    clock.advance(2); // the TTL has passed: the entry is gone, the store says revoked
    const late = await cached.verify(secret);
    expect(!late.ok && late.error.code).toBe("key_revoked"); // …and no longer

    await Promise.all([admin.close(), cached.close(), uncached.close()]);
    tmp.cleanup();
  });
});
