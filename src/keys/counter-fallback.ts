/**
 * CounterFallback: what a route does when the COUNTER store (rate limits, quotas) fails or times
 * out, by its `onStoreError` mode. `"closed"` refuses with 503 `store_unavailable` (the default);
 * `"open"` admits without counting; `"local"` counts in this process's memory, over the same
 * windows (`LocalCounters`). After a failure, open and local routes skip the store for a second,
 * so an outage does not cost each of their requests a `storeTimeout`; then they try it again.
 * Every failure is reported as a `counters.unavailable` event, at most one per mode every ten
 * seconds (the others counted in the next one's `suppressed`). A key LOOKUP failure never comes
 * here: without the key there is nothing to admit, so it always fails closed.
 */
import { KeywardError } from "../core/errors.js";
import type { MaybePromise } from "../core/types.js";
import type { VerifiedKey } from "./authenticator.js";
import { type Charge, Charger, NO_CHARGE } from "./charger.js";
import type { EventSink } from "./event-sink.js";
import { LocalCounters } from "./local-counters.js";
import { isPromise } from "./store-calls.js";

/**
 * What a route does when the counter store fails or times out: `"closed"` refuses (503
 * `store_unavailable`), `"open"` admits without counting, `"local"` counts in this process.
 *
 * @example
 * app.use("/v1/search", apiKeyAuth({ keys, onStoreError: "local" })); // keep serving, limits per process
 */
export type StoreErrorMode = "closed" | "open" | "local";

/** A route's fallback as the pipeline holds it: null for `"closed"` (one null check per request). */
export type RouteFallback = "open" | "local" | null;

/** The pipeline's field for `mode`. */
export const routeFallback = (mode: StoreErrorMode): RouteFallback => (mode === "closed" ? null : mode);

/** After a counter-store failure, open and local routes skip the store for this long. */
const RETRY_MS = 1000;
/** At most one `counters.unavailable` event per mode in this long. */
const EVENT_INTERVAL_MS = 10_000;
/** How often local counters of ended windows are dropped (by the manager's clock). */
const SWEEP_MS = 60_000;

/** The charge step's view of a charger (the pipeline may hand in a timed one). */
export type ChargeStep = Pick<Charger, "charge" | "refund">;

/** One KeyManager's counter-store fallback. */
export class CounterFallback {
  /** Until when (the manager's clock) open and local routes skip the counter store. */
  private skipUntil = -Infinity;
  private readonly local = new LocalCounters();
  private localCharger: Charger | null = null;
  private readonly localCharges = new WeakSet<Charge>();
  private nextSweep = -Infinity;
  private readonly nextEvent: Record<StoreErrorMode, number> = { closed: -Infinity, open: -Infinity, local: -Infinity };
  private readonly suppressed: Record<StoreErrorMode, number> = { closed: 0, open: 0, local: 0 };
  /** Told of every counter-store failure, unsampled (set by `keyward/otel`); null otherwise. */
  onUnavailable: ((mode: StoreErrorMode, keyId: string) => void) | null = null;

  /**
   * @param defaultMode The KeyManager's `onStoreError`, for routes that name none.
   */
  constructor(
    readonly defaultMode: StoreErrorMode,
    private readonly events: EventSink,
    private readonly clock: () => number,
    private readonly isClosed: () => boolean,
    private readonly timeoutMs: number,
  ) {}

  /** Charges `key` (`cost` credits) on an open or local route: the store's answer, or the fallback's when the store fails. */
  charge(charger: ChargeStep, key: VerifiedKey, now: number, mode: "open" | "local", cost = 1): MaybePromise<Charge | KeywardError> {
    if (key.meter === null) return NO_CHARGE;
    if (now < this.skipUntil) return this.degraded(key, now, mode, cost);
    const result = charger.charge(key, now, cost);
    if (isPromise(result)) return result.then((r) => this.answered(r, key, now, mode, cost));
    return this.answered(result, key, now, mode, cost);
  }

  /** Gives back a charge the local counters took; false when it is not theirs. */
  refund(charge: Charge): boolean {
    if (!this.localCharges.has(charge)) return false;
    void this.localCharger!.refund(charge);
    return true;
  }

  /** Reports one counter-store failure on a route in `mode` (the event is throttled, the hook is not). */
  report(mode: StoreErrorMode, keyId: string): void {
    this.onUnavailable?.(mode, keyId);
    if (!this.events.active) return;
    const now = this.clock();
    if (now < this.nextEvent[mode]) {
      this.suppressed[mode]++;
      return;
    }
    this.nextEvent[mode] = now + EVENT_INTERVAL_MS;
    const suppressed = this.suppressed[mode];
    this.suppressed[mode] = 0;
    this.events.emit({ type: "counters.unavailable", at: new Date(now), mode, keyId, suppressed });
  }

  private answered(result: Charge | KeywardError, key: VerifiedKey, now: number, mode: "open" | "local", cost: number): MaybePromise<Charge | KeywardError> {
    if (result instanceof KeywardError) {
      if (result.code !== "store_unavailable" || this.isClosed()) {
        if (mode === "local") this.seenRefusal(result, key);
        return result;
      }
      this.skipUntil = this.clock() + RETRY_MS;
      return this.degraded(key, now, mode, cost);
    }
    if (mode === "local") this.seen(result, now);
    return result;
  }

  private degraded(key: VerifiedKey, now: number, mode: "open" | "local", cost: number): MaybePromise<Charge | KeywardError> {
    this.report(mode, key.id);
    if (mode === "open") return NO_CHARGE;
    if (now >= this.nextSweep) {
      this.nextSweep = now + SWEEP_MS;
      this.local.prune(now);
    }
    this.localCharger ??= new Charger(this.local, this.timeoutMs, this.isClosed);
    const charge = this.localCharger.charge(key, now, cost);
    if (!isPromise(charge) && !(charge instanceof KeywardError) && charge.counters.length > 0) this.localCharges.add(charge);
    return charge;
  }

  /** Remembers the counts the store answered, so the local counters start from them. */
  private seen(charge: Charge, now: number): void {
    const { limits, counters } = charge;
    for (let i = 0; i < limits.length && i < counters.length; i++) {
      const l = limits[i]!;
      this.local.seen(counters[i]!, l.limit - l.remaining, now + l.resetSeconds * 1000);
    }
  }

  /** A 429 from the store: the refused counter is full. */
  private seenRefusal(error: KeywardError, key: VerifiedKey): void {
    const limits = error.limits;
    const counters = key.meter?.counters;
    if (limits === undefined || counters === undefined || limits.length === 0 || limits.length > counters.length) return;
    const i = limits.length - 1;
    const l = limits[i]!;
    this.local.seen(counters[i]!, l.limit, this.clock() + l.resetSeconds * 1000);
  }
}
