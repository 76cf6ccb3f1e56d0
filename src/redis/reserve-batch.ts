/**
 * One Redis call for the all-or-nothing takes of `ReservingCounters.consumeAll`: the Lua script,
 * and the two halves around it, building its arguments from the requests waiting on one group of
 * counters and reading each request's counts and each counter's new reserve from its reply.
 */
import type { CounterTake } from "../core/types.js";

/**
 * KEYS: the counters. ARGV[1]: the most units a counter reserves; ARGV[2]: how many requests.
 * Then per counter: limit, window end, spare units given back. Then per request, its units on
 * each counter (0 for a counter it does not take). Gives the spare units back, takes each request
 * whole or not at all (in order, never past a limit), then tops every counter up to one unit plus
 * up to 1% of what was left (at most ARGV[1], including what the requests took, never past the
 * limit). Returns per counter its count then, per counter the units reserved, then per request and
 * counter the count its take reached (or would have: above the limit marks a refusal).
 */
export const RESERVE_ALL = `
local nk = #KEYS
local batch = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local cur, lim, want, was, took = {}, {}, {}, {}, {}
for i = 1, nk do
  local a = (i - 1) * 3 + 2
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  was[i] = c
  c = c - math.min(tonumber(ARGV[a + 3]), c)
  cur[i] = c
  lim[i] = tonumber(ARGV[a + 1])
  want[i] = math.min(batch, math.floor(math.max(0, lim[i] - c) / 100))
  took[i] = 0
end
local out = {}
local base = nk * 3 + 2
for r = 0, nr - 1 do
  local ok = true
  for i = 1, nk do
    local u = tonumber(ARGV[base + r * nk + i])
    out[nk * 2 + r * nk + i] = cur[i] + u
    if u > 0 and cur[i] + u > lim[i] then ok = false end
  end
  if ok then
    for i = 1, nk do
      local u = tonumber(ARGV[base + r * nk + i])
      cur[i] = cur[i] + u
      took[i] = took[i] + u
    end
  end
end
for i = 1, nk do
  local extra = math.max(0, math.min(want[i] - took[i], lim[i] - cur[i]))
  cur[i] = cur[i] + extra
  out[i] = cur[i]
  out[nk + i] = extra
  local delta = cur[i] - was[i]
  if delta ~= 0 and redis.call('INCRBY', KEYS[i], delta) == delta then
    redis.call('PEXPIREAT', KEYS[i], ARGV[(i - 1) * 3 + 4])
  end
end
return out`;

/** A `consumeAll` waiting for a Redis call. */
export interface BatchedTake {
  readonly takes: readonly CounterTake[];
  readonly resolve: (counts: number[]) => void;
  readonly reject: (error: unknown) => void;
}

/** What one counter of a call ended with. */
export interface CounterOutcome {
  /** Its count in Redis right after the call (every process's units and reserves included). */
  readonly count: number;
  /** Units reserved for this process. */
  readonly extra: number;
  /** Units the call's admitted requests took. */
  readonly granted: number;
}

/** The counters and requests of one `RESERVE_ALL` call. */
export class ReserveCall {
  /** The counters, in the order they first appear in the requests. */
  readonly names: string[] = [];
  readonly limits: number[] = [];
  readonly resets: number[] = [];
  /** The requests sent, in order. */
  readonly sent: BatchedTake[] = [];
  /** Per request sent, its units on each counter (in `names` order). */
  private readonly units: number[][] = [];

  /**
   * Adds `request` to the call, or returns false (adding nothing) when it names a counter already
   * in the call under another limit or window: it then waits for the next call.
   */
  add(request: BatchedTake): boolean {
    const takes = request.takes;
    for (const t of takes) {
      const j = this.names.indexOf(t.counter);
      if (j >= 0 && (this.limits[j] !== t.limit || this.resets[j] !== t.resetAt)) return false;
    }
    for (const t of takes) {
      if (this.names.includes(t.counter)) continue;
      this.names.push(t.counter);
      this.limits.push(t.limit);
      this.resets.push(t.resetAt);
      for (const u of this.units) u.push(0);
    }
    const units = new Array<number>(this.names.length).fill(0);
    for (const t of takes) units[this.names.indexOf(t.counter)]! += t.units;
    this.units.push(units);
    this.sent.push(request);
    return true;
  }

  /** The script's ARGV: `batch`, the requests, each counter's limit, window end and `back[j]` units given back, then each request's units. */
  args(batch: number, back: readonly number[]): number[] {
    const args = [batch, this.sent.length];
    for (let j = 0; j < this.names.length; j++) args.push(this.limits[j]!, Math.ceil(this.resets[j]!), back[j]!);
    for (const u of this.units) args.push(...u);
    return args;
  }

  /**
   * Reads the script's reply: each counter's outcome, and resolves each request sent with its
   * counts (in its takes' order; -1 for each counter that refused it, when one did).
   */
  settle(reply: unknown): CounterOutcome[] {
    const a = (reply as Array<number | string>).map(Number);
    const nk = this.names.length;
    const granted = new Array<number>(nk).fill(0);
    for (let r = 0; r < this.sent.length; r++) {
      const units = this.units[r]!;
      const at = 2 * nk + r * nk;
      let admitted = true;
      for (let j = 0; j < nk; j++) if (units[j]! > 0 && a[at + j]! > this.limits[j]!) admitted = false;
      if (admitted) for (let j = 0; j < nk; j++) granted[j]! += units[j]!;
      // Resolved now, answered after the caller stocks the reserves (promise callbacks run later).
      this.sent[r]!.resolve(
        this.sent[r]!.takes.map((t) => {
          const reached = a[at + this.names.indexOf(t.counter)]!;
          return !admitted && t.units > 0 && reached > t.limit ? -1 : reached;
        }),
      );
    }
    return this.names.map((_, j) => ({ count: a[j]!, extra: a[nk + j]!, granted: granted[j]! }));
  }
}
