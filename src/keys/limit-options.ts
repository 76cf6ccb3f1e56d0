/**
 * The option schemas of limits: rate limits in their single (`{ limit, window }`, `"100/m"`) and
 * named (`{ burst: "10/s", sustained: "1000/h" }`) forms, and credits with an optional refill.
 * Each resolves once, at construction or at `create`, to the form the meter uses.
 */
import { z } from "zod";
import { durationMs } from "../core/duration.js";
import { rateLimitOption } from "../core/options.js";
import type { StoredCredits } from "../core/types.js";
import { type NamedRule, parseRate, SINGLE_POLICY } from "./limits.js";

/** The largest credit balance, refill amount or cost: 10^12 (exact in a double and in Postgres bigint). */
export const MAX_CREDITS = 1_000_000_000_000;

/** Policy names of named rate limits: lowercase, and not one of the built-in policies. */
const POLICY_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const RESERVED = new Set(["monthly", "credits", "window", "limit"]);

/** `"10/s"` as a rule, or an issue. */
const rateString = z.string().transform((v, ctx) => {
  const rule = parseRate(v);
  if (rule === null || rule.windowMs < 1000) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(v.slice(0, 40))} is not a rate; use e.g. "10/s", "1000/h" or "100/10m" (window at least 1s)` });
    return z.NEVER;
  }
  return rule;
});

const singleRule = rateLimitOption.transform((rule): readonly NamedRule[] => Object.freeze([Object.freeze({ name: SINGLE_POLICY, ...rule })]));
const singleString = rateString.transform((rule): readonly NamedRule[] => Object.freeze([Object.freeze({ name: SINGLE_POLICY, ...rule })]));
/** One named limit's value: `"10/s"` or `{ limit, window }`, reported against the form given. */
const namedValue = z.unknown().transform((value, ctx): { limit: number; windowMs: number } => {
  const result = (typeof value === "string" ? rateString : rateLimitOption).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
});
const namedRules = z
  .record(z.string(), namedValue)
  .superRefine((named, ctx) => {
    const names = Object.keys(named);
    if (names.length === 0 || names.length > 8)
      ctx.addIssue({ code: "custom", message: 'name 1 to 8 rate limits, e.g. { burst: "10/s", sustained: "1000/h" }' });
    for (const name of names) {
      if (!POLICY_NAME.test(name))
        ctx.addIssue({ code: "custom", path: [name], message: "limit names are 1-32 characters from [a-z0-9_-], starting with a letter" });
      else if (RESERVED.has(name)) ctx.addIssue({ code: "custom", path: [name], message: `"${name}" is a built-in policy name; pick another` });
    }
  })
  .transform((named): readonly NamedRule[] => Object.freeze(Object.entries(named).map(([name, rule]) => Object.freeze({ name, ...rule }))));

/**
 * A tier's (or the manager's) rate limit: `{ limit: 100, window: "1m" }`, `"100/m"`, or named limits
 * `{ burst: "10/s", sustained: { limit: 1000, window: "1h" } }`, all of which must admit a request.
 * The form is chosen by shape (a string; an object with `limit` or `window`; named limits), so a
 * mistake is reported against the form meant.
 */
export const rateLimitsOption = z.unknown().transform((value, ctx): readonly NamedRule[] => {
  const single = value !== null && typeof value === "object" && ("limit" in value || "window" in value);
  const schema = typeof value === "string" ? singleString : single ? singleRule : namedRules;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  return z.NEVER;
});

/** A whole number of credits (0 to 10^12): negative, fractional, NaN and huge values are refused. */
export const creditAmount = z
  .number({ error: "must be a number of credits" })
  .int("must be a whole number of credits")
  .min(0, "must not be negative")
  .max(MAX_CREDITS, `must be at most ${MAX_CREDITS}`);

/** A refill interval: `"1mo"` (UTC months) or a duration of at least 1 minute (epoch-aligned windows). */
const refillInterval = z.string().refine((v) => v === "1mo" || ((durationMs(v) ?? 0) >= 60_000 && durationMs(v)! <= 366 * 86_400_000), {
  message: 'use "1mo" (the 1st of every month, UTC) or a duration from "1m" to "366d", e.g. "1d"',
});

/** `create({ credits })`: `{ remaining, refill?: { amount, interval } }`. */
export const creditsInput = z.strictObject(
  {
    remaining: creditAmount,
    refill: z
      .strictObject(
        { amount: creditAmount, interval: refillInterval },
        { error: 'must be { amount, interval } such as { amount: 1000, interval: "1d" }, or null' },
      )
      .nullable()
      .optional(),
  },
  { error: "must be { remaining, refill? } such as { remaining: 1000 }, or null" },
);

/**
 * The stored credits of a new key `id` created at `now`.
 *
 * @example
 * storedCredits({ remaining: 100, refill: null }, "key_1", Date.now()); // { remaining: 100, refill: null, counter: "key_1", since: … }
 */
export function storedCredits(input: z.output<typeof creditsInput>, id: string, now: number): StoredCredits {
  return { remaining: input.remaining, refill: input.refill ?? null, counter: id, since: now };
}

/** A route's cost in credits: a whole number from 0 to 10^12. */
export const costOption = creditAmount;
