/**
 * RedisCounters: rate-limit and quota counters in Redis, for several app instances. One Lua script
 * per call: increment only while below the limit, and set the expiry (PEXPIREAT, the window's end)
 * with the first increment, so traffic never extends a window. Works with any KeyStore for keys.
 */
import { createHash } from "node:crypto";
import { KeywardConfigError } from "../core/errors.js";
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { parseOptions } from "../core/options.js";
import type { CounterStore } from "../core/types.js";

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

  constructor(
    private readonly redis: RedisScriptClient,
    options: RedisCountersOptions = {},
  ) {
    if (!redis || typeof redis.evalsha !== "function" || typeof redis.eval !== "function") {
      throw new KeywardConfigError("RedisCounters", "pass an ioredis client: new RedisCounters(new Redis(url))");
    }
    this.prefix = parseOptions(REDIS_COUNTERS_OPTIONS, options, "RedisCounters").prefix;
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

  private async run(script: string, sha: string, key: string, ...args: number[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(sha, 1, key, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return this.redis.eval(script, 1, key, ...args);
    }
  }
}

concealInternals(RedisCounters, (counters) => ({ prefix: counters["prefix"] }));
