/** Monthly quotas: UTC calendar month, reset on the 1st, 429 quota_exceeded, refusals cost nothing. */
import request from "supertest";
import { requireScope } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const tiers = { free: { monthlyRequests: 3 }, pro: { monthlyRequests: 10_000 } };

describe.each(["memory", "sqlite"] as const)("monthly quota (%s)", (storeKind) => {
  it("refuses past the quota at 23:59:59.999 UTC on the last day and admits again at 00:00 on the 1st", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers });
    const { secret } = await keys.create({ name: "free", tier: "free" });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);

    clock.set(Date.UTC(2026, 0, 31, 23, 59, 59, 990));
    for (let i = 0; i < 3; i++) await send().expect(200);
    clock.set(Date.UTC(2026, 0, 31, 23, 59, 59, 999));
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: "quota_exceeded", message: "Monthly quota of 3 requests used up; it resets on the 1st (UTC)." } });
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.headers["ratelimit-policy"]).toBe(`"monthly";q=3;w=${31 * 86_400}`);
    expect(refused.headers["ratelimit"]).toBe('"monthly";r=0;t=1');

    clock.set(Date.UTC(2026, 1, 1, 0, 0, 0, 0));
    const fresh = await send().expect(200);
    expect(fresh.headers["ratelimit"]).toBe(`"monthly";r=2;t=${28 * 86_400}`);
    expect(fresh.headers["ratelimit-policy"]).toBe(`"monthly";q=3;w=${28 * 86_400}`);
    await close();
  });

  it("gives Retry-After as the seconds until the 1st, 00:00 UTC", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers });
    const { secret } = await keys.create({ name: "free", tier: "free" });
    clock.set(Date.UTC(2026, 10, 23, 12, 0, 0, 500));
    for (let i = 0; i < 3; i++) expect((await keys.verify(secret)).ok).toBe(true);
    const result = await keys.verify(secret);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("quota_exceeded");
    expect(result.error.status).toBe(429);
    const toReset = Math.ceil((Date.UTC(2026, 11, 1) - clock.ms) / 1000);
    expect(result.error.headers["Retry-After"]).toBe(String(toReset));
    await close();
  });

  it("does not charge refused requests: neither 429s nor requests a guard refuses after apiKeyAuth", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers });
    const { secret, key } = await keys.create({ name: "free", tier: "free", scopes: ["notes:read"] });
    const app = makeApp(keys, {}, (a) =>
      a.post("/notes", requireScope("notes:write"), (_req, res) => {
        res.status(201).end();
      }),
    );
    const auth = { Authorization: `Bearer ${secret}` };
    for (let i = 0; i < 20; i++) await request(app).post("/notes").set(auth).expect(403); // refunded by the guard
    const first = await request(app).get("/whoami").set(auth).expect(200);
    expect(first.headers["ratelimit"]).toMatch(/^"monthly";r=2;/);
    await request(app).get("/whoami").set(auth).expect(200);
    await request(app).get("/whoami").set(auth).expect(200);
    for (let i = 0; i < 5; i++) await request(app).get("/whoami").set(auth).expect(429);
    await request(app).post("/notes").set(auth).expect(429); // over quota beats the scope check: nothing to refund
    clock.set(Date.UTC(2026, 11, 1));
    const next = await request(app).get("/whoami").set(auth).expect(200);
    expect(next.headers["ratelimit"]).toMatch(/^"monthly";r=2;/);
    // requestCount counts requests that passed apiKeyAuth (the 20 scope refusals used the key), never 429s.
    expect((await keys.get(key.id))!.requestCount).toBe(24);
    await close();
  });

  it("keeps quotas per key, and leaves keys without a tier unlimited with no RateLimit headers", async () => {
    const { keys, close } = makeKeys({ storeKind, tiers });
    const a = await keys.create({ name: "a", tier: "free" });
    const b = await keys.create({ name: "b", tier: "free" });
    const open = await keys.create({ name: "open" });
    for (let i = 0; i < 3; i++) expect((await keys.verify(a.secret)).ok).toBe(true);
    expect((await keys.verify(a.secret)).ok).toBe(false);
    expect((await keys.verify(b.secret)).ok).toBe(true);
    const app = makeApp(keys);
    for (let i = 0; i < 10; i++) {
      const res = await request(app).get("/whoami").set("Authorization", `Bearer ${open.secret}`).expect(200);
      expect(res.headers["ratelimit"]).toBeUndefined();
    }
    await close();
  });
});
