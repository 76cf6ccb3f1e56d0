/**
 * Sweeper: the lifecycle sweep behind `keys.sweep()` and `sweepInterval`. Pages through the active
 * keys (never all at once), and for each emits `key.expiring`, `quota.threshold` and `key.idle`
 * when a threshold is crossed, each only after winning the store's `claimNotice` for it, so every
 * notice goes out once across restarts and instances sharing the store. With `idleExpiry` it
 * expires keys unused that long, through the ordinary update path, always one sweep after their
 * last `key.expiring` warning. Off the request path: verification never calls it.
 */
import { DAY_MS } from "../core/duration.js";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import type { StoredKey } from "../core/types.js";
import { tierFor } from "./authenticator.js";
import type { EventSink } from "./event-sink.js";
import type { LifecycleEvent } from "./events.js";
import type { KeyWrites } from "./key-writes.js";
import { utcMonth } from "./limits.js";
import type { ManagerConfig } from "./options.js";
import type { StoreCalls } from "./store-calls.js";
import type { UsageRecorder } from "./usage-recorder.js";

/** Keys read from the store per page. */
const PAGE = 200;

/**
 * What one `keys.sweep()` did.
 *
 * @example
 * const { notices, expired, scanned } = await keys.sweep();
 * for (const n of notices) console.log(n.type, n.keyId); // "key.expiring key_…", "quota.threshold key_…"
 */
export interface SweepReport {
  /** The notices this sweep emitted (each is emitted once, by the one sweep that claimed it in the store). */
  notices: LifecycleEvent[];
  /** Ids of the keys this sweep expired for being unused (`idleExpiry`). */
  expired: string[];
  /** Active keys looked at. */
  scanned: number;
}

/** One KeyManager's lifecycle sweep. */
export class Sweeper {
  private running: Promise<SweepReport> | null = null;
  private readonly timer: NodeJS.Timeout | null;

  constructor(
    private readonly config: ManagerConfig,
    private readonly store: StoreCalls,
    private readonly writes: KeyWrites,
    private readonly events: EventSink,
    private readonly recorder: UsageRecorder | null,
  ) {
    const ms = config.sweep.intervalMs;
    const failed = (error: unknown) => {
      // A sweep cut short by close() is no failure worth reporting.
      if (!store.closed) events.emit({ type: "sweep.failed", at: new Date(config.clock()), message: error instanceof Error ? error.message : String(error) });
    };
    this.timer = ms === null ? null : setInterval(() => void this.sweep().catch(failed), ms).unref();
  }

  /** Runs a sweep, or joins the one already running. */
  sweep(): Promise<SweepReport> {
    if (this.running === null)
      this.running = this.run().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** Stops the timer and waits for a running sweep (it stops at the next key once the store is closed). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<SweepReport> {
    await this.store.init();
    if (!this.config.store.claimNotice)
      throw new KeywardConfigError("KeyManager.store", "the store has no claimNotice(), which keys.sweep() needs to send each notice once");
    await this.recorder?.flush();
    const now = this.config.clock();
    const report: SweepReport = { notices: [], expired: [], scanned: 0 };
    let before: string | undefined;
    for (;;) {
      const filter = { status: "active" as const, now, limit: PAGE, ...(before === undefined ? {} : { before }) };
      const page = await this.store.call(() => this.config.store.list(filter));
      for (const record of page) {
        if (this.store.closed) throw new KeywardError("store_unavailable", "This KeyManager has been closed.");
        await this.sweepKey(record, now, report);
        report.scanned++;
      }
      if (page.length < PAGE) return report;
      before = page[page.length - 1]!.id;
    }
  }

  private async sweepKey(record: StoredKey, now: number, report: SweepReport): Promise<void> {
    // A key in its rotation overlap is on its way out by choice: no expiry or idle notices for it.
    if (record.rotatedTo === null) {
      const pendingUse = this.recorder?.pending(record.id).lastUsedAt ?? null;
      const lastUsedAt = pendingUse !== null && (record.lastUsedAt === null || pendingUse > record.lastUsedAt) ? pendingUse : record.lastUsedAt;
      const idleSince = lastUsedAt ?? record.createdAt;
      if (record.expiresAt !== null) await this.expiring(record, record.expiresAt, "expiry", now, report);
      const { idleAfter, idleExpiryMs } = this.config.sweep;
      const deadline = idleExpiryMs === null ? null : idleSince + idleExpiryMs;
      if (deadline !== null && (record.expiresAt === null || deadline < record.expiresAt)) {
        const warnedEarlier = await this.expiring(record, deadline, "idle", now, report);
        // The claim makes one instance the one that expires it (one update, one `key.updated`).
        if (now >= deadline && warnedEarlier && (await this.claim(record.id, "key.idle_expiry", "expire", String(deadline))))
          await this.expireIdle(record.id, idleSince, now, report);
      }
      if (idleAfter !== null && now - idleSince >= idleAfter.ms && (await this.claim(record.id, "key.idle", idleAfter.label, String(idleSince)))) {
        const last = lastUsedAt === null ? null : new Date(lastUsedAt);
        this.notify(report, { type: "key.idle", ...basics(record, now), lastUsedAt: last, idleSince: new Date(idleSince), threshold: idleAfter.label });
      }
    }
    await this.quota(record, now, report);
  }

  /**
   * `key.expiring` for the tightest threshold crossed before `deadline` (the wider ones were sent
   * on earlier sweeps, or are moot now). Answers whether that warning had been sent before this sweep.
   */
  private async expiring(record: StoredKey, deadline: number, reason: "expiry" | "idle", now: number, report: SweepReport): Promise<boolean> {
    let crossed: { ms: number; label: string } | null = null;
    for (const t of this.config.sweep.expiring) if (deadline - now <= t.ms) crossed = t; // longest first: the last match is the tightest
    if (crossed === null) return false;
    if (!(await this.claim(record.id, "key.expiring", crossed.label, reason === "idle" ? `idle:${deadline}` : String(deadline)))) return true;
    this.notify(report, { type: "key.expiring", ...basics(record, now), expiresAt: new Date(deadline), threshold: crossed.label, reason });
    return false;
  }

  /** Sets an idle key's expiry to now through the update path (invalidation, `key.updated`), unless it was used meanwhile. */
  private async expireIdle(id: string, idleSince: number, now: number, report: SweepReport): Promise<void> {
    let expired = false;
    await this.writes.change(id, "key.updated", (existing) => {
      const pendingUse = this.recorder?.pending(id).lastUsedAt ?? null;
      const since = Math.max(existing.lastUsedAt ?? existing.createdAt, pendingUse ?? 0);
      // Used meanwhile, or already revoked or expired (e.g. by another instance's sweep): nothing to do.
      expired = since === idleSince && existing.revokedAt === null && (existing.expiresAt === null || existing.expiresAt > now);
      return expired ? { expiresAt: now } : null;
    });
    if (expired) report.expired.push(id);
  }

  /** `quota.threshold` for the highest percentage of the key's monthly quota used this UTC month. */
  private async quota(record: StoredKey, now: number, report: SweepReport): Promise<void> {
    const percents = this.config.sweep.quotaPercents;
    if (percents.length === 0 || this.config.tiers.size === 0) return;
    const limit = (await this.store.call(() => tierFor(this.config, record)))?.monthlyRequests ?? null;
    if (limit === null) return;
    const month = utcMonth(now);
    const from = Math.floor(month.start / DAY_MS);
    const today = Math.floor(now / DAY_MS);
    let used = 0;
    for (const [, n] of await this.store.call(() => this.config.store.usage(record.id, from, today))) used += n;
    for (const [day, n] of this.recorder?.pending(record.id).days ?? []) if (day >= from && day <= today) used += n;
    let crossed: number | null = null;
    for (const p of percents) if (used * 100 >= p * limit) crossed = p;
    if (crossed === null || !(await this.claim(record.id, "quota.threshold", String(crossed), month.label))) return;
    this.notify(report, { type: "quota.threshold", ...basics(record, now), threshold: crossed, used, limit, month: month.label });
  }

  private claim(keyId: string, kind: string, threshold: string, period: string): Promise<boolean> {
    return this.store.call(() => this.config.store.claimNotice!(keyId, kind, threshold, period));
  }

  private notify(report: SweepReport, event: LifecycleEvent): void {
    report.notices.push(event);
    this.events.emit(event);
  }
}

/** The fields every lifecycle notice carries. */
function basics(record: StoredKey, now: number) {
  return { at: new Date(now), keyId: record.id, ownerId: record.ownerId, name: record.name, mode: record.mode };
}
