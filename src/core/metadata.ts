/** Metadata checks: a plain JSON object, at most 4 KiB serialized, no prototype-polluting keys. */

/** Largest serialized metadata accepted, in bytes. */
export const MAX_METADATA_BYTES = 4096;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Why `value` is not acceptable metadata, or null. Never throws. */
export function metadataError(value: unknown): string | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "must be a JSON object";
  const bad = findForbiddenKey(value, 0);
  if (bad) return bad;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return "must be JSON-serializable";
  }
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES) return `is ${Buffer.byteLength(text)} bytes serialized; at most ${MAX_METADATA_BYTES} are allowed`;
  return null;
}

function findForbiddenKey(value: unknown, depth: number): string | null {
  if (depth > 8) return "is nested more than 8 levels deep";
  if (value === null || typeof value !== "object") {
    if (typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") return "must contain only JSON values";
    if (typeof value === "number" && !Number.isFinite(value)) return "must contain only finite numbers";
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return "must contain only plain objects and arrays";
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `must not use the key "${key}"`;
    const inner = findForbiddenKey((value as Record<string, unknown>)[key], depth + 1);
    if (inner) return inner;
  }
  return null;
}

/** A copy of metadata with a null prototype removed (plain objects only). */
export function cloneMetadata(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value));
}
