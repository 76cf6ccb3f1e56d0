/**
 * Every Redis call `ReservingCounters` makes: the Lua scripts that reserve and give back units of
 * one counter, and the calls that run them (and `RESERVE_ALL`, `REFUND_ALL`, `COUNT`) by SHA-1
 * with the counter prefix applied. No bookkeeping here: callers decide what to reserve or give back.
 */
import { createHash } from "node:crypto";
import { COUNT, REFUND_ALL, type RedisScriptClient } from "./counters.js";
import { evalScript, evalScriptKeys } from "./eval-script.js";
import { RESERVE_ALL } from "./reserve-batch.js";

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

const sha1 = (s: string) => createHash("sha1").update(s).digest("hex");

const RESERVE_SHA = sha1(RESERVE);
const RELEASE_SHA = sha1(RELEASE);
const RESERVE_ALL_SHA = sha1(RESERVE_ALL);
const REFUND_ALL_SHA = sha1(REFUND_ALL);
const COUNT_SHA = sha1(COUNT);

/**
 * The Redis side of `ReservingCounters`: one method per script, counters named without the prefix.
 *
 * @example
 * const scripts = new ReserveScripts(new Redis(), "keyward:c:");
 * await scripts.release("r:abc:minute", 5); // 5 reserved units go back to Redis
 */
export class ReserveScripts {
  /** On a Redis Cluster one script may only touch one hash slot: several counters are then taken one call each. */
  readonly cluster: boolean;

  constructor(
    private readonly redis: RedisScriptClient,
    private readonly prefix: string,
  ) {
    this.cluster = (redis as { isCluster?: unknown }).isCluster === true;
  }

  /**
   * `RESERVE` for `takers` waiting takes of `counter`: gives back `back` units, grants the takers
   * and reserves up to `batch` more. Answers `[count before, granted, reserved]` (numbers or strings).
   */
  reserve(counter: string, limit: number, resetAt: number, batch: number, back: number, takers: number): Promise<unknown> {
    return evalScript(this.redis, RESERVE, RESERVE_SHA, this.prefix + counter, limit, Math.ceil(resetAt), batch, back, takers);
  }

  /** `RESERVE_ALL` on `names` with `args` as built by `ReserveCall.args`. */
  reserveAll(names: readonly string[], args: readonly number[]): Promise<unknown> {
    return this.runKeys(RESERVE_ALL, RESERVE_ALL_SHA, names, args);
  }

  /** Gives back `units` of `counter` (never below zero). */
  release(counter: string, units: number): Promise<unknown> {
    return evalScript(this.redis, RELEASE, RELEASE_SHA, this.prefix + counter, units);
  }

  /** Gives back `units[i]` of each `names[i]`: one call, or one call each on a Redis Cluster. */
  releaseAll(names: readonly string[], units: readonly number[]): Promise<unknown> {
    if (this.cluster && names.length > 1) return Promise.all(names.map((name, i) => this.release(name, units[i]!)));
    return this.runKeys(REFUND_ALL, REFUND_ALL_SHA, names, units);
  }

  /** The counter's value in Redis (0 when absent), this process's reserved units included. */
  async count(counter: string): Promise<number> {
    return Number(await evalScript(this.redis, COUNT, COUNT_SHA, this.prefix + counter));
  }

  private runKeys(script: string, sha: string, names: readonly string[], args: readonly number[]): Promise<unknown> {
    return evalScriptKeys(
      this.redis,
      script,
      sha,
      names.map((name) => this.prefix + name),
      args,
    );
  }
}
