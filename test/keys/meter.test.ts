/**
 * The key meter: counter names and the RateLimit-Policy value are built once per window and rebuilt
 * when the rate-limit window or the UTC month turns over (or the clock goes back).
 */
import { KeyMeter } from "../../src/keys/meter";

const MINUTE = 60_000;
const start = Date.UTC(2026, 10, 30, 23, 58, 0); // 30 Nov 2026, two minutes before December

describe("KeyMeter", () => {
  it("keeps one plan for the whole window and builds the next one when the window turns over", () => {
    const meter = new KeyMeter("key_1", { limit: 100, windowMs: MINUTE }, 10_000);
    const first = meter.at(start + 1_000);
    expect(first.map((p) => p.counter)).toEqual([`r:key_1:${start}`, "q:key_1:2026-11"]);
    expect(meter.counters).toEqual([`r:key_1:${start}`, "q:key_1:2026-11"]);
    expect(meter.policy).toBe('"window";q=100;w=60, "monthly";q=10000;w=2592000');
    expect(meter.at(start + MINUTE - 1)).toBe(first); // same window: the same plan, nothing rebuilt
    const next = meter.at(start + MINUTE);
    expect(next).not.toBe(first);
    expect(next[0]!.counter).toBe(`r:key_1:${start + MINUTE}`);
    expect(next[0]!.resetAt).toBe(start + 2 * MINUTE);
  });

  it("moves to the next month's counter at 00:00 UTC on the 1st, and back if the clock goes back", () => {
    const meter = new KeyMeter("key_2", null, 500);
    expect(meter.at(Date.UTC(2026, 11, 1) - 1)[0]!.counter).toBe("q:key_2:2026-11");
    const december = meter.at(Date.UTC(2026, 11, 1));
    expect(december[0]!.counter).toBe("q:key_2:2026-12");
    expect(december[0]!.windowSeconds).toBe(31 * 86_400);
    expect(meter.policy).toBe('"monthly";q=500;w=2678400');
    expect(meter.at(Date.UTC(2026, 10, 15))[0]!.counter).toBe("q:key_2:2026-11");
  });

  it("prices the credits entry at a route's cost once per plan and cost: the same plan object for every request, rebuilt with the window", () => {
    const credits = { remaining: 100, refill: null, counter: "key_3", since: start };
    const meter = new KeyMeter("key_3", { limit: 10, windowMs: MINUTE }, null, { credits });
    const base = meter.at(start + 1_000);
    const ten = meter.priced(10);
    expect(ten.plan.map((p) => [p.policy, p.units])).toEqual([
      ["window", 1],
      ["credits", 10],
    ]);
    expect(ten.counters).toEqual(meter.counters);
    expect(ten.policy).toBe(meter.policy);
    expect(base[1]!.units).toBe(1); // the unpriced plan is untouched
    const free = meter.priced(0);
    expect(free.plan.map((p) => p.policy)).toEqual(["window"]);
    expect(free.policy).toBe('"window";q=10;w=60');
    meter.at(start + 2_000);
    expect(meter.priced(10)).toBe(ten); // same window, same cost: nothing rebuilt
    expect(meter.priced(0)).toBe(free);
    meter.at(start + MINUTE);
    const next = meter.priced(10);
    expect(next).not.toBe(ten);
    expect(next.plan[0]!.counter).toBe(`r:key_3:${start + MINUTE}`);
  });
});
