/**
 * Credits: a balance per key with an optional refill, 1 credit per request and a per-route cost
 * (`requireScope(…, { cost })`, `chargeCredits(n)`), 429 `credits_exhausted` with the refill time in
 * Retry-After, all or nothing with the rate limits, refunds on 5xx when asked, the balance in the
 * key views, exact under concurrency, and hostile amounts refused with a code.
 */
import request from "supertest";
import { chargeCredits, KeywardConfigError, keysRouter, requireScope } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const TO_MIDNIGHT = 12 * 3600;

describe.each(["memory", "sqlite"] as const)("credits (%s)", (storeKind) => {
  it("charges 1 per request and a route's cost in all, refuses with credits_exhausted until the daily refill", async () => {
    const { keys, clock, close } = makeKeys({ storeKind });
    clock.set(T0);
    const { secret, key } = await keys.create({ name: "r", scopes: ["reports:run"], credits: { remaining: 30, refill: { amount: 50, interval: "1d" } } });
    expect(key.credits).toEqual({ remaining: 30, refill: { amount: 50, interval: "1d" }, refillsAt: new Date(T0 + TO_MIDNIGHT * 1000) });
    const app = makeApp(keys, {}, (a) => {
      a.post("/report", requireScope("reports:run", { cost: 10 }), (_req, res) => res.json({ ok: true }));
      a.get("/free", chargeCredits(0), (_req, res) => res.json({ ok: true }));
    });
    const auth = (r: request.Test) => r.set("Authorization", `Bearer ${secret}`);
    const cheap = await auth(request(app).get("/whoami")).expect(200);
    expect(cheap.headers["ratelimit-policy"]).toBe('"credits";q=30;w=86400');
    expect(cheap.headers["ratelimit"]).toBe(`"credits";r=29;t=${TO_MIDNIGHT}`);
    const report = await auth(request(app).post("/report")).expect(200);
    expect(report.headers["ratelimit"]).toBe(`"credits";r=19;t=${TO_MIDNIGHT}`);
    await auth(request(app).post("/report")).expect(200);
    const refused = await auth(request(app).post("/report")).expect(429);
    expect(refused.body.error.code).toBe("credits_exhausted");
    expect(refused.headers["retry-after"]).toBe(String(TO_MIDNIGHT));
    expect((await keys.get(key.id))?.credits?.remaining).toBe(9); // the refused request's 1 credit came back
    await auth(request(app).get("/free")).expect(200);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(9);
    clock.set(T0 + TO_MIDNIGHT * 1000); // 00:00 UTC: the refill
    expect((await keys.get(key.id))?.credits).toMatchObject({ remaining: 50, refillsAt: new Date(T0 + (TO_MIDNIGHT + 86_400) * 1000) });
    await auth(request(app).post("/report")).expect(200);
    expect((await keys.list()).keys[0]?.credits?.remaining).toBe(40);
    await close();
  });

  it("without a refill, runs out for good: no Retry-After and no reset in the headers", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret } = await keys.create({ name: "once", credits: { remaining: 2 } });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    const first = await send().expect(200);
    expect(first.headers["ratelimit-policy"]).toBe('"credits";q=2');
    expect(first.headers["ratelimit"]).toBe('"credits";r=1');
    await send().expect(200);
    const out = await send().expect(429);
    expect(out.body.error.code).toBe("credits_exhausted");
    expect(out.headers["retry-after"]).toBeUndefined();
    await close();
  });

  it("takes nothing when the rate limit refuses, and no rate-limit unit when the credits refuse", async () => {
    const { keys, close } = makeKeys({ storeKind, rateLimit: { limit: 3, window: "1m" } });
    const { secret, key } = await keys.create({ name: "both", credits: { remaining: 100 } });
    for (let i = 0; i < 3; i++) expect((await keys.verify(secret)).ok).toBe(true);
    const limited = await keys.verify(secret);
    expect(limited.ok || limited.error.code).toBe("rate_limited");
    expect((await keys.get(key.id))?.credits?.remaining).toBe(97);
    const poor = await keys.create({ name: "poor", credits: { remaining: 1 } });
    expect((await keys.verify(poor.secret)).ok).toBe(true);
    const broke = await keys.verify(poor.secret);
    expect(broke.ok || broke.error.code).toBe("credits_exhausted");
    if (!broke.ok) expect(broke.error.limits?.map((l) => l.policy)).toEqual(["window", "credits"]);
    if (!broke.ok) expect(broke.error.limits?.[0]?.remaining).toBe(2); // the window unit was given back
    await close();
  });

  it("gives the route's credits back when the handler answers 5xx and refundOnServerError is set", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", credits: { remaining: 100 } });
    const app = makeApp(keys, {}, (a) => {
      a.post("/fail", chargeCredits(5, { refundOnServerError: true }), (_req, res) => res.status(502).json({ error: "upstream" }));
      a.post("/fail-kept", chargeCredits(5), (_req, res) => res.status(500).json({ error: "kept" }));
      a.post("/ok", chargeCredits(5, { refundOnServerError: true }), (_req, res) => res.json({ ok: true }));
    });
    const auth = (r: request.Test) => r.set("Authorization", `Bearer ${secret}`);
    await auth(request(app).post("/fail")).expect(502);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(100);
    await auth(request(app).post("/fail-kept")).expect(500);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(95);
    await auth(request(app).post("/ok")).expect(200);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(90);
    await close();
  });

  it("is exact under 60 concurrent requests: no more admitted than the balance pays for", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "c", credits: { remaining: 100 } });
    const app = makeApp(keys, {}, (a) => a.get("/seven", chargeCredits(7), (_req, res) => res.json({ ok: true })));
    const answers = await Promise.all(Array.from({ length: 60 }, () => request(app).get("/seven").set("Authorization", `Bearer ${secret}`)));
    expect(answers.filter((r) => r.status === 200).length).toBe(14); // 14 × 7 = 98
    expect(answers.filter((r) => r.status === 429).every((r) => r.body.error.code === "credits_exhausted")).toBe(true);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(2);
    await close();
  });

  it("shows the balance in the management API and keeps it across a rotation", async () => {
    const { keys, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "r", ownerId: "u1", credits: { remaining: 10, refill: { amount: 10, interval: "1mo" } } });
    await keys.verify(secret);
    const express = (await import("express")).default;
    const app = express();
    app.use("/keys", keysRouter({ keys, owner: () => "u1" }));
    const got = await request(app).get(`/keys/${key.id}`).expect(200);
    expect(JSON.stringify(got.body)).toContain('"credits":{"remaining":9,"refill":{"amount":10,"interval":"1mo"},"refillsAt":"2026-12-01T00:00:00.000Z"}');
    const rotated = await keys.rotate(key.id, { overlap: "1h" });
    expect(rotated.key.credits?.remaining).toBe(9); // a rotation gives no fresh credits
    expect((await keys.verify(rotated.secret)).ok).toBe(true);
    expect((await keys.get(key.id))?.credits?.remaining).toBe(8);
    await close();
  });

  it("update sets a new balance from now (what was spent no longer counts), changes the refill, or removes the credits", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind });
    clock.set(T0);
    const { secret, key } = await keys.create({ name: "u", credits: { remaining: 2 } });
    await keys.verify(secret);
    await keys.verify(secret);
    expect((await keys.verify(secret)).ok).toBe(false);
    const topped = await keys.update(key.id, { credits: { remaining: 3, refill: { amount: 20, interval: "1d" } } });
    expect(topped.credits).toEqual({ remaining: 3, refill: { amount: 20, interval: "1d" }, refillsAt: new Date(T0 + TO_MIDNIGHT * 1000) });
    expect(events.filter((e) => e.type === "key.updated")).toHaveLength(1);
    for (let i = 0; i < 3; i++) expect((await keys.verify(secret)).ok).toBe(true); // the cached key was dropped
    expect((await keys.verify(secret)).ok).toBe(false);
    await keys.update(key.id, { credits: { remaining: 1 } }); // the same instant: still a new balance
    expect((await keys.get(key.id))?.credits).toMatchObject({ remaining: 1, refill: null });
    expect((await keys.update(key.id, { name: "renamed" })).credits?.remaining).toBe(1); // other changes keep them
    expect((await keys.update(key.id, { credits: null })).credits).toBeNull();
    for (let i = 0; i < 5; i++) {
      const verified = await keys.verify(secret);
      expect(verified.ok && verified.limits).toEqual([]);
    }
    await close();
  });
});

describe("credit inputs", () => {
  it.each([
    [{ remaining: -1 }, "credits.remaining"],
    [{ remaining: 1.5 }, "credits.remaining"],
    [{ remaining: Number.NaN }, "credits.remaining"],
    [{ remaining: 1e13 }, "credits.remaining"],
    [{ remaining: "10" }, "credits.remaining"],
    [{ remaining: 10, refill: { amount: -5, interval: "1d" } }, "credits.refill.amount"],
    [{ remaining: 10, refill: { amount: 5, interval: "1y" } }, "credits.refill.interval"],
    [{ remaining: 10, refill: { amount: 5, interval: "10s" } }, "credits.refill.interval"],
    [{ remaining: 10, bonus: 1 }, "credits.bonus"],
  ])("create refuses credits %j with 422 validation_failed naming %s", async (credits, path) => {
    const { keys, close } = makeKeys();
    await expect(keys.create({ name: "x", credits: credits as never })).rejects.toMatchObject({ code: "validation_failed", status: 422, details: [{ path }] });
    expect((await keys.list()).keys).toEqual([]);
    await close();
  });

  it.each([
    [{ remaining: -1 }, "credits.remaining"],
    [{ remaining: 2.5 }, "credits.remaining"],
    [{ remaining: 1e13 }, "credits.remaining"],
    [{ remaining: 10, refill: { amount: 5, interval: "fortnight" } }, "credits.refill.interval"],
    ["lots", "credits"],
  ])("update refuses credits %j with 422 validation_failed naming %s, changing nothing", async (credits, path) => {
    const { keys, close } = makeKeys();
    const { key } = await keys.create({ name: "x", credits: { remaining: 7 } });
    await expect(keys.update(key.id, { name: "y", credits: credits as never })).rejects.toMatchObject({
      code: "validation_failed",
      status: 422,
      details: [{ path }],
    });
    expect(await keys.get(key.id)).toMatchObject({ name: "x", credits: { remaining: 7, refill: null } });
    await close();
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e13, "5"])("refuses a route cost of %p at start-up", (cost) => {
    expect(() => chargeCredits(cost as never)).toThrow(KeywardConfigError);
    expect(() => requireScope("reports:run", { cost: cost as never })).toThrow(/requireScope\.cost/);
  });

  it("refuses unknown cost options", () => {
    expect(() => chargeCredits(1, { refundOn5xx: true } as never)).toThrow(/chargeCredits/);
  });
});
