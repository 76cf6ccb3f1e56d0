/**
 * The `consumeAll` calls of `ReservingCounters` that the reserves could not serve: one
 * `RESERVE_ALL` call per group (the calls' first counter) at a time takes each all or nothing and
 * tops the reserves up; calls of the group arriving meanwhile queue up and are served from the new
 * reserves, then by one next call for all of them.
 */
import type { CounterTake } from "../core/types.js";
import { type BatchedTake, ReserveCall } from "./reserve-batch.js";
import { closedError, type ReserveLedger } from "./reserve-ledger.js";
import type { ReserveScripts } from "./reserve-scripts.js";

/**
 * Multi-counter takes that go to Redis, queued per group behind the call in flight.
 *
 * @example
 * const queue = new ReserveBatchQueue(ledger, scripts, 1000);
 * const counts = await queue.take([{ counter: "q:abc:month", limit: 10_000, resetAt, units: 1 }]);
 */
export class ReserveBatchQueue {
  /** `consumeAll` calls waiting, by their first counter, for the call in flight for it: they share the next one. */
  private readonly batching = new Map<string, BatchedTake[]>();

  constructor(
    private readonly ledger: ReserveLedger,
    private readonly scripts: ReserveScripts,
    private readonly batch: number,
  ) {}

  /** Takes every `takes[i].units` through Redis, all or nothing: joins the call in flight for the group, or starts one. */
  take(takes: readonly CounterTake[]): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      const request: BatchedTake = { takes, resolve, reject };
      const group = takes[0]!.counter;
      const queue = this.batching.get(group);
      if (queue !== undefined) queue.push(request);
      else this.reserveAll(group, [request]);
    });
  }

  /**
   * One Redis call for `requests` (their first counter is `group`): gives back the spare units
   * this process holds of their counters (so the call can hand them out), takes each request all
   * or nothing, and reserves again.
   */
  private reserveAll(group: string, requests: readonly BatchedTake[]): void {
    const queue: BatchedTake[] = [];
    this.batching.set(group, queue);
    const call = new ReserveCall();
    for (const request of requests) if (!call.add(request)) queue.push(request);
    const back = call.names.map((name, j) => this.ledger.yieldSpare(name, call.limits[j]!, call.resets[j]!));
    const sent = this.scripts.reserveAll(call.names, call.args(this.batch, back)).then(
      (reply) => {
        const outcomes = call.settle(reply);
        for (let j = 0; j < outcomes.length; j++) {
          const o = outcomes[j]!;
          this.ledger.stock(call.names[j]!, o.count, o.extra, o.granted, call.limits[j]!, call.resets[j]!);
        }
        this.batching.delete(group);
        this.serveAll(group, queue);
      },
      (error: unknown) => {
        for (const request of call.sent) request.reject(error);
        this.batching.delete(group);
        for (const request of queue) request.reject(error);
      },
    );
    this.ledger.track(sent);
  }

  /** Serves queued `consumeAll` calls from the reserves; the others go to Redis together, in one call. */
  private serveAll(group: string, queue: readonly BatchedTake[]): void {
    let next: BatchedTake[] | null = null;
    for (const request of queue) {
      const counts = this.ledger.takeAll(request.takes);
      if (counts !== null) request.resolve(counts);
      else if (this.ledger.closed) request.reject(closedError());
      else (next ??= []).push(request);
    }
    if (next !== null) this.reserveAll(group, next);
  }
}
