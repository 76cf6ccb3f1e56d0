/**
 * Runs a Lua script on Redis by its SHA-1 (`EVALSHA`), sending the script itself (`EVAL`) only
 * when the server does not have it cached yet (`NOSCRIPT`, e.g. after a restart or failover).
 */
import type { RedisScriptClient } from "./counters.js";

/** `EVALSHA sha 1 key …args`, falling back to `EVAL script` on `NOSCRIPT`. */
export async function evalScript(redis: RedisScriptClient, script: string, sha: string, key: string, ...args: number[]): Promise<unknown> {
  try {
    return await redis.evalsha(sha, 1, key, ...args);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    return redis.eval(script, 1, key, ...args);
  }
}

/** `EVALSHA sha keys.length …keys …args`, falling back to `EVAL script` on `NOSCRIPT`. */
export async function evalScriptKeys(
  redis: RedisScriptClient,
  script: string,
  sha: string,
  keys: readonly string[],
  args: readonly number[],
): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}
