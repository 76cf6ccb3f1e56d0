/**
 * LocalCounters: this process's own rate-limit and quota counters, used by routes with
 * `onStoreError: "local"` while the counter store is down. They count the same windows (same
 * counter names, limits and reset times) as the store, starting from the highest count this
 * process last saw the store answer for each counter, so a key already at its limit stays refused.
 * Each process counts alone: with N processes a window admits at most N × limit while the store is down.
 */
import type { CounterStore, CounterTake } from "../core/types.js";

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

  /** Takes every `takes[i].units` when all stay within their limits, else nothing (see {@link CounterStore.consumeAll}). */
  consumeAll(takes: readonly CounterTake[]): number[] {
    const counts = new Array<number>(takes.length);
    let refused = false;
    for (let i = 0; i < takes.length; i++) {
      const t = takes[i]!;
      const n = (this.counts.get(t.counter)?.count ?? 0) + t.units;
      counts[i] = n > t.limit ? -1 : n;
      if (n > t.limit) refused = true;
    }
    if (refused) return counts;
    for (let i = 0; i < takes.length; i++) this.entry(takes[i]!.counter, takes[i]!.resetAt).count = counts[i]!;
    return counts;
  }

  /** Gives back `takes[i].units` of each counter (never below zero). */
  refundAll(takes: readonly CounterTake[]): void {
    for (const t of takes) {
      const entry = this.counts.get(t.counter);
      if (entry !== undefined) entry.count = Math.max(0, entry.count - t.units);
    }
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
