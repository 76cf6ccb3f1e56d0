/**
 * The `consume` takes of `ReservingCounters` that its reserve could not serve: one `RESERVE` call
 * per counter at a time grants them and reserves spare units; takes of that counter arriving
 * meanwhile queue up and are served from what it reserved, then by one next call for all of them
 * (a burst costs two round trips, not one each).
 */
import { closedError, type ReserveLedger } from "./reserve-ledger.js";
import type { ReserveScripts } from "./reserve-scripts.js";

/** A take waiting for the reservation in flight for its counter. */
interface Waiter {
  readonly limit: number;
  readonly resetAt: number;
  readonly resolve: (n: number | PromiseLike<number>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Single-counter takes that go to Redis, queued per counter behind the call in flight.
 *
 * @example
 * const queue = new ReserveQueue(ledger, scripts, 1000);
 * const count = await queue.take("r:abc:minute", 600, resetAt); // the count, or -1 when full
 */
export class ReserveQueue {
  /** Takes waiting, by counter, for the reservation in flight: they are served from what it reserves. */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly ledger: ReserveLedger,
    private readonly scripts: ReserveScripts,
    private readonly batch: number,
  ) {}

  /** Takes one unit through Redis: joins the call in flight for the counter, or starts one. Resolves to the count, or -1. */
  take(counter: string, limit: number, resetAt: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { limit, resetAt, resolve, reject };
      const queue = this.waiting.get(counter);
      if (queue !== undefined) queue.push(w);
      else this.reserve(counter, [w]);
    });
  }

  /**
   * One Redis call for `takers` (same counter, limit and window): gives back what an outdated
   * reserve of the counter held, grants each taker a unit while the limit allows (-1 for the rest)
   * and reserves spare units.
   */
  private reserve(counter: string, takers: Waiter[]): void {
    const { limit, resetAt } = takers[0]!;
    const back = this.ledger.detach(counter);
    const queue: Waiter[] = [];
    this.waiting.set(counter, queue);
    const call = this.scripts.reserve(counter, limit, resetAt, this.batch, back, takers.length).then(
      (answer) => {
        const [current, grant, extra] = (answer as Array<number | string>).map(Number) as [number, number, number];
        for (let i = 0; i < takers.length; i++) takers[i]!.resolve(i < grant ? current + i + 1 : -1);
        this.ledger.stock(counter, current + grant + extra, extra, grant, limit, resetAt);
        this.waiting.delete(counter);
        this.serve(counter, queue, grant < takers.length ? limit : null, resetAt);
      },
      (error: unknown) => {
        for (const w of takers) w.reject(error);
        this.waiting.delete(counter);
        for (const w of queue) w.reject(error);
      },
    );
    this.ledger.track(call);
  }

  /**
   * Serves queued takes in order from the reserve. Those it cannot serve go to Redis in one call
   * (those under another limit or window, rare, one call each); when the counter was just found
   * full under `fullAt`, takes under that limit and window are refused with -1 instead.
   */
  private serve(counter: string, queue: readonly Waiter[], fullAt: number | null, resetAt: number): void {
    let next: Waiter[] | null = null;
    for (const w of queue) {
      if (fullAt !== null && w.limit === fullAt && w.resetAt === resetAt) {
        w.resolve(-1);
        continue;
      }
      const n = this.ledger.take(counter, w.limit, w.resetAt, false);
      if (n !== null) w.resolve(n);
      else if (this.ledger.closed) w.reject(closedError());
      else if (next === null || (w.limit === next[0]!.limit && w.resetAt === next[0]!.resetAt)) (next ??= []).push(w);
      else w.resolve(this.take(counter, w.limit, w.resetAt));
    }
    if (next !== null) {
      const pending = this.waiting.get(counter);
      if (pending !== undefined) pending.push(...next);
      else this.reserve(counter, next);
    }
  }
}
