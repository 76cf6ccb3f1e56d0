/**
 * UsageRecorder: counts requests per key in memory (total, last-used time, per UTC day) and
 * flushes them to the store in one batch every interval and on close, together with the scopes each
 * key's requests were admitted for (see scope-tally.ts). A request costs a few Map operations, never
 * a store write. A failed flush is merged back and retried on the next one.
 */
import { DAY_MS } from "../core/duration.js";
import type { KeyStore, ScopeUseDelta, UsageDelta } from "../core/types.js";
import { type ScopeTally, ScopeUseBuffer } from "./scope-tally.js";

interface Pending {
  count: number;
  lastUsedAt: number;
  /** The day being counted now and its count, kept out of `days` so a request costs no Map write. */
  day: number;
  dayCount: number;
  /** Counts of other days (and of `day` up to the last fold). */
  days: Map<number, number>;
}

/** Moves the running day's count into `days`; returns `days`. */
function foldDays(p: Pending): Map<number, number> {
  if (p.dayCount > 0) {
    p.days.set(p.day, (p.days.get(p.day) ?? 0) + p.dayCount);
    p.dayCount = 0;
  }
  return p.days;
}

/** Buffered usage for keys, flushed to a store. */
export class UsageRecorder {
  private buffer = new Map<string, Pending>();
  /** The batch being written now, still counted by `pending()` so reads never dip. */
  private inFlight: Map<string, Pending> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly scopes = new ScopeUseBuffer();

  constructor(
    private readonly store: Pick<KeyStore, "recordUsage">,
    intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    if (intervalMs > 0) {
      this.timer = setInterval(() => void this.flush().catch(() => undefined), intervalMs);
      this.timer.unref();
    }
  }

  /** Counts one request for `id` at `now`. */
  record(id: string, now: number): void {
    const day = Math.floor(now / DAY_MS);
    let entry = this.buffer.get(id);
    if (entry === undefined) {
      entry = { count: 0, lastUsedAt: now, day, dayCount: 0, days: new Map() };
      this.buffer.set(id, entry);
    }
    entry.count++;
    if (now > entry.lastUsedAt) entry.lastUsedAt = now;
    if (day !== entry.day) {
      foldDays(entry);
      entry.day = day;
    }
    entry.dayCount++;
  }

  /** Counts one use of `scope` by the tally's key at `now` (a guard or a scope check admitted a request for it). */
  recordScope(tally: ScopeTally, scope: string, now: number): void {
    this.scopes.record(tally, scope, now);
  }

  /** Unflushed scope uses of `id`, by scope and day. */
  pendingScopes(id: string): ScopeUseDelta[] {
    return this.scopes.pending(id);
  }

  /** Unflushed usage of `id`: requests, latest use and per-day counts. */
  pending(id: string): { count: number; lastUsedAt: number | null; days: Map<number, number> } {
    const out = { count: 0, lastUsedAt: null as number | null, days: new Map<number, number>() };
    for (const source of [this.inFlight, this.buffer]) {
      const entry = source?.get(id);
      if (!entry) continue;
      out.count += entry.count;
      if (out.lastUsedAt === null || entry.lastUsedAt > out.lastUsedAt) out.lastUsedAt = entry.lastUsedAt;
      for (const [day, n] of foldDays(entry)) out.days.set(day, (out.days.get(day) ?? 0) + n);
    }
    return out;
  }

  /** Writes everything buffered so far. Concurrent calls share one write, then run again if needed. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.buffer.size === 0 && this.scopes.empty) return;
    const batch = this.buffer;
    this.buffer = new Map();
    this.inFlight = batch;
    const scoped = this.scopes.take();
    const deltas: UsageDelta[] = [];
    for (const [id, p] of batch) {
      const scopes = scoped.get(id);
      deltas.push(
        scopes
          ? { id, count: p.count, lastUsedAt: p.lastUsedAt, days: [...foldDays(p)], scopes }
          : { id, count: p.count, lastUsedAt: p.lastUsedAt, days: [...foldDays(p)] },
      );
    }
    // Scope uses of a key whose requests were flushed already (a guard ran after the flush).
    for (const [id, scopes] of scoped) {
      if (!batch.has(id)) deltas.push({ id, count: 0, lastUsedAt: Math.max(...scopes.map((s) => s.lastUsedAt)), days: [], scopes });
    }
    // Assigned before the write starts, and cleared only by this write's own settlement, so a store
    // that throws synchronously cannot leave a settled promise behind that later flushes wait on.
    const write = Promise.resolve()
      .then(() => this.store.recordUsage(deltas))
      .then(
        () => {
          this.inFlight = null;
          this.scopes.settle(false);
        },
        (error: unknown) => {
          this.inFlight = null;
          this.scopes.settle(true);
          this.mergeBack(batch);
          this.onError(error);
          throw error;
        },
      );
    const settled = write.finally(() => {
      if (this.flushing === settled) this.flushing = null;
    });
    this.flushing = settled;
    return settled;
  }

  /** Stops the timer and flushes what is left (retrying a few times on failure). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.flush();
        if (this.buffer.size === 0 && this.scopes.empty) return;
      } catch (error) {
        lastError = error;
      }
    }
    if (this.buffer.size > 0 || !this.scopes.empty) throw lastError ?? new Error("usage could not be flushed");
  }

  private mergeBack(batch: Map<string, Pending>): void {
    for (const [id, p] of batch) {
      const current = this.buffer.get(id);
      if (!current) {
        this.buffer.set(id, p);
        continue;
      }
      current.count += p.count;
      if (p.lastUsedAt > current.lastUsedAt) current.lastUsedAt = p.lastUsedAt;
      const into = foldDays(current);
      for (const [day, n] of foldDays(p)) into.set(day, (into.get(day) ?? 0) + n);
    }
  }
}
