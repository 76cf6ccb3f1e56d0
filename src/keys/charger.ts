/**
 * Charger: takes a request's units from its key's limits (named rate-limit windows, monthly quota,
 * credits), or refuses with 429. When the counter store has `consumeAll` and the key has several
 * counters, all are taken in one atomic step (one round trip), all or nothing; otherwise one
 * `consume` per counter. A refusal, a failure or a later refund gives back what was taken, so a
 * refused request costs nothing; a take that answers after `storeTimeout` (the request already
 * got its 503) is given back when it lands. Keeps count of charges still in flight, so `close()`
 * can wait for them. A route's credit cost (`charge(key, now, cost)`) is taken in the same step as
 * the rest; a cost set after the pipeline takes the difference with {@link Charger.chargeCredits}.
 */
import { KeywardError } from "../core/errors.js";
import { storeUnavailable } from "../core/refusals.js";
import type { CounterStore, CounterTake, MaybePromise } from "../core/types.js";
import type { VerifiedKey } from "./authenticator.js";
import { NEVER, secondsUntil, withUnitsReturned, type LimitState } from "./limits.js";
import { CREDITS_POLICY, type PlannedCounter } from "./meter.js";
import { after, isPromise } from "./store-calls.js";

/**
 * The outcome of charging a request against its key's limits.
 * Internal to keyward (not exported from the package entry).
 */
export interface Charge {
  /** The limits that applied, for the `RateLimit` headers. */
  readonly limits: readonly LimitState[];
  /** Counters taken, so a later refusal can give them back. */
  readonly counters: readonly string[];
  /** The `RateLimit-Policy` field value (IETF draft) for `limits`: the same string for every request in a window. */
  readonly policy: string;
  /** What was taken from each counter, in the order of `counters` (units: 1, or a credit cost). */
  readonly takes: readonly PlannedCounter[];
}

/**
 * The limits of `charge` as they stand once everything it took is given back (a guard after the
 * pipeline refused the request): each policy's units, a route's credit cost included.
 *
 * @example
 * writeRateLimitHeaders(res, limitsReturned(charge), "draft", charge.policy);
 */
export function limitsReturned(charge: Charge): LimitState[] {
  const { limits, takes } = charge;
  return limits.map((l) => {
    let units = 0;
    for (let i = 0; i < takes.length; i++) if (takes[i]!.policy === l.policy) units += takes[i]!.units;
    return withUnitsReturned(l, units);
  });
}

/** The charge of a key without limits. */
export const NO_CHARGE: Charge = Object.freeze({ limits: Object.freeze([]), counters: Object.freeze([]), policy: "", takes: Object.freeze([]) });

/** Charges keys against one counter store. */
export class Charger {
  /** Asynchronous charges (and late takes) not yet settled, which `drain()` waits for. */
  private pending = 0;
  private drained: (() => void) | null = null;

  constructor(
    private readonly counters: CounterStore,
    private readonly timeoutMs: number,
    private readonly isClosed: () => boolean,
  ) {}

  /**
   * Takes one unit from each of the key's limits at `now` and `cost` credits from a key with
   * credits (all in one step), or the 429 (or 503) refusal, having taken nothing.
   */
  charge(key: VerifiedKey, now: number, cost = 1): MaybePromise<Charge | KeywardError> {
    if (key.meter === null) return NO_CHARGE;
    const result = this.take(key, now, cost);
    if (!isPromise(result)) return result;
    this.hold();
    return result.finally(() => this.release());
  }

  /**
   * Gives back what `charge` took (the request was refused later, e.g. by a scope guard). With an
   * asynchronous store the answer is a promise that settles once the store has the units back (or
   * storeTimeout passed): a refusal sent after it leaves the balance as it was before the request.
   */
  refund(charge: Charge): MaybePromise<void> {
    return this.giveBack(charge.takes, null);
  }

  /**
   * Takes `units` more credits from the key (a route's cost beyond the request's one credit), or
   * the 429 `credits_exhausted` (503 on a store failure). A key without credits is charged nothing.
   */
  chargeCredits(key: VerifiedKey, units: number, now: number): MaybePromise<Charge | KeywardError> {
    const meter = key.meter;
    if (meter === null || units <= 0) return NO_CHARGE;
    const plan = meter.at(now);
    const at = meter.creditsAt;
    if (at < 0) return NO_CHARGE;
    const take: PlannedCounter = { ...plan[at]!, units };
    const takes = [take];
    const counts = this.consumeTakes(takes);
    const settle = (c: number[] | KeywardError) => (c instanceof KeywardError ? c : settleCharge(takes, [take.counter], "", c, now));
    if (!isPromise(counts)) return settle(counts);
    this.hold();
    return counts.then(settle).finally(() => this.release());
  }

  /** Gives back the credits of `charge` only (e.g. the handler answered 5xx, or a route costs less than was taken). */
  refundCredits(charge: Charge): MaybePromise<void> {
    return this.giveBack(charge.takes, CREDITS_POLICY);
  }

  /** Resolves once no charge is in flight (each is bounded by storeTimeout, a late take by one more). */
  async drain(): Promise<void> {
    while (this.pending > 0)
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    this.drained = null;
  }

  private hold(): void {
    this.pending++;
  }

  private release(): void {
    if (--this.pending === 0) this.drained?.();
  }

  private take(key: VerifiedKey, now: number, cost: number): MaybePromise<Charge | KeywardError> {
    const meter = key.meter!;
    // Captured together: a concurrent charge in the next window may rebuild the meter's plan.
    let plan = meter.at(now);
    let counters = meter.counters;
    let policy = meter.policy;
    // A route's cost other than 1 prices the credits entry: taken with the rest, all or nothing.
    const priced = cost !== 1 && meter.creditsAt >= 0;
    if (priced) ({ plan, counters, policy } = meter.priced(cost));
    const counts =
      (priced && plan.length > 0) || (plan.length > 1 && this.counters.consumeAll !== undefined)
        ? this.consumeTakes(plan)
        : this.consumeInOrder(plan, 0, new Array<number>(plan.length));
    if (isPromise(counts)) return counts.then((c) => (c instanceof KeywardError ? c : settleCharge(plan, counters, policy, c, now)));
    return counts instanceof KeywardError ? counts : settleCharge(plan, counters, policy, counts, now);
  }

  /**
   * All of `takes` in one `consumeAll` when the store has it (bounded by storeTimeout; a late take
   * that succeeded is given back), else counter by counter and unit by unit, giving back on a refusal.
   */
  private consumeTakes(takes: readonly PlannedCounter[]): MaybePromise<number[] | KeywardError> {
    if (this.counters.consumeAll === undefined) return this.consumeUnits(takes, 0, 0, new Array<number>(takes.length));
    let result: MaybePromise<number[]>;
    try {
      result = this.counters.consumeAll(takes);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (!isPromise(result)) return result;
    return this.bounded(result, (counts) => {
      if (counts.length > 0 && counts.every((n) => n >= 0)) void this.giveBack(takes, null);
    });
  }

  /** The fallback of `consumeAll` for stores without it: `consume` unit by unit, all given back on a refusal. */
  private consumeUnits(takes: readonly PlannedCounter[], i: number, unit: number, counts: number[]): MaybePromise<number[] | KeywardError> {
    for (; i < takes.length; i++, unit = 0) {
      const t = takes[i]!;
      // More units than the limit never fit: refused without a store call (and without a long loop).
      if (t.units > t.limit) return this.unitTaken(takes, i, unit, counts, -1)!;
      for (; unit < t.units; unit++) {
        const n = this.consumeCounter(t.counter, t.limit, t.resetAt);
        if (isPromise(n)) {
          const at = i;
          const u = unit;
          return n.then((v) => this.unitTaken(takes, at, u, counts, v) ?? this.consumeUnits(takes, at, u + 1, counts));
        }
        const done = this.unitTaken(takes, i, unit, counts, n);
        if (done !== null) return done;
      }
    }
    return counts;
  }

  /**
   * One unit's answer in `consumeUnits`: null to go on, or (on a refusal or failure) the result once
   * every unit taken before it is back.
   */
  private unitTaken(
    takes: readonly PlannedCounter[],
    i: number,
    unit: number,
    counts: number[],
    n: number | KeywardError,
  ): MaybePromise<number[] | KeywardError> | null {
    if (!(n instanceof KeywardError) && n >= 0) {
      counts[i] = n;
      return null;
    }
    const taken: PlannedCounter[] = [];
    for (let j = 0; j <= i; j++) {
      const units = j < i ? takes[j]!.units : unit;
      if (units > 0) taken.push({ ...takes[j]!, units });
    }
    if (!(n instanceof KeywardError)) {
      counts[i] = -1;
      counts.length = i + 1;
    }
    const result = n instanceof KeywardError ? n : counts;
    return after(this.giveBack(taken, null), () => result);
  }

  /**
   * Consumes `plan[i…]` one by one; on a refusal (or failure) gives back the ones taken before.
   * A loop while the counter store answers synchronously (no closures), a promise chain otherwise.
   */
  private consumeInOrder(plan: readonly PlannedCounter[], i: number, counts: number[]): MaybePromise<number[] | KeywardError> {
    for (; i < plan.length; i++) {
      const p = plan[i]!;
      const n = this.consumeCounter(p.counter, p.limit, p.resetAt);
      if (isPromise(n)) {
        const at = i;
        return n.then((v) => this.consumed(plan, at, counts, v) ?? this.consumeInOrder(plan, at + 1, counts));
      }
      const done = this.consumed(plan, i, counts, n);
      if (done !== null) return done;
    }
    return counts;
  }

  /** Records one counter's answer: null to go on, or the final result (on a refusal or failure, once the earlier units are back). */
  private consumed(plan: readonly PlannedCounter[], i: number, counts: number[], n: number | KeywardError): MaybePromise<number[] | KeywardError> | null {
    if (!(n instanceof KeywardError) && n >= 0) {
      counts[i] = n;
      return null;
    }
    // Each earlier counter took one unit (the plan taken in order prices nothing).
    if (!(n instanceof KeywardError)) {
      counts[i] = n;
      counts.length = i + 1;
    }
    const result = n instanceof KeywardError ? n : counts;
    return after(this.giveBack(plan.slice(0, i), null), () => result);
  }

  /**
   * One counter take, bounded by storeTimeout. A take that answers after the timeout (the request
   * was already refused with 503) is still watched: if it took a unit, the unit is given back, so a
   * refused request never consumes quota, whenever the store gets round to the take.
   */
  private consumeCounter(counter: string, limit: number, resetAt: number): MaybePromise<number | KeywardError> {
    let result: MaybePromise<number>;
    try {
      result = this.counters.consume(counter, limit, resetAt);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (!isPromise(result)) return result;
    return this.bounded(result, (n) => {
      if (n >= 0) void this.refundCounter(counter);
    });
  }

  /**
   * `taken`, or a 503 once storeTimeout passes first. A late answer is handed to `giveBack` (while
   * `close()` waits for it, for one more storeTimeout at most, or while the manager is open).
   */
  private bounded<T>(taken: Promise<T>, giveBack: (value: T) => void): Promise<T | KeywardError> {
    const ms = this.timeoutMs;
    return new Promise<T | KeywardError>((resolve) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        // close() waits for the late answer, for one more storeTimeout at most, before closing the store.
        let held = true;
        this.hold();
        const unhold = () => {
          if (!held) return;
          held = false;
          clearTimeout(giveUp);
          this.release();
        };
        const giveUp = setTimeout(unhold, ms);
        taken.then((n) => {
          if (held || !this.isClosed()) giveBack(n);
          unhold();
        }, unhold);
        resolve(storeUnavailable(new Error(`store call timed out after ${ms} ms`)));
      }, ms);
      taken.then(
        (n) => {
          if (!late) {
            clearTimeout(timer);
            resolve(n);
          }
        },
        (error: unknown) => {
          if (!late) {
            clearTimeout(timer);
            resolve(storeUnavailable(error));
          }
        },
      );
    });
  }

  /**
   * Gives back `takes` (only those of `policy` when set): best effort, since a counter expires with
   * its window anyway. Synchronous stores are done on return; with an asynchronous store the answer
   * settles once every store call answered, or after storeTimeout, and `close()` waits for it.
   */
  private giveBack(takes: readonly PlannedCounter[], policy: string | null): MaybePromise<void> {
    let calls: Promise<unknown>[] | null = null;
    for (let i = 0; i < takes.length; i++) {
      const take = takes[i]!;
      if (policy !== null && take.policy !== policy) continue;
      const call = this.refundTake(take);
      if (call !== undefined) (calls ??= []).push(call);
    }
    if (calls === null) return undefined;
    this.hold();
    const ms = this.timeoutMs;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      void Promise.all(calls).then(() => {
        clearTimeout(timer);
        resolve();
      });
    }).finally(() => this.release());
  }

  /** Gives back what `take` took (one unit, or several with `refundAll`, else unit by unit): the store's pending call, if any. */
  private refundTake(take: CounterTake): Promise<unknown> | undefined {
    if (take.units === 1) return this.refundCounter(take.counter);
    try {
      if (this.counters.refundAll !== undefined) {
        const r = this.counters.refundAll([take]);
        return isPromise(r) ? r.catch(() => undefined) : undefined;
      }
      let calls: Promise<unknown>[] | null = null;
      for (let u = 0; u < take.units; u++) {
        const call = this.refundCounter(take.counter);
        if (call !== undefined) (calls ??= []).push(call);
      }
      return calls === null ? undefined : Promise.all(calls);
    } catch {
      return undefined; // best effort
    }
  }

  /** Gives one unit back to `name`: the store's pending call, if any (failures are swallowed). */
  private refundCounter(name: string): Promise<unknown> | undefined {
    try {
      const r = this.counters.refund(name);
      return isPromise(r) ? r.catch(() => undefined) : undefined;
    } catch {
      return undefined; // best effort
    }
  }
}

/**
 * Turns the counts taken (in plan order, stopping at the first -1) into the charge, or into the
 * 429 for the refused policy. Units taken before a refusal were given back, so their `remaining`
 * is shown as it stands without this request.
 */
function settleCharge(
  plan: readonly PlannedCounter[],
  counters: readonly string[],
  policy: string,
  counts: readonly number[],
  now: number,
): Charge | KeywardError {
  const limits = new Array<LimitState>(Math.min(counts.length, plan.length));
  for (let i = 0; i < limits.length; i++) {
    const p = plan[i]!;
    const n = counts[i]!;
    const resetSeconds = p.resetAt === NEVER ? 0 : secondsUntil(p.resetAt, now);
    if (n < 0) {
      limits.length = i;
      for (let j = 0; j < limits.length; j++) limits[j] = withUnitsReturned(limits[j]!, plan[j]!.units);
      limits.push({ policy: p.policy, limit: p.limit, remaining: 0, windowSeconds: p.windowSeconds, resetSeconds });
      return refusal(p, resetSeconds, limits);
    }
    limits[i] = { policy: p.policy, limit: p.limit, remaining: Math.max(0, p.limit - n), windowSeconds: p.windowSeconds, resetSeconds };
  }
  return { limits, counters, policy, takes: plan };
}

/** The 429 for the policy `p` that refused: `rate_limited`, `quota_exceeded` or `credits_exhausted`. */
function refusal(p: PlannedCounter, resetSeconds: number, limits: LimitState[]): KeywardError {
  const retry = resetSeconds > 0 ? { "Retry-After": String(resetSeconds) } : undefined;
  if (p.policy === CREDITS_POLICY)
    return new KeywardError(
      "credits_exhausted",
      resetSeconds > 0
        ? `Not enough credits left for this request (it costs ${p.units}); they refill in ${resetSeconds}s.`
        : `Not enough credits left for this request (it costs ${p.units}); they do not refill.`,
      { headers: retry, limits },
    );
  if (p.policy === "monthly")
    return new KeywardError("quota_exceeded", `Monthly quota of ${p.limit} requests used up; it resets on the 1st (UTC).`, { headers: retry, limits });
  const named = p.policy === "window" ? "Rate limit" : `Rate limit "${p.policy}"`;
  return new KeywardError("rate_limited", `${named} of ${p.limit} requests per ${p.windowSeconds}s exceeded; retry in ${resetSeconds}s.`, {
    headers: retry,
    limits,
  });
}

/** How often ended counter windows are deleted. */
const PRUNE_INTERVAL_MS = 60_000;

/** Runs `prune` about once a minute (unref'd) when the counter store can prune; else null. */
export function pruneTimer(counters: CounterStore, prune: () => Promise<void>): NodeJS.Timeout | null {
  if (!counters.prune) return null;
  return setInterval(() => void prune().catch(() => undefined), PRUNE_INTERVAL_MS).unref();
}
