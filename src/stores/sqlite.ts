/**
 * SqliteStore: the embedded default, on better-sqlite3. WAL journal with synchronous=NORMAL (no
 * fsync per commit), a versioned schema migrated in an IMMEDIATE transaction, and statements
 * prepared once. Several processes can share one file: after start-up SQLite never waits for
 * another connection's lock on the main thread (busy_timeout 0); a write that meets the lock is
 * retried on timers until a deadline. Rate-limit and quota counters are taken from the file in
 * small reserved batches, so most requests write nothing.
 */
import { type Stats, statSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { performance } from "node:perf_hooks";
import { openDatabase, type SqliteDatabase } from "./sqlite-driver.js";
import { pageSize } from "../core/status.js";
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { parseOptions } from "../core/options.js";
import type {
  CounterTake,
  KeyFilter,
  KeyFormatRecord,
  KeyPatch,
  KeyStore,
  MaybePromise,
  RotationChange,
  ScopeUseTotal,
  StoredKey,
  UsageDelta,
} from "../core/types.js";

type Db = SqliteDatabase;

/**
 * Options for {@link SqliteStore}.
 *
 * @example
 * import { SqliteStore, type SqliteStoreOptions } from "keyward/sqlite";
 * const options: SqliteStoreOptions = { busyTimeoutMs: 10_000, counterBatch: 1 }; // every counter write goes to the file
 * const keys = new KeyManager({ store: new SqliteStore("keys.db", options) });
 */
export interface SqliteStoreOptions {
  /**
   * How long a write waits for another connection's lock before failing, in ms. At start-up (the
   * schema migration) the constructor blocks for up to this long. After that nothing blocks: a write
   * that finds the file locked answers a promise and is retried on timers, for up to this long for
   * the background writes (usage flush, refunds, counter pruning, reserved units handed back on
   * `close()`), and for up to `requestBusyTimeoutMs` for the writes a caller waits on.
   * Defaults to 5000.
   */
  busyTimeoutMs?: number;
  /**
   * How long a write someone is waiting on (a rate-limit or quota counter take for a request, and
   * the management writes: insert, update, revoke, rotate) retries on another connection's lock
   * before failing, in ms; never longer than `busyTimeoutMs`. No attempt is made after this
   * deadline, so keep it at most half the KeyManager's `storeTimeout`: then a counter take never
   * lands after its request was answered 503, and a management write never lands after the caller
   * was told it failed. Defaults to 1000 (the KeyManager's default `storeTimeout` is 2 s).
   *
   * @example
   * // A KeyManager with storeTimeout "500ms": give up on a locked file after 250 ms on the request path.
   * new KeyManager({ store: new SqliteStore("keys.db", { requestBusyTimeoutMs: 250 }), storeTimeout: "500ms" });
   */
  requestBusyTimeoutMs?: number;
  /**
   * Most counter units (rate-limit or quota requests) reserved from the file in one write and then
   * handed out from memory: never more than 1% of what is left of the limit, so near the limit every
   * request writes through. A limit is never exceeded, even across processes; another process may be
   * refused while this one still holds reserved units (at most 1% of the remainder), which go back to
   * the file on `close()`. `1` writes every request through. Defaults to 1000.
   */
  counterBatch?: number;
}

/** Counter units this process took from the file and has not handed out yet. */
interface Reserve {
  /** The counter's value in the file after the last reservation. */
  count: number;
  /** Reserved units not yet handed out: the count seen by callers is `count - spare`. */
  spare: number;
  limit: number;
  resetAt: number;
}

/** The file's device and inode, or null when it cannot be read (e.g. a `file:` URI name). */
function identify(path: string): { path: string; dev: number; ino: number } | null {
  try {
    const stat = statSync(path);
    return { path, dev: stat.dev, ino: stat.ino };
  } catch {
    return null;
  }
}

/** An operation waiting for another connection's lock to go away. */
interface Waiter {
  run: () => unknown;
  /** `performance.now()` after which it is not attempted any more. */
  deadline: number;
  waitMs: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Longest pause between two attempts while the file stays locked, in ms. */
const MAX_PAUSE_MS = 20;

/**
 * SQLITE_BUSY and its extended codes: another connection holds the lock. Checked by code, not by
 * class: better-sqlite3's error class can come from another realm (e.g. a test runner's).
 */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

const MIGRATIONS: string[] = [
  `CREATE TABLE keyward_keys (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     start TEXT NOT NULL,
     name TEXT NOT NULL,
     owner_id TEXT,
     kind TEXT NOT NULL,
     project_id TEXT,
     projects TEXT NOT NULL,
     mode TEXT,
     scopes TEXT NOT NULL,
     tier TEXT,
     rate_limit TEXT,
     metadata TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     revoked_at INTEGER,
     last_used_at INTEGER,
     request_count INTEGER NOT NULL DEFAULT 0,
     rotated_from TEXT,
     rotated_to TEXT
   );
   CREATE INDEX keyward_keys_owner ON keyward_keys (owner_id, id);
   CREATE TABLE keyward_usage_daily (
     key_id TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (key_id, day)
   ) WITHOUT ROWID;
   CREATE TABLE keyward_counters (
     name TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Settings of the database as a whole, e.g. the key format (`key_format`: JSON { prefix, modes }).
  `CREATE TABLE keyward_meta (
     name TEXT PRIMARY KEY, value TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // Per-key IP allow-lists (JSON array of canonical entries; '[]' = any address) and pause/resume.
  `ALTER TABLE keyward_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE keyward_keys ADD COLUMN disabled_at INTEGER;`,
  // Lifecycle notices sent by keys.sweep() (key.expiring, quota.threshold, key.idle): one row each, claimed once.
  `CREATE TABLE keyward_notices (
     key_id TEXT NOT NULL, kind TEXT NOT NULL, threshold TEXT NOT NULL, period TEXT NOT NULL,
     PRIMARY KEY (key_id, kind, threshold, period)
   ) WITHOUT ROWID;`,
  // Scope uses per key, scope and UTC day (`keys.scopeUsage`).
  `CREATE TABLE keyward_scope_usage_daily (
     key_id TEXT NOT NULL, scope TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL, last_used_at INTEGER NOT NULL,
     PRIMARY KEY (key_id, day, scope)
   ) WITHOUT ROWID;`,
  // Per-key credits (JSON { remaining, refill, counter, since }; the balance spent lives in keyward_counters).
  `ALTER TABLE keyward_keys ADD COLUMN credits TEXT;`,
];

/**
 * The schema version this build writes (SQLite `user_version`).
 *
 * @example
 * import Database from "better-sqlite3";
 * import { SQLITE_SCHEMA_VERSION } from "keyward/sqlite";
 * const version = new Database("keyward.db").pragma("user_version", { simple: true }) as number;
 * if (version < SQLITE_SCHEMA_VERSION) console.log("keyward will migrate keyward.db on start-up");
 */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

const COLUMNS = `id, hash, start, name, owner_id, kind, project_id, projects, mode, scopes, tier, rate_limit, metadata,
  created_at, expires_at, revoked_at, last_used_at, request_count, rotated_from, rotated_to, allowed_ips, disabled_at, credits`;

/** A row as better-sqlite3 returns it in raw mode: the values in COLUMNS order (arrays build faster than objects). */
type Row = [
  id: string,
  hash: string,
  start: string,
  name: string,
  owner_id: string | null,
  kind: string,
  project_id: string | null,
  projects: string,
  mode: string | null,
  scopes: string,
  tier: string | null,
  rate_limit: string | null,
  metadata: string,
  created_at: number,
  expires_at: number | null,
  revoked_at: number | null,
  last_used_at: number | null,
  request_count: number,
  rotated_from: string | null,
  rotated_to: string | null,
  allowed_ips: string,
  disabled_at: number | null,
  credits: string | null,
];

function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === "function";
}

/** JSON.parse, with the common empty list and empty object built directly. */
function parseList(text: string): string[] {
  return text === "[]" ? [] : JSON.parse(text);
}

function parseObject(text: string): Record<string, unknown> {
  return text === "{}" ? {} : JSON.parse(text);
}

/** A recorded key format, as written by `claimKeyFormat`. */
function parseFormat(text: string): KeyFormatRecord {
  const value = JSON.parse(text) as { prefix: string; modes: string[] };
  return { prefix: value.prefix, modes: [...value.modes] };
}

function fromRow(row: Row): StoredKey {
  return {
    id: row[0],
    hash: row[1],
    start: row[2],
    name: row[3],
    ownerId: row[4],
    kind: row[5] === "project" ? "project" : "user",
    projectId: row[6],
    projects: parseList(row[7]),
    mode: row[8],
    scopes: parseList(row[9]),
    tier: row[10],
    rateLimit: row[11] === null ? null : JSON.parse(row[11]),
    metadata: parseObject(row[12]),
    createdAt: row[13],
    expiresAt: row[14],
    revokedAt: row[15],
    lastUsedAt: row[16],
    requestCount: row[17],
    rotatedFrom: row[18],
    rotatedTo: row[19],
    allowedIps: parseList(row[20]),
    disabledAt: row[21],
    credits: row[22] === null ? null : JSON.parse(row[22]),
  };
}

function toParams(k: StoredKey) {
  return {
    id: k.id,
    hash: k.hash,
    start: k.start,
    name: k.name,
    owner_id: k.ownerId,
    kind: k.kind,
    project_id: k.projectId,
    projects: JSON.stringify(k.projects),
    mode: k.mode,
    scopes: JSON.stringify(k.scopes),
    tier: k.tier,
    rate_limit: k.rateLimit === null ? null : JSON.stringify(k.rateLimit),
    metadata: JSON.stringify(k.metadata),
    created_at: k.createdAt,
    expires_at: k.expiresAt,
    revoked_at: k.revokedAt,
    last_used_at: k.lastUsedAt,
    request_count: k.requestCount,
    rotated_from: k.rotatedFrom,
    rotated_to: k.rotatedTo,
    allowed_ips: JSON.stringify(k.allowedIps),
    disabled_at: k.disabledAt,
    credits: k.credits == null ? null : JSON.stringify(k.credits),
  };
}

/** `SqliteStoreOptions`, checked once at construction (a bad value is a KeywardConfigError naming it). */
const SQLITE_OPTIONS = z.strictObject({
  busyTimeoutMs: z.number().int().min(0).max(3_600_000).default(5000),
  requestBusyTimeoutMs: z.number().int().min(0).max(3_600_000).default(1000),
  counterBatch: z.number().int().min(1).max(1_000_000).default(1000),
});

/**
 * A {@link KeyStore} on a SQLite file (or `:memory:`). Safe for several processes on one file.
 * Writes that find the file locked by another connection return a promise and are retried on
 * timers (see {@link SqliteStoreOptions}); the handle's `busy_timeout` is 0 after start-up, also on
 * a handle passed in. Reads never wait: in WAL mode a writer blocks no reader, and a read that
 * still meets SQLITE_BUSY (e.g. during WAL recovery) throws at once (the KeyManager answers 503).
 *
 * @example
 * import { SqliteStore } from "keyward/sqlite";
 * const keys = new KeyManager({ store: new SqliteStore("keys.db") });
 */
export class SqliteStore implements KeyStore {
  /** The better-sqlite3 handle, for apps that want to share it. */
  readonly db: Db;
  private readonly owned: boolean;
  private readonly stmt: ReturnType<SqliteStore["prepare"]>;
  private readonly batch: number;
  private readonly reserves = new Map<string, Reserve>();
  /** Scratch list of `fromReserves` (synchronous, so one list serves every call; its slots are overwritten, never read beyond a call). */
  private readonly found: Reserve[] = [];
  private sweepAt = 1024;
  private readonly reserveTx: (counter: string, limit: number, resetAt: number) => number;
  private readonly reserveAllTx: (takes: readonly CounterTake[]) => number[];
  /** Deadline of background writes (usage, refunds, pruning, close), in ms. */
  private readonly busyMs: number;
  /** Deadline of writes a caller waits on (counter takes, management writes), in ms. */
  private readonly requestBusyMs: number;
  /** Operations waiting for another connection's lock, oldest first, retried by one timer. */
  private readonly waiters: Waiter[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private pauseMs = 1;
  /** A `close()` waiting for the lock to hand reserved units back. */
  private closing: Promise<void> | null = null;
  /** The database file and its identity at open, to notice it being deleted or replaced (null in memory). */
  private readonly file: { path: string; dev: number; ino: number } | null;

  constructor(file: string | Db = "keyward.db", options: SqliteStoreOptions = {}) {
    const o = parseOptions(SQLITE_OPTIONS, options, "SqliteStore");
    this.batch = o.counterBatch;
    this.busyMs = o.busyTimeoutMs;
    this.requestBusyMs = Math.min(this.busyMs, o.requestBusyTimeoutMs);
    this.owned = typeof file === "string";
    this.db = typeof file === "string" ? openDatabase(file) : file;
    // Start-up may wait for another process's lock (the migration must run); nothing later does.
    this.db.pragma(`busy_timeout = ${this.busyMs}`);
    const onDisk = this.db.name !== ":memory:" && this.db.name !== "" && !this.db.memory;
    if (onDisk) this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    // Reads through a memory map instead of a read() per page: lookups among millions of keys
    // (random pages of the hash index) stay flat. Writes still go through the WAL.
    if (onDisk) this.db.pragma("mmap_size = 268435456");
    this.migrate();
    // From here on SQLite never sleeps on the main thread: a locked file answers SQLITE_BUSY at
    // once and the write is retried on timers (see `whenFree`). WAL readers are not blocked by a writer.
    this.db.pragma("busy_timeout = 0");
    this.file = onDisk ? identify(resolvePath(this.db.name)) : null;
    this.stmt = this.prepare();
    const reserve = this.db.transaction((counter: string, limit: number, resetAt: number) => this.reserve(counter, limit, resetAt));
    this.reserveTx = (counter, limit, resetAt) => reserve.immediate(counter, limit, resetAt);
    const reserveAll = this.db.transaction((takes: readonly CounterTake[]) => this.reserveAll(takes));
    this.reserveAllTx = (takes) => reserveAll.immediate(takes);
  }

  private migrate(): void {
    const run = this.db.transaction(() => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version > MIGRATIONS.length)
        throw new Error(`keyward: database schema version ${version} is newer than this keyward (${MIGRATIONS.length}); upgrade keyward`);
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
      if (version !== MIGRATIONS.length) this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    });
    run.immediate();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(
        `INSERT INTO keyward_keys (${COLUMNS}) VALUES (@id, @hash, @start, @name, @owner_id, @kind, @project_id, @projects, @mode, @scopes, @tier, @rate_limit, @metadata, @created_at, @expires_at, @revoked_at, @last_used_at, @request_count, @rotated_from, @rotated_to, @allowed_ips, @disabled_at, @credits)`,
      ),
      // A key in its rotation overlap counts through its successor: one lineage, one key.
      countActive: db
        .prepare(`SELECT count(*) AS n FROM keyward_keys k WHERE owner_id IS @owner AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)
        AND NOT EXISTS (SELECT 1 FROM keyward_keys s WHERE s.id = k.rotated_to AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > @now))`)
        .pluck(),
      endPredecessor: db.prepare(`UPDATE keyward_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > @at THEN @at ELSE expires_at END
        WHERE id = (SELECT rotated_from FROM keyward_keys WHERE id = @id) AND revoked_at IS NULL`),
      byHash: db.prepare(`SELECT ${COLUMNS} FROM keyward_keys WHERE hash = ?`).raw(),
      byId: db.prepare(`SELECT ${COLUMNS} FROM keyward_keys WHERE id = ?`).raw(),
      revoke: db.prepare(`UPDATE keyward_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`),
      link: db.prepare(
        `UPDATE keyward_keys SET rotated_to = ?, expires_at = CASE WHEN ? IS NULL THEN expires_at WHEN expires_at IS NULL THEN ? ELSE min(expires_at, ?) END, revoked_at = coalesce(?, revoked_at) WHERE id = ? AND revoked_at IS NULL AND rotated_to IS NULL`,
      ),
      addUsage: db.prepare(`UPDATE keyward_keys SET request_count = request_count + ?, last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`),
      addDaily: db.prepare(
        `INSERT INTO keyward_usage_daily (key_id, day, count) VALUES (?, ?, ?) ON CONFLICT (key_id, day) DO UPDATE SET count = count + excluded.count`,
      ),
      daily: db.prepare(`SELECT day, count FROM keyward_usage_daily WHERE key_id = ? AND day BETWEEN ? AND ? ORDER BY day`).raw(),
      addScopeUse: db.prepare(
        `INSERT INTO keyward_scope_usage_daily (key_id, scope, day, count, last_used_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key_id, day, scope) DO UPDATE SET count = count + excluded.count, last_used_at = max(last_used_at, excluded.last_used_at)`,
      ),
      scopeUses: db.prepare(
        `SELECT scope, sum(count) AS count, max(last_used_at) AS lastUsedAt FROM keyward_scope_usage_daily
         WHERE key_id = ? AND day BETWEEN ? AND ? GROUP BY scope ORDER BY scope`,
      ),
      counter: db.prepare(`SELECT count FROM keyward_counters WHERE name = ?`).pluck(),
      take: db.prepare(`INSERT INTO keyward_counters (name, count, reset_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET count = count + excluded.count`),
      refund: db.prepare(`UPDATE keyward_counters SET count = count - 1 WHERE name = ? AND count > 0`),
      release: db.prepare(`UPDATE keyward_counters SET count = max(0, count - ?) WHERE name = ?`),
      prune: db.prepare(`DELETE FROM keyward_counters WHERE reset_at <= ?`),
      meta: db.prepare(`SELECT value FROM keyward_meta WHERE name = ?`).pluck(),
      claimMeta: db.prepare(`INSERT INTO keyward_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
      claimNotice: db.prepare(`INSERT INTO keyward_notices (key_id, kind, threshold, period) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    };
  }

  insert(key: StoredKey, cap?: { max: number; now: number }): MaybePromise<boolean> {
    const tx = this.db.transaction(() => {
      if (cap && (this.stmt.countActive.get({ owner: key.ownerId, now: cap.now }) as number) >= cap.max) return false;
      this.stmt.insert.run(toParams(key));
      return true;
    });
    return this.write(() => tx.immediate(), this.requestBusyMs);
  }

  /** The key format recorded in the file, or null. */
  keyFormat(): KeyFormatRecord | null {
    const value = this.stmt.meta.get("key_format") as string | undefined;
    return value === undefined ? null : parseFormat(value);
  }

  /** Records `format` unless the file already holds one; returns the recorded format (one IMMEDIATE transaction). */
  claimKeyFormat(format: KeyFormatRecord): MaybePromise<KeyFormatRecord> {
    const tx = this.db.transaction(() => {
      this.stmt.claimMeta.run("key_format", JSON.stringify({ prefix: format.prefix, modes: format.modes }));
      return this.keyFormat()!;
    });
    return this.write(() => tx.immediate(), this.requestBusyMs);
  }

  /** Records a lifecycle notice once (INSERT … ON CONFLICT DO NOTHING): true only for the claim that inserted the row. */
  claimNotice(keyId: string, kind: string, threshold: string, period: string): MaybePromise<boolean> {
    return this.write(() => this.stmt.claimNotice.run(keyId, kind, threshold, period).changes === 1, this.busyMs);
  }

  findByHash(hash: string): StoredKey | null {
    const row = this.stmt.byHash.get(hash) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  findById(id: string): StoredKey | null {
    const row = this.stmt.byId.get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  list(filter: KeyFilter): StoredKey[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.ownerId !== undefined) {
      where.push("owner_id IS ?");
      params.push(filter.ownerId);
    }
    if (filter.mode !== undefined) {
      where.push("mode IS ?");
      params.push(filter.mode);
    }
    if (filter.kind !== undefined) {
      where.push("kind = ?");
      params.push(filter.kind);
    }
    if (filter.before !== undefined) {
      where.push("id < ?");
      params.push(filter.before);
    }
    if (filter.projectId !== undefined) {
      where.push(
        "((kind = 'project' AND project_id = ?) OR (kind = 'user' AND (projects = '[]' OR EXISTS (SELECT 1 FROM json_each(projects) WHERE value = ?))))",
      );
      params.push(filter.projectId, filter.projectId);
    }
    const now = filter.now ?? Date.now();
    if (filter.status === "revoked") where.push("revoked_at IS NOT NULL");
    else if (filter.status === "expired") {
      where.push("revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?");
      params.push(now);
    } else if (filter.status === "active") {
      where.push("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND disabled_at IS NULL");
      params.push(now);
    } else if (filter.status === "disabled") {
      where.push("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND disabled_at IS NOT NULL");
      params.push(now);
    }
    const sql = `SELECT ${COLUMNS} FROM keyward_keys ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ?`;
    params.push(pageSize(filter.limit));
    return (
      this.db
        .prepare(sql)
        .raw()
        .all(...params) as Row[]
    ).map(fromRow);
  }

  update(id: string, patch: KeyPatch): MaybePromise<StoredKey | null> {
    const sets: string[] = [];
    const params: unknown[] = [];
    if (patch.name !== undefined) {
      sets.push("name = ?");
      params.push(patch.name);
    }
    if (patch.scopes !== undefined) {
      sets.push("scopes = ?");
      params.push(JSON.stringify(patch.scopes));
    }
    if (patch.metadata !== undefined) {
      sets.push("metadata = ?");
      params.push(JSON.stringify(patch.metadata));
    }
    if (patch.expiresAt !== undefined) {
      sets.push("expires_at = ?");
      params.push(patch.expiresAt);
    }
    if (patch.allowedIps !== undefined) {
      sets.push("allowed_ips = ?");
      params.push(JSON.stringify(patch.allowedIps));
    }
    if (patch.disabledAt !== undefined) {
      sets.push("disabled_at = ?");
      params.push(patch.disabledAt);
    }
    if (patch.credits !== undefined) {
      sets.push("credits = ?");
      params.push(patch.credits === null ? null : JSON.stringify(patch.credits));
    }
    if (sets.length === 0) return this.findById(id);
    const statement = this.db.prepare(`UPDATE keyward_keys SET ${sets.join(", ")} WHERE id = ?`);
    return this.write(() => {
      statement.run(...params, id);
      return this.findById(id);
    }, this.requestBusyMs);
  }

  revoke(id: string, at: number): MaybePromise<StoredKey | null> {
    return this.write(() => {
      this.stmt.revoke.run(at, id);
      return this.findById(id);
    }, this.requestBusyMs);
  }

  rotate(oldId: string, successor: StoredKey, change: RotationChange): MaybePromise<boolean> {
    const tx = this.db.transaction(() => {
      const expires = change.expiresAt ?? null;
      const linked = this.stmt.link.run(successor.id, expires, expires, expires, change.revokedAt ?? null, oldId);
      if (linked.changes !== 1) return false;
      this.stmt.insert.run(toParams(successor));
      if (change.endPredecessorAt !== undefined) this.stmt.endPredecessor.run({ at: change.endPredecessorAt, id: oldId });
      return true;
    });
    return this.write(() => tx.immediate(), this.requestBusyMs);
  }

  /**
   * Adds a batch of usage in one transaction. Throws (or rejects) when the database file was deleted
   * or replaced since it was opened, naming the file: the KeyManager keeps the counts in memory and
   * reports `usage.flush_failed` instead of writing them to a file that is gone.
   */
  recordUsage(batch: UsageDelta[]): MaybePromise<void> {
    this.checkFile();
    const tx = this.db.transaction(() => {
      for (const delta of batch) {
        const known = this.stmt.addUsage.run(delta.count, delta.lastUsedAt, delta.id).changes > 0;
        for (const [day, count] of delta.days) this.stmt.addDaily.run(delta.id, day, count);
        if (known && delta.scopes) for (const s of delta.scopes) this.stmt.addScopeUse.run(delta.id, s.scope, s.day, s.count, s.lastUsedAt);
      }
    });
    return this.write(() => tx.immediate(), this.busyMs);
  }

  usage(id: string, fromDay: number, toDay: number): Array<[number, number]> {
    return this.stmt.daily.all(id, fromDay, toDay) as Array<[number, number]>;
  }

  scopeUsage(id: string, fromDay: number, toDay: number): ScopeUseTotal[] {
    return this.stmt.scopeUses.all(id, fromDay, toDay) as ScopeUseTotal[];
  }

  consume(counter: string, limit: number, resetAt: number): MaybePromise<number> {
    if (limit < 1) return -1;
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare > 0 && r.limit === limit && r.resetAt === resetAt) {
      r.spare--;
      return r.count - r.spare;
    }
    try {
      return this.reserveTx(counter, limit, resetAt);
    } catch (error) {
      // Retried from the reserve: units reserved meanwhile by another request are used first.
      return this.whenFree(error, () => this.consumeNow(counter, limit, resetAt), this.requestBusyMs);
    }
  }

  refund(counter: string): MaybePromise<void> {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare < r.count) r.spare++;
    else
      return this.write(() => {
        this.stmt.refund.run(counter);
      }, this.busyMs);
  }

  /**
   * Takes every `takes[i].units` when all stay within their limits, else nothing: from this
   * process's reserved units when they cover every take, else in one IMMEDIATE transaction on the
   * file (so two processes on one file never see a partial take).
   */
  consumeAll(takes: readonly CounterTake[]): MaybePromise<number[]> {
    const reserved = this.fromReserves(takes);
    if (reserved !== null) return reserved;
    try {
      return this.reserveAllTx(takes);
    } catch (error) {
      return this.whenFree(error, () => this.fromReserves(takes) ?? this.reserveAllTx(takes), this.requestBusyMs);
    }
  }

  /** Gives back `takes[i].units` of each counter: to this process's reserve when they came from it, else to the file. */
  refundAll(takes: readonly CounterTake[]): MaybePromise<void> {
    const toFile: CounterTake[] = [];
    for (const t of takes) {
      const r = this.reserves.get(t.counter);
      if (r !== undefined && r.count - r.spare >= t.units) r.spare += t.units;
      else toFile.push(t);
    }
    if (toFile.length === 0) return;
    return this.write(() => {
      for (const t of toFile) this.stmt.release.run(t.units, t.counter);
    }, this.busyMs);
  }

  /** The counter's count now: the file's, less the units this process reserved and has not used. */
  count(counter: string): number {
    const inFile = (this.stmt.counter.get(counter) as number | undefined) ?? 0;
    return Math.max(0, inFile - (this.reserves.get(counter)?.spare ?? 0));
  }

  /** The takes from reserved units when every one is covered (nothing taken otherwise); null when not covered. */
  private fromReserves(takes: readonly CounterTake[]): number[] | null {
    // The reserves found by the check, kept for the take: one Map lookup per counter, not two.
    const found = this.found;
    for (let i = 0; i < takes.length; i++) {
      const t = takes[i]!;
      const r = this.reserves.get(t.counter);
      if (r === undefined || r.spare < t.units || r.limit !== t.limit || r.resetAt !== t.resetAt) return null;
      found[i] = r;
    }
    const counts = new Array<number>(takes.length);
    for (let i = 0; i < takes.length; i++) {
      const r = found[i]!;
      r.spare -= takes[i]!.units;
      counts[i] = r.count - r.spare;
    }
    return counts;
  }

  /**
   * Inside an IMMEDIATE transaction: hands this process's spare units of the counters back, checks
   * every take against the file's counts, and takes all of them (each plus a reserve, as `reserve`
   * does) or none.
   */
  private reserveAll(takes: readonly CounterTake[]): number[] {
    const counts = new Array<number>(takes.length);
    let refused = false;
    for (let i = 0; i < takes.length; i++) {
      const t = takes[i]!;
      const old = this.reserves.get(t.counter);
      if (old !== undefined) {
        this.reserves.delete(t.counter);
        if (old.spare > 0) this.stmt.release.run(old.spare, t.counter);
      }
      if (t.limit < 1) refused = true;
      const n = ((this.stmt.counter.get(t.counter) as number | undefined) ?? 0) + t.units;
      counts[i] = n > t.limit ? -1 : n;
      if (n > t.limit) refused = true;
    }
    if (refused) {
      const first = counts.indexOf(-1);
      if (first >= 0) counts.length = first + 1;
      else counts[0] = -1;
      return counts;
    }
    for (let i = 0; i < takes.length; i++) {
      const t = takes[i]!;
      const n = counts[i]!;
      const extra = Math.max(0, Math.min(this.batch - 1, Math.floor((t.limit - n) / 100)));
      this.stmt.take.run(t.counter, t.units + extra, t.resetAt);
      if (extra > 0) {
        if (this.reserves.size >= this.sweepAt) this.sweep();
        this.reserves.set(t.counter, { count: n + extra, spare: extra, limit: t.limit, resetAt: t.resetAt });
      }
    }
    return counts;
  }

  /** Deletes counters whose window ended at or before `now` (the KeyManager's clock, once a minute). */
  prune(now: number): MaybePromise<void> {
    return this.write(() => {
      this.stmt.prune.run(now);
    }, this.busyMs);
  }

  /**
   * Hands reserved counter units back to the file and closes it (when this store opened it). If
   * another connection holds the lock, answers a promise that waits up to `busyTimeoutMs` for it.
   */
  close(): MaybePromise<void> {
    if (this.closing !== null) return this.closing;
    if (!this.db.open) return;
    let released: MaybePromise<void>;
    try {
      released = this.releaseReserves();
    } catch (error) {
      this.shut();
      throw error;
    }
    if (!isPromise(released)) return this.shut();
    this.closing = released.finally(() => this.shut());
    return this.closing;
  }

  /** Closes the handle (when owned) and fails whatever still waits for a lock. */
  private shut(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.owned && this.db.open) this.db.close();
    for (const w of this.waiters.splice(0))
      w.reject(new Error(`keyward: the SQLite store ${this.db.name} was closed while a write waited for another connection's lock`));
  }

  /** `consume` once, throwing SQLITE_BUSY when the file is locked. */
  private consumeNow(counter: string, limit: number, resetAt: number): number {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare > 0 && r.limit === limit && r.resetAt === resetAt) {
      r.spare--;
      return r.count - r.spare;
    }
    return this.reserveTx(counter, limit, resetAt);
  }

  /** Runs `run` now; if the file is locked, answers a promise that retries it (see `whenFree`). */
  private write<T>(run: () => T, waitMs: number): MaybePromise<T> {
    try {
      return run();
    } catch (error) {
      return this.whenFree(error, run, waitMs);
    }
  }

  /**
   * After `error` from a first attempt: rethrows it unless it is SQLITE_BUSY, else queues `run` to be
   * retried on a timer (never blocking the event loop), oldest first, with pauses growing from 1 to
   * 20 ms. Nothing is attempted after `waitMs`: the promise then rejects with a "locked" error.
   */
  private whenFree<T>(error: unknown, run: () => T, waitMs: number): Promise<T> {
    if (!isBusy(error)) throw error;
    if (waitMs <= 0) throw this.lockedError(0, error);
    if (this.waiters.length === 0 && this.retryTimer === null) this.pauseMs = 1; // a new spell of contention
    return new Promise<T>((resolve, reject) => {
      this.waiters.push({ run, deadline: performance.now() + waitMs, waitMs, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.waiters.length === 0) return;
    this.retryTimer = setTimeout(this.retryWaiters, Math.max(1, Math.round(this.pauseMs * (0.75 + Math.random() / 2))));
  }

  /** One round: runs waiters in order until one still finds the file locked; fails those past their deadline. */
  private readonly retryWaiters = (): void => {
    this.retryTimer = null;
    let locked = false;
    let progressed = false;
    let lastError: unknown = null;
    const still: Waiter[] = [];
    for (const w of this.waiters.splice(0)) {
      if (performance.now() >= w.deadline) {
        w.reject(this.lockedError(w.waitMs, lastError));
        continue;
      }
      if (locked) {
        still.push(w);
        continue;
      }
      try {
        w.resolve(w.run());
        progressed = true;
      } catch (error) {
        if (isBusy(error)) {
          locked = true;
          lastError = error;
          still.push(w);
        } else {
          w.reject(error);
        }
      }
    }
    // Anything queued by a resolution above (it runs later, as a microtask) goes after these.
    this.waiters.unshift(...still);
    this.pauseMs = progressed ? 1 : Math.min(MAX_PAUSE_MS, this.pauseMs * 2);
    this.scheduleRetry();
  };

  private lockedError(waitMs: number, cause: unknown): Error {
    const error = new Error(
      `keyward: the SQLite database ${this.db.name} is locked by another connection (still busy after ${waitMs} ms)`,
      cause === null ? undefined : { cause },
    );
    (error as Error & { code: string }).code = "SQLITE_BUSY";
    return error;
  }

  /** Throws when the database file was deleted, its directory removed, or the file replaced since it was opened. */
  private checkFile(): void {
    if (this.file === null) return;
    let stat: Stats;
    try {
      stat = statSync(this.file.path);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
      throw new Error(
        `keyward: the SQLite database file ${this.file.path} no longer exists (it or its directory was deleted while the app runs); writes would go to the deleted file and be lost, so usage is kept in memory: restart the app with the database in place`,
      );
    }
    if (stat.ino !== this.file.ino || stat.dev !== this.file.dev) {
      throw new Error(
        `keyward: the SQLite database file ${this.file.path} was replaced by another file while the app runs; this process still writes to the old one, so usage is kept in memory: restart the app to open the new file`,
      );
    }
  }

  /**
   * Inside an IMMEDIATE transaction: gives back any spare units reserved under another limit, then
   * takes one unit plus up to 1% of what is left (at most `counterBatch - 1` more) from the file.
   * Returns the count after this request, or -1 at the limit.
   */
  private reserve(counter: string, limit: number, resetAt: number): number {
    const old = this.reserves.get(counter);
    if (old !== undefined) {
      this.reserves.delete(counter);
      if (old.spare > 0) this.stmt.release.run(old.spare, counter);
    }
    const current = (this.stmt.counter.get(counter) as number | undefined) ?? 0;
    if (current >= limit) return -1;
    const take = Math.max(1, Math.min(this.batch, Math.floor((limit - current) / 100)));
    this.stmt.take.run(counter, take, resetAt);
    if (take > 1) {
      if (this.reserves.size >= this.sweepAt) this.sweep();
      this.reserves.set(counter, { count: current + take, spare: take - 1, limit, resetAt });
    }
    return current + 1;
  }

  /** Forgets reserves of windows that have ended (their units lapse with the window). */
  private sweep(): void {
    const now = Date.now();
    for (const [name, r] of this.reserves) if (r.resetAt <= now) this.reserves.delete(name);
    this.sweepAt = Math.max(1024, this.reserves.size * 2);
  }

  /** Gives unused reserved units back to the file, so other processes can use them. */
  private releaseReserves(): MaybePromise<void> {
    if (this.reserves.size === 0) return;
    const tx = this.db.transaction(() => {
      for (const [name, r] of this.reserves) if (r.spare > 0) this.stmt.release.run(r.spare, name);
    });
    const clear = () => this.reserves.clear();
    let released: MaybePromise<void>;
    try {
      released = this.write(() => tx.immediate(), this.busyMs);
    } catch (error) {
      clear();
      throw error;
    }
    if (!isPromise(released)) return clear();
    return released.finally(clear);
  }
}

concealInternals(SqliteStore, (store) => ({ file: store.db.name, open: store.db.open }));
