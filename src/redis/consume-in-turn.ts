/**
 * `consumeAll` where one script cannot reach all of a request's counters (a Redis Cluster puts
 * them in different slots): each counter is taken alone, in order, and a refusal gives back the
 * ones taken before it. Shared by both Redis counter stores.
 */
import type { CounterTake, MaybePromise } from "../core/types.js";

/** The two calls `consumeInTurn` makes, on one counter at a time. */
export interface TakesOneByOne {
  consumeAll(takes: readonly CounterTake[]): MaybePromise<number[]>;
  refundAll(takes: readonly CounterTake[]): MaybePromise<void>;
}

/**
 * Takes `takes` one counter at a time through `counters`; answers the counts so far, the last
 * one negative when a counter refused (the earlier ones are then given back).
 *
 * @example
 * const counts = await consumeInTurn(this, takes); // on a cluster
 */
export async function consumeInTurn(counters: TakesOneByOne, takes: readonly CounterTake[]): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 0; i < takes.length; i++) {
    const n = (await counters.consumeAll([takes[i]!]))[0]!;
    counts.push(n);
    if (n < 0) {
      await counters.refundAll(takes.slice(0, i));
      return counts;
    }
  }
  return counts;
}
