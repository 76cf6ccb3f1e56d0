/** The open-reads registry end to end: open reads, keyed writes, nanda_ keys, SHA-256 storage, plan quotas and key caps, revocation, expiry, transition mode. */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-open-reads-"));
let now = Date.UTC(2031, 4, 20, 12, 0, 0);
const clock = () => now;
const strict = createApp({ db: join(dir, "strict.db"), clock });
const transition = createApp({ db: join(dir, "transition.db"), transition: true, clock });
strict.login("ada", "enterprise"); // the account most tests use: no key cap
afterAll(async () => {
  await strict.keys.close();
  await transition.keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const register = (app: Parameters<typeof request>[0], id: string, headers: Record<string, string> = {}) =>
  request(app)
    .post("/register")
    .set(headers)
    .send({ agent_id: id, agent_url: `https://${id}.example.com` });

describe("keys", () => {
  test("keys are nanda_… with no mode", async () => {
    const { secret, key } = await strict.keys.create({ name: "my-agent-key", ownerId: "ada" });
    expect(secret).toMatch(/^nanda_[A-Za-z0-9]+$/);
    expect(secret).not.toMatch(/^nanda_(live|test)_/);
    expect(key.mode).toBeNull();
  });

  test("only the SHA-256 hash is stored; the raw key appears nowhere in the database files", async () => {
    const { secret, key } = await strict.keys.create({ name: "hashed", ownerId: "ada" });
    await strict.keys.flushUsage();
    const db = new Database(join(dir, "strict.db"), { readonly: true });
    const row = db.prepare("SELECT hash FROM keyward_keys WHERE id = ?").get(key.id) as { hash: string };
    db.close();
    expect(row.hash).toBe(createHash("sha256").update(secret).digest("hex"));
    for (const file of readdirSync(dir).filter((f) => f.startsWith("strict.db"))) {
      expect(readFileSync(join(dir, file)).includes(Buffer.from(secret))).toBe(false);
    }
  });
});

describe("the key management API at /api/developers/keys (session cookie)", () => {
  const cookie = strict.login("dev", "free");
  const api = (method: "get" | "post" | "delete" | "patch", path = "") => request(strict.app)[method](`/api/developers/keys${path}`).set("Cookie", cookie);

  test("POST → 201 { key: { id, raw_key, … } }, shown once; GET → 200 { keys } without it; the key then writes", async () => {
    const created = await api("post").send({ name: "my-agent-key" }).expect(201);
    expect(created.body.key).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: "my-agent-key",
      raw_key: expect.stringMatching(/^nanda_/),
      status: "active",
    });
    const listed = await api("get").expect(200);
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(created.body.key.id);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key.raw_key);
    await register(strict.app, "via-api", bearer(created.body.key.raw_key)).expect(201);
  });

  test("DELETE → 200 { message }; revocation cannot be undone", async () => {
    const { key } = (await api("post").send({ name: "short-lived" }).expect(201)).body;
    const revoked = await api("delete", `/${key.id}`).expect(200);
    expect(revoked.body).toMatchObject({ message: "API key revoked successfully", key: { id: key.id, status: "revoked" } });
    await register(strict.app, "after-revoke", bearer(key.raw_key)).expect(401);
    expect((await api("patch", `/${key.id}`).send({ status: "active" }).expect(422)).body.error.code).toBe("validation_failed");
    await api("delete", `/${key.id}`).expect(200);
    await register(strict.app, "still-revoked", bearer(key.raw_key)).expect(401);
  });

  test("a cookie is required; another account's key is not found", async () => {
    expect((await request(strict.app).get("/api/developers/keys").expect(401)).body.error.code).toBe("unauthenticated");
    expect((await request(strict.app).get("/api/developers/keys").set("Cookie", "access_token=forged").expect(401)).body.error.code).toBe("unauthenticated");
    const { key } = (await api("post").send({ name: "mine" }).expect(201)).body;
    await request(strict.app).delete(`/api/developers/keys/${key.id}`).set("Cookie", strict.login("mallory")).expect(404);
  });

  test('the body may name the account\'s own tier ({"tier": "free"}) but not a bigger one', async () => {
    await api("post").send({ name: "my-key", tier: "free" }).expect(201);
    expect((await api("post").send({ name: "sneaky", tier: "enterprise" }).expect(403)).body.error.code).toBe("forbidden");
  });

  test("past the plan's max active keys → 403 key_limit_reached", async () => {
    const capped = strict.login("capped", "free");
    for (let i = 0; i < 5; i++)
      await request(strict.app)
        .post("/api/developers/keys")
        .set("Cookie", capped)
        .send({ name: `k${i}` })
        .expect(201);
    const refused = await request(strict.app).post("/api/developers/keys").set("Cookie", capped).send({ name: "k5" }).expect(403);
    expect(refused.body.error.code).toBe("key_limit_reached");
  });
});

describe("open reads, keyed writes", () => {
  test.each(["/list", "/search?q=my", "/lookup/agent-1", "/agentfacts/agent-1", "/health", "/stats", "/reputation"])("GET %s needs no key", async (path) => {
    const { secret } = await strict.keys.create({ name: "writer", ownerId: "ada" });
    await register(strict.app, "agent-1", bearer(secret)).expect(201);
    await request(strict.app).get(path).expect(200);
  });

  test("POST /register, PUT /agentfacts/:id and DELETE /agents/:id need a key", async () => {
    const { secret } = await strict.keys.create({ name: "writer", ownerId: "ada" });
    expect((await register(strict.app, "agent-2").expect(401)).body.error.code).toBe("missing_key");
    await request(strict.app)
      .put("/agentfacts/agent-2")
      .send({ skills: ["search"] })
      .expect(401);
    await request(strict.app).delete("/agents/agent-2").expect(401);
    await register(strict.app, "agent-2", bearer(secret)).expect(201);
    await request(strict.app)
      .put("/agentfacts/agent-2")
      .set(bearer(secret))
      .send({ skills: ["search"] })
      .expect(200);
    expect((await request(strict.app).get("/agentfacts/agent-2").expect(200)).body.facts).toEqual({ skills: ["search"] });
    await request(strict.app).delete("/agents/agent-2").set(bearer(secret)).expect(200);
    await request(strict.app).get("/lookup/agent-2").expect(404);
  });
});

describe("plans: monthly quotas and active-key caps", () => {
  test("a Free key gets 1,000 requests a month, then 429 until the 1st (UTC)", async () => {
    strict.login("fran", "free");
    const { secret } = await strict.keys.create({ name: "busy", ownerId: "fran" });
    const first = await register(strict.app, "quota-0", bearer(secret)).expect(201);
    expect(first.headers["ratelimit-policy"]).toContain('"monthly";q=1000');
    for (let i = 1; i < 999; i++) expect((await strict.keys.verify(secret)).ok).toBe(true); // the same counter, without 998 HTTP round trips
    const last = await register(strict.app, "quota-999", bearer(secret)).expect(201);
    expect(last.headers["ratelimit"]).toContain('"monthly";r=0');
    const over = await register(strict.app, "quota-1000", bearer(secret)).expect(429);
    expect(over.body.error.code).toBe("quota_exceeded");
    expect(Number(over.headers["retry-after"])).toBe((Date.UTC(2031, 5, 1) - now) / 1000);
    await request(strict.app).get("/list").expect(200); // reads stay open
    now = Date.UTC(2031, 5, 1, 0, 0, 0);
    await register(strict.app, "quota-june", bearer(secret)).expect(201);
  });

  test.each([
    ["pro", 10_000],
    ["enterprise", 100_000],
  ] as const)("a %s key's monthly quota is %i", async (plan, quota) => {
    strict.login(`acct_${plan}`, plan);
    const { secret } = await strict.keys.create({ name: plan, ownerId: `acct_${plan}` });
    const res = await register(strict.app, `agent-${plan}`, bearer(secret)).expect(201);
    expect(res.headers["ratelimit-policy"]).toContain(`"monthly";q=${quota}`);
  });

  test.each([
    ["free", 5],
    ["pro", 25],
  ] as const)("a %s account may hold %i active keys", async (plan, max) => {
    const account = `cap_${plan}`;
    strict.login(account, plan);
    const made = [];
    for (let i = 0; i < max; i++) made.push(await strict.keys.create({ name: `k${i}`, ownerId: account }));
    await expect(strict.keys.create({ name: "one-too-many", ownerId: account })).rejects.toMatchObject({ code: "key_limit_reached", status: 403 });
    await strict.keys.revoke(made[0]!.key.id);
    await strict.keys.create({ name: "replacement", ownerId: account });
  });

  test("an Enterprise account has no key cap", async () => {
    strict.login("big", "enterprise");
    for (let i = 0; i < 30; i++) await strict.keys.create({ name: `k${i}`, ownerId: "big" });
  });
});

describe("revocation and expiry", () => {
  test("a revoked key is refused and stays revoked", async () => {
    const { secret, key } = await strict.keys.create({ name: "gone", ownerId: "ada" });
    await strict.keys.revoke(key.id);
    expect((await register(strict.app, "agent-r", bearer(secret)).expect(401)).body.error.code).toBe("key_revoked");
    expect((await strict.keys.revoke(key.id)).status).toBe("revoked");
  });

  test("an expired key is rejected", async () => {
    const { secret } = await strict.keys.create({ name: "short", ownerId: "ada", expiresIn: "1d" });
    await register(strict.app, "agent-e1", bearer(secret)).expect(201);
    now += 86_400_000;
    expect((await register(strict.app, "agent-e2", bearer(secret)).expect(401)).body.error.code).toBe("key_expired");
  });
});

describe("transition period", () => {
  test("writes work without a key, with a valid key, but never with a bad one", async () => {
    transition.login("ada");
    const { secret, key } = await transition.keys.create({ name: "adopter", ownerId: "ada" });
    expect((await register(transition.app, "legacy").expect(201)).body.registeredBy).toBeNull();
    expect((await register(transition.app, "adopted", bearer(secret)).expect(201)).body.registeredBy).toBe(key.id);
    expect((await register(transition.app, "forged", bearer("nanda_notarealkey")).expect(401)).body.error.code).toBe("invalid_key");
    await transition.keys.revoke(key.id);
    expect((await register(transition.app, "revoked", bearer(secret)).expect(401)).body.error.code).toBe("key_revoked");
  });
});
