/** keysRouter: every route's success and refusal paths over real HTTP (supertest), on a real store. */
import express from "express";
import express4 from "express4";
import request from "supertest";
import { apiKeyAuth, keysRouter, KeywardConfigError, MemoryStore, type FormatError, type KeyFilter, type KeysRouterOptions, type StoredKey } from "keyward";
import { makeKeys } from "../helpers";
import { routerApp, snapshot } from "./router-app";

const DAY = 86_400_000;
const U1 = { "x-user": "user_1" };
const U2 = { "x-user": "user_2" };

type Env = ReturnType<typeof makeKeys>;
let env: Env;
afterEach(async () => {
  await env.close();
});

async function setup(managerOptions: Parameters<typeof makeKeys>[0] = {}, routerOptions: Partial<KeysRouterOptions> = {}) {
  env = makeKeys(managerOptions);
  return { ...env, app: routerApp(env.keys, routerOptions) };
}

/** Asserts the status, code and that the store did not change across `send`. */
async function refusedWithoutWrite(store: Env["store"], send: () => Promise<request.Response>, status: number, code: string) {
  const before = await snapshot(store);
  const res = await send();
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(await snapshot(store)).toBe(before);
  return res;
}

describe("POST / (create)", () => {
  it("creates a key for the signed-in user: 201, secret shown once, no hash in the response", async () => {
    const { app, keys, store } = await setup();
    const res = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "ci-deploys", mode: "test", scopes: ["nodes:read"], expiresIn: "90d", metadata: { team: "infra" } });
    expect(res.status).toBe(201);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body.secret).toMatch(/^sk_test_[0-9A-Za-z]{38}$/);
    expect(res.body.key).toMatchObject({
      name: "ci-deploys",
      ownerId: "user_1",
      mode: "test",
      scopes: ["nodes:read"],
      status: "active",
      kind: "user",
      metadata: { team: "infra" },
      requestCount: 0,
      lastUsedAt: null,
      rotatedFrom: null,
      rotatedTo: null,
    });
    expect(Object.keys(res.body.key).sort()).toEqual(
      [
        "createdAt",
        "expiresAt",
        "id",
        "kind",
        "lastUsedAt",
        "metadata",
        "mode",
        "name",
        "ownerId",
        "projectId",
        "projects",
        "rateLimit",
        "requestCount",
        "revokedAt",
        "rotatedFrom",
        "rotatedTo",
        "scopes",
        "start",
        "status",
        "tier",
        "allowedIps",
        "disabledAt",
        "credits",
      ].sort(),
    );
    expect(Date.parse(res.body.key.expiresAt) - Date.parse(res.body.key.createdAt)).toBe(90 * DAY);
    const stored = await store.findById(res.body.key.id);
    expect(res.text).not.toContain(stored!.hash);
    const verified = await keys.verify(res.body.secret);
    expect(verified.ok && verified.key.ownerId).toBe("user_1");
  });

  it.each([
    ["ownerId of another user", { name: "x", ownerId: "user_2" }, "ownerId"],
    ["userId of another user", { name: "x", userId: "user_2" }, "userId"],
    ["an unknown field", { name: "x", colour: "red" }, "colour"],
    ["a prototype-pollution key", JSON.parse('{"name":"x","__proto__":{"admin":true}}'), "__proto__"],
    ["polluting metadata", JSON.parse('{"name":"x","metadata":{"__proto__":{"admin":true}}}'), "metadata"],
    ["a missing name", {}, "name"],
    ["an empty name", { name: "   " }, "name"],
    ["an oversized name", { name: "n".repeat(129) }, "name"],
    ["a name with control characters", { name: "a\nb" }, "name"],
    ["a name of the wrong type", { name: 42 }, "name"],
    ["a malformed scope", { name: "x", scopes: ["Nodes Read"] }, "scopes.0"],
    ["scopes that are not an array", { name: "x", scopes: "nodes:read" }, "scopes"],
    ["a past expiry", { name: "x", expiresIn: "-5d" }, "expiresIn"],
    ["a zero expiry", { name: "x", expiresIn: 0 }, "expiresIn"],
    ["an absurd expiry", { name: "x", expiresIn: "99999w" }, "expiresIn"],
    ["an unknown mode", { name: "x", mode: "staging" }, "mode"],
    ["an unknown kind", { name: "x", kind: "admin" }, "kind"],
    ["a malformed project id", { name: "x", projects: ["../etc"] }, "projects.0"],
    ["a project key without a project", { name: "x", kind: "project" }, "project"],
    ["a project key with scopes", { name: "x", kind: "project", project: "p1", scopes: ["a:b"] }, "scopes"],
    ["an unknown tier", { name: "x", tier: "gold" }, "tier"],
    ["oversized metadata", { name: "x", metadata: { blob: "b".repeat(5000) } }, "metadata"],
    ["metadata that is not an object", { name: "x", metadata: [1, 2] }, "metadata"],
  ])("refuses %s with 422 naming the field and writes nothing", async (_label, body, path) => {
    const { app, store } = await setup();
    const res = await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).send(body), 422, "validation_failed");
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    for (const d of res.body.error.details) expect(typeof d.message).toBe("string");
  });

  it("refuses a body that is not an object, malformed JSON (400) and an oversized body (413)", async () => {
    const { app, store } = await setup();
    await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U1)
          .send([{ name: "x" }]),
      422,
      "validation_failed",
    );
    await refusedWithoutWrite(
      store,
      () => request(app).post("/api/keys").set(U1).set("Content-Type", "application/json").send('{"name":'),
      400,
      "invalid_request",
    );
    await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U1)
          .send({ name: "x", metadata: { a: "z".repeat(20_000) } }),
      413,
      "payload_too_large",
    );
  });

  it("without a signed-in user answers 401 unauthenticated", async () => {
    const { app, store } = await setup();
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").send({ name: "x" }), 401, "unauthenticated");
    await refusedWithoutWrite(store, () => request(app).get("/api/keys"), 401, "unauthenticated");
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").set("Content-Type", "application/json").send('{"name":'), 401, "unauthenticated");
  });

  it("refuses scopes outside allowedScopes(req) with 403 insufficient_scope", async () => {
    const { app, store } = await setup({}, { allowedScopes: () => ["nodes:read", "nodes:write", "reports:*"] });
    const res = await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U1)
          .send({ name: "x", scopes: ["nodes:read", "admin:write"] }),
      403,
      "insufficient_scope",
    );
    expect(res.body.error.details).toEqual([{ path: "scopes.1", message: expect.stringContaining("outside") }]);
    await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U1)
          .send({ name: "x", scopes: ["nodes:*"] }),
      403,
      "insufficient_scope",
    );
    await refusedWithoutWrite(
      store,
      () => request(app).post("/api/keys").set(U1).send({ name: "x", kind: "project", project: "p1" }),
      403,
      "insufficient_scope",
    );
    const ok = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "x", scopes: ["nodes:read", "reports:export"] });
    expect(ok.status).toBe(201);
  });

  it.each([
    ["a full-access default becomes exactly the allowed set", ["*"], ["nodes:read", "nodes:write", "reports:*"], ["nodes:read", "nodes:write", "reports:*"]],
    ["an admin (*) keeps a read-only default", ["alerts:read", "usage:read"], ["*"], ["alerts:read", "usage:read"]],
    ["a resource wildcard default narrows to the allowed concrete scopes", ["nodes:*"], ["nodes:read", "analytics:read"], ["nodes:read"]],
    ["a default partly outside the allowance keeps only the covered part", ["nodes:read", "analytics:read"], ["nodes:*"], ["nodes:read"]],
  ])("without scopes in the body, a key gets the defaults narrowed to allowedScopes(req): %s", async (_label, defaultScopes, allowed, expected) => {
    const { app, keys } = await setup({ defaultScopes }, { allowedScopes: () => allowed });
    const res = await request(app).post("/api/keys").set(U1).send({ name: "inherits" }).expect(201);
    expect(res.body.key.scopes).toEqual(expected);
    expect((await keys.get(res.body.key.id))!.scopes).toEqual(expected);
  });

  it("allowedScopes(req) is asked per request (e.g. the user's role) and applies to both paths", async () => {
    const roles: Record<string, string[]> = { user_1: ["nodes:*", "batches:read"], user_2: ["nodes:read"] };
    const { app, store } = await setup({}, { allowedScopes: async (req) => roles[req.header("x-user") ?? ""] ?? [] });
    expect((await request(app).post("/api/keys").set(U1).send({ name: "a" }).expect(201)).body.key.scopes).toEqual(["nodes:*", "batches:read"]);
    expect((await request(app).post("/api/keys").set(U2).send({ name: "b" }).expect(201)).body.key.scopes).toEqual(["nodes:read"]);
    await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "c", scopes: ["nodes:write"] })
      .expect(201);
    const refused = await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U2)
          .send({ name: "d", scopes: ["nodes:read", "nodes:write"] }),
      403,
      "insufficient_scope",
    );
    expect(refused.body.error.message).toBe("Not allowed to grant nodes:write: is outside the scopes you may grant.");
  });

  it("refuses a key without scopes when no default scope is within allowedScopes(req)", async () => {
    const { app, store } = await setup({ defaultScopes: ["alerts:read"] }, { allowedScopes: () => ["nodes:read"] });
    const res = await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).send({ name: "x" }), 403, "insufficient_scope");
    expect(res.body.error.details).toEqual([{ path: "scopes", message: expect.stringContaining("list scopes explicitly") }]);
  });

  it("stores the manager's default scope set when scopes are omitted and the allowance covers it", async () => {
    const { app } = await setup({ defaultScopes: ["nodes:read", "analytics:read"] }, { allowedScopes: () => ["nodes:*", "analytics:read"] });
    const res = await request(app).post("/api/keys").set(U1).send({ name: "dashboard" }).expect(201);
    expect(res.body.key.scopes).toEqual(["nodes:read", "analytics:read"]);
  });

  it("applies the tier's maxActiveKeys per owner: 403 key_limit_reached; revoking frees a slot", async () => {
    const { app, store } = await setup({ tiers: { free: { maxActiveKeys: 2 } }, defaultTier: "free" });
    const first = await request(app).post("/api/keys").set(U1).send({ name: "a" });
    await request(app).post("/api/keys").set(U1).send({ name: "b" }).expect(201);
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).send({ name: "c" }), 403, "key_limit_reached");
    await request(app).post("/api/keys").set(U2).send({ name: "other user" }).expect(201);
    await request(app).delete(`/api/keys/${first.body.key.id}`).set(U1).expect(200);
    await request(app).post("/api/keys").set(U1).send({ name: "c" }).expect(201);
  });

  it("binds keys only to the owner's projects(req): others → 403 project_forbidden", async () => {
    const { app, store } = await setup({}, { projects: (req) => (req.header("x-user") === "user_1" ? ["p1", "p2"] : []) });
    await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "x", projects: ["p1", "p2"] })
      .expect(201);
    const proj = await request(app).post("/api/keys").set(U1).send({ name: "bot", kind: "project", project: "p2" }).expect(201);
    expect(proj.body.key).toMatchObject({ kind: "project", projectId: "p2", scopes: [] });
    const res = await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(U1)
          .send({ name: "x", projects: ["p1", "p9"] }),
      403,
      "project_forbidden",
    );
    expect(res.body.error.details).toEqual([{ path: "projects.1", message: "not one of your projects" }]);
    await refusedWithoutWrite(
      store,
      () => request(app).post("/api/keys").set(U2).send({ name: "x", kind: "project", project: "p1" }),
      403,
      "project_forbidden",
    );
  });

  it("lets tiers(req) restrict which tier a creator may pick", async () => {
    const { app, store } = await setup({ tiers: { free: {}, pro: {} } }, { tiers: () => ["free"] });
    await request(app).post("/api/keys").set(U1).send({ name: "x", tier: "free" }).expect(201);
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).send({ name: "x", tier: "pro" }), 403, "forbidden");
  });
});

describe("API-key-authenticated requests", () => {
  it("are refused by default with 403 forbidden: Bearer, custom header, or after apiKeyAuth", async () => {
    env = makeKeys();
    const { keys, store } = env;
    const { secret } = await keys.create({ name: "k", ownerId: "user_1" });
    const plain = routerApp(keys);
    await refusedWithoutWrite(
      store,
      () => request(plain).post("/api/keys").set("Authorization", `Bearer ${secret}`).send({ name: "minted" }),
      403,
      "forbidden",
    );
    await refusedWithoutWrite(store, () => request(plain).get("/api/keys").set(U1).set("X-Acme-Key", secret), 403, "forbidden");
    const behindAuth = routerApp(keys, {}, (app) => app.use(apiKeyAuth({ keys, header: "x-acme-key" })));
    await refusedWithoutWrite(store, () => request(behindAuth).post("/api/keys").set(U1).set("X-Acme-Key", secret).send({ name: "minted" }), 403, "forbidden");
  });

  it("with allowApiKeys: { scope } a key holding the scope manages its owner's keys, never more than it holds", async () => {
    env = makeKeys();
    const { keys, store } = env;
    const manager = await keys.create({ name: "mgr", ownerId: "user_1", scopes: ["keys:manage", "nodes:read"] });
    const reader = await keys.create({ name: "reader", ownerId: "user_1", scopes: ["nodes:read"] });
    const other = await keys.create({ name: "theirs", ownerId: "user_2" });
    const app = routerApp(keys, { allowApiKeys: { scope: "keys:manage" } });
    const bearer = (s: string) => ({ Authorization: `Bearer ${s}` });
    const list = await request(app).get("/api/keys").set(bearer(manager.secret)).expect(200);
    expect(list.body.keys.map((k: { name: string }) => k.name).sort()).toEqual(["mgr", "reader"]);
    await request(app).get(`/api/keys/${other.key.id}`).set(bearer(manager.secret)).expect(404);
    const made = await request(app)
      .post("/api/keys")
      .set(bearer(manager.secret))
      .send({ name: "minted", scopes: ["nodes:read"] })
      .expect(201);
    expect(made.body.key.ownerId).toBe("user_1");
    await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .post("/api/keys")
          .set(bearer(manager.secret))
          .send({ name: "wider", scopes: ["nodes:write"] }),
      403,
      "insufficient_scope",
    );
    await refusedWithoutWrite(
      store,
      () => request(app).post("/api/keys").set(bearer(manager.secret)).send({ name: "default-star" }),
      403,
      "insufficient_scope",
    );
    await refusedWithoutWrite(store, () => request(app).get("/api/keys").set(bearer(reader.secret)), 403, "insufficient_scope");
    await refusedWithoutWrite(store, () => request(app).get("/api/keys").set({ Authorization: "Bearer sk_live_madeUpKey" }), 401, "invalid_key");
    const behindAuth = routerApp(keys, { allowApiKeys: { scope: "keys:manage" } }, (a) => a.use(apiKeyAuth({ keys })));
    await request(behindAuth).get("/api/keys").set(bearer(manager.secret)).expect(200);
    await request(behindAuth).get("/api/keys").set(bearer(reader.secret)).expect(403);
    // Every request the management scope admitted counts as a use of it (through the pipeline or behind apiKeyAuth).
    expect(await keys.scopeUsage(manager.key.id)).toMatchObject({ used: [{ scope: "keys:manage", count: 6 }], unused: ["nodes:read"] });
  });
});

describe("reading keys", () => {
  it("GET / lists only the caller's keys, newest first, with filters and pagination", async () => {
    const { app, keys, clock } = await setup();
    for (let i = 0; i < 5; i++) {
      await keys.create({ name: `k${i}`, ownerId: "user_1", mode: i % 2 ? "test" : "live", projects: i === 4 ? ["p1"] : [], expiresIn: i === 3 ? "1h" : null });
      clock.advance(1000);
    }
    await keys.create({ name: "theirs", ownerId: "user_2" });
    clock.advance(2 * 3_600_000);
    const revoked = (await keys.list({ ownerId: "user_1" })).keys.find((k) => k.name === "k0")!;
    await keys.revoke(revoked.id);

    const all = await request(app).get("/api/keys").set(U1).expect(200);
    expect(all.body.keys.map((k: { name: string }) => k.name)).toEqual(["k4", "k3", "k2", "k1", "k0"]);
    expect(all.body.keys.map((k: { status: string }) => k.status)).toEqual(["active", "expired", "active", "active", "revoked"]);
    expect(all.body.next).toBeNull();
    const names = async (query: string) => (await request(app).get(`/api/keys?${query}`).set(U1).expect(200)).body.keys.map((k: { name: string }) => k.name);
    expect(await names("mode=test")).toEqual(["k3", "k1"]);
    expect(await names("status=expired")).toEqual(["k3"]);
    expect(await names("status=revoked")).toEqual(["k0"]);
    expect(await names("status=active&mode=live")).toEqual(["k4", "k2"]);
    const page1 = await request(app).get("/api/keys?limit=2").set(U1).expect(200);
    expect(page1.body.keys).toHaveLength(2);
    const page2 = await request(app).get(`/api/keys?limit=2&before=${page1.body.next}`).set(U1).expect(200);
    expect(page2.body.keys.map((k: { name: string }) => k.name)).toEqual(["k2", "k1"]);
  });

  it.each([
    ["ownerId=user_2", "ownerId"],
    ["userId=user_2", "userId"],
    ["status=deleted", "status"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=ten", "limit"],
    ["before=nope", "before"],
    ["mode=staging", "mode"],
    ["mode=live&mode=test", "mode"],
  ])("GET /?%s → 422 naming the parameter", async (query, path) => {
    const { app } = await setup();
    const res = await request(app).get(`/api/keys?${query}`).set(U1).expect(422);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it("GET /:id answers 404 for another owner's key or an unknown id, never 403", async () => {
    const { app, keys } = await setup();
    const mine = await keys.create({ name: "mine", ownerId: "user_1" });
    const theirs = await keys.create({ name: "theirs", ownerId: "user_2" });
    const res = await request(app).get(`/api/keys/${mine.key.id}`).set(U1).expect(200);
    expect(res.body.key).toMatchObject({ id: mine.key.id, name: "mine", start: mine.key.start });
    for (const id of [theirs.key.id, "key_0000000000000000000000", "not-an-id"]) {
      const r = await request(app).get(`/api/keys/${id}`).set(U1).expect(404);
      expect(r.body.error.code).toBe("not_found");
    }
  });

  it("GET /:id/usage gives zero-filled daily counts, oldest first", async () => {
    const { app, keys, clock } = await setup();
    const { secret, key } = await keys.create({ name: "k", ownerId: "user_1" });
    await keys.verify(secret);
    clock.advance(DAY);
    await keys.verify(secret);
    await keys.verify(secret);
    const res = await request(app).get(`/api/keys/${key.id}/usage?days=3`).set(U1).expect(200);
    expect(res.body.usage).toEqual([
      { date: "2026-11-22", count: 0 },
      { date: "2026-11-23", count: 1 },
      { date: "2026-11-24", count: 2 },
    ]);
    expect((await request(app).get(`/api/keys/${key.id}/usage`).set(U1).expect(200)).body.usage).toHaveLength(30);
    await request(app).get(`/api/keys/${key.id}/usage?days=91`).set(U1).expect(422);
    await request(app).get(`/api/keys/${key.id}/usage`).set(U2).expect(404);
    const shown = await request(app).get(`/api/keys/${key.id}`).set(U1).expect(200);
    expect(shown.body.key.requestCount).toBe(3);
    expect(shown.body.key.lastUsedAt).toBe(new Date(clock.ms).toISOString());
  });

  it("GET /:id/scope-usage gives the used scopes (most used first) and the never-used ones, for the owner only", async () => {
    const { app, keys, clock } = await setup();
    const { secret, key } = await keys.create({ name: "k", ownerId: "user_1", scopes: ["nodes:read", "nodes:write", "users:read"] });
    await keys.verify(secret, { scope: "nodes:write" });
    clock.advance(DAY);
    await keys.verify(secret, { scope: "nodes:read" });
    await keys.verify(secret, { scope: "nodes:read" });
    const res = await request(app).get(`/api/keys/${key.id}/scope-usage?days=2`).set(U1).expect(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toEqual({
      used: [
        { scope: "nodes:read", count: 2, lastUsedAt: new Date(clock.ms).toISOString() },
        { scope: "nodes:write", count: 1, lastUsedAt: new Date(clock.ms - DAY).toISOString() },
      ],
      unused: ["users:read"],
    });
    expect((await request(app).get(`/api/keys/${key.id}/scope-usage?days=1`).set(U1).expect(200)).body.unused).toEqual(["nodes:write", "users:read"]);
    expect((await request(app).get(`/api/keys/${key.id}/Scope-Usage/`).set(U1).expect(200)).body.used).toHaveLength(2);
    for (const days of ["0", "91", "x"]) {
      const bad = await request(app).get(`/api/keys/${key.id}/scope-usage?days=${days}`).set(U1).expect(422);
      expect(bad.body.error.code).toBe("validation_failed");
    }
    await request(app).get(`/api/keys/${key.id}/scope-usage`).set(U2).expect(404);
    await request(app).get(`/api/keys/key_0000000000000000000000/scope-usage`).set(U1).expect(404);
    await request(app).get(`/api/keys/${key.id}/scope-usage`).expect(401);
    await request(app).post(`/api/keys/${key.id}/scope-usage`).set(U1).send({}).expect(404);
  });
});

describe("changing keys", () => {
  it("PATCH /:id renames, sets metadata and narrows scopes; widening → 403 insufficient_scope", async () => {
    const { app, keys, store } = await setup();
    const { secret, key } = await keys.create({ name: "k", ownerId: "user_1", scopes: ["nodes:*", "reports:read"] });
    const res = await request(app)
      .patch(`/api/keys/${key.id}`)
      .set(U1)
      .send({ name: "renamed", metadata: { env: "ci" }, scopes: ["nodes:read"] })
      .expect(200);
    expect(res.body.key).toMatchObject({ name: "renamed", metadata: { env: "ci" }, scopes: ["nodes:read"] });
    const verified = await keys.verify(secret);
    expect(verified.ok && verified.key.scopes).toEqual(["nodes:read"]);
    for (const scopes of [["nodes:write"], ["nodes:*"], ["*"], ["reports:read"]]) {
      await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U1).send({ scopes }), 403, "insufficient_scope");
    }
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U1).send({}), 422, "validation_failed");
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U1).send({ ownerId: "user_2" }), 422, "validation_failed");
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U2).send({ name: "stolen" }), 404, "not_found");
  });

  it("POST /:id/rotate issues a linked successor (201); overlap 0 revokes the old key; a second rotation → 409", async () => {
    const { app, keys, store, clock } = await setup();
    const { secret: oldSecret, key } = await keys.create({ name: "k", ownerId: "user_1", scopes: ["nodes:read"], expiresIn: "90d" });
    clock.advance(1000);
    const res = await request(app).post(`/api/keys/${key.id}/rotate`).set(U1).send({ overlap: "1h" }).expect(201);
    expect(res.body.secret).toMatch(/^sk_live_/);
    expect(res.body.key).toMatchObject({ rotatedFrom: key.id, scopes: ["nodes:read"], name: "k", status: "active" });
    expect(res.body.previous).toMatchObject({ id: key.id, rotatedTo: res.body.key.id, expiresAt: new Date(clock.ms + 3_600_000).toISOString() });
    expect((await keys.verify(oldSecret)).ok).toBe(true);
    await refusedWithoutWrite(store, () => request(app).post(`/api/keys/${key.id}/rotate`).set(U1).send({}), 409, "conflict");
    const listed = await request(app).get("/api/keys").set(U1).expect(200);
    expect(listed.body.keys.map((k: { rotatedFrom: string | null; rotatedTo: string | null }) => [k.rotatedFrom, k.rotatedTo])).toEqual([
      [key.id, null],
      [null, res.body.key.id],
    ]);

    const now = await request(app).post(`/api/keys/${res.body.key.id}/rotate`).set(U1).send({ overlap: 0 }).expect(201);
    expect(now.body.previous.status).toBe("revoked");
    expect((await keys.verify(res.body.secret)).ok).toBe(false);
    const noBody = await request(app).post(`/api/keys/${now.body.key.id}/rotate`).set(U1).expect(201);
    expect(Date.parse(noBody.body.previous.expiresAt) - clock.ms).toBe(DAY);
    await refusedWithoutWrite(
      store,
      () => request(app).post(`/api/keys/${noBody.body.key.id}/rotate`).set(U1).send({ overlap: "soon" }),
      422,
      "validation_failed",
    );
    await refusedWithoutWrite(store, () => request(app).post(`/api/keys/${noBody.body.key.id}/rotate`).set(U2).send({}), 404, "not_found");
  });

  it("DELETE /:id revokes at once; repeating is a no-op; another owner's key → 404", async () => {
    const { app, keys, store } = await setup();
    const { secret, key } = await keys.create({ name: "k", ownerId: "user_1" });
    await refusedWithoutWrite(store, () => request(app).delete(`/api/keys/${key.id}`).set(U2), 404, "not_found");
    const res = await request(app).delete(`/api/keys/${key.id}`).set(U1).expect(200);
    expect(res.body.key.status).toBe("revoked");
    const verified = await keys.verify(secret);
    expect(!verified.ok && verified.error.code).toBe("key_revoked");
    const again = await request(app).delete(`/api/keys/${key.id}`).set(U1).expect(200);
    expect(again.body.key.revokedAt).toBe(res.body.key.revokedAt);
  });
});

describe("credits", () => {
  it("POST / gives a key credits; the key JSON shows the balance, the refill and when it refills", async () => {
    const { app, keys, clock } = await setup({ storeKind: "sqlite" });
    const res = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "metered", credits: { remaining: 3, refill: { amount: 10, interval: "1d" } } })
      .expect(201);
    const refillsAt = new Date(clock.now() - (clock.now() % DAY) + DAY).toISOString();
    expect(res.body.key.credits).toEqual({ remaining: 3, refill: { amount: 10, interval: "1d" }, refillsAt });
    expect((await keys.verify(res.body.secret)).ok).toBe(true);
    const got = await request(app).get(`/api/keys/${res.body.key.id}`).set(U1).expect(200);
    expect(got.body.key.credits).toEqual({ remaining: 2, refill: { amount: 10, interval: "1d" }, refillsAt });
    const plain = await request(app).post("/api/keys").set(U1).send({ name: "plain", credits: null }).expect(201);
    expect(plain.body.key.credits).toBeNull();
  });

  it.each([
    [{ remaining: -1 }, "credits.remaining", "must not be negative"],
    [{ remaining: 2.5 }, "credits.remaining", "must be a whole number of credits"],
    [{ remaining: 1e13 }, "credits.remaining", "must be at most 1000000000000"],
    [{ remaining: "100" }, "credits.remaining", "must be a number of credits"],
    [{}, "credits.remaining", "must be a number of credits"],
    [{ remaining: 10, refill: { amount: 10, interval: "1y" } }, "credits.refill.interval", 'use "1mo"'],
    [{ remaining: 10, refill: { amount: 10, interval: "30s" } }, "credits.refill.interval", 'use "1mo"'],
    [{ remaining: 10, refill: { amount: -10, interval: "1d" } }, "credits.refill.amount", "must not be negative"],
    [{ remaining: 10, refill: "1000/1d" }, "credits.refill", "must be { amount, interval }"],
    [{ remaining: 10, bonus: 5 }, "credits.bonus", "unknown field"],
    [1000, "credits", "must be { remaining, refill? }"],
  ])("POST / and PATCH /:id refuse credits %j with 422 naming %s, writing nothing", async (credits, path, message) => {
    const { app, keys, store } = await setup({}, { changeCredits: () => true });
    const { key } = await keys.create({ name: "k", ownerId: "user_1" });
    for (const send of [
      () => request(app).post("/api/keys").set(U1).send({ name: "x", credits }),
      () => request(app).patch(`/api/keys/${key.id}`).set(U1).send({ credits }),
    ]) {
      const res = await refusedWithoutWrite(store, send, 422, "validation_failed");
      expect(res.body.error.details).toEqual([{ path, message: expect.stringContaining(message) }]);
      expect(res.body.error.message).toContain(path);
    }
  });

  it("PATCH /:id changes a key's credits only with changeCredits(req): a new balance from now, or none", async () => {
    const { app, keys, store } = await setup({}, { changeCredits: (req) => req.headers["x-role"] === "admin" });
    const { secret, key } = await keys.create({ name: "k", ownerId: "user_1", credits: { remaining: 2 } });
    await keys.verify(secret);
    await keys.verify(secret);
    expect((await keys.verify(secret)).ok).toBe(false);
    const refused = await refusedWithoutWrite(
      store,
      () =>
        request(app)
          .patch(`/api/keys/${key.id}`)
          .set(U1)
          .send({ credits: { remaining: 1000 } }),
      403,
      "forbidden",
    );
    expect(refused.body.error.details).toEqual([{ path: "credits", message: expect.any(String) }]);
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U1).send({ name: "n", credits: null }), 403, "forbidden");
    const admin = { ...U1, "x-role": "admin" };
    const topped = await request(app)
      .patch(`/api/keys/${key.id}`)
      .set(admin)
      .send({ credits: { remaining: 5, refill: { amount: 5, interval: "1mo" } } })
      .expect(200);
    expect(topped.body.key.credits).toEqual({ remaining: 5, refill: { amount: 5, interval: "1mo" }, refillsAt: "2026-12-01T00:00:00.000Z" });
    expect((await keys.verify(secret)).ok).toBe(true); // the manager's cache was told
    expect((await keys.get(key.id))?.credits?.remaining).toBe(4);
    const removed = await request(app).patch(`/api/keys/${key.id}`).set(admin).send({ credits: null }).expect(200);
    expect(removed.body.key.credits).toBeNull();
    for (let i = 0; i < 6; i++) expect((await keys.verify(secret)).ok).toBe(true);
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U2).set("x-role", "admin").send({ credits: null }), 404, "not_found");
  });
});

describe("envelopes and CSRF", () => {
  it("shapes every key in every response with present(key, req), e.g. snake_case field names", async () => {
    const present: KeysRouterOptions["present"] = (k) => ({ id: k.id, name: k.name, scopes: k.scopes, last_used_at: k.lastUsedAt, revoked_at: k.revokedAt });
    const { app } = await setup({}, { present });
    const shape = ["id", "last_used_at", "name", "revoked_at", "scopes"];
    const created = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "ci", scopes: ["nodes:read"] })
      .expect(201);
    expect(Object.keys(created.body.key).sort()).toEqual(shape);
    expect(created.body.key).toMatchObject({ name: "ci", last_used_at: null });
    expect(created.body.secret).toMatch(/^sk_live_/);
    const id = created.body.key.id as string;
    const responses = [
      (await request(app).get("/api/keys").set(U1).expect(200)).body.keys[0],
      (await request(app).get(`/api/keys/${id}`).set(U1).expect(200)).body.key,
      (await request(app).patch(`/api/keys/${id}`).set(U1).send({ name: "ci-2" }).expect(200)).body.key,
    ];
    const rotated = (await request(app).post(`/api/keys/${id}/rotate`).set(U1).send({}).expect(201)).body;
    responses.push(rotated.key, rotated.previous, (await request(app).delete(`/api/keys/${rotated.key.id}`).set(U1).expect(200)).body.key);
    for (const key of responses) expect(Object.keys(key).sort()).toEqual(shape);
    expect(responses.at(-1).revoked_at).toEqual(expect.any(String));
  });

  it("refuses a present option that is not a function at start-up", async () => {
    const { keys } = await setup();
    expect(() => keysRouter({ keys, owner: () => "u", present: "snake_case" as never })).toThrow(/keysRouter\.present: must be a function/);
  });

  it("shapes bodies with formatBody/formatError ({ data, error })", async () => {
    const envelope: FormatError = (e) => ({ data: null, error: e.message }); // one formatter for apiKeyAuth and keysRouter
    const { app } = await setup({}, { formatBody: (data) => ({ data, error: null }), formatError: envelope });
    const ok = await request(app).post("/api/keys").set(U1).send({ name: "x" }).expect(201);
    expect(ok.body.error).toBeNull();
    expect(ok.body.data.secret).toMatch(/^sk_live_/);
    const bad = await request(app).get("/api/keys/key_0000000000000000000000").set(U1).expect(404);
    expect(bad.body).toEqual({ data: null, error: "No such API key." });
  });

  it.each([
    ["a cross-site Sec-Fetch-Site", { "Sec-Fetch-Site": "cross-site" }],
    ["a same-site (other subdomain) Sec-Fetch-Site", { "Sec-Fetch-Site": "same-site" }],
    ["a foreign Origin", { Origin: "https://evil.example" }],
    ["an opaque Origin", { Origin: "null" }],
  ])("refuses POST/PATCH/DELETE with %s (403 forbidden), writing nothing", async (_label, headers) => {
    const { app, keys, store } = await setup();
    const { key } = await keys.create({ name: "k", ownerId: "user_1" });
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).set(headers).send({ name: "x" }), 403, "forbidden");
    await refusedWithoutWrite(store, () => request(app).patch(`/api/keys/${key.id}`).set(U1).set(headers).send({ name: "x" }), 403, "forbidden");
    await refusedWithoutWrite(store, () => request(app).delete(`/api/keys/${key.id}`).set(U1).set(headers), 403, "forbidden");
  });

  it("accepts same-origin browser requests and reads through GET from anywhere", async () => {
    const { app } = await setup();
    await request(app)
      .post("/api/keys")
      .set(U1)
      .set("Host", "app.example")
      .set("Origin", "https://app.example")
      .set("Sec-Fetch-Site", "same-origin")
      .send({ name: "x" })
      .expect(201);
    await request(app).get("/api/keys").set(U1).set("Sec-Fetch-Site", "cross-site").expect(200);
  });

  it("refuses an HTML form post or text/plain body with 415 unsupported_media_type; csrf: false turns checks off", async () => {
    const { app, store, keys } = await setup();
    await refusedWithoutWrite(store, () => request(app).post("/api/keys").set(U1).type("form").send("name=x"), 415, "unsupported_media_type");
    await refusedWithoutWrite(
      store,
      () => request(app).post("/api/keys").set(U1).set("Content-Type", "text/plain").send('{"name":"x"}'),
      415,
      "unsupported_media_type",
    );
    const open = routerApp(keys, { csrf: false });
    await request(open).post("/api/keys").set(U1).set("Origin", "https://elsewhere.example").send({ name: "x" }).expect(201);
  });
});

/** A MemoryStore that fails every call while `down` is set. */
class FlakyStore extends MemoryStore {
  down = false;
  override findById(id: string) {
    if (this.down) throw new Error("disk gone");
    return super.findById(id);
  }
  override list(filter: KeyFilter) {
    if (this.down) throw new Error("disk gone");
    return super.list(filter);
  }
  override insert(key: StoredKey, cap?: { max: number; now: number }) {
    if (this.down) throw new Error("disk gone");
    return super.insert(key, cap);
  }
}

describe("store failures", () => {
  it("fail closed with 503 store_unavailable and Retry-After, revealing nothing", async () => {
    const store = new FlakyStore();
    const { app, keys } = await setup({ store });
    const { key } = await keys.create({ name: "k", ownerId: "user_1" });
    store.down = true;
    for (const send of [
      () => request(app).get("/api/keys").set(U1),
      () => request(app).get(`/api/keys/${key.id}`).set(U1),
      () => request(app).post("/api/keys").set(U1).send({ name: "x" }),
      () => request(app).delete(`/api/keys/${key.id}`).set(U1),
    ]) {
      const res = await send();
      expect({ status: res.status, code: res.body.error.code, retry: res.headers["retry-after"] }).toEqual({
        status: 503,
        code: "store_unavailable",
        retry: "1",
      });
      expect(res.text).not.toContain("disk gone");
    }
    store.down = false;
    expect((await request(app).get(`/api/keys/${key.id}`).set(U1).expect(200)).body.key.status).toBe("active");
  });
});

describe("mounting and options", () => {
  it("parses JSON itself even after the app's own express.json(), and runs under Express 4", async () => {
    env = makeKeys();
    const withParser = routerApp(env.keys, {}, (app) => app.use(express.json()));
    await request(withParser).post("/api/keys").set(U1).send({ name: "x" }).expect(201);
    const app4 = express4();
    app4.use("/api/developers/keys", keysRouter({ keys: env.keys, owner: (req) => req.header("x-user") }));
    await request(app4).post("/api/developers/keys").set(U1).send({ name: "y" }).expect(201);
    const listed = await request(app4).get("/api/developers/keys?status=active").set(U1).expect(200);
    expect(listed.body.keys).toHaveLength(2);
    await request(app4).get("/api/developers/keys?ownerId=user_2").set(U1).expect(422);
  });

  it("leaves the app's other (multi-segment) routes alone when mounted at the root", async () => {
    env = makeKeys();
    const app = express();
    app.use(keysRouter({ keys: env.keys, owner: () => null }));
    app.get("/v1/status", (_req, res) => {
      res.json({ ok: true });
    });
    app.post("/v1/items", (_req, res) => {
      res.status(201).json({ ok: true });
    });
    await request(app).get("/v1/status").expect(200);
    await request(app).post("/v1/items").type("form").send("a=b").expect(201);
    await request(app).get("/").expect(401);
  });

  it("supports an async owner() and fails at start-up on bad options", async () => {
    const { app } = await setup({}, { owner: async (req) => req.header("x-user") });
    await request(app).post("/api/keys").set(U1).send({ name: "x" }).expect(201);
    expect(() => keysRouter({ keys: env.keys } as unknown as KeysRouterOptions)).toThrow(KeywardConfigError);
    expect(() => keysRouter({ keys: {} as never, owner: () => "u" })).toThrow(/keysRouter.keys/);
    expect(() => keysRouter({ keys: env.keys, owner: () => "u", allowApiKeys: { scope: "keys:*" } })).toThrow(/wildcard/);
    expect(() => keysRouter({ keys: env.keys, owner: () => "u", maxPageSize: 0 })).toThrow(/maxPageSize/);
  });
});
