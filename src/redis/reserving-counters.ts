/**
 * ReservingCounters: rate-limit and quota counters in Redis, taken in batches. One script call
 * takes one unit plus up to 1% of what is left of the limit (at most `batch`) and the process hands
 * the rest out from memory, as the SQLite store does; a hot key then costs a Redis round trip on a
 * small fraction of its requests. A limit is never exceeded across processes: reserved units count
 * in Redis as taken. Units a process holds but does not use go back on `close()`, when they sit
 * unused for `hold`, and with their window (the counter expires at the window's end). A request's
 * several counters (`consumeAll`) come from the reserves when every one holds enough, else from
 * one script call that takes them all or none and tops every reserve up.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { evalScript, evalScriptKeys } from "./eval-script.js";
import { type BatchedTake, RESERVE_ALL, ReserveCall } from "./reserve-batch.js";
import { KeywardConfigError } from "../core/errors.js";
import { parseDuration } from "../core/duration.js";
import { parseOptions } from "../core/options.js";
import type { CounterStore, CounterTake, MaybePromise } from "../core/types.js";
import type { RedisScriptClient } from "./counters.js";

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

/** Units this process took from Redis and has not handed out yet. */
interface Reserve {
  /** The counter's value in Redis right after the reservation (others' units included). */
  count: number;
  /** Reserved units not handed out yet: callers see `count - spare`. */
  spare: number;
  /** Units of this reserve handed out and not refunded (a refund beyond them goes to Redis). */
  given: number;
  limit: number;
  resetAt: number;
  /** Whether a unit was handed out since the last hold check. */
  used: boolean;
}

/** A take waiting for the reservation in flight for its counter. */
interface Waiter {
  readonly limit: number;
  readonly resetAt: number;
  readonly resolve: (n: number | PromiseLike<number>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gives back ARGV[4] spare units, then grants up to ARGV[5] waiting requests one unit each and
 * reserves up to 1% of what was left (one unit for the first request plus at most ARGV[3] - 1 more,
 * as with a single request). Returns {count before the grants, units granted, units reserved}.
 */
const RESERVE = `
local back = tonumber(ARGV[4])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if back > 0 and current > 0 then
  back = math.min(back, current)
  current = redis.call('DECRBY', KEYS[1], back)
end
local limit = tonumber(ARGV[1])
if current >= limit then return {current, 0, 0} end
local left = limit - current
local grant = math.min(tonumber(ARGV[5]), left)
local extra = math.min(left - grant, math.max(0, math.min(tonumber(ARGV[3]), math.floor(left / 100)) - 1))
local n = redis.call('INCRBY', KEYS[1], grant + extra)
if n == grant + extra then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return {current, grant, extra}`;

/** Gives back ARGV[1] units (never below zero); the expiry stays as it was. */
const RELEASE = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current <= 0 then return 0 end
return redis.call('DECRBY', KEYS[1], math.min(tonumber(ARGV[1]), current))`;

/** KEYS: the counters; ARGV: units per counter. Never below zero. */
const RELEASE_ALL = `
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local units = math.min(current, tonumber(ARGV[i]))
  if units > 0 then redis.call('DECRBY', KEYS[i], units) end
end
return 0`;

const COUNT = `return tonumber(redis.call('GET', KEYS[1]) or '0')`;

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

const closedError = () => new Error("keyward: ReservingCounters is closed");

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
  private readonly reserves = new Map<string, Reserve>();
  /** Takes waiting, by counter, for the reservation in flight: they are served from what it reserves. */
  private readonly waiting = new Map<string, Waiter[]>();
  /** `consumeAll` calls waiting, by their first counter, for the call in flight for it: they share the next one. */
  private readonly batching = new Map<string, BatchedTake[]>();
  /** Reservations in flight (each with its settlement), which `close()` waits for. */
  private readonly inflight = new Map<Promise<void>, Promise<unknown>>();
  private readonly timer: NodeJS.Timeout;
  private readonly reserveSha = sha1(RESERVE);
  private readonly releaseSha = sha1(RELEASE);
  private readonly reserveAllSha = sha1(RESERVE_ALL);
  private readonly releaseAllSha = sha1(RELEASE_ALL);
  private readonly countSha = sha1(COUNT);
  /** On a Redis Cluster one script may only touch one hash slot: several counters are then taken one call each. */
  private readonly cluster: boolean;
  private closed = false;

  constructor(
    private readonly redis: RedisScriptClient,
    options: ReservingCountersOptions = {},
  ) {
    if (!redis || typeof redis.evalsha !== "function" || typeof redis.eval !== "function") {
      throw new KeywardConfigError("ReservingCounters", "pass an ioredis client: new ReservingCounters(new Redis(url))");
    }
    const o = parseOptions(OPTIONS, options, "ReservingCounters");
    this.prefix = o.prefix;
    this.batch = o.batch;
    this.cluster = (redis as { isCluster?: unknown }).isCluster === true;
    const holdMs = parseDuration(o.hold, "ReservingCounters hold");
    if (holdMs < 1) throw new KeywardConfigError("ReservingCounters.hold", "must be at least 1 ms");
    this.timer = setInterval(() => void this.releaseIdle().catch(() => undefined), holdMs);
    this.timer.unref();
  }

  /** Takes one unit while the count is below `limit`: from this process's reserve when it holds one, else from Redis. Returns the count, or -1. */
  consume(counter: string, limit: number, resetAt: number): MaybePromise<number> {
    if (limit < 1) return -1;
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare > 0 && r.limit === limit && r.resetAt === resetAt) {
      r.spare--;
      r.given++;
      r.used = true;
      return r.count - r.spare;
    }
    if (this.closed) return Promise.reject(closedError());
    return new Promise<number>((resolve, reject) => {
      const w: Waiter = { limit, resetAt, resolve, reject };
      const queue = this.waiting.get(counter);
      if (queue !== undefined) queue.push(w);
      else this.reserve(counter, [w]);
    });
  }

  /** Gives back one unit: into this process's reserve when it holds one for the counter, else to Redis. */
  refund(counter: string): MaybePromise<void> {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.given > 0) {
      r.given--;
      r.spare++;
      return;
    }
    return this.run(RELEASE, this.releaseSha, this.prefix + counter, 1).then(() => undefined);
  }

  /**
   * Takes every `takes[i].units` when all stay within their limits, else nothing. Served from this
   * process's reserves, synchronously, when each counter holds enough; otherwise one script call
   * for all of them (shared with the takes of the same counters arriving meanwhile) that gives
   * back the reserves of those counters, takes the units all or nothing and reserves again.
   */
  consumeAll(takes: readonly CounterTake[]): MaybePromise<number[]> {
    const counts = this.takeReserved(takes);
    if (counts !== null) return counts;
    if (this.closed) return Promise.reject(closedError());
    if (this.cluster && takes.length > 1) return this.consumeEach(takes);
    return new Promise<number[]>((resolve, reject) => {
      const request: BatchedTake = { takes, resolve, reject };
      const group = takes[0]!.counter;
      const queue = this.batching.get(group);
      if (queue !== undefined) queue.push(request);
      else this.reserveAll(group, [request]);
    });
  }

  /** Gives back `takes[i].units` of each counter: into this process's reserve as far as it handed them out, the rest to Redis in one call. */
  refundAll(takes: readonly CounterTake[]): MaybePromise<void> {
    let names: string[] | null = null;
    let units: number[] | null = null;
    for (const t of takes) {
      const r = this.reserves.get(t.counter);
      const local = r === undefined ? 0 : Math.min(r.given, t.units);
      if (local > 0) {
        r!.given -= local;
        r!.spare += local;
      }
      if (local < t.units) {
        (names ??= []).push(this.prefix + t.counter);
        (units ??= []).push(t.units - local);
      }
    }
    if (names === null) return;
    if (this.cluster && names.length > 1)
      return Promise.all(names.map((name, i) => this.run(RELEASE, this.releaseSha, name, units![i]!))).then(() => undefined);
    return evalScriptKeys(this.redis, RELEASE_ALL, this.releaseAllSha, names, units!).then(() => undefined);
  }

  /** The counter's count now (0 when absent): what Redis holds less this process's unused reserved units (other processes' count as taken). */
  async count(counter: string): Promise<number> {
    const stored = Number(await this.run(COUNT, this.countSha, this.prefix + counter));
    return Math.max(0, stored - (this.reserves.get(counter)?.spare ?? 0));
  }

  /**
   * Hands every unused reserved unit back to Redis now (other processes can take them at once).
   *
   * @example
   * await counters.release(); // e.g. before this instance leaves the load balancer
   */
  async release(): Promise<void> {
    const now = Date.now();
    const back: Array<[string, number]> = [];
    for (const [name, r] of this.reserves) if (r.spare > 0 && r.resetAt > now) back.push([name, r.spare]);
    this.reserves.clear();
    await Promise.all(back.map(([name, n]) => this.run(RELEASE, this.releaseSha, this.prefix + name, n)));
  }

  /**
   * Stops the hold timer, waits for reservations in flight and hands unused units back. Call it
   * after `keys.close()`. Later takes are refused (a rejected promise, which the KeyManager answers with 503).
   *
   * @example
   * await keys.close();
   * await counters.close();
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    while (this.inflight.size > 0) await Promise.all([...this.inflight.values()]);
    await this.release();
  }

  /** Reserved units handed out by nobody: how many this process holds now, per counter (for tests and metrics). */
  held(): Map<string, number> {
    return new Map([...this.reserves].map(([name, r]) => [name, r.spare]));
  }

  /**
   * One Redis call for `takers` (same counter, limit and window): gives back what an outdated
   * reserve of the counter held, grants each taker a unit while the limit allows (-1 for the rest)
   * and reserves spare units. Takes of the counter made meanwhile queue up and are served from the
   * spare units, then by one next call for all of them: a burst costs two round trips, not one each.
   */
  private reserve(counter: string, takers: Waiter[]): void {
    const { limit, resetAt } = takers[0]!;
    const old = this.reserves.get(counter);
    let back = 0;
    if (old !== undefined) {
      this.reserves.delete(counter);
      back = old.spare;
    }
    const queue: Waiter[] = [];
    this.waiting.set(counter, queue);
    const call = this.run(RESERVE, this.reserveSha, this.prefix + counter, limit, Math.ceil(resetAt), this.batch, back, takers.length).then(
      (answer) => {
        const [current, grant, extra] = (answer as Array<number | string>).map(Number) as [number, number, number];
        for (let i = 0; i < takers.length; i++) takers[i]!.resolve(i < grant ? current + i + 1 : -1);
        this.stock(counter, current + grant + extra, extra, grant, limit, resetAt);
        this.waiting.delete(counter);
        this.serve(counter, queue, grant < takers.length ? limit : null, resetAt);
      },
      (error: unknown) => {
        for (const w of takers) w.reject(error);
        this.waiting.delete(counter);
        for (const w of queue) w.reject(error);
      },
    );
    const settled = call.then(() => this.inflight.delete(call));
    this.inflight.set(call, settled);
  }

  /**
   * Serves queued takes in order from the reserve. Those it cannot serve go to Redis in one call
   * (those under another limit or window, rare, one call each); when the counter was just found
   * full under `fullAt`, takes under that limit and window are refused with -1 instead.
   */
  private serve(counter: string, queue: readonly Waiter[], fullAt: number | null, resetAt: number): void {
    let next: Waiter[] | null = null;
    for (const w of queue) {
      if (fullAt !== null && w.limit === fullAt && w.resetAt === resetAt) {
        w.resolve(-1);
        continue;
      }
      const r = this.reserves.get(counter);
      if (r !== undefined && r.spare > 0 && r.limit === w.limit && r.resetAt === w.resetAt) {
        r.spare--;
        r.given++;
        w.resolve(r.count - r.spare);
      } else if (this.closed) w.reject(closedError());
      else if (next === null || (w.limit === next[0]!.limit && w.resetAt === next[0]!.resetAt)) (next ??= []).push(w);
      else w.resolve(this.consume(counter, w.limit, w.resetAt));
    }
    if (next !== null) {
      const pending = this.waiting.get(counter);
      if (pending !== undefined) pending.push(...next);
      else this.reserve(counter, next);
    }
  }

  /**
   * Takes every counter's units from the reserves when each holds enough (for that limit and
   * window), else takes nothing and returns null. No Redis call; allocates only the answer.
   */
  private takeReserved(takes: readonly CounterTake[]): number[] | null {
    const n = takes.length;
    for (let i = 0; i < n; i++) {
      const t = takes[i]!;
      const r = this.reserves.get(t.counter);
      if (r === undefined || r.spare < t.units || r.limit !== t.limit || r.resetAt !== t.resetAt) return null;
    }
    const counts = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const t = takes[i]!;
      const r = this.reserves.get(t.counter)!;
      if (r.spare < t.units) {
        // The same counter named twice, with too little for both: give back what was taken.
        for (let j = 0; j < i; j++) {
          const back = this.reserves.get(takes[j]!.counter)!;
          back.spare += takes[j]!.units;
          back.given -= takes[j]!.units;
        }
        return null;
      }
      r.spare -= t.units;
      r.given += t.units;
      r.used = true;
      counts[i] = r.count - r.spare;
    }
    return counts;
  }

  /**
   * One Redis call for `requests` (their first counter is `group`): gives back the spare units
   * this process holds of their counters (so the call can hand them out), takes each request all
   * or nothing, and reserves again. Requests of the group made meanwhile queue up and are served
   * from the new reserves, then by one next call for all of them.
   */
  private reserveAll(group: string, requests: readonly BatchedTake[]): void {
    const queue: BatchedTake[] = [];
    this.batching.set(group, queue);
    const call = new ReserveCall();
    for (const request of requests) if (!call.add(request)) queue.push(request);
    const back = call.names.map((name, j) => {
      const r = this.reserves.get(name);
      if (r === undefined) return 0;
      const spare = r.spare;
      if (r.limit === call.limits[j] && r.resetAt === call.resets[j]) {
        // Kept (without spare units), so refunds of units it handed out stay in this process.
        r.spare = 0;
        r.count -= spare;
      } else this.reserves.delete(name);
      return spare;
    });
    const keys = call.names.map((name) => this.prefix + name);
    const sent = evalScriptKeys(this.redis, RESERVE_ALL, this.reserveAllSha, keys, call.args(this.batch, back)).then(
      (reply) => {
        const outcomes = call.settle(reply);
        for (let j = 0; j < outcomes.length; j++) {
          const o = outcomes[j]!;
          this.stock(call.names[j]!, o.count, o.extra, o.granted, call.limits[j]!, call.resets[j]!);
        }
        this.batching.delete(group);
        this.serveAll(group, queue);
      },
      (error: unknown) => {
        for (const request of call.sent) request.reject(error);
        this.batching.delete(group);
        for (const request of queue) request.reject(error);
      },
    );
    const settled = sent.then(() => this.inflight.delete(sent));
    this.inflight.set(sent, settled);
  }

  /** Serves queued `consumeAll` calls from the reserves; the others go to Redis together, in one call. */
  private serveAll(group: string, queue: readonly BatchedTake[]): void {
    let next: BatchedTake[] | null = null;
    for (const request of queue) {
      const counts = this.takeReserved(request.takes);
      if (counts !== null) request.resolve(counts);
      else if (this.closed) request.reject(closedError());
      else (next ??= []).push(request);
    }
    if (next !== null) this.reserveAll(group, next);
  }

  /** `consumeAll` on a Redis Cluster: each counter alone, in order; a refusal gives back the ones taken before it. */
  private async consumeEach(takes: readonly CounterTake[]): Promise<number[]> {
    const counts: number[] = [];
    for (let i = 0; i < takes.length; i++) {
      const n = (await this.consumeAll([takes[i]!]))[0]!;
      counts.push(n);
      if (n < 0) {
        await this.refundAll(takes.slice(0, i));
        return counts;
      }
    }
    return counts;
  }

  /**
   * Adds what a Redis call reserved (`extra`) and handed out (`given`) to the counter's reserve;
   * `count` is the counter's value in Redis after that call (calls on one connection answer in
   * the order Redis ran them, so the latest answer is the latest count). Units reserved under a
   * limit or window other than the reserve's go back to Redis.
   */
  private stock(counter: string, count: number, extra: number, given: number, limit: number, resetAt: number): void {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.limit === limit && r.resetAt === resetAt) {
      r.count = count;
      r.spare += extra;
      r.given += given;
      r.used = true;
      return;
    }
    if (extra === 0) return;
    if (r === undefined && !this.closed) {
      this.reserves.set(counter, { count, spare: extra, given, limit, resetAt, used: true });
      return;
    }
    const back = this.run(RELEASE, this.releaseSha, this.prefix + counter, extra).then(
      () => undefined,
      () => undefined,
    );
    this.inflight.set(
      back,
      back.then(() => this.inflight.delete(back)),
    );
  }

  /** Hands back the units of reserves nobody took from since the last check, and forgets ended windows. */
  private async releaseIdle(): Promise<void> {
    const now = Date.now();
    const back: Array<[string, number]> = [];
    for (const [name, r] of this.reserves) {
      if (r.resetAt <= now) this.reserves.delete(name);
      else if (!r.used) {
        this.reserves.delete(name);
        if (r.spare > 0) back.push([name, r.spare]);
      } else r.used = false;
    }
    await Promise.all(back.map(([name, n]) => this.run(RELEASE, this.releaseSha, this.prefix + name, n)));
  }

  private run(script: string, sha: string, key: string, ...args: number[]): Promise<unknown> {
    return evalScript(this.redis, script, sha, key, ...args);
  }
}

concealInternals(ReservingCounters, (counters) => ({ prefix: counters["prefix"], batch: counters["batch"] }));
