/** A counter store that fails makes limited requests fail closed (503), and gives back what it took. */
import request from "supertest";
import { KeyManager, MemoryStore, type CounterStore } from "keyward";
import { makeApp, TestClock } from "../helpers";

describe("counter store failure", () => {
  it("answers 503 store_unavailable and refunds the rate-limit unit when the quota counter fails", async () => {
    const store = new MemoryStore();
    let quotaDown = true;
    const counters: CounterStore = {
      consume: (name, limit, resetAt) => {
        if (quotaDown && name.startsWith("q:")) throw new Error("counter backend down");
        return store.consume(name, limit, resetAt);
      },
      refund: (name) => store.refund(name),
    };
    const keys = new KeyManager({
      store,
      counters,
      clock: new TestClock(Date.UTC(2026, 10, 23, 12, 0, 0)).now,
      tiers: { t: { monthlyRequests: 10, rateLimit: { limit: 3, window: "1m" } } },
    });
    const { secret } = await keys.create({ name: "t", tier: "t" });
    const app = makeApp(keys);
    const send = () => request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
    for (let i = 0; i < 5; i++) {
      const res = await send();
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe("store_unavailable");
      expect(res.headers["retry-after"]).toBe("1");
    }
    quotaDown = false;
    const ok = await send().expect(200);
    expect(ok.headers["ratelimit"]).toBe('"window";r=2;t=60'); // the five failures took nothing
    await keys.close();
  });
});
