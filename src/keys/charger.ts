/**
 * Charger: takes a request's units from its key's limits (rate-limit window, then monthly quota),
 * each take one atomic counter-store operation, or refuses with 429. A refusal, a failure or a
 * later refund gives back what was taken, so a refused request costs nothing; a take that answers
 * after `storeTimeout` (the request already got its 503) is given back when it lands. Keeps count
 * of charges still in flight, so `close()` can wait for them.
 */
import { KeywardError } from "../core/errors.js";
import { storeUnavailable } from "../core/refusals.js";
import type { CounterStore, MaybePromise } from "../core/types.js";
import type { VerifiedKey } from "./authenticator.js";
import { secondsUntil, withUnitReturned, type LimitState } from "./limits.js";
import type { PlannedCounter } from "./meter.js";
import { isPromise } from "./store-calls.js";

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
}

/** The charge of a key without limits. */
export const NO_CHARGE: Charge = Object.freeze({ limits: Object.freeze([]), counters: Object.freeze([]), policy: "" });

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

  /** Takes one unit from each of the key's limits at `now`, or the 429 (or 503) refusal. */
  charge(key: VerifiedKey, now: number): MaybePromise<Charge | KeywardError> {
    if (key.meter === null) return NO_CHARGE;
    const result = this.take(key, now);
    if (!isPromise(result)) return result;
    this.hold();
    return result.finally(() => this.release());
  }

  /** Gives back what `charge` took (the request was refused later, e.g. by a scope guard). */
  refund(charge: Charge): void {
    for (const name of charge.counters) this.refundCounter(name);
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

  private take(key: VerifiedKey, now: number): MaybePromise<Charge | KeywardError> {
    const meter = key.meter!;
    // Captured together: a concurrent charge in the next window may rebuild the meter's plan.
    const plan = meter.at(now);
    const counters = meter.counters;
    const policy = meter.policy;
    const counts = this.consumeInOrder(plan, 0, new Array<number>(plan.length));
    if (isPromise(counts)) return counts.then((c) => (c instanceof KeywardError ? c : settleCharge(plan, counters, policy, c, now)));
    return counts instanceof KeywardError ? counts : settleCharge(plan, counters, policy, counts, now);
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

  /** Records one counter's answer: the final result on a refusal or failure, null to go on. */
  private consumed(plan: readonly PlannedCounter[], i: number, counts: number[], n: number | KeywardError): number[] | KeywardError | null {
    if (n instanceof KeywardError || n < 0) {
      for (let j = 0; j < i; j++) this.refundCounter(plan[j]!.counter);
      if (n instanceof KeywardError) return n;
    }
    counts[i] = n;
    if (n >= 0) return null;
    counts.length = i + 1;
    return counts;
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
    const taken = result;
    const ms = this.timeoutMs;
    return new Promise<number | KeywardError>((resolve) => {
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
          if (n >= 0 && (held || !this.isClosed())) this.refundCounter(counter);
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

  /** Gives one unit back to `name` (best effort: the counter expires with its window anyway). */
  private refundCounter(name: string): void {
    try {
      const r = this.counters.refund(name);
      if (isPromise(r)) r.catch(() => undefined);
    } catch {
      /* best effort */
    }
  }
}

/**
 * Turns the counts `consume` returned (in plan order, stopping at the first -1) into the charge, or
 * into the 429 for the refused policy. Units taken before a refusal were given back, so their
 * `remaining` is shown as it stands without this request.
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
    const resetSeconds = secondsUntil(p.resetAt, now);
    if (n < 0) {
      limits.length = i;
      for (let j = 0; j < limits.length; j++) limits[j] = withUnitReturned(limits[j]!);
      limits.push({ policy: p.policy, limit: p.limit, remaining: 0, windowSeconds: p.windowSeconds, resetSeconds });
      const message =
        p.policy === "window"
          ? `Rate limit of ${p.limit} requests per ${p.windowSeconds}s exceeded; retry in ${resetSeconds}s.`
          : `Monthly quota of ${p.limit} requests used up; it resets on the 1st (UTC).`;
      return new KeywardError(p.policy === "window" ? "rate_limited" : "quota_exceeded", message, { headers: { "Retry-After": String(resetSeconds) }, limits });
    }
    limits[i] = { policy: p.policy, limit: p.limit, remaining: Math.max(0, p.limit - n), windowSeconds: p.windowSeconds, resetSeconds };
  }
  return { limits, counters, policy };
}

/** How often ended counter windows are deleted. */
const PRUNE_INTERVAL_MS = 60_000;

/** Runs `prune` about once a minute (unref'd) when the counter store can prune; else null. */
export function pruneTimer(counters: CounterStore, prune: () => Promise<void>): NodeJS.Timeout | null {
  if (!counters.prune) return null;
  return setInterval(() => void prune().catch(() => undefined), PRUNE_INTERVAL_MS).unref();
}
