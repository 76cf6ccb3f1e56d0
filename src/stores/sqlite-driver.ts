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
  /** Rows the statement changed. */
  changes: number;
  /** The rowid of the last inserted row. */
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
  /** Runs a write statement. */
  run(...params: unknown[]): SqliteRunResult;
  /** The first row, or undefined. */
  get(...params: unknown[]): unknown;
  /** Every row. */
  all(...params: unknown[]): unknown[];
  /** Rows as arrays of values instead of objects. */
  raw(toggle?: boolean): this;
  /** Only the first column of each row. */
  pluck(toggle?: boolean): this;
}

/**
 * The parameters of `F` (written as better-sqlite3's types write it, so their transactions fit).
 *
 * @example
 * type Args = SqliteArguments<(id: string, n: number) => void>; // [id: string, n: number]
 */
export type SqliteArguments<F> = F extends (...args: infer A) => unknown ? A : never;

/**
 * A function wrapped in a transaction, with its IMMEDIATE variant.
 *
 * @example
 * const bump: SqliteTransaction<(n: number) => void> = store.db.transaction((n: number) => { store.db.prepare("UPDATE t SET n = n + ?").run(n); });
 * bump.immediate(1);
 *
 * @typeParam F - the wrapped function.
 */
// biome-ignore lint/suspicious/noExplicitAny: any function, as better-sqlite3 declares it
export interface SqliteTransaction<F extends (...args: any[]) => unknown> {
  /** Runs `F` in a DEFERRED transaction. */
  (...args: SqliteArguments<F>): ReturnType<F>;
  /** Runs `F` in an IMMEDIATE transaction (takes the write lock first). */
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
  /** The file name (`:memory:` for an in-memory database). */
  readonly name: string;
  /** Whether the handle is open. */
  readonly open: boolean;
  /** Whether the database lives in memory. */
  readonly memory: boolean;
  /** Compiles a statement. */
  prepare(source: string): SqliteStatement;
  /** Runs SQL without results. */
  exec(source: string): this;
  /** Reads or sets a PRAGMA. */
  pragma(
    source: string,
    options?: {
      /** Answer the first value only. */
      simple?: boolean;
    },
  ): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  /**
   * Wraps `fn` in a transaction.
   *
   * @typeParam F - the wrapped function.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any function, as better-sqlite3 declares it
  transaction<F extends (...args: any[]) => unknown>(fn: F): SqliteTransaction<F>;
  /** Closes the handle. */
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
