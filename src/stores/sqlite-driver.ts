/**
 * The part of better-sqlite3 that SqliteStore uses, as keyward's own structural types (so the
 * published `.d.ts` need no `@types/better-sqlite3`; a real better-sqlite3 `Database` fits them),
 * and the lazy loader: the native driver is required only when a store opens a file.
 */
import { ownRequire } from "./own-require.js";

/**
 * What a write statement reports.
 *
 * @example
 * const { changes }: SqliteRunResult = store.db.prepare("DELETE FROM keyward_counters").run();
 */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/**
 * A prepared statement (better-sqlite3's `Statement`, as far as keyward uses it).
 *
 * @example
 * const count: SqliteStatement = store.db.prepare("SELECT count(*) FROM keyward_keys").pluck();
 * count.get(); // 3
 */
export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  raw(toggle?: boolean): this;
  pluck(toggle?: boolean): this;
}

/** The parameters of `F` (written as better-sqlite3's types write it, so their transactions fit). */
export type SqliteArguments<F> = F extends (...args: infer A) => unknown ? A : never;

/**
 * A function wrapped in a transaction, with its IMMEDIATE variant.
 *
 * @example
 * const bump: SqliteTransaction<(n: number) => void> = store.db.transaction((n: number) => { store.db.prepare("UPDATE t SET n = n + ?").run(n); });
 * bump.immediate(1);
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface SqliteTransaction<F extends (...args: any[]) => unknown> {
  (...args: SqliteArguments<F>): ReturnType<F>;
  immediate(...args: SqliteArguments<F>): ReturnType<F>;
}

/**
 * A better-sqlite3 database handle, as far as keyward uses it. Pass a real one to share a
 * connection: `new SqliteStore(new Database("app.db"))`.
 *
 * @example
 * import Database from "better-sqlite3";
 * const db: SqliteDatabase = new Database("app.db");
 */
export interface SqliteDatabase {
  readonly name: string;
  readonly open: boolean;
  readonly memory: boolean;
  prepare(source: string): SqliteStatement;
  exec(source: string): this;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  transaction<F extends (...args: any[]) => unknown>(fn: F): SqliteTransaction<F>;
  close(): this;
}

type DatabaseConstructor = new (filename: string) => SqliteDatabase;

let driver: DatabaseConstructor | null = null;

/**
 * Opens `file` with better-sqlite3, loading the driver on first use.
 *
 * @example
 * const db = openDatabase("keyward.db");
 */
export function openDatabase(file: string): SqliteDatabase {
  driver ??= ownRequire()("better-sqlite3") as DatabaseConstructor;
  return new driver(file);
}
