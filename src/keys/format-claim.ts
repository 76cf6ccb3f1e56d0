/**
 * The key format a database records: the first KeyManager (or CLI) to use a database records its
 * prefix and modes there; every later one compares its own with it, so an app and the CLI (or two
 * apps) configured with different formats fail with a clear error naming both, instead of one
 * minting keys the other refuses. Runs once, at the store's initialization, never per request.
 */
import { KeywardConfigError } from "../core/errors.js";
import type { KeyFormatRecord, KeyStore, MaybePromise, StoredKey } from "../core/types.js";

const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> => typeof (v as Promise<T> | null)?.then === "function";
const after = <T, R>(value: MaybePromise<T>, next: (v: T) => MaybePromise<R>): MaybePromise<R> => (isPromise(value) ? value.then(next) : next(value));

/**
 * Whether two formats accept the same keys: the same prefix and the same set of modes (their order
 * only picks the default mode of new keys).
 *
 * @example
 * sameKeyFormat({ prefix: "xk", modes: ["test", "live"] }, { prefix: "xk", modes: ["live", "test"] }); // true
 * sameKeyFormat({ prefix: "xk", modes: ["live", "test"] }, { prefix: "sk", modes: ["live", "test"] }); // false
 */
export function sameKeyFormat(a: KeyFormatRecord, b: KeyFormatRecord): boolean {
  return a.prefix === b.prefix && a.modes.length === b.modes.length && a.modes.every((m) => b.modes.includes(m));
}

/**
 * A format in words: `prefix "xk" with modes live,test`, or `prefix "orbit" without modes`.
 *
 * @example
 * describeKeyFormat({ prefix: "xk", modes: ["live", "test"] }); // 'prefix "xk" with modes live,test'
 */
export function describeKeyFormat(format: KeyFormatRecord): string {
  return `prefix "${format.prefix}" ${format.modes.length ? `with modes ${format.modes.join(",")}` : "without modes"}`;
}

/** How a store names itself in an error: its file or schema, from its printable summary (never a connection string). */
function storeLabel(store: KeyStore): string {
  const summary = (store as { toJSON?: () => unknown }).toJSON?.() as Record<string, unknown> | undefined;
  const type = typeof summary?.type === "string" ? summary.type : store.constructor.name;
  if (typeof summary?.file === "string") return `${summary.file} (${type})`;
  if (typeof summary?.schema === "string") return `schema "${summary.schema}" (${type})`;
  return `behind this ${type}`;
}

/** The error for a store holding keys of `recorded` when this manager makes and accepts `own`. */
function mismatch(store: KeyStore, recorded: KeyFormatRecord, own: KeyFormatRecord, holds = "holds keys of"): KeywardConfigError {
  const option = recorded.prefix !== own.prefix ? "prefix" : "modes";
  const modes = recorded.modes.map((m) => JSON.stringify(m)).join(", ");
  return new KeywardConfigError(
    option,
    `the database ${storeLabel(store)} ${holds} ${describeKeyFormat(recorded)}; this KeyManager was configured with ${describeKeyFormat(own)}, ` +
      `so it would refuse the stored keys and make keys other users of the database refuse. ` +
      `Configure prefix: "${recorded.prefix}", modes: [${modes}] to match it (keyward CLI: --prefix ${recorded.prefix} --modes ${recorded.modes.join(",") || "none"}), or use another database for the new format.`,
  );
}

/** The format a key written before formats were recorded belongs to, from its display start and mode. */
function formatOfKey(key: StoredKey, own: KeyFormatRecord): KeyFormatRecord | null {
  const prefix = key.start.split("_")[0] ?? "";
  const fits = prefix === own.prefix && (key.mode === null ? own.modes.length === 0 : own.modes.includes(key.mode));
  if (fits) return null;
  return { prefix, modes: key.mode === null ? [] : [key.mode] };
}

/**
 * Records `own` as the store's key format when it has none (after checking that keys already in
 * it, written before formats were recorded, fit `own`), or checks `own` against the recorded one.
 * Throws (or rejects with) a {@link KeywardConfigError} naming both formats on a mismatch. Stores
 * without `claimKeyFormat` are not checked.
 *
 * @example
 * await claimStoreFormat(store, { prefix: "xk", modes: ["live", "test"] }); // throws when the database holds "sk" keys
 */
export function claimStoreFormat(store: KeyStore, own: KeyFormatRecord): MaybePromise<void> {
  const claim = store.claimKeyFormat?.bind(store);
  if (!claim) return;
  const check = (recorded: KeyFormatRecord): void => {
    if (!sameKeyFormat(recorded, own)) throw mismatch(store, recorded, own);
  };
  const recorded = store.keyFormat ? store.keyFormat() : null;
  return after(recorded, (found) => {
    if (found !== null) return check(found);
    // Nothing recorded yet: a database from before formats were recorded may already hold keys.
    return after(store.list({ limit: 1 }), (keys) => {
      const legacy = keys[0] ? formatOfKey(keys[0], own) : null;
      if (legacy) throw mismatch(store, legacy, own, "already holds keys (such as " + keys[0]!.start + "…) of");
      return after(claim({ prefix: own.prefix, modes: [...own.modes] }), check);
    });
  });
}
