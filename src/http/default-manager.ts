/**
 * The zero-config KeyManager: a SqliteStore at `KEYWARD_DB` (or `./keyward.db`), prefix `sk`,
 * modes live/test — the same file and format the `keyward` CLI uses by default.
 */
import { KeyManager } from "../keys/key-manager.js";
import { SqliteStore } from "../stores/sqlite.js";

let shared: KeyManager | null = null;

/** The database file the zero-config setup and the CLI use: `$KEYWARD_DB` or `keyward.db`. */
export function defaultDatabasePath(): string {
  return process.env.KEYWARD_DB || "keyward.db";
}

/**
 * The process-wide default KeyManager, created on first use.
 *
 * @example
 * const keys = defaultKeyManager(); // same keys the CLI created in ./keyward.db
 */
export function defaultKeyManager(): KeyManager {
  if (!shared) shared = new KeyManager({ store: new SqliteStore(defaultDatabasePath()) });
  return shared;
}
