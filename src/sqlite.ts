/** keyward/sqlite: the embedded SQLite store (better-sqlite3). */
export { SqliteStore, SQLITE_SCHEMA_VERSION } from "./stores/sqlite.js";
export type { SqliteStoreOptions } from "./stores/sqlite.js";
export type { SqliteArguments, SqliteDatabase, SqliteStatement, SqliteTransaction, SqliteRunResult } from "./stores/sqlite-driver.js";
