/**
 * KeyMeter: for one cached key, the counters of its current rate-limit window and UTC month
 * (names, limits, reset times) and the RateLimit-Policy value, rebuilt only when a window turns
 * over. Charging a request then builds no strings and computes no calendar dates.
 */
import { policyField } from "../core/ratelimit-fields.js";
import type { RateLimitRule } from "../core/types.js";
import { fixedWindow, utcMonth } from "./limits.js";

/** One counter a charge takes, valid for the current window. */
export interface PlannedCounter {
  readonly policy: "window" | "monthly";
  /** The counter's name in the counter store, e.g. `r:<key id>:<window start>`. */
  readonly counter: string;
  readonly limit: number;
  /** When the window ends (ms since the epoch). */
  readonly resetAt: number;
  readonly windowSeconds: number;
}

const NONE: readonly never[] = Object.freeze([]);

/** The current plan of one key's counters. */
export class KeyMeter {
  /** The counters to take, rate window first. */
  plan: readonly PlannedCounter[] = NONE;
  /** The plan's counter names, in the same order (shared by every charge in these windows). */
  counters: readonly string[] = NONE;
  /** The `RateLimit-Policy` field value for the plan. */
  policy = "";
  private validFrom = Infinity;
  private validUntil = -Infinity;

  /**
   * @param id The key id (part of every counter name).
   * @param rate The key's rate limit, or null.
   * @param monthly The key's monthly quota, or null.
   *
   * @example
   * const meter = new KeyMeter("key_1", { limit: 100, windowMs: 60_000 }, 10_000);
   * meter.at(Date.now())[0]?.counter; // "r:key_1:<window start>"
   */
  constructor(
    private readonly id: string,
    private readonly rate: RateLimitRule | null,
    private readonly monthly: number | null,
  ) {}

  /** The plan for the windows holding `now` (the cached one while they have not turned over). */
  at(now: number): readonly PlannedCounter[] {
    if (now >= this.validFrom && now < this.validUntil) return this.plan;
    const plan: PlannedCounter[] = [];
    let from = -Infinity;
    let until = Infinity;
    if (this.rate !== null) {
      const { start, resetAt } = fixedWindow(now, this.rate.windowMs);
      plan.push({ policy: "window", counter: `r:${this.id}:${start}`, limit: this.rate.limit, resetAt, windowSeconds: Math.round(this.rate.windowMs / 1000) });
      from = Math.max(from, start);
      until = Math.min(until, resetAt);
    }
    if (this.monthly !== null) {
      const month = utcMonth(now);
      plan.push({
        policy: "monthly",
        counter: `q:${this.id}:${month.label}`,
        limit: this.monthly,
        resetAt: month.resetAt,
        windowSeconds: Math.round((month.resetAt - month.start) / 1000),
      });
      from = Math.max(from, month.start);
      until = Math.min(until, month.resetAt);
    }
    this.plan = Object.freeze(plan);
    this.counters = Object.freeze(plan.map((p) => p.counter));
    this.policy = policyField(plan);
    this.validFrom = from;
    this.validUntil = until;
    return this.plan;
  }
}
