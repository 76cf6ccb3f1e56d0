/**
 * Several named rate limits per tier (`{ burst: "10/s", sustained: "1000/h" }`) and limits counted
 * per owner (`countPer: "owner"`): every policy in the RateLimit headers under its name, all of a
 * request's counters taken or none, one quota shared by all keys of an owner.
 */
import request from "supertest";
import { KeywardConfigError, MemoryStore } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const SECOND = 1000;
const MINUTE = 60_000;
const T0 = Math.floor(Date.UTC(2026, 10, 23, 12, 7, 0) / MINUTE) * MINUTE;

describe.each(["memory", "sqlite"] as const)("named rate limits (%s)", (storeKind) => {
  it("names every policy in the headers and refuses with the one that ran out, taking nothing from the others", async () => {
    const { keys, clock, close } = makeKeys({ storeKind, tiers: { t: { rateLimit: { burst: "2/s", sustained: { limit: 5, window: "1m" } } } } });
    const { secret } = await keys.create({ name: "t", tier: "t" });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    clock.set(T0);
    const first = await send().expect(200);
    expect(first.headers["ratelimit-policy"]).toBe('"burst";q=2;w=1, "sustained";q=5;w=60');
    expect(first.headers["ratelimit"]).toBe('"burst";r=1;t=1'); // the tightest of the two
    await send().expect(200);
    const refused = await send().expect(429);
    expect(refused.body.error).toEqual({ code: "rate_limited", message: 'Rate limit "burst" of 2 requests per 1s exceeded; retry in 1s.' });
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.headers["ratelimit"]).toBe('"burst";r=0;t=1');
    // The refused request took no "sustained" unit: three more fit in the minute, then "sustained" refuses.
    clock.set(T0 + SECOND);
    await send().expect(200);
    await send().expect(200);
    clock.set(T0 + 2 * SECOND);
    const last = await send().expect(200);
    expect(last.headers["ratelimit"]).toBe('"sustained";r=0;t=58'); // now the tightest
    const over = await send().expect(429);
    expect(over.body.error.message).toBe('Rate limit "sustained" of 5 requests per 60s exceeded; retry in 58s.');
    expect(over.headers["ratelimit"]).toBe('"sustained";r=0;t=58'); // the policy that refused
    await close();
  });

  it('accepts the string form for one limit and keeps the { limit, window } form as the "window" policy', async () => {
    const { keys, close } = makeKeys({ storeKind, rateLimit: "3/m", tiers: { old: { rateLimit: { limit: 1, window: "1m" } } } });
    const plain = await keys.create({ name: "plain" });
    const old = await keys.create({ name: "old", tier: "old" });
    const app = makeApp(keys);
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${plain.secret}`).expect(200);
    expect(res.headers["ratelimit-policy"]).toBe('"window";q=3;w=60');
    expect((await keys.verify(old.secret)).ok).toBe(true);
    expect((await keys.verify(old.secret)).ok).toBe(false);
    await close();
  });
});

describe("rate limit options", () => {
  const store = new MemoryStore();
  it.each([
    [{ monthly: "1/s" }, /built-in policy name/],
    [{ burst: "10/x" }, /not a rate/],
    [{ burst: "0/s" }, /not a rate/],
    [{ burst: "5/500ms" }, /not a rate/],
    [{ Burst: "5/s" }, /limit names/],
    [{}, /name 1 to 8 rate limits/],
    ["ten per second", /not a rate/],
    [{ limit: -1, window: "1m" }, /rateLimit/],
  ])("refuses %j at construction", (rateLimit, message) => {
    expect(() => makeKeys({ store, tiers: { t: { rateLimit: rateLimit as never } } })).toThrow(KeywardConfigError);
    expect(() => makeKeys({ store, tiers: { t: { rateLimit: rateLimit as never } } })).toThrow(message);
  });

  it("refuses an unknown countPer", () => {
    expect(() => makeKeys({ store, tiers: { t: { monthlyRequests: 5, countPer: "team" as never } } })).toThrow(/tiers\.t\.countPer/);
  });
});

describe.each(["memory", "sqlite"] as const)("limits counted per owner (%s)", (storeKind) => {
  it("lets all keys of one owner share one monthly quota and one rate limit; other owners and ownerless keys count alone", async () => {
    const { keys, clock, close } = makeKeys({
      storeKind,
      tiers: { team: { monthlyRequests: 5, rateLimit: { burst: "4/m" }, countPer: "owner" } },
      defaultTier: "team",
    });
    clock.set(T0);
    const mine = await Promise.all(Array.from({ length: 3 }, (_, i) => keys.create({ name: `a${i}`, ownerId: "org/a:1" })));
    const theirs = await keys.create({ name: "b", ownerId: "org_b" });
    const loner = await keys.create({ name: "c" });
    const admitted: boolean[] = [];
    for (let i = 0; i < 6; i++) admitted.push((await keys.verify(mine[i % 3]!.secret)).ok);
    expect(admitted).toEqual([true, true, true, true, false, false]); // the owner's shared burst of 4 a minute
    const limited = await keys.verify(mine[0]!.secret);
    expect(limited.ok || limited.error.code).toBe("rate_limited");
    clock.set(T0 + MINUTE);
    expect((await keys.verify(mine[2]!.secret)).ok).toBe(true); // the 5th request of the month
    const quota = await keys.verify(mine[1]!.secret);
    expect(quota.ok || quota.error.code).toBe("quota_exceeded");
    for (let i = 0; i < 4; i++) expect((await keys.verify(theirs.secret)).ok).toBe(true);
    for (let i = 0; i < 4; i++) expect((await keys.verify(loner.secret)).ok).toBe(true);
    await close();
  });

  it("counts a key's own rate limit per key while its tier's quota stays per owner", async () => {
    const { keys, close } = makeKeys({ storeKind, tiers: { team: { monthlyRequests: 4, countPer: "owner" } }, defaultTier: "team" });
    const own = await keys.create({ name: "own", ownerId: "o", rateLimit: { limit: 1, window: "1m" } });
    const other = await keys.create({ name: "other", ownerId: "o" });
    expect((await keys.verify(own.secret)).ok).toBe(true);
    expect((await keys.verify(own.secret)).ok).toBe(false); // its own window
    expect((await keys.verify(other.secret)).ok).toBe(true);
    expect((await keys.verify(other.secret)).ok).toBe(true);
    expect((await keys.verify(other.secret)).ok).toBe(true); // 4 of the owner's quota used: own 1 + other 3
    const over = await keys.verify(other.secret);
    expect(over.ok || over.error.code).toBe("quota_exceeded");
    await close();
  });
});
