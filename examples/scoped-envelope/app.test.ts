/** The scoped-envelope API end to end: key types, every scoped operation, role-bounded keys, the { data, error } envelope, status codes, listing, rotation. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { ENDPOINTS, ROLES, SCOPES, createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-scoped-envelope-"));
let now = Date.UTC(2031, 1, 10, 9, 0, 0);
const { app, keys, login } = createApp({ db: join(dir, "keys.db"), rateLimit: { limit: 10, window: "1m" }, clock: () => now });
afterAll(async () => {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const key = async (scopes?: string[], mode = "live", org = "org_acme") => (await keys.create({ name: "n8n-production", ownerId: org, mode, scopes })).secret;
const auth = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const expectEnvelope = (body: unknown) => expect(Object.keys(body as object).sort()).toEqual(["data", "error"]);

describe("key types", () => {
  test("keys are sk_live_ or sk_test_ and each mode sees only its own data", async () => {
    const live = await key(undefined, "live");
    const test = await key(undefined, "test");
    expect(live).toMatch(/^sk_live_/);
    expect(test).toMatch(/^sk_test_/);
    await request(app).post("/api/v1/nodes").set(auth(live)).send({ name: "lobby-door" }).expect(201);
    const sandbox = await request(app).get("/api/v1/nodes").set(auth(test)).expect(200);
    expect(sandbox.body).toEqual({ data: [], error: null });
    const prod = await request(app).get("/api/v1/nodes").set(auth(live)).expect(200);
    expect(prod.body.data.map((n: { name: string }) => n.name)).toEqual(["lobby-door"]);
  });
});

describe("scopes", () => {
  const routes = ENDPOINTS;
  const SUCCESS: Record<string, number> = { get: 200, post: 201, patch: 200, delete: 200 };

  test("every scope of the doc's table guards at least one operation", () => {
    expect([...new Set(ENDPOINTS.map(([, , scope]) => scope))].sort()).toEqual([...SCOPES].sort());
  });

  /** The path with `:id` replaced by a fresh resource of the collection before it, made by a full-access key. */
  const resolve = async (path: string, full: string) => {
    if (!path.includes(":id")) return path;
    const collection = path.slice(0, path.indexOf("/:id"));
    const made = await request(app).post(collection).set(auth(full)).send({ name: "fixture" }).expect(201);
    return path.replace(":id", made.body.data.id);
  };

  test.each(routes)("%s %s: 2xx with %s, 403 in the envelope without it", async (method, path, scope) => {
    const full = await key();
    const holder = await key([scope]);
    const other = await key(SCOPES.filter((s) => s !== scope));
    const send = async (secret: string) =>
      request(app)
        [method](await resolve(path, full))
        .set(auth(secret))
        .send({ name: "n" });
    const allowed = await send(holder);
    expect(allowed.status).toBe(path.endsWith("/generate") ? 202 : SUCCESS[method]);
    expect(allowed.body.error).toBeNull();
    expectEnvelope(allowed.body);
    const refused = await send(other);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ data: null, error: `This key lacks the required scope: ${scope}.` });
  });

  test("a key created without scopes has full access", async () => {
    const { secret: full, key: record } = await keys.create({ name: "crm-sync-2026-02", ownerId: "org_acme" });
    expect(record.scopes).toEqual(["*"]);
    for (const [method, path] of routes.filter(([, p]) => !p.includes(":id"))) {
      const res = await request(app)[method](path).set(auth(full)).send({ name: "n" });
      expect([200, 201]).toContain(res.status);
    }
  });

  test("a scope outside the documented list cannot be granted", async () => {
    await expect(key(["nodes:admin"])).rejects.toMatchObject({ code: "validation_failed" });
  });
});

describe("status codes, all in the { data, error } envelope", () => {
  test("200 and 201 carry data with error null", async () => {
    const secret = await key(["nodes:read", "nodes:write"]);
    const created = await request(app).post("/api/v1/nodes").set(auth(secret)).send({ name: "gate" }).expect(201);
    expect(created.body).toEqual({ data: { id: expect.stringMatching(/^node_/), name: "gate" }, error: null });
    const fetched = await request(app).get(`/api/v1/nodes/${created.body.data.id}`).set(auth(secret)).expect(200);
    expect(fetched.body).toEqual({ data: created.body.data, error: null });
  });

  test("400 for a malformed JSON body", async () => {
    const secret = await key();
    const badJson = await request(app).post("/api/v1/nodes").set(auth(secret)).set("Content-Type", "application/json").send("{nope").expect(400);
    expect(badJson.body).toEqual({ data: null, error: expect.any(String) });
  });

  test.each([
    ["an empty Bearer", "Bearer"],
    ["two tokens", "Bearer sk_live_bad key"],
    ["illegal characters", 'Bearer "sk_live_quoted"'],
    ["a comma inside the token", "Bearer sk_live_a,b"],
  ])("401 for a malformed Authorization header (%s): every invalid key is 401", async (_label, header) => {
    const res = await request(app).get("/api/v1/nodes").set("Authorization", header).expect(401);
    expect(res.body).toEqual({ data: null, error: expect.stringMatching(/^The Bearer token is (malformed|empty)/) });
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="api", error="invalid_token"/);
  });

  test("two Authorization headers are 401 too", async () => {
    const secret = await key();
    const res = await request(app)
      .get("/api/v1/nodes")
      .set("Authorization", [`Bearer ${secret}`, `Bearer ${secret}`] as never)
      .expect(401);
    expect(res.body).toEqual({ data: null, error: "The request has more than one Authorization header." });
  });

  test("401 without a key, with an unknown key, or with a revoked one", async () => {
    const missing = await request(app).get("/api/v1/nodes").expect(401);
    expect(missing.body).toEqual({ data: null, error: expect.stringContaining("API key is required") });
    expect(missing.headers["www-authenticate"]).toMatch(/^Bearer /);
    const made = await key();
    const forged = made.slice(0, -4) + (made.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect((await request(app).get("/api/v1/nodes").set(auth(forged)).expect(401)).body).toEqual({ data: null, error: "The API key is invalid." });
    const { secret, key: record } = await keys.create({ name: "old", ownerId: "org_acme" });
    await keys.revoke(record.id);
    expect((await request(app).get("/api/v1/nodes").set(auth(secret)).expect(401)).body).toEqual({ data: null, error: "The API key has been revoked." });
  });

  test("404 for an unknown resource and an unknown route", async () => {
    const secret = await key();
    expect((await request(app).get("/api/v1/nodes/node_missing").set(auth(secret)).expect(404)).body).toEqual({
      data: null,
      error: "Node node_missing not found",
    });
    expect((await request(app).get("/api/v1/nowhere").set(auth(secret)).expect(404)).body).toEqual({ data: null, error: "No route for GET /api/v1/nowhere" });
  });

  test("422 for a body that parses but is invalid", async () => {
    const secret = await key();
    const res = await request(app).post("/api/v1/nodes").set(auth(secret)).send({ name: "" }).expect(422);
    expect(res.body).toEqual({ data: null, error: "name is required and must be a non-empty string" });
  });

  test("500 in the envelope when a handler fails unexpectedly; the cause is not shown", async () => {
    const broken = createApp({
      db: join(dir, "broken.db"),
      analytics: () => {
        throw new Error("analytics cluster: connection refused at 10.0.0.7");
      },
    });
    try {
      const { secret } = await broken.keys.create({ name: "dash", ownerId: "org_acme" });
      const res = await request(broken.app).get("/api/v1/analytics").set(auth(secret)).expect(500);
      expect(res.body).toEqual({ data: null, error: "Internal server error" });
    } finally {
      await broken.keys.close();
    }
  });

  test("503 in the envelope when the key store is down (fail closed, retry later), not 500", async () => {
    const outage = createApp({ db: join(dir, "outage.db") });
    const { secret } = await outage.keys.create({ name: "dash", ownerId: "org_acme" });
    outage.store.close(); // the database goes away under the running app
    const res = await request(outage.app).get("/api/v1/nodes").set(auth(secret)).expect(503);
    expect(res.body).toEqual({ data: null, error: expect.any(String) });
    await outage.keys.close().catch(() => undefined);
  });

  test("429 past the per-key rate limit, with Retry-After; other keys are unaffected", async () => {
    const busy = await key();
    for (let i = 0; i < 10; i++) await request(app).get("/api/v1/nodes").set(auth(busy)).expect(200);
    const limited = await request(app).get("/api/v1/nodes").set(auth(busy)).expect(429);
    expect(limited.body).toEqual({ data: null, error: expect.stringContaining("Rate limit") });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    await request(app)
      .get("/api/v1/nodes")
      .set(auth(await key()))
      .expect(200);
    now += 60_000;
    await request(app).get("/api/v1/nodes").set(auth(busy)).expect(200);
  });
});

describe("the dashboard's API keys page (session only)", () => {
  const session = login("org_dash");
  const dash = (method: "get" | "post" | "delete", path = "") => request(app)[method](`/dashboard/api-keys${path}`).set("Cookie", session);

  test("create shows the key once, labelled, in the envelope; the listing never shows it again", async () => {
    const created = await dash("post")
      .send({ name: "crm-sync-2026-02", mode: "live", scopes: ["analytics:read"] })
      .expect(201);
    expect(created.body).toEqual({
      data: { secret: expect.stringMatching(/^sk_live_/), key: expect.objectContaining({ name: "crm-sync-2026-02", scopes: ["analytics:read"] }) },
      error: null,
    });
    const listed = await dash("get").expect(200);
    expect(listed.body.error).toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(created.body.data.secret);
    expect(listed.body.data.keys[0]).toMatchObject({ name: "crm-sync-2026-02", start: expect.stringMatching(/^sk_live_/), lastUsedAt: null, requestCount: 0 });
  });

  test("the listing shows each key's last-used time and request count", async () => {
    const { body } = await dash("post").send({ name: "mobile-app-v2", mode: "test" }).expect(201);
    for (let i = 0; i < 3; i++) await request(app).get("/api/v1/nodes").set(auth(body.data.secret)).expect(200);
    const listed = await dash("get").expect(200);
    const row = listed.body.data.keys.find((k: { id: string }) => k.id === body.data.key.id);
    expect(row).toMatchObject({ requestCount: 3, lastUsedAt: new Date(now).toISOString() });
  });

  test.each([
    ["admin", ["*"]],
    ["member", [...ROLES.member]],
    ["viewer", [...ROLES.viewer]],
  ] as const)("a key created by a %s without scopes inherits the role's permissions", async (role, expected) => {
    const created = await request(app)
      .post("/dashboard/api-keys")
      .set("Cookie", login("org_roles", role))
      .send({ name: `${role}-default` })
      .expect(201);
    expect(created.body.data.key.scopes).toEqual(expected);
    const secret = created.body.data.secret as string;
    await request(app).get("/api/v1/nodes").set(auth(secret)).expect(200);
    await request(app)
      .post("/api/v1/nodes")
      .set(auth(secret))
      .send({ name: "n" })
      .expect(role === "viewer" ? 403 : 201);
    await request(app)
      .get("/api/v1/webhooks")
      .set(auth(secret))
      .expect(role === "admin" ? 200 : 403);
  });

  test.each([
    ["viewer", ["nodes:read", "nodes:write"], "nodes:write"],
    ["member", ["webhooks:manage"], "webhooks:manage"],
    ["member", ["nodes:*"], "nodes:*"],
    ["viewer", ["*"], "*"],
  ] as const)("a %s cannot create a key with %j: 403 in the envelope, nothing created", async (role, scopes, outside) => {
    const org = `org_${role}_${outside.replace(/\W/g, "")}`;
    const res = await request(app).post("/dashboard/api-keys").set("Cookie", login(org, role)).send({ name: "escalate", scopes }).expect(403);
    expect(res.body).toEqual({ data: null, error: `Not allowed to grant ${outside}: is outside the scopes you may grant.` });
    expect((await keys.list({ ownerId: org })).keys).toEqual([]);
  });

  test("within the role, scopes and wildcards are granted as asked (an admin may grant nodes:*)", async () => {
    const member = await request(app)
      .post("/dashboard/api-keys")
      .set("Cookie", login("org_roles", "member"))
      .send({ name: "ro", scopes: ["analytics:read"] })
      .expect(201);
    expect(member.body.data.key.scopes).toEqual(["analytics:read"]);
    const admin = await request(app)
      .post("/dashboard/api-keys")
      .set("Cookie", login("org_roles", "admin"))
      .send({ name: "nodes", scopes: ["nodes:*"] })
      .expect(201);
    await request(app).delete(`/api/v1/nodes/node_x`).set(auth(admin.body.data.secret)).expect(404);
  });

  test("without a session the dashboard answers 401 in the envelope, and an API key is refused", async () => {
    expect((await request(app).get("/dashboard/api-keys").expect(401)).body).toEqual({ data: null, error: "Sign in to manage API keys." });
    const secret = await key(undefined, "live", "org_dash");
    const refused = await request(app).get("/dashboard/api-keys").set(auth(secret)).expect(403);
    expect(refused.body).toEqual({ data: null, error: expect.any(String) });
  });

  test("another organisation's key is not found", async () => {
    const { body } = await dash("post").send({ name: "theirs" }).expect(201);
    await request(app).delete(`/dashboard/api-keys/${body.data.key.id}`).set("Cookie", login("org_other")).expect(404);
  });

  test("rotation without downtime: both keys work during the overlap, last-used shows the switch, then the old key is revoked", async () => {
    const old = (
      await dash("post")
        .send({ name: "n8n-production", scopes: ["nodes:read"] })
        .expect(201)
    ).body.data;
    await request(app).get("/api/v1/nodes").set(auth(old.secret)).expect(200);
    const rotated = await dash("post", `/${old.key.id}/rotate`).send({ overlap: "24h" }).expect(201);
    const fresh = rotated.body.data;
    expect(fresh.key).toMatchObject({ scopes: ["nodes:read"], rotatedFrom: old.key.id });
    expect(fresh.previous).toMatchObject({ id: old.key.id, rotatedTo: fresh.key.id, status: "active" });
    await request(app).get("/api/v1/nodes").set(auth(old.secret)).expect(200);
    await request(app).get("/api/v1/nodes").set(auth(fresh.secret)).expect(200);
    const shown = (await dash("get", `/${fresh.key.id}`).expect(200)).body.data.key;
    expect(shown.lastUsedAt).toBe(new Date(now).toISOString());
    await dash("delete", `/${old.key.id}`).expect(200);
    expect((await request(app).get("/api/v1/nodes").set(auth(old.secret)).expect(401)).body).toEqual({ data: null, error: "The API key has been revoked." });
    await request(app).get("/api/v1/nodes").set(auth(fresh.secret)).expect(200);
  });

  test("the overlap ends by itself after 24 hours", async () => {
    const old = (await dash("post").send({ name: "crm-sync" }).expect(201)).body.data;
    const fresh = (await dash("post", `/${old.key.id}/rotate`).send({ overlap: "24h" }).expect(201)).body.data;
    now += 24 * 3_600_000;
    expect((await request(app).get("/api/v1/nodes").set(auth(old.secret)).expect(401)).body.error).toBe("The API key has expired.");
    await request(app).get("/api/v1/nodes").set(auth(fresh.secret)).expect(200);
  });
});
