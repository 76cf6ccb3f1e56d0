/** requireKey: the app's own rule as a guard, answered like every keyward refusal. */
import express from "express";
import request from "supertest";
import { KeyManager, KeywardConfigError, MemoryStore, apiKeyAuth, requireKey, type KeywardEvent } from "keyward";

function setup() {
  const events: KeywardEvent[] = [];
  const keys = new KeyManager({ store: new MemoryStore(), usage: false, tiers: { free: { monthlyRequests: 2 } }, onEvent: (e) => events.push(e) });
  const pro = new Set(["acct_pro"]);
  const app = express();
  app.use(apiKeyAuth({ keys, formatError: (e) => ({ data: null, error: e.message }) }));
  app.get(
    "/insights",
    requireKey((key) => pro.has(key.ownerId ?? ""), "This endpoint needs the Pro plan."),
    (req, res) => {
      res.json({ data: req.apiKey!.ownerId, error: null });
    },
  );
  return { keys, app, events };
}

describe("requireKey", () => {
  it("lets a key through when the rule holds, and refuses with 403 forbidden, formatError and an auth.failed event otherwise", async () => {
    const { keys, app, events } = setup();
    const pro = await keys.create({ name: "p", ownerId: "acct_pro" });
    const starter = await keys.create({ name: "s", ownerId: "acct_starter" });
    await request(app).get("/insights").set("Authorization", `Bearer ${pro.secret}`).expect(200, { data: "acct_pro", error: null });
    const refused = await request(app).get("/insights").set("Authorization", `Bearer ${starter.secret}`).expect(403);
    expect(refused.body).toEqual({ data: null, error: "This endpoint needs the Pro plan." });
    expect(events.filter((e) => e.type === "auth.failed")).toEqual([expect.objectContaining({ code: "forbidden", keyId: starter.key.id })]);
    await keys.close();
  });

  it("gives back the quota unit of a refused request", async () => {
    const { keys, app } = setup();
    const starter = await keys.create({ name: "s", ownerId: "acct_starter", tier: "free" });
    for (let i = 0; i < 5; i++) await request(app).get("/insights").set("Authorization", `Bearer ${starter.secret}`).expect(403);
    const verified = await keys.verify(starter.secret);
    expect(verified.ok).toBe(true); // the quota of 2 is untouched by the five refusals
    await keys.close();
  });

  it("refuses bad arguments at start-up", () => {
    expect(() => requireKey("pro" as never)).toThrow(KeywardConfigError);
    expect(() => requireKey(() => true, "")).toThrow(/requireKey.message/);
  });
});
