/** Durations: `"90d"`, `"12h"`, `"30m"`, `"45s"`, `"500ms"`, `"2w"`, or a number of seconds → milliseconds. */
import { KeywardError } from "./errors.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PATTERN = /^(\d{1,12})(ms|s|m|h|d|w)$/;
/** One day in milliseconds (UTC days: usage is counted per UTC day). */
export const DAY_MS = 86_400_000;
/** The longest duration accepted: 100 years. */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/**
 * A duration as a string with a unit or a number of seconds.
 *
 * @example
 * const lifetime: Duration = "90d"; // or "12h", "30m", "500ms", or 3600 (seconds)
 */
export type Duration = string | number;

/**
 * Milliseconds in `value`, or `null` when it is not a duration. Never throws.
 *
 * @example
 * durationMs("12h"); // 43200000
 * durationMs("soon"); // null
 */
export function durationMs(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return null;
    ms = Math.round(value * 1000);
  } else if (typeof value === "string") {
    const match = PATTERN.exec(value.trim());
    if (!match) return null;
    ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  } else return null;
  return ms <= MAX_DURATION_MS ? ms : null;
}

/**
 * Milliseconds in `value`; throws a `validation_failed` error naming `field` otherwise.
 *
 * @example
 * parseDuration("90d");  // 7776000000
 * parseDuration(30);     // 30000 (seconds)
 * parseDuration("soon"); // throws
 */
export function parseDuration(value: unknown, field = "duration"): number {
  const ms = durationMs(value);
  if (ms === null) {
    const shown =
      typeof value === "string"
        ? `"${value.slice(0, 40)}"`
        : typeof value === "number"
          ? String(value)
          : `a value of type ${value === null ? "null" : typeof value}`;
    throw new KeywardError(
      "validation_failed",
      `${field}: ${shown} is not a duration; use e.g. "90d", "12h", "30m", "45s" or a number of seconds (at most 100 years)`,
      { details: [{ path: field, message: "not a duration" }] },
    );
  }
  return ms;
}

/**
 * A duration in the largest whole unit that expresses it exactly, for messages.
 *
 * @example
 * formatDuration(604_800_000); // "7d"
 * formatDuration(90_000);      // "90s"
 */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) if (ms >= UNIT_MS[unit]! && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  return `${ms}ms`;
}
