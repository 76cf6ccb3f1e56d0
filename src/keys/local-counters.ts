/**
 * LocalCounters: this process's own rate-limit and quota counters, used by routes with
 * `onStoreError: "local"` while the counter store is down. They count the same windows (same
 * counter names, limits and reset times) as the store, starting from the highest count this
 * process last saw the store answer for each counter, so a key already at its limit stays refused.
 * Each process counts alone: with N processes a window admits at most N × limit while the store is down.
 */
import type { CounterStore } from "../core/types.js";

/** An in-memory counter store with a `seen` hook for counts learned from the real store. */
export class LocalCounters implements CounterStore {
  private readonly counts = new Map<string, { count: number; resetAt: number }>();

  /** Takes one unit of `counter` if below `limit`: the new count, or -1. */
  consume(counter: string, limit: number, resetAt: number): number {
    const entry = this.entry(counter, resetAt);
    if (entry.count >= limit) return -1;
    return ++entry.count;
  }

  /** Gives back one unit of `counter`. */
  refund(counter: string): void {
    const entry = this.counts.get(counter);
    if (entry !== undefined && entry.count > 0) entry.count--;
  }

  /** Raises `counter` to `count` (what the real store answered for it); never lowers it. */
  seen(counter: string, count: number, resetAt: number): void {
    const entry = this.entry(counter, resetAt);
    if (count > entry.count) entry.count = count;
  }

  /** Drops counters whose window ended at or before `now`. */
  prune(now: number): void {
    for (const [name, entry] of this.counts) if (entry.resetAt <= now) this.counts.delete(name);
  }

  /** How many counters are held. */
  get size(): number {
    return this.counts.size;
  }

  private entry(counter: string, resetAt: number): { count: number; resetAt: number } {
    let entry = this.counts.get(counter);
    if (entry === undefined) {
      entry = { count: 0, resetAt };
      this.counts.set(counter, entry);
    }
    return entry;
  }
}
