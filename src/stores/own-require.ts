/**
 * A `require` that resolves from keyward's own location, in the CommonJS and the ESM build alike,
 * so a CommonJS dependency (the native better-sqlite3 driver) can be loaded synchronously and only
 * when it is first needed. CommonJS has a module-local `require`; under ESM (no `require`, and
 * `import.meta` cannot be written in a source compiled to both formats) the module's own file URL
 * is read off a V8 call site and handed to `createRequire`.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

let cached: NodeJS.Require | null = null;

/** This module's file (a path under CommonJS, a `file:` URL under ESM), or null when it cannot be told. */
function ownFile(): string | null {
  if (typeof __filename === "string") return __filename;
  const { prepareStackTrace, stackTraceLimit } = Error;
  try {
    Error.stackTraceLimit = 1;
    Error.prepareStackTrace = (_error, frames) => frames;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder);
    const frames = holder.stack as NodeJS.CallSite[] | undefined;
    return frames?.[0]?.getFileName() ?? null;
  } catch {
    return null;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * The `require` of this module: the CommonJS one when there is one, else one made with
 * `createRequire` at this file (falling back to the working directory).
 *
 * @example
 * const Database = ownRequire()("better-sqlite3");
 */
export function ownRequire(): NodeJS.Require {
  if (cached) return cached;
  if (typeof require === "function") cached = require;
  else cached = createRequire(ownFile() ?? join(process.cwd(), "keyward.js"));
  return cached;
}
