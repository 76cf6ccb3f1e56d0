/**
 * The zero-config KeyManager: a SqliteStore at `KEYWARD_DB` (or `./keyward.db`), prefix
 * `KEYWARD_PREFIX` (or `sk`), modes `KEYWARD_MODES` (or live,test) — the same file and format the
 * `keyward` CLI uses by default, so keys it creates authenticate here.
 */
import { KeyManager } from "./key-manager.js";
import { SqliteStore } from "../stores/sqlite.js";

let shared: KeyManager | null = null;

/**
 * The database file the zero-config setup and the CLI use: `$KEYWARD_DB` or `keyward.db`.
 *
 * @example
 * defaultDatabasePath(); // "keyward.db", or $KEYWARD_DB when set
 */
export function defaultDatabasePath(): string {
  return process.env.KEYWARD_DB || "keyward.db";
}

/**
 * Parses a modes list such as `"live,test"`; `"none"` (or only commas) means keys without a mode.
 *
 * @example
 * parseModes("live, test"); // ["live", "test"]
 * parseModes("none");       // []
 */
export function parseModes(value: string): string[] {
  if (value.trim().toLowerCase() === "none") return [];
  return value
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
}

/**
 * The key format of the zero-config setup and the CLI: `$KEYWARD_PREFIX` (default `sk`) and
 * `$KEYWARD_MODES` (comma-separated, default `live,test`; `none` for keys without a mode).
 *
 * @example
 * process.env.KEYWARD_PREFIX = "xk";
 * defaultKeyFormat(); // { prefix: "xk", modes: ["live", "test"] }
 */
export function defaultKeyFormat(): {
  /** `$KEYWARD_PREFIX` or `sk`. */ prefix: string;
  /** `$KEYWARD_MODES` or `["live", "test"]`. */ modes: string[];
} {
  const prefix = process.env.KEYWARD_PREFIX || "sk";
  const modes = process.env.KEYWARD_MODES ? parseModes(process.env.KEYWARD_MODES) : ["live", "test"];
  return { prefix, modes };
}

/**
 * The process-wide default KeyManager, created on first use.
 *
 * @example
 * const keys = defaultKeyManager(); // same keys the CLI created in ./keyward.db
 */
export function defaultKeyManager(): KeyManager {
  if (!shared) shared = new KeyManager({ store: new SqliteStore(defaultDatabasePath()), ...defaultKeyFormat() });
  return shared;
}
