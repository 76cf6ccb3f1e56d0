/**
 * The public views of stored data. A key (`ApiKey`): no hash, dates as `Date`, the status at `now`, and
 * usage still buffered in the recorder added to the stored counts, so reads never dip; and the
 * per-day usage series.
 */
import { keyStatus } from "../core/status.js";
import type { ApiKey, DailyUsage, StoredKey } from "../core/types.js";
import { DAY_MS } from "../core/duration.js";
import { creditsView } from "./credits.js";
import type { UsageRecorder } from "./usage-recorder.js";

/**
 * `record` as `get`/`list`/`create` return it.
 *
 * @example
 * const key = keyView(record, recorder, Date.now()); // { id, name, start, status: "active", … }
 */
export function keyView(record: StoredKey, recorder: UsageRecorder | null, now: number): ApiKey {
  const pending = recorder?.pending(record.id);
  const lastUsed =
    pending?.lastUsedAt != null && (record.lastUsedAt === null || pending.lastUsedAt > record.lastUsedAt) ? pending.lastUsedAt : record.lastUsedAt;
  return {
    id: record.id,
    name: record.name,
    start: record.start,
    ownerId: record.ownerId,
    kind: record.kind,
    projectId: record.projectId,
    projects: record.projects,
    mode: record.mode,
    scopes: record.scopes,
    tier: record.tier,
    rateLimit: record.rateLimit,
    // The balance needs a counter read: `get`/`list` fill it in (`withCredits`); here it is the grant's state unknown.
    credits: creditsView(record, now, null),
    metadata: record.metadata,
    status: keyStatus(record, now),
    createdAt: new Date(record.createdAt),
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt),
    disabledAt: record.disabledAt == null ? null : new Date(record.disabledAt),
    allowedIps: record.allowedIps ?? [],
    lastUsedAt: lastUsed === null ? null : new Date(lastUsed),
    requestCount: record.requestCount + (pending?.count ?? 0),
    rotatedFrom: record.rotatedFrom,
    rotatedTo: record.rotatedTo,
  };
}

/**
 * Requests per UTC day from `from` to `today` (day numbers), oldest first and zero-filled: stored
 * rows plus counts still buffered.
 *
 * @example
 * dailyUsage([[20412, 3]], undefined, 20411, 20412); // [{ date: "2025-11-21", count: 0 }, { date: "2025-11-22", count: 3 }]
 */
export function dailyUsage(
  rows: ReadonlyArray<readonly [number, number]>,
  pending: ReadonlyMap<number, number> | undefined,
  from: number,
  today: number,
): DailyUsage[] {
  const counts = new Map<number, number>(rows as Array<[number, number]>);
  if (pending) for (const [day, n] of pending) counts.set(day, (counts.get(day) ?? 0) + n);
  const out: DailyUsage[] = [];
  for (let day = from; day <= today; day++) out.push({ date: new Date(day * DAY_MS).toISOString().slice(0, 10), count: counts.get(day) ?? 0 });
  return out;
}

/**
 * The last `days` UTC days (1-90) up to `now`, oldest first and zero-filled, read through `read`
 * (stored rows by day number) plus counts still buffered.
 *
 * @example
 * const series = await usageSeries((from, to) => store.usage(id, from, to), recorder.pending(id).days, 30, Date.now());
 */
export async function usageSeries(
  read: (fromDay: number, toDay: number) => Promise<Array<[number, number]>>,
  pending: ReadonlyMap<number, number> | undefined,
  days: number,
  now: number,
): Promise<DailyUsage[]> {
  const span = Math.min(90, Math.max(1, Math.floor(days)));
  const today = Math.floor(now / DAY_MS);
  const from = today - span + 1;
  return dailyUsage(await read(from, today), pending, from, today);
}
