/** Per-key rate limits: fixed windows aligned to the epoch, 429 rate_limited with Retry-After, per tier or per key. */
import request from "supertest";
import { fixedWindow } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const MINUTE = 60_000;

describe.each(["memory", "sqlite"] as const)("rate limit (%s)", (storeKind) => {
  it("admits `limit` requests per epoch-aligned window and refuses the rest with 429 rate_limited", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers: { free: { rateLimit: { limit: 2, window: "1m" } } } });
    const { secret } = await keys.create({ name: "free", tier: "free" });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    const windowStart = Math.floor(Date.UTC(2026, 10, 23, 12, 7, 30) / MINUTE) * MINUTE;
    expect(fixedWindow(windowStart + 30_000, MINUTE)).toEqual({ start: windowStart, resetAt: windowStart + MINUTE });

    clock.set(windowStart + 30_000);
    const ok = await send().expect(200);
    expect(ok.headers["ratelimit-policy"]).toBe('"window";q=2;w=60');
    expect(ok.headers["ratelimit"]).toBe('"window";r=1;t=30');
    await send().expect(200);
    clock.set(windowStart + MINUTE - 1);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ error: { code: "rate_limited", message: "Rate limit of 2 requests per 60s exceeded; retry in 1s." } });
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.headers["ratelimit"]).toBe('"window";r=0;t=1');

    clock.set(windowStart + MINUTE); // the next window: a fresh count
    const again = await send().expect(200);
    expect(again.headers["ratelimit"]).toBe('"window";r=1;t=60');
    await close();
  });

  it("lets a key-level limit override the tier's, and applies the manager-wide default to keys without one", async () => {
    const { keys, close } = makeKeys({ storeKind, rateLimit: { limit: 1, window: "1s" }, tiers: { pro: { rateLimit: { limit: 100, window: "1m" } } } });
    const plain = await keys.create({ name: "plain" });
    const pro = await keys.create({ name: "pro", tier: "pro" });
    const custom = await keys.create({ name: "custom", tier: "pro", rateLimit: { limit: 3, window: "10s" } });
    const admitted = async (secret: string, n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) if ((await keys.verify(secret)).ok) ok++;
      return ok;
    };
    expect(await admitted(plain.secret, 5)).toBe(1);
    expect(await admitted(pro.secret, 5)).toBe(5);
    expect(await admitted(custom.secret, 5)).toBe(3);
    expect(custom.key.rateLimit).toEqual({ limit: 3, windowMs: 10_000 });
    await close();
  });

  it("does not take monthly quota for a rate-limited request, nor a window unit for a quota refusal", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers: { t: { monthlyRequests: 5, rateLimit: { limit: 2, window: "1m" } } } });
    const { secret } = await keys.create({ name: "t", tier: "t" });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    clock.set(Date.UTC(2026, 10, 23, 12, 0, 0));
    await send().expect(200);
    await send().expect(200);
    for (let i = 0; i < 4; i++) expect((await send()).body.error.code).toBe("rate_limited");
    clock.advance(MINUTE);
    const res = await send().expect(200);
    expect(res.headers["ratelimit"]).toBe('"window";r=1;t=60'); // the tightest: the quota has 2 left
    await send().expect(200);
    clock.advance(MINUTE);
    await send().expect(200); // the 5th of the month
    const over = await send();
    expect(over.body.error.code).toBe("quota_exceeded");
    expect(over.headers["ratelimit"]).toMatch(/^"monthly";r=0;t=\d+$/); // the policy that refused
    await close();
  });
});

describe("counter pruning", () => {
  it("deletes counters of ended windows by the manager's clock and keeps live ones", async () => {
    const { keys, clock, store, close } = makeKeys({
      storeKind: "sqlite",
      usage: false,
      tiers: { t: { monthlyRequests: 100, rateLimit: { limit: 2, window: "1m" } } },
    });
    const rows = () =>
      (store as unknown as { db: { prepare(sql: string): { pluck(): { get(): number } } } }).db.prepare("SELECT count(*) FROM keyward_counters").pluck().get();
    const { secret } = await keys.create({ name: "t", tier: "t" });
    clock.set(Date.UTC(2026, 10, 23, 12, 0, 0));
    for (let minute = 0; minute < 5; minute++) {
      expect((await keys.verify(secret)).ok).toBe(true);
      clock.advance(MINUTE);
    }
    expect(rows()).toBe(6); // five windows and the month
    clock.advance(-MINUTE); // back into the last window used
    expect((await keys.verify(secret)).ok).toBe(true);
    await keys.pruneCounters();
    expect(rows()).toBe(2); // the live window and the month
    expect((await keys.verify(secret)).ok).toBe(false); // the live window still counts: 2 of 2 used
    await close();
  });
});
