/** Option validation with zod (the first issue becomes a KeywardConfigError naming the option) and shared option schemas. */
import { z } from "zod";
import { durationMs } from "./duration.js";
import { optionsError } from "./zod-issues.js";
import { scopeError } from "./scopes.js";

/**
 * Parses `value` with `schema` or throws a {@link KeywardConfigError} naming the option path.
 *
 * @example
 * const config = parseOptions(z.strictObject({ header: z.string() }), options, "apiKeyAuth");
 */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown, owner: string): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw optionsError(result.error.issues, owner);
}

/** A function-valued option. */
export const fn = <F extends (...args: never[]) => unknown>(what = "a function") => z.custom<F>((v) => typeof v === "function", { message: `must be ${what}` });

/** A duration option (`"90d"`, `"1m"`, or seconds), resolved to milliseconds. */
export const durationOption = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = durationMs(v);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not a duration; use e.g. "90d", "1m", "500ms" or a number of seconds` });
    return z.NEVER;
  }
  return ms;
});

/** A scope option, checked against the grammar. */
export const scopeOption = z.string().superRefine((v, ctx) => {
  const error = scopeError(v);
  if (error) ctx.addIssue({ code: "custom", message: error });
});

/** A positive integer limit. */
export const countOption = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A rate limit option: `{ limit: 100, window: "1m" }`. */
export const rateLimitOption = z
  .strictObject({ limit: countOption, window: durationOption.refine((ms) => ms >= 1000, "window must be at least 1s") })
  .transform(({ limit, window }) => ({ limit, windowMs: window }));

/** What a route does when the counter store fails: `"closed"`, `"open"` or `"local"`. */
export const storeErrorOption = z.enum(["closed", "open", "local"], { message: 'must be "closed", "open" or "local"' });
