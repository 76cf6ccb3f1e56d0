/**
 * SqliteStore: the embedded default, on better-sqlite3. WAL journal with synchronous=NORMAL (no
 * fsync per commit), a busy timeout so several processes can share one file, a versioned schema
 * migrated in an IMMEDIATE transaction, and statements prepared once. Rate-limit and quota
 * counters are taken from the file in small reserved batches, so most requests write nothing.
 */
import Database from "better-sqlite3";
import { pageSize } from "../core/status.js";
import { concealInternals } from "../core/conceal.js";
import type { KeyFilter, KeyPatch, KeyStore, RotationChange, StoredKey, UsageDelta } from "../core/types.js";

type Db = Database.Database;

/**
 * Options for {@link SqliteStore}.
 *
 * @example
 * import { SqliteStore, type SqliteStoreOptions } from "keyward/sqlite";
 * const options: SqliteStoreOptions = { busyTimeoutMs: 10_000, counterBatch: 1 }; // every counter write goes to the file
 * const keys = new KeyManager({ store: new SqliteStore("keys.db", options) });
 */
export interface SqliteStoreOptions {
  /** How long a writer waits for another process's lock before failing, in ms. Defaults to 5000. */
  busyTimeoutMs?: number;
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
  created_at, expires_at, revoked_at, last_used_at, request_count, rotated_from, rotated_to`;

/** A row as better-sqlite3 returns it in raw mode: the values in COLUMNS order (arrays build faster than objects). */
type Row = [
  id: string, hash: string, start: string, name: string, owner_id: string | null, kind: string,
  project_id: string | null, projects: string, mode: string | null, scopes: string, tier: string | null,
  rate_limit: string | null, metadata: string, created_at: number, expires_at: number | null,
  revoked_at: number | null, last_used_at: number | null, request_count: number,
  rotated_from: string | null, rotated_to: string | null,
];

/** JSON.parse, with the common empty list and empty object built directly. */
function parseList(text: string): string[] {
  return text === "[]" ? [] : JSON.parse(text);
}

function parseObject(text: string): Record<string, unknown> {
  return text === "{}" ? {} : JSON.parse(text);
}

function fromRow(row: Row): StoredKey {
  return {
    id: row[0], hash: row[1], start: row[2], name: row[3], ownerId: row[4],
    kind: row[5] === "project" ? "project" : "user", projectId: row[6],
    projects: parseList(row[7]), mode: row[8], scopes: parseList(row[9]), tier: row[10],
    rateLimit: row[11] === null ? null : JSON.parse(row[11]), metadata: parseObject(row[12]),
    createdAt: row[13], expiresAt: row[14], revokedAt: row[15], lastUsedAt: row[16],
    requestCount: row[17], rotatedFrom: row[18], rotatedTo: row[19],
  };
}

function toParams(k: StoredKey) {
  return {
    id: k.id, hash: k.hash, start: k.start, name: k.name, owner_id: k.ownerId, kind: k.kind, project_id: k.projectId,
    projects: JSON.stringify(k.projects), mode: k.mode, scopes: JSON.stringify(k.scopes), tier: k.tier,
    rate_limit: k.rateLimit === null ? null : JSON.stringify(k.rateLimit), metadata: JSON.stringify(k.metadata),
    created_at: k.createdAt, expires_at: k.expiresAt, revoked_at: k.revokedAt, last_used_at: k.lastUsedAt,
    request_count: k.requestCount, rotated_from: k.rotatedFrom, rotated_to: k.rotatedTo,
  };
}

/**
 * A {@link KeyStore} on a SQLite file (or `:memory:`). Safe for several processes on one file.
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
  private sweepAt = 1024;
  private readonly reserveTx: (counter: string, limit: number, resetAt: number) => number;

  constructor(file: string | Db = "keyward.db", options: SqliteStoreOptions = {}) {
    this.batch = Math.max(1, Math.floor(options.counterBatch ?? 1000));
    this.owned = typeof file === "string";
    this.db = typeof file === "string" ? new Database(file) : file;
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (this.db.name !== ":memory:" && this.db.name !== "") this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    // Reads through a memory map instead of a read() per page: lookups among millions of keys
    // (random pages of the hash index) stay flat. Writes still go through the WAL.
    if (this.db.name !== ":memory:" && this.db.name !== "") this.db.pragma("mmap_size = 268435456");
    this.migrate();
    this.stmt = this.prepare();
    const reserve = this.db.transaction((counter: string, limit: number, resetAt: number) => this.reserve(counter, limit, resetAt));
    this.reserveTx = (counter, limit, resetAt) => reserve.immediate(counter, limit, resetAt);
  }

  private migrate(): void {
    const run = this.db.transaction(() => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version > MIGRATIONS.length) throw new Error(`keyward: database schema version ${version} is newer than this keyward (${MIGRATIONS.length}); upgrade keyward`);
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
      if (version !== MIGRATIONS.length) this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    });
    run.immediate();
  }

  private prepare() {
    const db = this.db;
    return {
      insert: db.prepare(`INSERT INTO keyward_keys (${COLUMNS}) VALUES (@id, @hash, @start, @name, @owner_id, @kind, @project_id, @projects, @mode, @scopes, @tier, @rate_limit, @metadata, @created_at, @expires_at, @revoked_at, @last_used_at, @request_count, @rotated_from, @rotated_to)`),
      countActive: db.prepare(`SELECT count(*) AS n FROM keyward_keys WHERE owner_id IS ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`).pluck(),
      byHash: db.prepare(`SELECT ${COLUMNS} FROM keyward_keys WHERE hash = ?`).raw(),
      byId: db.prepare(`SELECT ${COLUMNS} FROM keyward_keys WHERE id = ?`).raw(),
      revoke: db.prepare(`UPDATE keyward_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`),
      link: db.prepare(`UPDATE keyward_keys SET rotated_to = ?, expires_at = CASE WHEN ? IS NULL THEN expires_at WHEN expires_at IS NULL THEN ? ELSE min(expires_at, ?) END, revoked_at = coalesce(?, revoked_at) WHERE id = ? AND revoked_at IS NULL AND rotated_to IS NULL`),
      addUsage: db.prepare(`UPDATE keyward_keys SET request_count = request_count + ?, last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?`),
      addDaily: db.prepare(`INSERT INTO keyward_usage_daily (key_id, day, count) VALUES (?, ?, ?) ON CONFLICT (key_id, day) DO UPDATE SET count = count + excluded.count`),
      daily: db.prepare(`SELECT day, count FROM keyward_usage_daily WHERE key_id = ? AND day BETWEEN ? AND ? ORDER BY day`).raw(),
      counter: db.prepare(`SELECT count FROM keyward_counters WHERE name = ?`).pluck(),
      take: db.prepare(`INSERT INTO keyward_counters (name, count, reset_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET count = count + excluded.count`),
      refund: db.prepare(`UPDATE keyward_counters SET count = count - 1 WHERE name = ? AND count > 0`),
      release: db.prepare(`UPDATE keyward_counters SET count = max(0, count - ?) WHERE name = ?`),
      prune: db.prepare(`DELETE FROM keyward_counters WHERE reset_at <= ?`),
    };
  }

  insert(key: StoredKey, cap?: { max: number; now: number }): boolean {
    const tx = this.db.transaction(() => {
      if (cap && (this.stmt.countActive.get(key.ownerId, cap.now) as number) >= cap.max) return false;
      this.stmt.insert.run(toParams(key));
      return true;
    });
    return tx.immediate();
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
    if (filter.ownerId !== undefined) { where.push("owner_id IS ?"); params.push(filter.ownerId); }
    if (filter.mode !== undefined) { where.push("mode IS ?"); params.push(filter.mode); }
    if (filter.kind !== undefined) { where.push("kind = ?"); params.push(filter.kind); }
    if (filter.before !== undefined) { where.push("id < ?"); params.push(filter.before); }
    if (filter.projectId !== undefined) {
      where.push("((kind = 'project' AND project_id = ?) OR (kind = 'user' AND (projects = '[]' OR EXISTS (SELECT 1 FROM json_each(projects) WHERE value = ?))))");
      params.push(filter.projectId, filter.projectId);
    }
    const now = filter.now ?? Date.now();
    if (filter.status === "revoked") where.push("revoked_at IS NOT NULL");
    else if (filter.status === "expired") { where.push("revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?"); params.push(now); }
    else if (filter.status === "active") { where.push("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"); params.push(now); }
    const sql = `SELECT ${COLUMNS} FROM keyward_keys ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ?`;
    params.push(pageSize(filter.limit));
    return (this.db.prepare(sql).raw().all(...params) as Row[]).map(fromRow);
  }

  update(id: string, patch: KeyPatch): StoredKey | null {
    const sets: string[] = [];
    const params: unknown[] = [];
    if (patch.name !== undefined) { sets.push("name = ?"); params.push(patch.name); }
    if (patch.scopes !== undefined) { sets.push("scopes = ?"); params.push(JSON.stringify(patch.scopes)); }
    if (patch.metadata !== undefined) { sets.push("metadata = ?"); params.push(JSON.stringify(patch.metadata)); }
    if (patch.expiresAt !== undefined) { sets.push("expires_at = ?"); params.push(patch.expiresAt); }
    if (sets.length) this.db.prepare(`UPDATE keyward_keys SET ${sets.join(", ")} WHERE id = ?`).run(...params, id);
    return this.findById(id);
  }

  revoke(id: string, at: number): StoredKey | null {
    this.stmt.revoke.run(at, id);
    return this.findById(id);
  }

  rotate(oldId: string, successor: StoredKey, change: RotationChange): boolean {
    const tx = this.db.transaction(() => {
      const expires = change.expiresAt ?? null;
      const linked = this.stmt.link.run(successor.id, expires, expires, expires, change.revokedAt ?? null, oldId);
      if (linked.changes !== 1) return false;
      this.stmt.insert.run(toParams(successor));
      return true;
    });
    return tx.immediate();
  }

  recordUsage(batch: UsageDelta[]): void {
    const tx = this.db.transaction(() => {
      for (const delta of batch) {
        this.stmt.addUsage.run(delta.count, delta.lastUsedAt, delta.id);
        for (const [day, count] of delta.days) this.stmt.addDaily.run(delta.id, day, count);
      }
    });
    tx.immediate();
  }

  usage(id: string, fromDay: number, toDay: number): Array<[number, number]> {
    return this.stmt.daily.all(id, fromDay, toDay) as Array<[number, number]>;
  }

  consume(counter: string, limit: number, resetAt: number): number {
    if (limit < 1) return -1;
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare > 0 && r.limit === limit && r.resetAt === resetAt) {
      r.spare--;
      return r.count - r.spare;
    }
    return this.reserveTx(counter, limit, resetAt);
  }

  refund(counter: string): void {
    const r = this.reserves.get(counter);
    if (r !== undefined && r.spare < r.count) r.spare++;
    else this.stmt.refund.run(counter);
  }

  /** Deletes counters whose window ended at or before `now` (the KeyManager's clock, once a minute). */
  prune(now: number): void {
    this.stmt.prune.run(now);
  }

  close(): void {
    if (this.db.open) this.releaseReserves();
    if (this.owned && this.db.open) this.db.close();
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
  private releaseReserves(): void {
    if (this.reserves.size === 0) return;
    const tx = this.db.transaction(() => {
      for (const [name, r] of this.reserves) if (r.spare > 0) this.stmt.release.run(r.spare, name);
    });
    try {
      tx.immediate();
    } finally {
      this.reserves.clear();
    }
  }
}

concealInternals(SqliteStore, (store) => ({ file: store.db.name, open: store.db.open }));
