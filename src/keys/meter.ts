/**
 * KeyMeter: for one cached key, the counters of its current rate-limit windows, UTC month and
 * credit period (names, limits, reset times) and the RateLimit-Policy value, rebuilt only when a
 * window turns over. Charging a request then builds no strings and computes no calendar dates.
 * Limits counted per owner name their counters by the owner, so every key of the owner shares them.
 */
import { policyField } from "../core/ratelimit-fields.js";
import type { CounterTake, RateLimitRule, StoredCredits } from "../core/types.js";
import { creditPeriod, fixedWindow, type NamedRule, NEVER, SINGLE_POLICY, utcMonth } from "./limits.js";

/** One counter a charge takes, valid for the current window. */
export interface PlannedCounter extends CounterTake {
  /** The policy name (`"window"`, a named limit, `"monthly"` or `"credits"`). */
  readonly policy: string;
  /** The counter's name in the counter store, e.g. `r:<key id>:<window start>`. */
  readonly counter: string;
  readonly limit: number;
  /** When the window ends (ms since the epoch). */
  readonly resetAt: number;
  /** The window's length in seconds (0 for credits that never refill). */
  readonly windowSeconds: number;
}

/** A meter's plan with the credits entry priced at a route's cost (see {@link KeyMeter.priced}). */
export interface PricedPlan {
  /** The plan it was priced from. */
  readonly base: readonly PlannedCounter[];
  readonly cost: number;
  readonly plan: readonly PlannedCounter[];
  readonly counters: readonly string[];
  readonly policy: string;
}

/** The policy name of a key's credits. */
export const CREDITS_POLICY = "credits";

/** Counter names for credits that never refill end in this period label. */
const NO_REFILL = "once";

const NONE: readonly never[] = Object.freeze([]);

/** How many costs a meter keeps a priced plan for (routes of other costs rebuild theirs). */
const MAX_PRICED = 8;

/** Who a meter's rate limits and monthly quota are counted for. */
export interface MeterScope {
  /** The owner whose keys share the rate limits and quota (tier `countPer: "owner"`), else null. */
  readonly owner?: string | null;
  /** The rate limit is the key's own (set at `create`): counted per key even when the quota is per owner. */
  readonly ownRate?: boolean;
  /** The key's credits, or null. */
  readonly credits?: StoredCredits | null;
}

/** The current plan of one key's counters. */
export class KeyMeter {
  /** The counters to take, rate windows first, then the monthly quota, then credits. */
  plan: readonly PlannedCounter[] = NONE;
  /** The plan's counter names, in the same order (shared by every charge in these windows). */
  counters: readonly string[] = NONE;
  /** The `RateLimit-Policy` field value for the plan. */
  policy = "";
  /** The credits entry's index in the plan, or -1 without credits. */
  creditsAt = -1;
  /** The current plan priced by {@link KeyMeter.priced}, one per cost asked for (a few at most: a cost is a route's). */
  private pricedPlans: PricedPlan[] | null = null;
  private validFrom = Infinity;
  private validUntil = -Infinity;
  private readonly rates: readonly NamedRule[];
  private readonly monthly: number | null;
  /** The name part of rate and quota counters: the key id, or `o:<owner>` for owner-wide limits. */
  private readonly subject: string;
  /** The name part of rate counters (the key id for a key's own rate limit). */
  private readonly rateSubject: string;
  private readonly credits: StoredCredits | null;

  /**
   * @param id The key id (part of every per-key counter name).
   * @param rate The key's rate limit (one unnamed rule is the `"window"` policy), named rules, or null.
   * @param monthly The key's monthly quota, or null.
   * @param scope Owner-wide counting and credits.
   *
   * @example
   * const meter = new KeyMeter("key_1", { limit: 100, windowMs: 60_000 }, 10_000);
   * meter.at(Date.now())[0]?.counter; // "r:key_1:<window start>"
   */
  constructor(id: string, rate: RateLimitRule | readonly NamedRule[] | null, monthly: number | null, scope: MeterScope = {}) {
    this.rates = rate === null ? NONE : Array.isArray(rate) ? rate : [{ name: SINGLE_POLICY, ...(rate as RateLimitRule) }];
    this.monthly = monthly;
    this.subject = scope.owner == null ? id : `o:${encodeURIComponent(scope.owner)}`;
    this.rateSubject = scope.ownRate === true ? id : this.subject;
    this.credits = scope.credits ?? null;
  }

  /**
   * The current plan (after `at`) with its credits entry taking `cost` units (none for a cost of
   * 0), with its counter names and RateLimit-Policy value: made once per plan and cost (for up to
   * 8 costs), so routes with a cost allocate nothing per request. Only for keys with credits (`creditsAt >= 0`).
   */
  priced(cost: number): PricedPlan {
    let plans = this.pricedPlans;
    if (plans === null || (plans.length > 0 && plans[0]!.base !== this.plan)) plans = this.pricedPlans = [];
    for (let i = 0; i < plans.length; i++) if (plans[i]!.cost === cost) return plans[i]!;
    const plan = this.plan.slice();
    if (cost === 0) plan.splice(this.creditsAt, 1);
    else plan[this.creditsAt] = Object.freeze({ ...plan[this.creditsAt]!, units: cost });
    const priced: PricedPlan = {
      base: this.plan,
      cost,
      plan: Object.freeze(plan),
      counters: Object.freeze(plan.map((p) => p.counter)),
      policy: cost === 0 ? policyField(plan) : this.policy,
    };
    if (plans.length >= MAX_PRICED) plans.shift();
    plans.push(priced);
    return priced;
  }

  /** Whether the key has credits (a route's cost applies to it). */
  get hasCredits(): boolean {
    return this.credits !== null;
  }

  /** Whether the key has any limit at all (a meter without one is never built). */
  get empty(): boolean {
    return this.rates.length === 0 && this.monthly === null && this.credits === null;
  }

  /**
   * The plan for the windows holding `now` (the cached one while they have not turned over). Kept
   * this small so V8 inlines it into the charge: the rebuild is a method of its own.
   */
  at(now: number): readonly PlannedCounter[] {
    return now >= this.validFrom && now < this.validUntil ? this.plan : this.rebuild(now);
  }

  /** Builds the plan for the windows holding `now` (see {@link KeyMeter.at}). */
  private rebuild(now: number): readonly PlannedCounter[] {
    const plan: PlannedCounter[] = [];
    let from = -Infinity;
    let until = Infinity;
    for (const rate of this.rates) {
      const { start, resetAt } = fixedWindow(now, rate.windowMs);
      // The single form keeps its original counter names (`r:<id>:<start>`), so a rolling upgrade shares them.
      const name = rate.name === SINGLE_POLICY ? `r:${this.rateSubject}:${start}` : `r:${this.rateSubject}:${rate.name}:${start}`;
      plan.push({ policy: rate.name, counter: name, limit: rate.limit, resetAt, windowSeconds: Math.round(rate.windowMs / 1000), units: 1 });
      from = Math.max(from, start);
      until = Math.min(until, resetAt);
    }
    if (this.monthly !== null) {
      const month = utcMonth(now);
      plan.push({
        policy: "monthly",
        counter: `q:${this.subject}:${month.label}`,
        limit: this.monthly,
        resetAt: month.resetAt,
        windowSeconds: Math.round((month.resetAt - month.start) / 1000),
        units: 1,
      });
      from = Math.max(from, month.start);
      until = Math.min(until, month.resetAt);
    }
    this.creditsAt = -1;
    const credits = this.credits;
    if (credits !== null) {
      const refill = credits.refill;
      const period = creditPeriod(now, refill?.interval ?? null);
      // The period holding `since` has the granted balance; every later one the refill amount.
      const first = refill === null || credits.since >= period.start;
      this.creditsAt = plan.length;
      plan.push({
        policy: CREDITS_POLICY,
        counter: `c:${credits.counter}:${credits.since}:${refill === null ? NO_REFILL : period.start}`,
        limit: first ? credits.remaining : refill.amount,
        resetAt: period.resetAt,
        windowSeconds: refill === null ? 0 : Math.round((period.resetAt - period.start) / 1000),
        units: 1,
      });
      if (period.resetAt !== NEVER) {
        from = Math.max(from, period.start);
        until = Math.min(until, period.resetAt);
      }
    }
    this.plan = Object.freeze(plan);
    this.counters = Object.freeze(plan.map((p) => p.counter));
    this.policy = policyField(plan);
    this.validFrom = from;
    this.validUntil = until;
    return this.plan;
  }
}
