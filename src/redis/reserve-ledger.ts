/**
 * The reserves of `ReservingCounters`: per counter, the units this process took from Redis and
 * has not handed out yet. Hands units out and takes refunds back from memory, stocks what Redis
 * calls reserved, and gives unused units back to Redis when they sit idle for `hold`, and on close.
 * Windows that ended are forgotten (their units expired with the counter in Redis).
 */
import type { CounterTake } from "../core/types.js";
import type { ReserveScripts } from "./reserve-scripts.js";

/** Units this process took from Redis and has not handed out yet. */
interface Reserve {
  /** The counter's value in Redis right after the reservation (others' units included). */
  count: number;
  /** Reserved units not handed out yet: callers see `count - spare`. */
  spare: number;
  /** Units of this reserve handed out and not refunded (a refund beyond them goes to Redis). */
  given: number;
  limit: number;
  resetAt: number;
  /** Whether a unit was handed out since the last hold check. */
  used: boolean;
}

/** The error a take gets once the counters are closed. */
export const closedError = () => new Error("keyward: ReservingCounters is closed");

/**
 * This process's reserved units, per counter, and their lifetime (hold timer, close).
 *
 * @example
 * const ledger = new ReserveLedger(new ReserveScripts(redis, "keyward:c:"), 2000);
 * ledger.take("r:abc:minute", 600, resetAt, true); // a count from memory, or null: go to Redis
 */
export class ReserveLedger {
  private readonly reserves = new Map<string, Reserve>();
  /** Redis calls in flight that may still stock reserves (each with its settlement): `close()` waits for them. */
  private readonly inflight = new Map<Promise<unknown>, Promise<unknown>>();
  private readonly timer: NodeJS.Timeout;
  /** Set by `close()`: no new reserve is kept, and takes that need Redis are refused. */
  closed = false;

  constructor(
    private readonly scripts: ReserveScripts,
    holdMs: number,
  ) {
    this.timer = setInterval(() => void this.releaseIdle().catch(() => undefined), holdMs);
    this.timer.unref();
  }

  /**
   * Hands out one unit of the counter's reserve when it holds one for that limit and window, and
   * returns the count the caller sees; else null (nothing taken). `markUsed` keeps the reserve
   * from the next hold check. No Redis call, no allocation.
   */
  take(counter: string, limit: number, resetAt: number, markUsed: boolean): number | null {
    const r = this.reserves.get(counter);
    if (r === undefined || r.spare <= 0 || r.limit !== limit || r.resetAt !== resetAt) return null;
    r.spare--;
    r.given++;
    if (markUsed) r.used = true;
    return r.count - r.spare;
  }

  /**
   * Takes every counter's units from the reserves when each holds enough (for that limit and
   * window), else takes nothing and returns null. No Redis call; allocates only the answer.
   */
  takeAll(takes: readonly CounterTake[]): number[] | null {
    const n = takes.length;
    for (let i = 0; i < n; i++) {
      const t = takes[i]!;
      const r = this.reserves.get(t.counter);
      if (r === undefined || r.spare < t.units || r.limit !== t.limit || r.resetAt !== t.resetAt) return null;
    }
    const counts = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const t = takes[i]!;
      const r = this.reserves.get(t.counter)!;
      if (r.spare < t.units) {
        // The same counter named twice, with too little for both: give back what was taken.
        for (let j = 0; j < i; j++) {
          const back = this.reserves.get(takes[j]!.counter)!;
          back.spare += takes[j]!.units;
          back.given -= takes[j]!.units;
        }
        return null;
      }
      r.spare -= t.units;
      r.given += t.units;
      r.used = true;
      counts[i] = r.count - r.spare;
    }
    return counts;
  }

  /**
   * Puts up to `units` back into the counter's reserve, as far as it handed them out, and returns
   * how many it took back (the rest is the caller's to give back to Redis).
   */
  refund(counter: string, units: number): number {
    const r = this.reserves.get(counter);
    const local = r === undefined ? 0 : Math.min(r.given, units);
    if (local > 0) {
      r!.given -= local;
      r!.spare += local;
    }
    return local;
  }

  /** Unused units this process holds of the counter (0 when none). */
  spareOf(counter: string): number {
    return this.reserves.get(counter)?.spare ?? 0;
  }

  /** Forgets the counter's reserve before a new reservation and returns its spare units, for that call to give back. */
  detach(counter: string): number {
    const old = this.reserves.get(counter);
    if (old === undefined) return 0;
    this.reserves.delete(counter);
    return old.spare;
  }

  /**
   * Empties the counter's reserve before a `consumeAll` call and returns its spare units, for that
   * call to give back. A reserve for the same limit and window is kept (without spare units), so
   * refunds of units it handed out stay in this process; any other is forgotten.
   */
  yieldSpare(counter: string, limit: number, resetAt: number): number {
    const r = this.reserves.get(counter);
    if (r === undefined) return 0;
    const spare = r.spare;
    if (r.limit === limit && r.resetAt === resetAt) {
      r.spare = 0;
      r.count -= spare;
    } else this.reserves.delete(counter);
    return spare;
  }

  /**
   * Adds what a Redis call reserved (`extra`) and handed out (`given`) to the counter's reserve;
   * `count` is the counter's value in Redis after that call (calls on one connection answer in
   * the order Redis ran them, so the latest answer is the latest count). Units reserved under a
   * limit or window other than the reserve's, or once closed, go back to Redis.
   */
  stock(counter: string, count: number, extra: number, given: number, limit: number, resetAt: number): void {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.limit === limit && r.resetAt === resetAt) {
      r.count = count;
      r.spare += extra;
      r.given += given;
      r.used = true;
      return;
    }
    if (extra === 0) return;
    if (r === undefined && !this.closed) {
      this.reserves.set(counter, { count, spare: extra, given, limit, resetAt, used: true });
      return;
    }
    this.track(
      this.scripts.release(counter, extra).then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  /** Counts `call` in flight until it settles: `close()` waits for it before giving units back. */
  track(call: Promise<unknown>): void {
    this.inflight.set(
      call,
      call.then(() => this.inflight.delete(call)),
    );
  }

  /** Hands every unused reserved unit of an open window back to Redis now, and forgets every reserve. */
  async release(): Promise<void> {
    const now = Date.now();
    const back: Array<[string, number]> = [];
    for (const [name, r] of this.reserves) if (r.spare > 0 && r.resetAt > now) back.push([name, r.spare]);
    this.reserves.clear();
    await Promise.all(back.map(([name, n]) => this.scripts.release(name, n)));
  }

  /** Sets `closed`, stops the hold timer, waits for the calls in flight, then hands unused units back. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.all([...this.inflight.values()]);
    await this.release();
  }

  /** Unused reserved units per counter, now. */
  held(): Map<string, number> {
    return new Map([...this.reserves].map(([name, r]) => [name, r.spare]));
  }

  /** Hands back the units of reserves nobody took from since the last check, and forgets ended windows. */
  private async releaseIdle(): Promise<void> {
    const now = Date.now();
    const back: Array<[string, number]> = [];
    for (const [name, r] of this.reserves) {
      if (r.resetAt <= now) this.reserves.delete(name);
      else if (!r.used) {
        this.reserves.delete(name);
        if (r.spare > 0) back.push([name, r.spare]);
      } else r.used = false;
    }
    await Promise.all(back.map(([name, n]) => this.scripts.release(name, n)));
  }
}
