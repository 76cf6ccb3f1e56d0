/**
 * Pause and resume (`keys.disable` / `keys.enable`): 401 `key_disabled` at once across a warm
 * cache, 200 again after enabling, the change announced to invalidation channels, events,
 * idempotence, status precedence (revoked, expired, disabled), the router's
 * `POST /:id/disable|enable` and the CLI's `keys disable|enable`.
 */
import request from "supertest";
import { KeyManager, KeywardError, runCli } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { cachedKey, DAY } from "./support";
import { makeApp, makeKeys, tempDir } from "../helpers";
import { routerApp } from "../http/router-app";

describe.each(["memory", "sqlite"] as const)("pause and resume (%s)", (storeKind) => {
  it("disable refuses the key at once although the cache holds it (401 key_disabled); enable admits it again", async () => {
    const { keys, events, close, key, app, auth, secret } = await cachedKey(storeKind);

    const paused = await keys.disable(key.id);
    expect(paused.status).toBe("disabled");
    expect(paused.disabledAt).toBeInstanceOf(Date);
    const res = await request(app).get("/whoami").set(auth);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: "key_disabled", message: "The API key is disabled." } });
    expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
    expect(events.at(-1)).toMatchObject({ type: "auth.failed", code: "key_disabled", keyId: key.id });
    // Refused again from the (re-filled) cache.
    expect((await request(app).get("/whoami").set(auth)).status).toBe(401);

    const resumed = await keys.enable(key.id);
    expect(resumed).toMatchObject({ status: "active", disabledAt: null });
    await request(app).get("/whoami").set(auth).expect(200);
    expect(events.filter((e) => e.type === "key.disabled" || e.type === "key.enabled").map((e) => e.type)).toEqual(["key.disabled", "key.enabled"]);
    const result = await keys.verify(secret);
    expect(result.ok).toBe(true);
    await close();
  });

  it("announces each change to the invalidation listeners (the cross-instance channels)", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { key } = await keys.create({ name: "ci" });
    const announced: string[] = [];
    keys.onInvalidate((id) => announced.push(id));
    await keys.disable(key.id);
    await keys.enable(key.id);
    expect(announced).toEqual([key.id, key.id]);
    await close();
  });

  it("is idempotent: disabling twice keeps the first time and emits one event; enabling an enabled key writes nothing", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind });
    const { key } = await keys.create({ name: "ci" });
    const first = await keys.disable(key.id);
    clock.advance(60_000);
    expect((await keys.disable(key.id)).disabledAt).toEqual(first.disabledAt);
    await keys.enable(key.id);
    await keys.enable(key.id);
    expect(events.filter((e) => e.type === "key.disabled")).toHaveLength(1);
    expect(events.filter((e) => e.type === "key.enabled")).toHaveLength(1);
    await close();
  });

  it("status precedence: revoked beats expired beats disabled; a revoked key can be neither disabled nor enabled (409)", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "ci", expiresIn: "1d" });
    await keys.disable(key.id);
    clock.advance(2 * DAY);
    expect((await keys.get(key.id))!.status).toBe("expired");
    const expired = await keys.verify(secret);
    expect(!expired.ok && expired.error.code).toBe("key_expired");
    expect((await keys.list({ status: "disabled" })).keys).toEqual([]);
    await keys.revoke(key.id);
    expect((await keys.get(key.id))!.status).toBe("revoked");
    await expect(keys.enable(key.id)).rejects.toMatchObject({ code: "conflict", status: 409 });
    await expect(keys.disable(key.id)).rejects.toMatchObject({ code: "conflict", status: 409 });
    await close();
  });

  it("a disabled key cannot be rotated (409), still counts towards maxActiveKeys, and lists under status disabled", async () => {
    const { keys, close } = makeKeys({ storeKind, tiers: { free: { maxActiveKeys: 1 } }, defaultTier: "free" });
    const { key } = await keys.create({ name: "ci", ownerId: "u" });
    await keys.disable(key.id);
    const rotated = await keys.rotate(key.id).catch((e: unknown) => e);
    expect(rotated).toBeInstanceOf(KeywardError);
    expect((rotated as KeywardError).message).toContain("disabled");
    await expect(keys.create({ name: "second", ownerId: "u" })).rejects.toMatchObject({ code: "key_limit_reached" });
    expect((await keys.list({ status: "disabled" })).keys.map((k) => k.id)).toEqual([key.id]);
    expect((await keys.list({ status: "active" })).keys).toEqual([]);
    await close();
  });

  it("answers not_found for an unknown id", async () => {
    const { keys, close } = makeKeys({ storeKind });
    await expect(keys.disable("key_0000000000000000000000")).rejects.toMatchObject({ code: "not_found", status: 404 });
    await expect(keys.enable("nonsense")).rejects.toMatchObject({ code: "not_found", status: 404 });
    await close();
  });
});

describe("pause across processes sharing one SQLite file", () => {
  it("another manager's warm cache refuses the key once the invalidation channel tells it, and admits it after enable", async () => {
    const tmp = tempDir();
    const file = tmp.file("keys.db");
    const a = new KeyManager({ store: new SqliteStore(file) });
    const b = new KeyManager({ store: new SqliteStore(file), cache: { ttl: "1h" } });
    const { secret, key } = await a.create({ name: "ci" });
    expect((await b.verify(secret)).ok).toBe(true);
    a.onInvalidate((id) => b.invalidate(id)); // what the Redis / Postgres channels do
    await a.disable(key.id);
    const refused = await b.verify(secret);
    expect(!refused.ok && refused.error.code).toBe("key_disabled");
    await a.enable(key.id);
    expect((await b.verify(secret)).ok).toBe(true);
    await a.close();
    await b.close();
    tmp.cleanup();
  });
});

describe("pause in keysRouter and the CLI", () => {
  it("POST /:id/disable and /:id/enable answer the key with its status, only for its owner", async () => {
    const { keys, close } = makeKeys({ storeKind: "sqlite" });
    const app = routerApp(keys);
    const created = await request(app).post("/api/keys").set("x-user", "user_1").send({ name: "k" }).expect(201);
    const id = created.body.key.id as string;
    await request(app).post(`/api/keys/${id}/disable`).set("x-user", "user_2").expect(404);
    const paused = await request(app).post(`/api/keys/${id}/disable`).set("x-user", "user_1").expect(200);
    expect(paused.body.key).toMatchObject({ id, status: "disabled", disabledAt: expect.any(String) });
    const api = makeApp(keys);
    const refused = await request(api).get("/whoami").set("Authorization", `Bearer ${created.body.secret}`);
    expect([refused.status, refused.body.error.code]).toEqual([401, "key_disabled"]);
    const listed = await request(app).get("/api/keys?status=disabled").set("x-user", "user_1").expect(200);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toEqual([id]);
    const resumed = await request(app).post(`/api/keys/${id}/enable`).set("x-user", "user_1").expect(200);
    expect(resumed.body.key).toMatchObject({ status: "active", disabledAt: null });
    await request(api).get("/whoami").set("Authorization", `Bearer ${created.body.secret}`).expect(200);
    await close();
  });

  it("keyward keys disable / enable pause and resume a key; create --allow-ip sets the allow-list", async () => {
    const tmp = tempDir();
    const db = tmp.file("keys.db");
    let out = "";
    let err = "";
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t) };
    expect(await runCli(["keys", "create", "--db", db, "--name", "ci", "--allow-ip", "203.0.113.0/24", "--allow-ip", "2001:DB8::/32", "--json"], io)).toBe(0);
    const { key } = JSON.parse(out) as { key: { id: string; allowedIps: string[] } };
    expect(key.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    out = "";
    expect(await runCli(["keys", "disable", "--db", db, key.id], io)).toBe(0);
    expect(err).toContain(`Disabled ${key.id}`);
    expect(await runCli(["keys", "show", "--db", db, key.id, "--json"], io)).toBe(0);
    expect(JSON.parse(out).key.status).toBe("disabled");
    out = "";
    expect(await runCli(["keys", "enable", "--db", db, key.id, "--json"], io)).toBe(0);
    expect(JSON.parse(out).key.status).toBe("active");
    err = "";
    expect(await runCli(["keys", "create", "--db", db, "--name", "bad", "--allow-ip", "10.0.0.0/33"], io)).toBe(2);
    expect(err).toContain('--allow-ip: "10.0.0.0/33": the prefix length /33 is out of range for IPv4 (0-32)');
    tmp.cleanup();
  });
});
