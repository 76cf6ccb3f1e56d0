/** The custom-header API end to end: custom header, niq_live_ keys, every scoped endpoint, stored default scopes, session-only management, revocation, plan gates. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { ENDPOINTS, READ_ONLY_SCOPES, SCOPES, createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-custom-header-"));
const db = join(dir, "keys.db");
let current = createApp({ db });
afterAll(async () => {
  await current.keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const mint = async (scopes?: string[], account = "acct_cafe") => current.keys.create({ name: "zapier", ownerId: account, scopes });

describe("the X-NearIQ-Key header and niq_live_ keys", () => {
  test("a key is niq_live_… and authenticates in X-NearIQ-Key", async () => {
    const { secret } = await mint();
    expect(secret).toMatch(/^niq_live_[A-Za-z0-9]+$/);
    const res = await request(current.app).get("/v1/usage").set("X-NearIQ-Key", secret).expect(200);
    expect(res.body.key).toBe("zapier");
  });

  test("no header → 401 naming the header; the key in Authorization is not read", async () => {
    const { secret } = await mint();
    const missing = await request(current.app).get("/v1/usage").expect(401);
    expect(missing.body.error).toMatchObject({ code: "missing_key", message: expect.stringContaining("x-neariq-key") });
    await request(current.app).get("/v1/usage").set("Authorization", `Bearer ${secret}`).expect(401);
  });

  test("keys are case-sensitive: the same key in another case is refused", async () => {
    const { secret } = await mint();
    const body = secret.slice("niq_live_".length);
    const swapped = "niq_live_" + [...body].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join("");
    expect(swapped).not.toBe(secret);
    expect((await request(current.app).get("/v1/usage").set("X-NearIQ-Key", swapped).expect(401)).body.error.code).toBe("invalid_key");
    await request(current.app)
      .get("/v1/usage")
      .set("X-NearIQ-Key", "NIQ_LIVE_" + body)
      .expect(401);
  });
});

describe("401 for a missing, malformed or invalid key", () => {
  test.each([
    ["an empty X-NearIQ-Key", ""],
    ["two keys in one header", "niq_live_abc niq_live_def"],
    ["illegal characters", "niq_live_abc;def"],
    ["a scheme inside the header", "Bearer niq_live_abc"],
    ["a made-up key", "niq_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"],
  ])("%s → 401", async (_label, value) => {
    const res = await request(current.app).get("/v1/usage").set("X-NearIQ-Key", value).expect(401);
    expect(res.body.error.code).toBe("invalid_key");
  });

  test("the header sent twice → 401", async () => {
    const { secret } = await mint();
    await request(current.app)
      .get("/v1/usage")
      .set("X-NearIQ-Key", [secret, secret] as never)
      .expect(401);
  });
});

describe("every endpoint of the scope table", () => {
  const SUCCESS: Record<string, number> = { get: 200, post: 201, patch: 200, delete: 200 };

  test("every scope of the doc's table guards at least one endpoint", () => {
    expect([...new Set(ENDPOINTS.map(([, , scope]) => scope))].sort()).toEqual([...SCOPES].sort());
  });

  test.each(ENDPOINTS)("%s %s: 2xx with %s, 403 without it", async (method, path, scope) => {
    current.login("acct_table", "pro"); // the export endpoint is also plan-gated
    const full = (await mint(SCOPES, "acct_table")).secret;
    const resolve = async () => {
      if (!path.includes(":id")) return path;
      if (path.startsWith("/v1/alerts/")) return path.replace(":id", "a1");
      const made = await request(current.app)
        .post(path.slice(0, path.indexOf("/:id")))
        .set("X-NearIQ-Key", full)
        .send({ name: "fixture" })
        .expect(201);
      return path.replace(":id", made.body.id);
    };
    const send = async (secret: string) =>
      request(current.app)
        [method](await resolve())
        .set("X-NearIQ-Key", secret)
        .send({ name: "n", message: "hi" });
    const allowed = await send((await mint([scope], "acct_table")).secret);
    expect(allowed.status).toBe(path.endsWith("/refine") ? 201 : SUCCESS[method]);
    const refused = await send(
      (
        await mint(
          SCOPES.filter((s) => s !== scope),
          "acct_table",
        )
      ).secret,
    );
    expect([refused.status, refused.body.error?.code]).toEqual([403, "insufficient_scope"]);
  });
});

describe("scopes", () => {
  test("a key created without scopes gets the read-only set: reads pass, writes get 403", async () => {
    const { secret, key } = await mint();
    expect(key.scopes).toEqual(READ_ONLY_SCOPES);
    await request(current.app).get("/v1/business/competitors").set("X-NearIQ-Key", secret).expect(200);
    await request(current.app).get("/v1/alerts").set("X-NearIQ-Key", secret).expect(200);
    const refused = await request(current.app).post("/v1/content/drafts").set("X-NearIQ-Key", secret).expect(403);
    expect(refused.body.error.code).toBe("insufficient_scope");
  });

  test("the default is stored at creation: changing it later does not alter existing keys", async () => {
    const { secret, key } = await mint();
    await current.keys.close();
    current = createApp({ db, defaultScopes: ["competitors:read", "alerts:read", "usage:read", "content:write"] });
    expect((await current.keys.get(key.id))!.scopes).toEqual(READ_ONLY_SCOPES);
    await request(current.app).post("/v1/content/drafts").set("X-NearIQ-Key", secret).expect(403);
    const fresh = await mint();
    await request(current.app).post("/v1/content/drafts").set("X-NearIQ-Key", fresh.secret).expect(201);
    await current.keys.close();
    current = createApp({ db });
  });

  test("an explicit scope list is kept as given", async () => {
    const { secret } = await mint(["alerts:write"]);
    await request(current.app).patch("/v1/alerts/a1").set("X-NearIQ-Key", secret).send({ read: true }).expect(200, { id: "a1", read: true });
    await request(current.app).get("/v1/alerts").set("X-NearIQ-Key", secret).expect(403);
  });
});

describe("Settings → API: key management from a dashboard session only", () => {
  test("a session generates a key (shown once, default scopes stored) and lists it without the secret", async () => {
    const session = current.login("acct_dash");
    const created = await request(current.app).post("/settings/api/keys").set("Cookie", session).send({ name: "hubspot" }).expect(201);
    expect(created.body.secret).toMatch(/^niq_live_/);
    expect(created.body.key).toMatchObject({ name: "hubspot", ownerId: "acct_dash", scopes: READ_ONLY_SCOPES });
    const listed = await request(current.app).get("/settings/api/keys").set("Cookie", session).expect(200);
    expect(listed.body.keys.map((k: { name: string }) => k.name)).toEqual(["hubspot"]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    await request(current.app).get("/v1/alerts").set("X-NearIQ-Key", created.body.secret).expect(200);
  });

  test("management is refused with an API key, even a valid one, and without a session", async () => {
    const { secret } = await mint([...READ_ONLY_SCOPES, "export"], "acct_dash");
    for (const req of [
      request(current.app).get("/settings/api/keys").set("X-NearIQ-Key", secret),
      request(current.app).post("/settings/api/keys").set("X-NearIQ-Key", secret).send({ name: "escalate" }),
      request(current.app).get("/settings/api/keys").set("Authorization", `Bearer ${secret}`),
    ])
      expect((await req.expect(403)).body.error.code).toBe("forbidden");
    expect((await request(current.app).get("/settings/api/keys").expect(401)).body.error.code).toBe("unauthenticated");
    expect((await current.keys.list({ ownerId: "acct_dash" })).keys.map((k) => k.name)).not.toContain("escalate");
  });

  test("revoking in the dashboard makes the key answer 401 on the very next request", async () => {
    const session = current.login("acct_revoke");
    const { body } = await request(current.app).post("/settings/api/keys").set("Cookie", session).send({ name: "old-zap" }).expect(201);
    await request(current.app).get("/v1/usage").set("X-NearIQ-Key", body.secret).expect(200);
    await request(current.app).delete(`/settings/api/keys/${body.key.id}`).set("Cookie", session).expect(200);
    const refused = await request(current.app).get("/v1/usage").set("X-NearIQ-Key", body.secret).expect(401);
    expect(refused.body.error.code).toBe("key_revoked");
  });
});

describe("403 for the plan", () => {
  test("the export endpoint needs the export scope and the pro plan", async () => {
    current.login("acct_starter", "starter");
    current.login("acct_pro", "pro");
    const starter = await mint(["export"], "acct_starter");
    const pro = await mint(["export"], "acct_pro");
    const noScope = await mint(undefined, "acct_pro");
    const planRefusal = await request(current.app).get("/v1/export").set("X-NearIQ-Key", starter.secret).expect(403);
    expect(planRefusal.body.error).toEqual({ code: "forbidden", message: "This endpoint needs the pro plan." });
    expect((await request(current.app).get("/v1/export").set("X-NearIQ-Key", noScope.secret).expect(403)).body.error.code).toBe("insufficient_scope");
    await request(current.app).get("/v1/export").set("X-NearIQ-Key", pro.secret).expect(200, { account: "acct_pro", rows: [] });
  });
});
