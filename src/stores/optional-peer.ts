/**
 * Finds out, synchronously and without loading it, whether an optional peer package (`pg`) can be
 * loaded from keyward's own location, so a missing driver is a clear error when a store is
 * constructed instead of a silent 503 on every request. Works in the CommonJS and the ESM build.
 */
import { createRequire } from "node:module";

/** A file URL or path of this module: `__filename` under CommonJS, read off a stack frame under ESM. */
function ownLocation(): string | null {
  if (typeof __filename === "string") return __filename;
  const frame = /\((file:\/\/[^)]+?):\d+:\d+\)|at (file:\/\/\S+?):\d+:\d+/.exec(new Error().stack ?? "");
  return frame ? (frame[1] ?? frame[2] ?? null) : null;
}

/**
 * Whether `name` resolves from keyward's location; `null` when that cannot be told (then the
 * caller loads it later as before).
 *
 * @example
 * if (peerAvailable("pg") === false) throw new KeywardConfigError("PostgresStore", "install pg: npm install pg");
 */
export function peerAvailable(name: string): boolean | null {
  try {
    const resolve =
      typeof require === "function"
        ? require.resolve
        : (() => {
            const here = ownLocation();
            return here === null ? null : createRequire(here).resolve;
          })();
    if (resolve === null) return null;
    resolve(name);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException)?.code === "MODULE_NOT_FOUND" ? false : null;
  }
}
