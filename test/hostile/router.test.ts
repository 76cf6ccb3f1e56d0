/**
 * The management API under hostile input: prototype-polluting JSON, wrong types, deep nesting,
 * oversized bodies, prototype names as ids, owners and query values, and other owners' key ids.
 * Never a 5xx, never another owner's key, never Object.prototype touched.
 */
import { trackSecret } from "./leak-guard";
import express from "express";
import request from "supertest";
import { KeyManager, MemoryStore, keysRouter } from "keyward";

const protoSnapshot = Object.getOwnPropertyNames(Object.prototype).sort();

describe("keysRouter under hostile input", () => {
  const keys = new KeyManager({ store: new MemoryStore(), tiers: { free: { maxActiveKeys: 50 } } });
  const app = express();
  app.use("/keys", keysRouter({ keys, owner: (req) => req.get("x-user") ?? null }));
  let aliceKey = "";
  beforeAll(async () => {
    const res = await request(app)
      .post("/keys")
      .set("x-user", "alice")
      .send({ name: "alice's", scopes: ["users:read"] });
    expect(res.status).toBe(201);
    trackSecret(res.body.secret);
    aliceKey = res.body.key.id;
  });
  afterAll(async () => {
    await keys.close();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoSnapshot);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  const post = (body: string, user = "mallory") => request(app).post("/keys").set("x-user", user).set("Content-Type", "application/json").send(body);

  it.each([
    ['{"name":"x","__proto__":{"scopes":["*"],"admin":true}}', 422],
    ['{"name":"x","constructor":{"prototype":{"admin":true}}}', 422],
    ['{"name":"x","ownerId":"alice"}', 422],
    ['{"name":"x","metadata":{"__proto__":{"admin":true}}}', 422],
    ['{"name":"x","metadata":{"a":{"constructor":{"prototype":{"admin":true}}}}}', 422],
    ['{"name":"x","scopes":["__proto__"]}', 422],
    ['{"name":"x","scopes":"users:read"}', 422],
    ['{"name":"x","scopes":[{"toString":"users:read"}]}', 422],
    ['{"name":{"toString":"x"}}', 422],
    ['{"name":"x","projects":["__proto__"]}', 422],
    ['{"name":"x","tier":"__proto__"}', 422],
    ['{"name":"x","tier":"constructor"}', 422],
    ['{"name":"x","expiresIn":{"valueOf":1}}', 422],
    ['{"name":"x","kind":"__proto__"}', 422],
    ['{"name":"x","credits":{"remaining":-1}}', 422],
    ['{"name":"x","credits":{"remaining":0.5}}', 422],
    ['{"name":"x","credits":{"remaining":1e999}}', 422],
    ['{"name":"x","credits":{"remaining":1000000000001}}', 422],
    ['{"name":"x","credits":{"remaining":"__proto__"}}', 422],
    ['{"name":"x","credits":{"__proto__":{"remaining":5}}}', 422],
    ['{"name":"x","credits":{"remaining":5,"refill":{"amount":5,"interval":"__proto__"}}}', 422],
    ['{"name":"x","credits":{"remaining":5,"refill":{"amount":5,"interval":"1d","counter":"key_alice"}}}', 422],
    ['{"name":"x","credits":{"remaining":5,"since":0,"counter":"alice"}}', 422],
    ['{"name":"x","credits":[5]}', 422],
    ['{"name":"ok","credits":{"remaining":1000000000000,"refill":{"amount":0,"interval":"1mo"}}}', 201],
    ["[]", 422],
    ['"x"', 400],
    ["null", 400],
    ['{"name":"x",', 400],
    [`{"name":"x","metadata":${"[".repeat(5000)}${"]".repeat(5000)}}`, 422],
    [`{"name":"${"x".repeat(17 * 1024)}"}`, 413],
    ['{"name":"ok","scopes":["constructor","prototype:read"],"projects":["constructor","toString"]}', 201],
  ])("POST %s → %i", async (body, status) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    if (res.status === 201) trackSecret(res.body.secret);
    expect(res.body.key?.ownerId ?? "mallory").toBe("mallory");
  });

  it.each([
    ["get", "/keys/__proto__"],
    ["get", "/keys/constructor"],
    ["get", "/keys/toString/usage"],
    ["get", "/keys/hasOwnProperty"],
    ["patch", "/keys/__proto__"],
    ["delete", "/keys/constructor"],
    ["post", "/keys/prototype/rotate"],
    ["get", "/keys/%00"],
    ["get", "/keys/..%2f..%2fetc"],
    ["get", "/keys/key_%E2%80%8B"],
  ] as const)("%s %s → 404 not_found", async (method, path) => {
    const res = await request(app)
      [method](path)
      .set("x-user", "mallory")
      .set("Content-Type", "application/json")
      .send(method === "get" ? undefined : "{}");
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 404, code: "not_found" });
  });

  it.each([
    "?limit=__proto__",
    "?limit=1e309",
    "?limit=-1",
    "?limit[]=5",
    "?status=__proto__",
    "?status[]=active",
    "?before=constructor",
    "?mode=toString",
    "?__proto__[admin]=1",
    "?constructor[prototype][admin]=1",
  ])("GET /keys%s never fails with a 5xx or leaks another owner's key", async (query) => {
    const res = await request(app).get(`/keys${query}`).set("x-user", "mallory");
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(res.body)).not.toContain(aliceKey);
  });

  it("PATCH with credits, even on the caller's own key, is 403 forbidden without changeCredits and changes nothing", async () => {
    const created = await post('{"name":"metered","credits":{"remaining":1}}');
    trackSecret(created.body.secret);
    const id = created.body.key.id;
    for (const body of ['{"credits":{"remaining":1000000000000}}', '{"credits":null}', '{"name":"n","credits":{"remaining":5}}']) {
      const res = await request(app).patch(`/keys/${id}`).set("x-user", "mallory").set("Content-Type", "application/json").send(body);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 403, code: "forbidden" });
    }
    const bad = await request(app).patch(`/keys/${id}`).set("x-user", "mallory").set("Content-Type", "application/json").send('{"credits":{"remaining":-5}}');
    expect(bad.status).toBe(422);
    expect((await keys.get(id))?.credits).toMatchObject({ remaining: 1, refill: null });
    expect((await keys.get(id))?.name).toBe("metered");
  });

  it("another owner's key id is not found, for every verb", async () => {
    for (const user of ["mallory", "__proto__", "constructor", "ALICE", "alice_", "alic"]) {
      const as = (r: request.Test) => r.set("x-user", user).set("Content-Type", "application/json");
      const answers = [
        await as(request(app).get(`/keys/${aliceKey}`)),
        await as(request(app).get(`/keys/${aliceKey}/usage`)),
        await as(request(app).patch(`/keys/${aliceKey}`)).send('{"name":"mine now"}'),
        await as(request(app).post(`/keys/${aliceKey}/rotate`)).send("{}"),
        await as(request(app).delete(`/keys/${aliceKey}`)),
      ];
      expect(answers.map((r) => r.status)).toEqual([404, 404, 404, 404, 404]);
      const listed = await as(request(app).get("/keys"));
      expect(JSON.stringify(listed.body)).not.toContain(aliceKey);
    }
    const mine = await request(app).get(`/keys/${aliceKey}`).set("x-user", "alice");
    expect(mine.body.key).toMatchObject({ name: "alice's", status: "active" });
  });
});
