/**
 * Credits in the key views: the balance left now (the refill period's grant minus its counter) and
 * when it next refills. Read from the counter store for keys that have credits, in one pass per
 * page; a counter store without `count` shows `remaining: null`.
 */
import type { ApiKey, CounterStore, CreditsView, StoredCredits, StoredKey } from "../core/types.js";
import { NEVER } from "./limits.js";
import { KeyMeter } from "./meter.js";

/** The counter and grant of `credits` at `now`. */
function creditCounter(id: string, credits: StoredCredits, now: number): { counter: string; limit: number; resetAt: number } {
  return new KeyMeter(id, null, null, { credits }).at(now)[0]!;
}

/**
 * The view of `record`'s credits at `now` given the counter's count (null: unknown), or null without credits.
 *
 * @example
 * creditsView(record, Date.now(), 10); // { remaining: 990, refill: { amount: 1000, interval: "1d" }, refillsAt: Date }
 */
export function creditsView(record: Pick<StoredKey, "id" | "credits">, now: number, count: number | null): CreditsView | null {
  const credits = record.credits;
  if (credits == null) return null;
  const { limit, resetAt } = creditCounter(record.id, credits, now);
  return {
    remaining: count === null ? null : Math.max(0, limit - count),
    refill: credits.refill && { ...credits.refill },
    refillsAt: resetAt === NEVER ? null : new Date(resetAt),
  };
}

/**
 * Fills `views[i].credits` (made by `keyView`) from the counter store, for the records with credits.
 *
 * @example
 * await withCredits([view], [record], counters, Date.now());
 */
export async function withCredits<T extends ApiKey>(views: T[], records: readonly StoredKey[], counters: CounterStore, now: number): Promise<T[]> {
  for (let i = 0; i < records.length; i++) {
    const credits = records[i]!.credits;
    if (credits == null) continue;
    const { counter } = creditCounter(records[i]!.id, credits, now);
    const count = counters.count === undefined ? null : await counters.count(counter);
    views[i]!.credits = creditsView(records[i]!, now, count);
  }
  return views;
}
