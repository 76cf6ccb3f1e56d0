/**
 * Counters in this process's memory: the counter half of `MemoryStore`, and the base of the
 * per-process fallback counters (`keys/local-counters.ts`). One counter per name, each with the
 * end of its window; `prune` drops the ended ones. Every method is synchronous.
 */
import type { CounterTake } from "./types.js";

/** One counter: its count and when its window ends (ms since the epoch). */
export interface CounterEntry {
  count: number;
  readonly resetAt: number;
}

/**
 * The `consume` / `refund` / `consumeAll` / `refundAll` / `count` / `prune` methods of a counter
 * store, held in a Map.
 *
 * @example
 * const counters = new MemoryCounters();
 * counters.consume("q:key_1:2026-12", 1000, Date.UTC(2027, 0, 1)); // 1
 */
export class MemoryCounters {
  protected readonly counts = new Map<string, CounterEntry>();

  /** Takes one unit of `counter` if below `limit`: the new count, or -1. */
  consume(counter: string, limit: number, resetAt: number): number {
    const entry = this.counts.get(counter);
    if (entry === undefined) {
      if (limit < 1) return -1;
      this.counts.set(counter, { count: 1, resetAt });
      return 1;
    }
    if (entry.count >= limit) return -1;
    return ++entry.count;
  }

  /** Gives back one unit of `counter` (never below zero). */
  refund(counter: string): void {
    const entry = this.counts.get(counter);
    if (entry !== undefined && entry.count > 0) entry.count--;
  }

  /** Takes every `takes[i].units` when all stay within their limits, else nothing (see `CounterStore.consumeAll`). */
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

  /** The counter's count now (0 when absent). */
  count(counter: string): number {
    return this.counts.get(counter)?.count ?? 0;
  }

  /** Drops counters whose window ended at or before `now`. */
  prune(now: number): void {
    for (const [name, entry] of this.counts) if (entry.resetAt <= now) this.counts.delete(name);
  }

  /** How many counters are held. */
  get size(): number {
    return this.counts.size;
  }

  /** The entry of `counter`, created at 0 for the window ending at `resetAt` when absent. */
  protected entry(counter: string, resetAt: number): CounterEntry {
    let entry = this.counts.get(counter);
    if (entry === undefined) {
      entry = { count: 0, resetAt };
      this.counts.set(counter, entry);
    }
    return entry;
  }
}
