/**
 * ReservingCounters: rate-limit and quota counters in Redis, taken in batches. One script call
 * takes one unit plus up to 1% of what is left of the limit (at most `batch`) and the process hands
 * the rest out from memory, as the SQLite store does; a hot key then costs a Redis round trip on a
 * small fraction of its requests. A limit is never exceeded across processes: reserved units count
 * in Redis as taken. Units a process holds but does not use go back on `close()`, when they sit
 * unused for `hold`, and with their window (the counter expires at the window's end). A request's
 * several counters (`consumeAll`) come from the reserves when every one holds enough, else from
 * one script call that takes them all or none and tops every reserve up.
 *
 * This file is the CounterStore facade. The reserves live in reserve-ledger.ts, the Redis calls in
 * reserve-scripts.ts; takes that need Redis queue in reserve-queue.ts (`consume`) and
 * reserve-batch-queue.ts (`consumeAll`, whose one call is built and read in reserve-batch.ts).
 */
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { parseDuration } from "../core/duration.js";
import { KeywardConfigError } from "../core/errors.js";
import { parseOptions } from "../core/options.js";
import type { CounterStore, CounterTake, MaybePromise } from "../core/types.js";
import { consumeInTurn } from "./consume-in-turn.js";
import type { RedisScriptClient } from "./counters.js";
import { ReserveBatchQueue } from "./reserve-batch-queue.js";
import { closedError, ReserveLedger } from "./reserve-ledger.js";
import { ReserveQueue } from "./reserve-queue.js";
import { ReserveScripts } from "./reserve-scripts.js";

/**
 * Options for {@link ReservingCounters}.
 *
 * @example
 * import { ReservingCounters, type ReservingCountersOptions } from "keyward/redis";
 * const options: ReservingCountersOptions = { prefix: "myapp:keyward:", batch: 500, hold: "2s" };
 * const counters = new ReservingCounters(new Redis(process.env.REDIS_URL!), options);
 */
export interface ReservingCountersOptions {
  /** Prepended to every counter name (the same names as `RedisCounters`). Defaults to `"keyward:c:"`. */
  prefix?: string;
  /**
   * Most units one Redis call reserves: one for the request plus up to 1% of what is left of the
   * limit, never more than this. `1` takes every unit from Redis. Defaults to 1000.
   */
  batch?: number;
  /** Reserved units unused for this long go back to Redis (a duration such as `"2s"`, or seconds), so other processes can take them. Defaults to `"2s"`. */
  hold?: string | number;
}

const OPTIONS = z.strictObject({
  prefix: z.string().min(1).max(100).default("keyward:c:"),
  batch: z.number().int().min(1).max(1_000_000).default(1000),
  hold: z.union([z.string(), z.number().positive()]).default("2s"),
});

/**
 * A {@link CounterStore} on Redis that reserves units in batches: most requests of a busy key take
 * a unit from memory, synchronously, with no Redis call. No limit is ever exceeded, across any
 * number of processes; a process may be refused while another still holds unused reserved units
 * (at most 1% of what was left when it reserved them, so near the limit every request goes to
 * Redis), until that process uses them, hands them back after `hold`, or closes. A request's
 * several counters (named rate limits, monthly quota, credits) cost no Redis call while every one
 * has enough reserved, else one call for all of them, all or nothing.
 *
 * @example
 * import Redis from "ioredis";
 * import { ReservingCounters } from "keyward/redis";
 * const counters = new ReservingCounters(new Redis(process.env.REDIS_URL!));
 * const keys = new KeyManager({ store, counters });
 * process.on("SIGTERM", async () => {
 *   await keys.close();
 *   await counters.close(); // hands unused units back
 * });
 */
export class ReservingCounters implements CounterStore {
  private readonly prefix: string;
  private readonly batch: number;
  private readonly scripts: ReserveScripts;
  private readonly ledger: ReserveLedger;
  private readonly queue: ReserveQueue;
  private readonly batchQueue: ReserveBatchQueue;

  constructor(redis: RedisScriptClient, options: ReservingCountersOptions = {}) {
    if (!redis || typeof redis.evalsha !== "function" || typeof redis.eval !== "function") {
      throw new KeywardConfigError("ReservingCounters", "pass an ioredis client: new ReservingCounters(new Redis(url))");
    }
    const o = parseOptions(OPTIONS, options, "ReservingCounters");
    this.prefix = o.prefix;
    this.batch = o.batch;
    const holdMs = parseDuration(o.hold, "ReservingCounters hold");
    if (holdMs < 1) throw new KeywardConfigError("ReservingCounters.hold", "must be at least 1 ms");
    this.scripts = new ReserveScripts(redis, o.prefix);
    this.ledger = new ReserveLedger(this.scripts, holdMs);
    this.queue = new ReserveQueue(this.ledger, this.scripts, o.batch);
    this.batchQueue = new ReserveBatchQueue(this.ledger, this.scripts, o.batch);
  }

  /** Takes one unit while the count is below `limit`: from this process's reserve when it holds one, else from Redis. Returns the count, or -1. */
  consume(counter: string, limit: number, resetAt: number): MaybePromise<number> {
    if (limit < 1) return -1;
    const n = this.ledger.take(counter, limit, resetAt, true);
    if (n !== null) return n;
    if (this.ledger.closed) return Promise.reject(closedError());
    return this.queue.take(counter, limit, resetAt);
  }

  /** Gives back one unit: into this process's reserve when it holds one for the counter, else to Redis. */
  refund(counter: string): MaybePromise<void> {
    if (this.ledger.refund(counter, 1) > 0) return;
    return this.scripts.release(counter, 1).then(() => undefined);
  }

  /**
   * Takes every `takes[i].units` when all stay within their limits, else nothing. Served from this
   * process's reserves, synchronously, when each counter holds enough; otherwise one script call
   * for all of them (shared with the takes of the same counters arriving meanwhile) that gives
   * back the reserves of those counters, takes the units all or nothing and reserves again.
   */
  consumeAll(takes: readonly CounterTake[]): MaybePromise<number[]> {
    const counts = this.ledger.takeAll(takes);
    if (counts !== null) return counts;
    if (this.ledger.closed) return Promise.reject(closedError());
    if (this.scripts.cluster && takes.length > 1) return consumeInTurn(this, takes);
    return this.batchQueue.take(takes);
  }

  /** Gives back `takes[i].units` of each counter: into this process's reserve as far as it handed them out, the rest to Redis in one call. */
  refundAll(takes: readonly CounterTake[]): MaybePromise<void> {
    let names: string[] | null = null;
    let units: number[] | null = null;
    for (const t of takes) {
      const local = this.ledger.refund(t.counter, t.units);
      if (local < t.units) {
        (names ??= []).push(t.counter);
        (units ??= []).push(t.units - local);
      }
    }
    if (names === null) return;
    return this.scripts.releaseAll(names, units!).then(() => undefined);
  }

  /** The counter's count now (0 when absent): what Redis holds less this process's unused reserved units (other processes' count as taken). */
  async count(counter: string): Promise<number> {
    const stored = await this.scripts.count(counter);
    return Math.max(0, stored - this.ledger.spareOf(counter));
  }

  /**
   * Hands every unused reserved unit back to Redis now (other processes can take them at once).
   *
   * @example
   * await counters.release(); // e.g. before this instance leaves the load balancer
   */
  release(): Promise<void> {
    return this.ledger.release();
  }

  /**
   * Stops the hold timer, waits for reservations in flight and hands unused units back. Call it
   * after `keys.close()`. Later takes are refused (a rejected promise, which the KeyManager answers with 503).
   *
   * @example
   * await keys.close();
   * await counters.close();
   */
  close(): Promise<void> {
    return this.ledger.close();
  }

  /** Reserved units handed out by nobody: how many this process holds now, per counter (for tests and metrics). */
  held(): Map<string, number> {
    return this.ledger.held();
  }
}

concealInternals(ReservingCounters, (counters) => ({ prefix: counters["prefix"], batch: counters["batch"] }));
