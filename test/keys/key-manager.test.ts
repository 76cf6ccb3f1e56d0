/**
 * KeyManager create / get / list (filters, pagination) / update / revoke /
 * verify, on the memory and SQLite stores.
 */
import { KeyManager, KeywardError, MemoryStore, requiredScope, type ApiKey, type KeyManagerOptions, type KeywardEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { TestClock, tempDir } from "../helpers";

const DAY = 86_400_000;

describe.each(["memory", "sqlite"] as const)("KeyManager on %s", (kind) => {
  const tmp = tempDir();
  let n = 0;
  const make = (options: Partial<KeyManagerOptions> = {}) => {
    const clock = new TestClock();
    const events: KeywardEvent[] = [];
    const store = kind === "memory" ? new MemoryStore() : new SqliteStore(tmp.file(`k${n++}.db`));
    const keys = new KeyManager({ store, clock: clock.now, onEvent: (e) => events.push(e), usage: false, ...options });
    return { keys, clock, events };
  };
  afterAll(() => tmp.cleanup());

  it("create returns the secret once and a record with every documented field", async () => {
    const { keys, clock, events } = make();
    const { secret, key } = await keys.create({
      name: "ci-deploys",
      ownerId: "user_1",
      mode: "test",
      scopes: ["models:read"],
      metadata: { team: "infra" },
      expiresIn: "90d",
    });
    expect(key).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Za-z]{22}$/),
      name: "ci-deploys",
      start: secret.slice(0, 12),
      ownerId: "user_1",
      kind: "user",
      projectId: null,
      projects: [],
      mode: "test",
      scopes: ["models:read"],
      tier: null,
      rateLimit: null,
      metadata: { team: "infra" },
      status: "active",
      createdAt: new Date(clock.ms),
      expiresAt: new Date(clock.ms + 90 * DAY),
      revokedAt: null,
      lastUsedAt: null,
      requestCount: 0,
      rotatedFrom: null,
      rotatedTo: null,
      disabledAt: null,
      allowedIps: [],
      credits: null,
    } satisfies ApiKey);
    expect(JSON.stringify(key)).not.toContain(secret.slice(12));
    expect(Object.keys(key)).not.toContain("hash");
    expect(events).toEqual([{ type: "key.created", at: new Date(clock.ms), keyId: key.id, ownerId: "user_1", name: "ci-deploys", mode: "test" }]);
    await keys.close();
  });

  it("create validates its input field by field", async () => {
    const { keys } = make();
    const err = (await keys.create({ name: "", scopes: ["Bad"], bogus: 1 } as never).catch((e: unknown) => e)) as KeywardError;
    expect(err).toBeInstanceOf(KeywardError);
    expect(err.code).toBe("validation_failed");
    expect(err.details!.map((d) => d.path).sort()).toEqual(["bogus", "name"]); // an unknown field is named
    await expect(keys.create({ name: "x", expiresIn: "soon" })).rejects.toMatchObject({ details: [{ path: "expiresIn" }] });
    await expect(keys.create({ name: "x", expiresIn: "1d", expiresAt: Date.now() + DAY })).rejects.toMatchObject({ details: [{ path: "expiresIn" }] });
    await expect(keys.create({ name: "x", metadata: { nested: { __proto__: 1 } } as never })).resolves.toBeDefined();
    await expect(keys.create({ name: "x", metadata: JSON.parse('{"__proto__":{"admin":true}}') })).rejects.toMatchObject({ details: [{ path: "metadata" }] });
    await expect(keys.create(null as never)).rejects.toMatchObject({ code: "validation_failed" });
    await expect(keys.create({ name: "p", kind: "project", project: "p1", scopes: ["nodes:read"] })).rejects.toMatchObject({
      code: "validation_failed",
      details: [{ path: "scopes" }],
    });
    expect((await keys.list()).keys.map((k) => k.name)).not.toContain("p");
    await keys.close();
  });

  it("list refuses a mode the key format does not have, instead of silently matching nothing", async () => {
    const { keys } = make();
    await keys.create({ name: "a", mode: "live" });
    await expect(keys.list({ mode: "prod" })).rejects.toMatchObject({ code: "validation_failed", details: [{ path: "mode" }] });
    expect((await keys.list({ mode: "live" })).keys).toHaveLength(1);
    await keys.close();
  });

  it("get returns the key, or null for unknown and malformed ids", async () => {
    const { keys } = make();
    const { key } = await keys.create({ name: "a" });
    expect(await keys.get(key.id)).toEqual(key);
    expect(await keys.get("key_" + "0".repeat(22))).toBeNull();
    expect(await keys.get("'; DROP TABLE keyward_keys; --")).toBeNull();
    expect(await keys.get("")).toBeNull();
    await keys.close();
  });

  it("list filters by owner, project, mode, kind and status, newest first, with pagination", async () => {
    const { keys, clock } = make();
    const made: ApiKey[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(1000);
      made.push(
        (
          await keys.create({
            name: `k${i}`,
            ownerId: i % 2 ? "alice" : "bob",
            mode: i < 3 ? "test" : "live",
            projects: i === 4 ? ["p1"] : [],
            expiresIn: i === 5 ? "1h" : null,
          })
        ).key,
      );
    }
    clock.advance(1000);
    made.push((await keys.create({ name: "proj", kind: "project", project: "p2", ownerId: "alice" })).key);
    await keys.revoke(made[6]!.id);
    clock.advance(2 * 3600_000); // k5 expires
    const names = async (filter: Parameters<KeyManager["list"]>[0]) => (await keys.list(filter)).keys.map((k) => k.name);
    expect(await names({})).toEqual(["proj", "k6", "k5", "k4", "k3", "k2", "k1", "k0"]);
    expect(await names({ ownerId: "alice" })).toEqual(["proj", "k5", "k3", "k1"]);
    expect(await names({ mode: "test" })).toEqual(["k2", "k1", "k0"]);
    expect(await names({ kind: "project" })).toEqual(["proj"]);
    expect(await names({ status: "revoked" })).toEqual(["k6"]);
    expect(await names({ status: "expired" })).toEqual(["k5"]);
    expect(await names({ status: "active", ownerId: "bob", mode: "live" })).toEqual(["k4"]);
    expect(await names({ projectId: "p1" })).toEqual(["k6", "k5", "k4", "k3", "k2", "k1", "k0"]);
    expect(await names({ projectId: "p9" })).toEqual(["k6", "k5", "k3", "k2", "k1", "k0"]);
    expect(await names({ projectId: "p2" })).toEqual(["proj", "k6", "k5", "k3", "k2", "k1", "k0"]);
    expect(await names({ ownerId: "nobody" })).toEqual([]);

    const pages: string[][] = [];
    let before: string | undefined;
    for (;;) {
      const page = await keys.list({ limit: 3, ...(before ? { before } : {}) });
      pages.push(page.keys.map((k) => k.name));
      if (page.next === null) break;
      expect(page.next).toBe(page.keys[page.keys.length - 1]!.id);
      before = page.next;
    }
    expect(pages).toEqual([
      ["proj", "k6", "k5"],
      ["k4", "k3", "k2"],
      ["k1", "k0"],
    ]);
    expect((await keys.list({ limit: 0 })).keys).toHaveLength(1); // clamped to 1..1000
    const one = await keys.list({ limit: 1.5 });
    expect(one.keys).toHaveLength(1);
    expect(one.next).toBe(one.keys[0]!.id);
    await keys.close();
  });

  it("a limit that is not a number (e.g. from a query string) gives the default page and a correct next", async () => {
    const { keys } = make();
    for (let i = 0; i < 101; i++) await keys.create({ name: `k${i}` });
    const first = await keys.list({ limit: Number("ten") });
    expect(first.keys).toHaveLength(100);
    expect(first.next).toBe(first.keys[99]!.id);
    const second = await keys.list({ before: first.next! });
    expect(second.keys).toHaveLength(1);
    expect(second.next).toBeNull();
    await keys.close();
  });

  it("update changes name, scopes and metadata, takes effect on the next request, and keeps the rest", async () => {
    const { keys, events } = make();
    const { secret, key } = await keys.create({ name: "old", scopes: ["nodes:read"], metadata: { a: 1 } });
    expect((await keys.verify(secret, { scope: requiredScope("nodes:read") })).ok).toBe(true); // cached now
    const updated = await keys.update(key.id, { name: "new", scopes: ["nodes:write"], metadata: { b: 2 } });
    expect(updated).toEqual({ ...key, name: "new", scopes: ["nodes:write"], metadata: { b: 2 } });
    expect(await keys.get(key.id)).toEqual(updated);
    const r = await keys.verify(secret, { scope: requiredScope("nodes:read") });
    expect(!r.ok && r.error.code).toBe("insufficient_scope");
    expect((await keys.verify(secret, { scope: requiredScope("nodes:write") })).ok).toBe(true);
    expect(await keys.update(key.id, {})).toEqual(updated);
    await expect(keys.update("key_" + "0".repeat(22), { name: "x" })).rejects.toMatchObject({ code: "not_found", status: 404 });
    await expect(keys.update(key.id, { mode: "live" } as never)).rejects.toMatchObject({ code: "validation_failed" });
    expect(events.filter((e) => e.type === "key.updated")).toHaveLength(2);
    await keys.close();
  });

  it("revoke is immediate and irreversible; revoking again changes nothing", async () => {
    const { keys, clock, events } = make();
    const { secret, key } = await keys.create({ name: "k" });
    expect((await keys.verify(secret)).ok).toBe(true);
    const revoked = await keys.revoke(key.id);
    expect(revoked).toMatchObject({ status: "revoked", revokedAt: new Date(clock.ms) });
    const r = await keys.verify(secret);
    expect(!r.ok && r.error.code).toBe("key_revoked");
    expect(!r.ok && r.error.status).toBe(401);
    clock.advance(1000);
    expect((await keys.revoke(key.id)).revokedAt).toEqual(new Date(clock.ms - 1000));
    expect(events.filter((e) => e.type === "key.revoked")).toHaveLength(1);
    await expect(keys.rotate(key.id)).rejects.toMatchObject({ code: "conflict" });
    await expect(keys.revoke("key_nope")).rejects.toMatchObject({ code: "not_found" });
    await keys.close();
  });

  it("verify answers every outcome as a value and never throws", async () => {
    const { keys, clock } = make();
    const { secret, key } = await keys.create({ name: "k", ownerId: "o", scopes: ["a:read"], expiresIn: "1h", metadata: { plan: "pro" } });
    const ok = await keys.verify(secret);
    expect(ok).toEqual({
      ok: true,
      limits: [],
      key: {
        id: key.id,
        name: "k",
        ownerId: "o",
        kind: "user",
        mode: "live",
        scopes: ["a:read"],
        projects: [],
        project: null,
        tier: null,
        metadata: { plan: "pro" },
        expiresAt: key.expiresAt,
      },
    });
    expect(Object.isFrozen((ok as { key: object }).key)).toBe(true);
    const scope = await keys.verify(secret, { scope: requiredScope("a:write") });
    expect(!scope.ok && scope.error).toMatchObject({ code: "insufficient_scope", status: 403, scope: "a:write" });
    for (const bad of ["", "x", 42 as unknown as string, undefined as unknown as string]) {
      const r = await keys.verify(bad);
      expect(!r.ok && r.error.code).toBe("invalid_key");
    }
    const unknown = await keys.verify(keys.format.generate("live"));
    expect(!unknown.ok && unknown.error.code).toBe("invalid_key");
    clock.advance(3600_000);
    const expired = await keys.verify(secret);
    expect(!expired.ok && expired.error).toMatchObject({ code: "key_expired", status: 401 });
    await keys.close();
  });

  it("verify takes the required scope as a plain string, or a list of which the key needs all", async () => {
    const { keys } = make();
    const { secret } = await keys.create({ name: "k", scopes: ["nodes:read", "batches:*"] });
    expect((await keys.verify(secret, { scope: "nodes:read" })).ok).toBe(true);
    expect((await keys.verify(secret, { scope: "batches:create" })).ok).toBe(true);
    expect((await keys.verify(secret, { scope: ["nodes:read", "batches:create"] })).ok).toBe(true);
    const one = await keys.verify(secret, { scope: "nodes:write" });
    expect(!one.ok && one.error).toMatchObject({ code: "insufficient_scope", status: 403, scope: "nodes:write" });
    const some = await keys.verify(secret, { scope: ["nodes:read", "nodes:write", "users:read"] });
    expect(!some.ok && some.error).toMatchObject({ code: "insufficient_scope", scope: "nodes:write users:read" });
    const mixed = await keys.verify(secret, { scope: [requiredScope("nodes:read"), "batches:list"] });
    expect(mixed.ok).toBe(true);
    await expect(keys.verify(secret, { scope: "Nodes Read" })).rejects.toMatchObject({ name: "KeywardConfigError", message: expect.stringContaining("scope") });
    await expect(keys.verify(secret, { scope: [] })).rejects.toMatchObject({ name: "KeywardConfigError" });
    await keys.close();
  });
});
