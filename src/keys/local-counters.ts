/**
 * LocalCounters: this process's own rate-limit and quota counters, used by routes with
 * `onStoreError: "local"` while the counter store is down. They count the same windows (same
 * counter names, limits and reset times) as the store, starting from the highest count this
 * process last saw the store answer for each counter, so a key already at its limit stays refused.
 * Each process counts alone: with N processes a window admits at most N × limit while the store is down.
 */
import { MemoryCounters } from "../core/memory-counters.js";
import type { CounterStore } from "../core/types.js";

/**
 * In-memory counters (consume, refund, consumeAll, refundAll, count, prune) with a `seen` hook for
 * counts learned from the real store.
 *
 * @example
 * const local = new LocalCounters();
 * local.seen("q:key_1:2026-12", 990, resetAt); // the store last answered 990: local counting starts there
 */
export class LocalCounters extends MemoryCounters implements CounterStore {
  /** Raises `counter` to `count` (what the real store answered for it); never lowers it. */
  seen(counter: string, count: number, resetAt: number): void {
    const entry = this.entry(counter, resetAt);
    if (count > entry.count) entry.count = count;
  }
}
