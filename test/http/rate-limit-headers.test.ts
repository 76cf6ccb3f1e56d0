/** RateLimit headers: IETF draft fields (draft-ietf-httpapi-ratelimit-headers-11) by default, the legacy trio, both or none. */
import request from "supertest";
import { requireScope, type RateLimitHeaderStyle } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const tiers = { t: { monthlyRequests: 1000, rateLimit: { limit: 10, window: "10s" } } };
const NOW = Date.UTC(2026, 10, 23, 12, 0, 4); // 4 s into a 10 s window; 8 days and 12 h before December
const MONTH_T = 7 * 86_400 + 12 * 3600 - 4;

async function setup(style?: RateLimitHeaderStyle) {
  const made = makeKeys({ tiers });
  made.clock.set(NOW);
  const { secret } = await made.keys.create({ name: "t", tier: "t", scopes: ["notes:read"] });
  const app = makeApp(made.keys, style === undefined ? {} : { rateLimitHeaders: style }, (a) =>
    a.post("/notes", requireScope("notes:write"), (_req, res) => {
      res.end();
    }),
  );
  return { ...made, secret, app };
}

describe("RateLimit headers", () => {
  it("lists every policy in RateLimit-Policy and reports the tightest one in RateLimit", async () => {
    const { app, secret, close } = await setup();
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(res.headers["ratelimit-policy"]).toBe(`"window";q=10;w=10, "monthly";q=1000;w=${30 * 86_400}`);
    expect(res.headers["ratelimit"]).toBe('"window";r=9;t=6');
    expect(res.headers["ratelimit-limit"]).toBeUndefined();
    await close();
  });

  it('writes the legacy RateLimit-Limit/Remaining/Reset trio for the tightest policy with rateLimitHeaders: "legacy"', async () => {
    const { app, secret, close } = await setup("legacy");
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(res.headers["ratelimit-limit"]).toBe("10");
    expect(res.headers["ratelimit-remaining"]).toBe("9");
    expect(res.headers["ratelimit-reset"]).toBe("6");
    expect(res.headers["ratelimit"]).toBeUndefined();
    expect(res.headers["ratelimit-policy"]).toBeUndefined();
    await close();
  });

  it('writes both sets with "both" and none with false', async () => {
    const both = await setup("both");
    const a = await request(both.app).get("/whoami").set("Authorization", `Bearer ${both.secret}`).expect(200);
    expect(a.headers["ratelimit"]).toBeDefined();
    expect(a.headers["ratelimit-remaining"]).toBe("9");
    await both.close();
    const none = await setup(false);
    const b = await request(none.app).get("/whoami").set("Authorization", `Bearer ${none.secret}`).expect(200);
    expect(Object.keys(b.headers).filter((h) => h.startsWith("ratelimit"))).toEqual([]);
    await none.close();
  });

  it("carries the headers on 429s, with Retry-After no earlier than the window's end", async () => {
    const { app, secret, close } = await setup("both");
    for (let i = 0; i < 10; i++) await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(429);
    expect(res.headers["ratelimit-policy"]).toBe('"window";q=10;w=10');
    expect(res.headers["ratelimit"]).toBe('"window";r=0;t=6');
    expect(res.headers["ratelimit-remaining"]).toBe("0");
    expect(res.headers["retry-after"]).toBe("6");
    await close();
  });

  it("gives the charge back when a guard refuses after apiKeyAuth", async () => {
    const { app, secret, close } = await setup();
    const res = await request(app).post("/notes").set("Authorization", `Bearer ${secret}`).expect(403);
    expect(res.body.error.code).toBe("insufficient_scope");
    expect(res.headers["ratelimit"]).toBe('"window";r=10;t=6'); // nothing taken
    const next = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(next.headers["ratelimit"]).toBe('"window";r=9;t=6');
    await close();
  });

  it("follows the tightest policy as it changes: the fewest units left, on a tie the one that resets first", async () => {
    const made = makeKeys({ tiers: { t: { monthlyRequests: 4, rateLimit: { burst: "3/s", sustained: "3/m" } } } });
    made.clock.set(NOW);
    const { secret } = await made.keys.create({ name: "t", tier: "t" });
    const app = makeApp(made.keys, { rateLimitHeaders: "both" });
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    const first = await send().expect(200);
    expect(first.headers["ratelimit-policy"]).toBe(`"burst";q=3;w=1, "sustained";q=3;w=60, "monthly";q=4;w=${30 * 86_400}`);
    // burst and sustained both have 2 left: burst resets first.
    expect(first.headers["ratelimit"]).toBe('"burst";r=2;t=1');
    expect([first.headers["ratelimit-remaining"], first.headers["ratelimit-reset"]]).toEqual(["2", "1"]);
    made.clock.advance(1000); // a new burst second: sustained (1 left after this request) is now the tightest
    const second = await send().expect(200);
    expect(second.headers["ratelimit"]).toBe('"sustained";r=1;t=55');
    expect([second.headers["ratelimit-limit"], second.headers["ratelimit-remaining"]]).toEqual(["3", "1"]);
    made.clock.advance(60_000); // a new minute: burst and sustained have 2 left, the quota 1
    const third = await send().expect(200);
    expect(third.headers["ratelimit"]).toBe(`"monthly";r=1;t=${MONTH_T - 61}`);
    await made.close();
  });

  it("reports credits that never refill (no t) only when they are the tightest, and ranks them after a tie that resets", async () => {
    const made = makeKeys({ tiers: { t: { rateLimit: { limit: 3, window: "10s" } } } });
    made.clock.set(NOW);
    const { secret } = await made.keys.create({ name: "t", tier: "t", credits: { remaining: 3 } });
    const app = makeApp(made.keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    const tie = await send().expect(200);
    expect(tie.headers["ratelimit-policy"]).toBe('"window";q=3;w=10, "credits";q=3');
    expect(tie.headers["ratelimit"]).toBe('"window";r=2;t=6'); // 2 left of each: the window resets, the credits never do
    made.clock.advance(10_000);
    const poorer = await send().expect(200);
    expect(poorer.headers["ratelimit"]).toBe('"credits";r=1');
    await made.close();
  });
});
