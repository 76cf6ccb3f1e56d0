/**
 * RedisCounters: rate-limit, quota and credit counters in Redis, for several app instances. One
 * Lua script per call: increment only while below the limit, and set the expiry (PEXPIREAT, the
 * window's end) with the first increment, so traffic never extends a window. A request's several
 * counters are taken by one script (one EVALSHA), all or nothing. Works with any KeyStore for keys.
 */
import { createHash } from "node:crypto";
import { KeywardConfigError } from "../core/errors.js";
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { evalScript, evalScriptKeys } from "./eval-script.js";
import { parseOptions } from "../core/options.js";
import type { CounterStore, CounterTake } from "../core/types.js";
import { consumeInTurn } from "./consume-in-turn.js";

/**
 * The part of an ioredis client (or cluster) the counters use.
 *
 * @example
 * import Redis from "ioredis";
 * import { RedisCounters, type RedisScriptClient } from "keyward/redis";
 * const redis: RedisScriptClient = new Redis(process.env.REDIS_URL!); // or a Redis.Cluster
 * const counters = new RedisCounters(redis);
 */
export interface RedisScriptClient {
  /** Runs a cached Lua script by its SHA-1. */
  evalsha(sha: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
  /** Runs a Lua script (and caches it). */
  eval(script: string, numkeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/**
 * Options for {@link RedisCounters}.
 *
 * @example
 * import { RedisCounters, type RedisCountersOptions } from "keyward/redis";
 * const options: RedisCountersOptions = { prefix: "myapp:keyward:" }; // counters become myapp:keyward:r:…, myapp:keyward:q:…
 * const counters = new RedisCounters(new Redis(process.env.REDIS_URL!), options);
 */
export interface RedisCountersOptions {
  /** Prepended to every counter name. Defaults to `"keyward:c:"`. */
  prefix?: string;
}

const CONSUME = `
local limit = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= limit then return -1 end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return n`;

const REFUND = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > 0 then return redis.call('DECR', KEYS[1]) end
return 0`;

/** KEYS: the counters; ARGV: limit, resetAt, units per counter. Checks all, then takes all or none. */
const CONSUME_ALL = `
local counts = {}
local refused = false
for i = 1, #KEYS do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0') + tonumber(ARGV[i * 3])
  if c > tonumber(ARGV[i * 3 - 2]) then counts[i] = -1; refused = true else counts[i] = c end
end
if refused then return counts end
for i = 1, #KEYS do
  local units = tonumber(ARGV[i * 3])
  if redis.call('INCRBY', KEYS[i], units) == units then redis.call('PEXPIREAT', KEYS[i], ARGV[i * 3 - 1]) end
end
return counts`;

/** KEYS: the counters; ARGV: units per counter. Never below zero. Also gives back `ReservingCounters`' units. */
export const REFUND_ALL = `
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local units = math.min(current, tonumber(ARGV[i]))
  if units > 0 then redis.call('DECRBY', KEYS[i], units) end
end
return 0`;

/** The counter's value in Redis (0 when absent). */
export const COUNT = `return tonumber(redis.call('GET', KEYS[1]) or '0')`;

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

/** `RedisCountersOptions`, checked once at construction (a bad value is a KeywardConfigError naming it). */
const REDIS_COUNTERS_OPTIONS = z.strictObject({ prefix: z.string().min(1).max(100).default("keyward:c:") });

/**
 * A {@link CounterStore} on Redis: exact under any number of concurrent requests and instances.
 *
 * @example
 * import Redis from "ioredis";
 * import { RedisCounters } from "keyward/redis";
 * import { PostgresStore } from "keyward/postgres";
 * const keys = new KeyManager({ store: new PostgresStore(process.env.DATABASE_URL!), counters: new RedisCounters(new Redis()) });
 */
export class RedisCounters implements CounterStore {
  private readonly prefix: string;
  private readonly consumeSha = sha1(CONSUME);
  private readonly refundSha = sha1(REFUND);
  private readonly consumeAllSha = sha1(CONSUME_ALL);
  private readonly refundAllSha = sha1(REFUND_ALL);
  private readonly countSha = sha1(COUNT);
  /** On a Redis Cluster one script may only touch one hash slot: several counters are then taken one script each. */
  private readonly cluster: boolean;

  constructor(
    private readonly redis: RedisScriptClient,
    options: RedisCountersOptions = {},
  ) {
    if (!redis || typeof redis.evalsha !== "function" || typeof redis.eval !== "function") {
      throw new KeywardConfigError("RedisCounters", "pass an ioredis client: new RedisCounters(new Redis(url))");
    }
    this.prefix = parseOptions(REDIS_COUNTERS_OPTIONS, options, "RedisCounters").prefix;
    this.cluster = (redis as { isCluster?: unknown }).isCluster === true;
  }

  /** Takes one unit while the count is below `limit`; the counter expires at `resetAt` (ms). Returns the new count, or -1. */
  async consume(counter: string, limit: number, resetAt: number): Promise<number> {
    if (limit < 1) return -1;
    return Number(await this.run(CONSUME, this.consumeSha, this.prefix + counter, limit, Math.ceil(resetAt)));
  }

  /** Gives back one unit (never below zero); the expiry stays as it was. */
  async refund(counter: string): Promise<void> {
    await this.run(REFUND, this.refundSha, this.prefix + counter);
  }

  /**
   * Takes every `takes[i].units` when all stay within their limits, else nothing: one script, one
   * round trip (on a Redis Cluster, one script per counter, each given back on a later refusal).
   */
  async consumeAll(takes: readonly CounterTake[]): Promise<number[]> {
    if (this.cluster && takes.length > 1) return consumeInTurn(this, takes);
    const args: number[] = [];
    for (const t of takes) args.push(t.limit, Math.ceil(t.resetAt), t.units);
    const counts = (await this.runMany(CONSUME_ALL, this.consumeAllSha, takes, args)) as unknown[];
    return counts.map(Number);
  }

  /** Gives back `takes[i].units` of each counter (never below zero), in one script. */
  async refundAll(takes: readonly CounterTake[]): Promise<void> {
    if (takes.length === 0) return;
    if (this.cluster && takes.length > 1) {
      for (const t of takes) await this.refundAll([t]);
      return;
    }
    await this.runMany(
      REFUND_ALL,
      this.refundAllSha,
      takes,
      takes.map((t) => t.units),
    );
  }

  /** The counter's count now (0 when absent). */
  async count(counter: string): Promise<number> {
    return Number(await this.run(COUNT, this.countSha, this.prefix + counter));
  }

  private run(script: string, sha: string, key: string, ...args: number[]): Promise<unknown> {
    return evalScript(this.redis, script, sha, key, ...args);
  }

  private runMany(script: string, sha: string, takes: readonly CounterTake[], args: number[]): Promise<unknown> {
    return evalScriptKeys(
      this.redis,
      script,
      sha,
      takes.map((t) => this.prefix + t.counter),
      args,
    );
  }
}

concealInternals(RedisCounters, (counters) => ({ prefix: counters["prefix"] }));
