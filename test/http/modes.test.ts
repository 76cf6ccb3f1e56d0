/**
 * Modes. The mode is part of the key and of `req.apiKey.mode`;
 * `apiKeyAuth({ modes })` and `requireMode()` refuse other modes with 403 `mode_forbidden`.
 */
import express from "express";
import request from "supertest";
import { KeyManager, MemoryStore, apiKeyAuth, requireMode } from "keyward";

describe("modes", () => {
  const keys = new KeyManager({ store: new MemoryStore(), prefix: "acme", modes: ["test", "live"], usage: false });
  let live: string;
  let test: string;
  beforeAll(async () => {
    live = (await keys.create({ name: "prod", mode: "live" })).secret;
    test = (await keys.create({ name: "dev" })).secret; // first mode: test
    expect(live).toMatch(/^acme_live_/);
    expect(test).toMatch(/^acme_test_/);
  });
  afterAll(() => keys.close());

  it("puts the key's mode on req.apiKey.mode, so apps can partition data by it", async () => {
    const data: Record<string, string[]> = { live: ["real-customer"], test: ["fake-customer"] };
    const app = express();
    app.use(apiKeyAuth({ keys }));
    app.get("/v1/customers", (req, res) => {
      res.json({ mode: req.apiKey!.mode, customers: data[req.apiKey!.mode!] });
    });
    expect((await request(app).get("/v1/customers").set("Authorization", `Bearer ${live}`).expect(200)).body).toEqual({
      mode: "live",
      customers: ["real-customer"],
    });
    expect((await request(app).get("/v1/customers").set("Authorization", `Bearer ${test}`).expect(200)).body).toEqual({
      mode: "test",
      customers: ["fake-customer"],
    });
  });

  it("apiKeyAuth({ modes }) refuses keys of other modes with 403 mode_forbidden", async () => {
    const app = express();
    app.use(apiKeyAuth({ keys, modes: ["live"] }));
    app.get("/", (req, res) => {
      res.json({ mode: req.apiKey!.mode });
    });
    await request(app).get("/").set("Authorization", `Bearer ${live}`).expect(200, { mode: "live" });
    const res = await request(app).get("/").set("Authorization", `Bearer ${test}`).expect(403);
    expect(res.body).toEqual({ error: { code: "mode_forbidden", message: "This route accepts only live keys." } });
    expect(res.headers["www-authenticate"]).toBeUndefined();
  });

  it("requireMode() refuses per route", async () => {
    const app = express();
    app.use(apiKeyAuth({ keys }));
    app.post("/v1/payouts", requireMode("live"), (_req, res) => {
      res.status(201).json({});
    });
    app.post("/v1/sandbox", requireMode("test"), (_req, res) => {
      res.status(201).json({});
    });
    app.get("/v1/either", requireMode("test", "live"), (_req, res) => {
      res.json({});
    });
    await request(app).post("/v1/payouts").set("Authorization", `Bearer ${live}`).expect(201);
    await request(app)
      .post("/v1/payouts")
      .set("Authorization", `Bearer ${test}`)
      .expect(403, { error: { code: "mode_forbidden", message: "This route accepts only live keys." } });
    await request(app).post("/v1/sandbox").set("Authorization", `Bearer ${live}`).expect(403);
    await request(app).get("/v1/either").set("Authorization", `Bearer ${test}`).expect(200);
  });

  it("KeyManager.verify and list honour modes", async () => {
    const r = await keys.verify(test, { modes: ["live"] });
    expect(!r.ok && r.error.code).toBe("mode_forbidden");
    expect((await keys.list({ mode: "live" })).keys.map((k) => k.name)).toEqual(["prod"]);
    expect((await keys.list({ mode: "test" })).keys.map((k) => k.name)).toEqual(["dev"]);
    await expect(keys.create({ name: "x", mode: "prod" })).rejects.toMatchObject({
      code: "validation_failed",
      details: [{ path: "mode", message: "must be one of test, live" }],
    });
  });

  it("keys never cross modes: a live key re-labelled as test fails the checksum", async () => {
    const forged = live.replace("_live_", "_test_");
    const r = await keys.verify(forged);
    expect(!r.ok && r.error.code).toBe("invalid_key");
  });
});
