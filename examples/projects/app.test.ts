/** The projects API end to end: user and project keys, every scoped operation, project allow-lists, X-Nodion-Project, TTLs, 401/403/429, last_used_at. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { ENDPOINTS, PROJECTS, SCOPES, createApp } from "./app";

const [SHOP, BLOG, INTERNAL] = Object.keys(PROJECTS) as [string, string, string];
const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), "keyward-projects-"));
let now = Date.UTC(2031, 6, 1, 8, 0, 0);
const { app, keys, login, members } = createApp({ db: join(dir, "keys.db"), rateLimit: { limit: 20, window: "1m" }, clock: () => now });
login("alice", [SHOP, BLOG]);
login("bob", [INTERNAL]);
afterAll(async () => {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const userKey = async (scopes: string[], extra: { projects?: string[]; expiresIn?: string | null } = {}, owner = "alice") =>
  (await keys.create({ name: "cli", ownerId: owner, scopes, ...extra })).secret;
const as = (secret: string, project?: string) =>
  project ? { Authorization: `Bearer ${secret}`, "X-Nodion-Project": project } : { Authorization: `Bearer ${secret}` };

describe("user keys and scopes", () => {
  const SUCCESS: Record<string, number> = { get: 200, post: 201, put: 200, patch: 200, delete: 200 };
  const full = () => userKey(SCOPES);
  /** The path with `:app` = shop-web, `:name` = an env var, `:id` = a fresh record POSTed to the collection before it. */
  const resolve = async (path: string, owner: string) => {
    let out = path.replace(":app", "shop-web").replace(":name", "NODE_ENV");
    if (out.includes(":id")) {
      const made = await request(app)
        .post(out.slice(0, out.indexOf("/:id")))
        .set(as(owner))
        .send({ name: "fixture" })
        .expect(201);
      out = out.replace(":id", made.body.id);
    }
    return out;
  };

  test("every scope of the doc's table guards at least one operation", () => {
    expect([...new Set(ENDPOINTS.flatMap(([, , scopes]) => scopes))].sort()).toEqual([...SCOPES].sort());
  });

  test.each(ENDPOINTS)("%s %s: 2xx with %j, 403 without any one of them", async (method, path, needed) => {
    const fixtures = await full();
    const send = async (secret: string) =>
      request(app)
        [method](await resolve(path, fixtures))
        .set(as(secret))
        .send({ name: "example.com" });
    expect((await send(await userKey([...needed]))).status).toBe(SUCCESS[method]);
    for (const dropped of needed) {
      const res = await send(await userKey(SCOPES.filter((s) => s !== dropped)));
      expect([res.status, res.body.error?.code]).toEqual([403, "insufficient_scope"]);
    }
  });

  test("scopes are additive: deploying and reading logs needs read, deploy and logs:read", async () => {
    const full = await userKey(["read", "deploy", "logs:read"]);
    await request(app).post("/v1/applications/shop-web/deployments").set(as(full)).expect(201);
    await request(app).get("/v1/applications/shop-web/logs").set(as(full)).expect(200);
    await request(app)
      .get("/v1/applications/shop-web/logs")
      .set(as(await userKey(["deploy", "logs:read"])))
      .expect(403);
  });

  test("a key outside the scope list cannot be created", async () => {
    await expect(userKey(["admin"])).rejects.toMatchObject({ code: "validation_failed" });
  });
});

describe("projects", () => {
  test("X-Nodion-Project picks the project; without it the user's default project is used", async () => {
    const secret = await userKey(["read"]);
    expect((await request(app).get("/v1/applications").set(as(secret)).expect(200)).body).toEqual({ project: SHOP, applications: ["shop-web", "shop-worker"] });
    expect((await request(app).get("/v1/applications").set(as(secret, BLOG)).expect(200)).body).toEqual({ project: BLOG, applications: ["blog"] });
    expect((await request(app).get("/v1/applications").set(as(secret, INTERNAL)).expect(403)).body.error.code).toBe("project_forbidden");
    expect((await request(app).get("/v1/applications").set(as(secret, "not a uuid")).expect(400)).body.error.code).toBe("invalid_request");
  });

  test("an allow-list limits the key to those projects, and GET /v1/projects lists only them", async () => {
    const narrow = await userKey(["read"], { projects: [BLOG] });
    expect((await request(app).get("/v1/applications").set(as(narrow, SHOP)).expect(403)).body.error.code).toBe("project_forbidden");
    await request(app).get("/v1/applications").set(as(narrow, BLOG)).expect(200);
    expect((await request(app).get("/v1/projects").set(as(narrow)).expect(200)).body).toEqual({ projects: [{ id: BLOG, name: "Blog" }] });
    const wide = await userKey(["read"]);
    expect((await request(app).get("/v1/projects").set(as(wide)).expect(200)).body.projects.map((p: { id: string }) => p.id)).toEqual([SHOP, BLOG]);
  });

  test("an empty allow-list reaches every project the user has, now or later", async () => {
    const secret = await userKey(["read"], {}, "bob");
    await request(app).get("/v1/applications").set(as(secret, SHOP)).expect(403);
    members.set("bob", [INTERNAL, SHOP]);
    await request(app).get("/v1/applications").set(as(secret, SHOP)).expect(200);
    members.set("bob", [INTERNAL]);
  });

  test("a project key is bound to its project, ignores the header and is not scope-gated", async () => {
    const { secret, key } = await keys.create({ name: "github-actions", ownerId: "alice", kind: "project", project: BLOG });
    expect(key.scopes).toEqual([]);
    expect((await request(app).get("/v1/applications").set(as(secret, SHOP)).expect(200)).body.project).toBe(BLOG);
    expect((await request(app).get("/v1/projects").set(as(secret)).expect(200)).body.projects).toEqual([{ id: BLOG, name: "Blog" }]);
    await request(app).post("/v1/applications/blog/deployments").set(as(secret)).expect(201);
    await request(app).put("/v1/applications/blog/env").set(as(secret)).send({ A: "1" }).expect(200);
    await request(app).post("/v1/applications/shop-web/deployments").set(as(secret)).expect(404);
  });

  test("a project key outlives its creator; the creator's user key does not", async () => {
    login("carol", [INTERNAL]);
    const project = (await keys.create({ name: "deploy-bot", ownerId: "carol", kind: "project", project: INTERNAL })).secret;
    const personal = await userKey(["read"], {}, "carol");
    members.delete("carol");
    await request(app).get("/v1/applications").set(as(project)).expect(200);
    expect((await request(app).get("/v1/applications").set(as(personal, INTERNAL)).expect(403)).body.error.code).toBe("project_forbidden");
  });
});

describe("expiry, revocation and errors", () => {
  test("TTLs are 30, 60 or 90 days or none; 90 days by default; others are refused", async () => {
    for (const [expiresIn, days] of [
      ["30d", 30],
      ["60d", 60],
      ["90d", 90],
      [undefined, 90],
    ] as const) {
      const { key } = await keys.create({ name: "ttl", ownerId: "alice", scopes: ["read"], ...(expiresIn ? { expiresIn } : {}) });
      expect(key.expiresAt!.getTime() - now).toBe(days * DAY);
    }
    expect((await keys.create({ name: "forever", ownerId: "alice", scopes: ["read"], expiresIn: null })).key.expiresAt).toBeNull();
    await expect(keys.create({ name: "odd", ownerId: "alice", scopes: ["read"], expiresIn: "45d" })).rejects.toMatchObject({ code: "validation_failed" });
  });

  test("an expired key gets 401", async () => {
    const secret = await userKey(["read"], { expiresIn: "30d" });
    await request(app).get("/v1/regions").set(as(secret)).expect(200);
    now += 30 * DAY;
    expect((await request(app).get("/v1/regions").set(as(secret)).expect(401)).body.error.code).toBe("key_expired");
  });

  test.each([
    ["an empty Bearer", "Bearer"],
    ["two tokens", "Bearer nodion_abc nodion_def"],
    ["illegal characters", "Bearer nodion_abc;def"],
    ["a quoted token", 'Bearer "nodion_abc"'],
  ])("a malformed token (%s) gets 401", async (_label, header) => {
    const res = await request(app).get("/v1/regions").set("Authorization", header).expect(401);
    expect(res.body.error.code).toBe("invalid_key");
  });

  test("missing or malformed tokens get 401; a revoked key loses access on the next request", async () => {
    expect((await request(app).get("/v1/regions").expect(401)).body.error.code).toBe("missing_key");
    expect((await request(app).get("/v1/regions").set(as("YOUR_API_KEY")).expect(401)).body.error.code).toBe("invalid_key");
    const { secret, key } = await keys.create({ name: "agent", ownerId: "alice", scopes: ["read"] });
    await request(app).get("/v1/regions").set(as(secret)).expect(200);
    await keys.revoke(key.id);
    expect((await request(app).get("/v1/regions").set(as(secret)).expect(401)).body.error.code).toBe("key_revoked");
  });

  test("GET /v1/regions answers as documented, and 429 follows the rate limit", async () => {
    const secret = await userKey(["read"]);
    const res = await request(app).get("/v1/regions").set(as(secret)).expect(200);
    expect(res.body.regions).toEqual([
      { id: "5903725b-f554-4294-ab17-c992a765a001", name: "EU Central", slug: "euc" },
      { id: "5e4ce16b-7409-4bb4-849a-9aec0ec0c7af", name: "US East", slug: "use" },
    ]);
    for (let i = 1; i < 20; i++) await request(app).get("/v1/regions").set(as(secret)).expect(200);
    const limited = await request(app).get("/v1/regions").set(as(secret)).expect(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(limited.headers["retry-after"]).toBeDefined();
  });
});

describe("the dashboard: User Settings → Security → API Keys, and a project's Security tab", () => {
  const session = login("dana", [SHOP, BLOG]);
  const dash = (method: "get" | "post" | "delete", path = "") => request(app)[method](`/dashboard/keys${path}`).set("Cookie", session);

  test("a user key is created with scopes, an allow-list of the user's projects and a TTL; the token is shown once", async () => {
    const created = await dash("post")
      .send({ name: "cursor", scopes: ["read", "logs:read"], projects: [BLOG], expiresIn: "60d" })
      .expect(201);
    expect(created.body.secret).toMatch(/^nodion_/);
    expect(created.body.key).toMatchObject({
      kind: "user",
      scopes: ["read", "logs:read"],
      projects: [BLOG],
      expires_at: new Date(now + 60 * DAY).toISOString(),
    });
    await request(app).get("/v1/applications/blog/logs").set(as(created.body.secret, BLOG)).expect(200);
    expect(JSON.stringify((await dash("get").expect(200)).body)).not.toContain(created.body.secret);
  });

  test("allow-lists and project keys are limited to the user's own projects", async () => {
    expect(
      (
        await dash("post")
          .send({ name: "x", scopes: ["read"], projects: [INTERNAL] })
          .expect(403)
      ).body.error.code,
    ).toBe("project_forbidden");
    expect((await dash("post").send({ name: "x", kind: "project", project: INTERNAL }).expect(403)).body.error.code).toBe("project_forbidden");
    const ci = await dash("post").send({ name: "ci", kind: "project", project: SHOP }).expect(201);
    expect(ci.body.key).toMatchObject({ kind: "project", project_id: SHOP });
    await request(app).post("/v1/applications/shop-web/deployments").set(as(ci.body.secret)).expect(201);
  });

  test("only the documented TTLs are accepted", async () => {
    const refused = await dash("post")
      .send({ name: "odd", scopes: ["read"], expiresIn: "45d" })
      .expect(422);
    expect(refused.body.error.details[0].path).toBe("expiresIn");
    await dash("post")
      .send({ name: "forever", scopes: ["read"], expiresIn: null })
      .expect(201);
  });

  test("last_used_at shows in the dashboard; deleting a key locks it out on the next request", async () => {
    const { body } = await dash("post")
      .send({ name: "claude", scopes: ["read"] })
      .expect(201);
    expect(Object.keys(body.key).sort()).toEqual([
      "created_at",
      "expires_at",
      "id",
      "kind",
      "last_used_at",
      "name",
      "project_id",
      "projects",
      "revoked_at",
      "scopes",
      "start",
      "status",
    ]);
    expect((await dash("get", `/${body.key.id}`).expect(200)).body.key.last_used_at).toBeNull();
    await request(app).get("/v1/regions").set(as(body.secret)).expect(200);
    expect((await dash("get", `/${body.key.id}`).expect(200)).body.key.last_used_at).toBe(new Date(now).toISOString());
    const listed = (await dash("get").expect(200)).body.keys.find((k: { id: string }) => k.id === body.key.id);
    expect(listed.last_used_at).toBe(new Date(now).toISOString());
    await dash("delete", `/${body.key.id}`).expect(200);
    await request(app).get("/v1/regions").set(as(body.secret)).expect(401);
  });
});
