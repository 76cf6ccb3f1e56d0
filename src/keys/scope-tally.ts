/**
 * Scope-use counting between flushes. Each cached key carries a {@link ScopeTally}: one running
 * counter per scope it exercised, made on the scope's first use and reused after every flush, so a
 * key that keeps using the same scopes costs a Map lookup and two increments per request, no
 * allocation and no store write. {@link ScopeUseBuffer} keeps the tallies touched since the last
 * flush and turns them into {@link ScopeUseDelta} rows for the usage batch.
 */
import { DAY_MS } from "../core/duration.js";
import type { ScopeUseDelta } from "../core/types.js";

/** One scope's count for the UTC day being counted, with earlier days held until the flush. */
interface Running {
  count: number;
  day: number;
  lastUsedAt: number;
  /** Days finished since the last flush (rare: only across midnight UTC). */
  earlier: ScopeUseDelta[] | null;
}

/**
 * The scope uses of one cached key since the last flush.
 *
 * @example
 * const tally = new ScopeTally("key_1");
 * tally.hit("nodes:read", Date.now());
 * const rows: ScopeUseDelta[] = [];
 * tally.drain(rows); // [{ scope: "nodes:read", day, count: 1, lastUsedAt }]
 */
export class ScopeTally {
  /** Whether the tally is on a buffer's list for the next flush. */
  queued = false;
  private readonly running = new Map<string, Running>();

  /** @param keyId The key whose uses this counts. */
  constructor(readonly keyId: string) {}

  /** Counts one use of `scope` at `now`. */
  hit(scope: string, now: number): void {
    const day = Math.floor(now / DAY_MS);
    const r = this.running.get(scope);
    if (r === undefined) {
      this.running.set(scope, { count: 1, day, lastUsedAt: now, earlier: null });
      return;
    }
    if (day !== r.day) {
      if (r.count > 0) (r.earlier ??= []).push({ scope, day: r.day, count: r.count, lastUsedAt: r.lastUsedAt });
      r.count = 0;
      r.day = day;
    }
    if (r.count === 0 || now > r.lastUsedAt) r.lastUsedAt = now;
    r.count++;
  }

  /** Appends the uses counted so far to `into` and, with `reset`, starts counting from zero again. */
  drain(into: ScopeUseDelta[], reset = true): void {
    for (const [scope, r] of this.running) {
      if (r.earlier !== null) {
        for (const row of r.earlier) into.push(reset ? row : { ...row });
        if (reset) r.earlier = null;
      }
      if (r.count > 0) into.push({ scope, day: r.day, count: r.count, lastUsedAt: r.lastUsedAt });
      if (reset) r.count = 0;
    }
    if (reset) this.queued = false;
  }
}

/** The tallies touched since the last flush, the batch being written, and rows kept for a retry. */
export class ScopeUseBuffer {
  private tallies: ScopeTally[] = [];
  private inFlight: Map<string, ScopeUseDelta[]> | null = null;
  private carried = new Map<string, ScopeUseDelta[]>();

  /** Counts one use of `scope` by the tally's key at `now`. */
  record(tally: ScopeTally, scope: string, now: number): void {
    tally.hit(scope, now);
    if (!tally.queued) {
      tally.queued = true;
      this.tallies.push(tally);
    }
  }

  /** Whether nothing waits to be written. */
  get empty(): boolean {
    return this.tallies.length === 0 && this.carried.size === 0;
  }

  /** Takes everything counted (and carried from a failed write) as the batch now being written, by key id. */
  take(): Map<string, ScopeUseDelta[]> {
    const batch = this.carried;
    this.carried = new Map();
    for (const tally of this.tallies) tally.drain(rowsOf(batch, tally.keyId));
    this.tallies = [];
    this.inFlight = batch;
    return batch;
  }

  /** The batch from {@link ScopeUseBuffer.take} was written (or given back with `failed`, to be retried). */
  settle(failed: boolean): void {
    const batch = this.inFlight;
    this.inFlight = null;
    if (!failed || batch === null) return;
    for (const [id, rows] of batch) rowsOf(this.carried, id).push(...rows);
  }

  /** Unwritten uses by `id`: counted, carried for a retry, or being written now. */
  pending(id: string): ScopeUseDelta[] {
    const out: ScopeUseDelta[] = [...(this.inFlight?.get(id) ?? []), ...(this.carried.get(id) ?? [])];
    for (const tally of this.tallies) if (tally.keyId === id) tally.drain(out, false);
    return out;
  }
}

function rowsOf(map: Map<string, ScopeUseDelta[]>, id: string): ScopeUseDelta[] {
  let rows = map.get(id);
  if (rows === undefined) map.set(id, (rows = []));
  return rows;
}
