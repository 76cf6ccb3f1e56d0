/**
 * PostgresStore: keys, counters and usage in PostgreSQL (node-postgres), shared by every instance
 * of an app. Versioned migrations under an advisory lock, a unique index for the hash lookup,
 * counters as one `INSERT … ON CONFLICT … WHERE count < limit RETURNING`, key caps under a
 * per-owner advisory lock, rotation as one statement, and one statement per usage batch.
 * `pg` is loaded only when a connection string is given; no type from it leaks into this API.
 */
import { pageSize } from "../core/status.js";
import { z } from "zod";
import { concealInternals } from "../core/conceal.js";
import { parseOptions } from "../core/options.js";
import { peerAvailable } from "./optional-peer.js";
import type { CounterTake, KeyFilter, KeyFormatRecord, KeyPatch, KeyStore, RotationChange, ScopeUseTotal, StoredKey, UsageDelta } from "../core/types.js";
import { KeywardConfigError } from "../core/errors.js";

/**
 * The part of a `pg.Pool` (or any compatible pool) the store uses.
 *
 * @example
 * import pg from "pg";
 * import { PostgresStore, type PgPoolLike } from "keyward/postgres";
 * const pool: PgPoolLike = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const store = new PostgresStore(pool); // the store uses your pool and leaves ending it to you
 */
export interface PgPoolLike {
  /** Runs one query on a pooled connection. */
  query(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<PgResultLike>;
  /** Checks out a connection (for transactions and LISTEN). */
  connect(): Promise<PgClientLike>;
  /** Closes every connection of the pool. */
  end(): Promise<void>;
}

/**
 * A checked-out connection of a {@link PgPoolLike}.
 *
 * @example
 * import type { PgClientLike } from "keyward/postgres";
 * const client: PgClientLike = await pool.connect();
 * try {
 *   await client.query("SELECT 1");
 * } finally {
 *   client.release();
 * }
 */
export interface PgClientLike {
  /** Runs one query on this connection. */
  query(text: string | { name?: string; text: string; values?: unknown[] }, values?: unknown[]): Promise<PgResultLike>;
  /** Returns the connection to the pool (an error destroys it). */
  release(error?: Error | boolean): void;
}

/**
 * What a query answers.
 *
 * @example
 * import type { PgResultLike } from "keyward/postgres";
 * const result: PgResultLike = await pool.query("SELECT id FROM keyward_keys WHERE owner_id = $1", ["user_1"]);
 * console.log(result.rowCount, result.rows[0]?.id);
 */
export interface PgResultLike {
  /** The rows returned. */
  // biome-ignore lint/suspicious/noExplicitAny: pg types its rows any[]; each query reads the columns it selected
  rows: any[];
  /** Rows affected, or `null`. */
  rowCount: number | null;
}

/**
 * Options for {@link PostgresStore}.
 *
 * @example
 * import { PostgresStore, type PostgresStoreOptions } from "keyward/postgres";
 * const options: PostgresStoreOptions = { schema: "auth", tablePrefix: "kw_", poolSize: 20 };
 * const store = new PostgresStore(process.env.DATABASE_URL!, options); // tables auth.kw_keys, auth.kw_counters, …
 */
export interface PostgresStoreOptions {
  /** A schema for keyward's tables, created when missing (e.g. one per test run). Defaults to the search path (usually `public`). */
  schema?: string;
  /** Prefix of keyward's table names. Defaults to `"keyward_"`. */
  tablePrefix?: string;
  /** Connections in the pool the store creates from a connection string. Defaults to 10. */
  poolSize?: number;
}

const IDENT = /^[a-z_][a-z0-9_]{0,39}$/;

const COLUMNS = `id, hash, start, name, owner_id, kind, project_id, projects, mode, scopes, tier, rate_limit, metadata,
  created_at, expires_at, revoked_at, last_used_at, request_count, rotated_from, rotated_to, allowed_ips, disabled_at, credits`;

/** The migrations, in order; `{p}` is the qualified table-name prefix. Never edit one that shipped: append. */
const MIGRATIONS: Array<(p: string, prefix: string) => string> = [
  (p, prefix) => `
    CREATE TABLE ${p}keys (
      id text COLLATE "C" PRIMARY KEY,
      hash text NOT NULL,
      start text NOT NULL,
      name text NOT NULL,
      owner_id text,
      kind text NOT NULL,
      project_id text,
      projects text[] NOT NULL,
      mode text,
      scopes text[] NOT NULL,
      tier text,
      rate_limit jsonb,
      metadata jsonb NOT NULL,
      created_at bigint NOT NULL,
      expires_at bigint,
      revoked_at bigint,
      last_used_at bigint,
      request_count bigint NOT NULL DEFAULT 0,
      rotated_from text,
      rotated_to text
    );
    CREATE UNIQUE INDEX ${prefix}keys_hash ON ${p}keys (hash);
    CREATE INDEX ${prefix}keys_owner ON ${p}keys (owner_id, id);
    CREATE TABLE ${p}usage_daily (
      key_id text NOT NULL, day integer NOT NULL, count bigint NOT NULL,
      PRIMARY KEY (key_id, day)
    );
    CREATE TABLE ${p}counters (
      name text PRIMARY KEY, count integer NOT NULL, reset_at bigint NOT NULL
    );
    CREATE INDEX ${prefix}counters_reset ON ${p}counters (reset_at);`,
  // Settings of the database as a whole, e.g. the key format (`key_format`: { prefix, modes }).
  (p) => `CREATE TABLE ${p}meta (name text PRIMARY KEY, value jsonb NOT NULL);`,
  // Per-key IP allow-lists (canonical entries; '{}' = any address) and pause/resume.
  (p) => `ALTER TABLE ${p}keys ADD COLUMN allowed_ips text[] NOT NULL DEFAULT '{}', ADD COLUMN disabled_at bigint;`,
  // Lifecycle notices sent by keys.sweep() (key.expiring, quota.threshold, key.idle): one row each, claimed once.
  (p) => `CREATE TABLE ${p}notices (
    key_id text NOT NULL, kind text NOT NULL, threshold text NOT NULL, period text NOT NULL,
    PRIMARY KEY (key_id, kind, threshold, period)
  );`,
  // Scope uses per key, scope and UTC day (`keys.scopeUsage`).
  (p) => `CREATE TABLE ${p}scope_usage_daily (
      key_id text COLLATE "C" NOT NULL, scope text COLLATE "C" NOT NULL, day integer NOT NULL, count bigint NOT NULL, last_used_at bigint NOT NULL,
      PRIMARY KEY (key_id, day, scope)
    );`,
  // Per-key credits ({ remaining, refill, counter, since }), and the all-or-nothing take of several counters.
  (p) => `ALTER TABLE ${p}keys ADD COLUMN credits jsonb;
    ALTER TABLE ${p}counters ALTER COLUMN count TYPE bigint;
    CREATE FUNCTION ${p}consume_all(names text[], limits bigint[], resets bigint[], units bigint[]) RETURNS bigint[]
    LANGUAGE plpgsql AS $fn$
    DECLARE
      counts bigint[] := array_fill(0::bigint, ARRAY[cardinality(names)]);
      current bigint;
      refused boolean := false;
      i integer;
    BEGIN
      -- Rows in name order, so concurrent takes of overlapping counters lock them in one order (no deadlock).
      FOR i IN SELECT ord FROM unnest(names) WITH ORDINALITY AS t(name, ord) ORDER BY name COLLATE "C" LOOP
        INSERT INTO ${p}counters AS c (name, count, reset_at) VALUES (names[i], 0, resets[i]) ON CONFLICT (name) DO NOTHING;
        SELECT c.count INTO current FROM ${p}counters c WHERE c.name = names[i] FOR UPDATE;
        counts[i] := current + units[i];
        IF counts[i] > limits[i] THEN counts[i] := -1; refused := true; END IF;
      END LOOP;
      IF refused THEN RETURN counts; END IF;
      FOR i IN 1 .. cardinality(names) LOOP
        UPDATE ${p}counters SET count = count + units[i] WHERE name = names[i];
      END LOOP;
      RETURN counts;
    END $fn$;`,
];

/**
 * The schema version this build writes (rows in the `…migrations` table).
 *
 * @example
 * const { rows } = await pool.query("SELECT max(version) AS v FROM keyward_migrations");
 * if (rows[0].v < POSTGRES_SCHEMA_VERSION) console.log("keyward will migrate on start-up");
 */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

interface Row {
  id: string;
  hash: string;
  start: string;
  name: string;
  owner_id: string | null;
  kind: string;
  project_id: string | null;
  projects: string[];
  mode: string | null;
  scopes: string[];
  tier: string | null;
  rate_limit: { limit: number; windowMs: number } | null;
  metadata: Record<string, unknown>;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  request_count: string;
  rotated_from: string | null;
  rotated_to: string | null;
  allowed_ips: string[];
  disabled_at: string | null;
  credits: StoredKey["credits"];
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function fromRow(row: Row): StoredKey {
  return {
    id: row.id,
    hash: row.hash,
    start: row.start,
    name: row.name,
    ownerId: row.owner_id,
    kind: row.kind === "project" ? "project" : "user",
    projectId: row.project_id,
    projects: row.projects,
    mode: row.mode,
    scopes: row.scopes,
    tier: row.tier,
    rateLimit: row.rate_limit,
    metadata: row.metadata,
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
    revokedAt: num(row.revoked_at),
    lastUsedAt: num(row.last_used_at),
    requestCount: Number(row.request_count),
    rotatedFrom: row.rotated_from,
    rotatedTo: row.rotated_to,
    allowedIps: row.allowed_ips,
    disabledAt: num(row.disabled_at),
    credits: row.credits ?? null,
  };
}

function keyValues(k: StoredKey): unknown[] {
  return [
    k.id,
    k.hash,
    k.start,
    k.name,
    k.ownerId,
    k.kind,
    k.projectId,
    k.projects,
    k.mode,
    k.scopes,
    k.tier,
    k.rateLimit === null ? null : JSON.stringify(k.rateLimit),
    JSON.stringify(k.metadata),
    k.createdAt,
    k.expiresAt,
    k.revokedAt,
    k.lastUsedAt,
    k.requestCount,
    k.rotatedFrom,
    k.rotatedTo,
    k.allowedIps,
    k.disabledAt,
    k.credits == null ? null : JSON.stringify(k.credits),
  ];
}

const PLACEHOLDERS = Array.from({ length: 23 }, (_, i) => `$${i + 1}`).join(", ");
const TYPES = [
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text",
  "text[]",
  "text",
  "text[]",
  "text",
  "jsonb",
  "jsonb",
  "bigint",
  "bigint",
  "bigint",
  "bigint",
  "bigint",
  "text",
  "text",
  "text[]",
  "bigint",
  "jsonb",
];
/** The same placeholders with explicit types, for `INSERT … SELECT`, where Postgres cannot infer them. */
const TYPED_PLACEHOLDERS = TYPES.map((type, i) => `$${i + 1}::${type}`).join(", ");

/** `PostgresStoreOptions`, checked once at construction (a bad value is a KeywardConfigError naming it). */
const POSTGRES_OPTIONS = z.strictObject({
  schema: z.string().regex(IDENT, "use 1-40 characters from [a-z0-9_], starting with a letter or _").optional(),
  tablePrefix: z.string().regex(IDENT, "use 1-40 characters from [a-z0-9_], starting with a letter or _").default("keyward_"),
  poolSize: z.number().int().min(1).max(1000).default(10),
});

/**
 * A {@link KeyStore} on PostgreSQL, for apps running on several machines.
 *
 * @example
 * import { KeyManager } from "keyward";
 * import { PostgresStore } from "keyward/postgres";
 * const keys = new KeyManager({ store: new PostgresStore(process.env.DATABASE_URL!) });
 * // or share your pool: new PostgresStore(new pg.Pool({ connectionString }), { schema: "auth" })
 */
export class PostgresStore implements KeyStore {
  /** The pool, once connected (given, or created from the connection string by `init`). */
  pool: PgPoolLike | null;
  private readonly url: string | null;
  private readonly owned: boolean;
  private readonly poolSize: number;
  private readonly schema: string | null;
  private readonly t: { keys: string; usage: string; counters: string; migrations: string; meta: string; notices: string; prefix: string; base: string };
  private starting: Promise<void> | null = null;

  constructor(poolOrUrl: PgPoolLike | string, options: PostgresStoreOptions = {}) {
    if (typeof poolOrUrl === "string") {
      if (!/^postgres(ql)?:\/\//.test(poolOrUrl))
        throw new KeywardConfigError("PostgresStore", 'pass a pg.Pool or a connection string such as "postgres://user@127.0.0.1:5432/app"');
      if (peerAvailable("pg") === false)
        throw new KeywardConfigError(
          "PostgresStore",
          'the PostgreSQL driver "pg" is not installed; run `npm install pg` (keyward loads it only for a connection string)',
        );
    } else if (!poolOrUrl || typeof poolOrUrl.query !== "function" || typeof poolOrUrl.connect !== "function") {
      throw new KeywardConfigError("PostgresStore", "pass a pg.Pool or a connection string");
    }
    const o = parseOptions(POSTGRES_OPTIONS, options, "PostgresStore");
    const prefix = o.tablePrefix;
    this.url = typeof poolOrUrl === "string" ? poolOrUrl : null;
    this.pool = typeof poolOrUrl === "string" ? null : poolOrUrl;
    this.owned = typeof poolOrUrl === "string";
    this.poolSize = o.poolSize;
    this.schema = o.schema ?? null;
    const p = `${this.schema ? `"${this.schema}".` : ""}${prefix}`;
    this.t = {
      keys: `${p}keys`,
      usage: `${p}usage_daily`,
      counters: `${p}counters`,
      migrations: `${p}migrations`,
      meta: `${p}meta`,
      notices: `${p}notices`,
      prefix,
      base: p,
    };
  }

  /** Connects (creating the pool from a connection string) and runs pending migrations. Idempotent. */
  init(): Promise<void> {
    if (this.starting === null) {
      const starting = this.start();
      this.starting = starting;
      // A failed start (database down) is retried by the next call.
      starting.catch(() => {
        if (this.starting === starting) this.starting = null;
      });
    }
    return this.starting;
  }

  private async start(): Promise<void> {
    if (this.pool === null) {
      const mod = (await import("pg")) as unknown as { default?: PgModule } & PgModule;
      const pg = mod.default ?? mod;
      const pool = new pg.Pool({ connectionString: this.url!, max: this.poolSize });
      // An idle connection the server closed (restart, failover) is dropped by the pool; without
      // a listener its "error" event would crash the process.
      pool.on("error", () => undefined);
      this.pool = pool;
    }
    await this.migrate();
  }

  private async migrate(): Promise<void> {
    const client = await this.db().connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`keyward:migrate:${this.t.base}`]);
      if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.t.migrations} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${this.t.migrations}`);
      const version = Number(rows[0].v);
      if (version > MIGRATIONS.length)
        throw new Error(`keyward: database schema version ${version} is newer than this keyward (${MIGRATIONS.length}); upgrade keyward`);
      for (let v = version; v < MIGRATIONS.length; v++) {
        await client.query(MIGRATIONS[v]!(this.t.base, this.t.prefix));
        await client.query(`INSERT INTO ${this.t.migrations} (version) VALUES ($1)`, [v + 1]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private db(): PgPoolLike {
    if (this.pool === null) throw new Error("PostgresStore: call init() first (the KeyManager does)");
    return this.pool;
  }

  private async ready(): Promise<PgPoolLike> {
    if (this.pool === null || this.starting === null) await this.init();
    return this.pool!;
  }

  /** A named (prepared once per connection) query. */
  private async named(name: string, text: string, values: unknown[]): Promise<PgResultLike> {
    const pool = await this.ready();
    return pool.query({ name: `kw_${this.t.base.replace(/"/g, "")}_${name}`, text, values });
  }

  /** Runs `work` in a transaction on one connection. */
  private async transaction<T>(work: (client: PgClientLike) => Promise<T>): Promise<T> {
    const client = await (await this.ready()).connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async insert(key: StoredKey, cap?: { max: number; now: number }): Promise<boolean> {
    const insert = `INSERT INTO ${this.t.keys} (${COLUMNS}) VALUES (${PLACEHOLDERS})`;
    if (!cap) {
      await this.named("insert", insert, keyValues(key));
      return true;
    }
    return this.transaction(async (client) => {
      // Serialises inserts per owner across every process; the count below then sees all of them.
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [this.t.keys, key.ownerId ?? "\u0000"]);
      const { rows } = await client.query(
        // A key in its rotation overlap counts through its successor: one lineage, one key.
        `SELECT count(*)::int AS n FROM ${this.t.keys} k WHERE owner_id IS NOT DISTINCT FROM $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
           AND NOT EXISTS (SELECT 1 FROM ${this.t.keys} s WHERE s.id = k.rotated_to AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > $2))`,
        [key.ownerId, cap.now],
      );
      if (rows[0].n >= cap.max) return false;
      await client.query(insert, keyValues(key));
      return true;
    });
  }

  /** The key format recorded in the database, or null. */
  async keyFormat(): Promise<KeyFormatRecord | null> {
    const { rows } = await this.named("meta", `SELECT value FROM ${this.t.meta} WHERE name = $1`, ["key_format"]);
    if (!rows.length) return null;
    const value = rows[0].value as { prefix: string; modes: string[] };
    return { prefix: value.prefix, modes: [...value.modes] };
  }

  /** Records `format` unless the database already holds one; returns the recorded format (the first writer wins). */
  async claimKeyFormat(format: KeyFormatRecord): Promise<KeyFormatRecord> {
    const value = JSON.stringify({ prefix: format.prefix, modes: format.modes });
    await this.named("claim_meta", `INSERT INTO ${this.t.meta} (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, ["key_format", value]);
    // A separate statement (a new snapshot): sees the row a concurrent claim committed first.
    const recorded = await this.keyFormat();
    if (recorded === null) throw new Error("keyward: the key format could not be recorded");
    return recorded;
  }

  /** Records a lifecycle notice once (INSERT … ON CONFLICT DO NOTHING): true only for the claim that inserted the row, in every process. */
  async claimNotice(keyId: string, kind: string, threshold: string, period: string): Promise<boolean> {
    const { rowCount } = await this.named(
      "claim_notice",
      `INSERT INTO ${this.t.notices} (key_id, kind, threshold, period) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [keyId, kind, threshold, period],
    );
    return rowCount === 1;
  }

  async findByHash(hash: string): Promise<StoredKey | null> {
    const { rows } = await this.named("by_hash", `SELECT ${COLUMNS} FROM ${this.t.keys} WHERE hash = $1`, [hash]);
    return rows.length ? fromRow(rows[0]) : null;
  }

  async findById(id: string): Promise<StoredKey | null> {
    const { rows } = await this.named("by_id", `SELECT ${COLUMNS} FROM ${this.t.keys} WHERE id = $1`, [id]);
    return rows.length ? fromRow(rows[0]) : null;
  }

  async list(filter: KeyFilter): Promise<StoredKey[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (v: unknown) => `$${values.push(v)}`;
    if (filter.ownerId !== undefined) where.push(`owner_id IS NOT DISTINCT FROM ${param(filter.ownerId)}`);
    if (filter.mode !== undefined) where.push(`mode IS NOT DISTINCT FROM ${param(filter.mode)}`);
    if (filter.kind !== undefined) where.push(`kind = ${param(filter.kind)}`);
    if (filter.before !== undefined) where.push(`id < ${param(filter.before)}`);
    if (filter.projectId !== undefined) {
      const p = param(filter.projectId);
      where.push(`((kind = 'project' AND project_id = ${p}) OR (kind = 'user' AND (cardinality(projects) = 0 OR ${p} = ANY (projects))))`);
    }
    const now = filter.now ?? Date.now();
    if (filter.status === "revoked") where.push("revoked_at IS NOT NULL");
    else if (filter.status === "expired") where.push(`revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ${param(now)}`);
    else if (filter.status === "active") where.push(`revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${param(now)}) AND disabled_at IS NULL`);
    else if (filter.status === "disabled") where.push(`revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${param(now)}) AND disabled_at IS NOT NULL`);
    const sql = `SELECT ${COLUMNS} FROM ${this.t.keys} ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ${param(pageSize(filter.limit))}`;
    const { rows } = await (await this.ready()).query(sql, values);
    return rows.map(fromRow);
  }

  async update(id: string, patch: KeyPatch): Promise<StoredKey | null> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    const param = (v: unknown) => `$${values.push(v)}`;
    if (patch.name !== undefined) sets.push(`name = ${param(patch.name)}`);
    if (patch.scopes !== undefined) sets.push(`scopes = ${param(patch.scopes)}`);
    if (patch.metadata !== undefined) sets.push(`metadata = ${param(JSON.stringify(patch.metadata))}`);
    if (patch.expiresAt !== undefined) sets.push(`expires_at = ${param(patch.expiresAt)}`);
    if (patch.allowedIps !== undefined) sets.push(`allowed_ips = ${param(patch.allowedIps)}`);
    if (patch.disabledAt !== undefined) sets.push(`disabled_at = ${param(patch.disabledAt)}`);
    if (patch.credits !== undefined) sets.push(`credits = ${param(patch.credits === null ? null : JSON.stringify(patch.credits))}`);
    if (!sets.length) return this.findById(id);
    const { rows } = await (await this.ready()).query(`UPDATE ${this.t.keys} SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`, values);
    return rows.length ? fromRow(rows[0]) : null;
  }

  async revoke(id: string, at: number): Promise<StoredKey | null> {
    const { rows } = await this.named("revoke", `UPDATE ${this.t.keys} SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING ${COLUMNS}`, [id, at]);
    return rows.length ? fromRow(rows[0]) : null;
  }

  async rotate(oldId: string, successor: StoredKey, change: RotationChange): Promise<boolean> {
    // One statement: the row lock taken by the UPDATE makes racing rotations wait, then find
    // rotated_to set and link nothing; a failing successor insert rolls the link back.
    const N = TYPES.length; // the successor's values come first
    const values = [...keyValues(successor), oldId, change.expiresAt ?? null, change.revokedAt ?? null, change.endPredecessorAt ?? null];
    const sql = `WITH linked AS (
        UPDATE ${this.t.keys} SET rotated_to = $1,
          expires_at = CASE WHEN $${N + 2}::bigint IS NULL THEN expires_at WHEN expires_at IS NULL THEN $${N + 2}::bigint ELSE least(expires_at, $${N + 2}::bigint) END,
          revoked_at = coalesce($${N + 3}::bigint, revoked_at)
        WHERE id = $${N + 1} AND revoked_at IS NULL AND rotated_to IS NULL
        RETURNING id, rotated_from),
      ended AS (
        UPDATE ${this.t.keys} SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > $${N + 4}::bigint THEN $${N + 4}::bigint ELSE expires_at END
        WHERE $${N + 4}::bigint IS NOT NULL AND id = (SELECT rotated_from FROM linked) AND revoked_at IS NULL
        RETURNING id)
      INSERT INTO ${this.t.keys} (${COLUMNS}) SELECT ${TYPED_PLACEHOLDERS} FROM linked`;
    const result = await this.named("rotate", sql, values);
    return result.rowCount === 1;
  }

  async recordUsage(batch: UsageDelta[]): Promise<void> {
    if (batch.length === 0) return;
    const ids: string[] = [],
      counts: number[] = [],
      lasts: number[] = [];
    const dayIds: string[] = [],
      days: number[] = [],
      dayCounts: number[] = [];
    const scoped: [ids: string[], scopes: string[], days: number[], counts: number[], lasts: number[]] = [[], [], [], [], []];
    for (const d of batch) {
      ids.push(d.id);
      counts.push(d.count);
      lasts.push(d.lastUsedAt);
      for (const [day, n] of d.days) {
        dayIds.push(d.id);
        days.push(day);
        dayCounts.push(n);
      }
      if (d.scopes) {
        for (const s of d.scopes) {
          scoped[0].push(d.id);
          scoped[1].push(s.scope);
          scoped[2].push(s.day);
          scoped[3].push(s.count);
          scoped[4].push(s.lastUsedAt);
        }
      }
    }
    const uses = `${this.t.base}scope_usage_daily`;
    // Scope uses, when the batch has any, in the same statement (all or nothing with the counts).
    const scopeStep =
      scoped[0].length === 0
        ? ""
        : `,
      scoped AS (
        INSERT INTO ${uses} (key_id, scope, day, count, last_used_at)
          SELECT s.id, s.scope, s.day, sum(s.n), max(s.last) FROM unnest($7::text[], $8::text[], $9::int[], $10::bigint[], $11::bigint[]) AS s(id, scope, day, n, last)
          WHERE s.id IN (SELECT id FROM counted) GROUP BY s.id, s.day, s.scope ORDER BY s.id, s.day, s.scope
        ON CONFLICT (key_id, day, scope) DO UPDATE SET count = ${uses}.count + excluded.count, last_used_at = greatest(${uses}.last_used_at, excluded.last_used_at))`;
    // Rows are locked in id order (no deadlock between instances flushing overlapping batches);
    // unknown ids get no daily rows.
    const sql = `WITH d AS (
        SELECT id, sum(n)::bigint AS n, max(last)::bigint AS last FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(id, n, last) GROUP BY id),
      locked AS (SELECT k.id FROM ${this.t.keys} k WHERE k.id IN (SELECT id FROM d) ORDER BY k.id FOR UPDATE),
      counted AS (
        UPDATE ${this.t.keys} k SET request_count = k.request_count + d.n, last_used_at = greatest(k.last_used_at, d.last)
        FROM d, locked WHERE k.id = d.id AND locked.id = d.id RETURNING k.id)${scopeStep}
      INSERT INTO ${this.t.usage} (key_id, day, count)
        SELECT u.id, u.day, sum(u.n) FROM unnest($4::text[], $5::int[], $6::bigint[]) AS u(id, day, n)
        WHERE u.id IN (SELECT id FROM counted) GROUP BY u.id, u.day ORDER BY u.id, u.day
      ON CONFLICT (key_id, day) DO UPDATE SET count = ${this.t.usage}.count + excluded.count`;
    if (scopeStep === "") await this.named("usage", sql, [ids, counts, lasts, dayIds, days, dayCounts]);
    else await this.named("usage_scopes", sql, [ids, counts, lasts, dayIds, days, dayCounts, ...scoped]);
  }

  async scopeUsage(id: string, fromDay: number, toDay: number): Promise<ScopeUseTotal[]> {
    const { rows } = await this.named(
      "scope_uses",
      `SELECT scope, sum(count) AS count, max(last_used_at) AS last FROM ${this.t.base}scope_usage_daily
        WHERE key_id = $1 AND day BETWEEN $2 AND $3 GROUP BY scope ORDER BY scope`,
      [id, fromDay, toDay],
    );
    return rows.map((r: { scope: string; count: string; last: string }) => ({ scope: r.scope, count: Number(r.count), lastUsedAt: Number(r.last) }));
  }

  /** Deletes counters whose window ended at or before `now` (the KeyManager calls it about once a minute). */
  async prune(now: number): Promise<void> {
    await this.named("prune", `DELETE FROM ${this.t.counters} WHERE reset_at <= $1`, [now]);
  }

  async usage(id: string, fromDay: number, toDay: number): Promise<Array<[number, number]>> {
    const { rows } = await this.named("daily", `SELECT day, count FROM ${this.t.usage} WHERE key_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day`, [
      id,
      fromDay,
      toDay,
    ]);
    return rows.map((r: { day: number; count: string }) => [r.day, Number(r.count)]);
  }

  /**
   * Takes one unit while the count is below `limit`. A counter already at its limit (as the
   * statement's snapshot sees it) is refused by a plain index read: no row lock, no write, no
   * commit to wait for, so the refusals after a quota runs out do not queue behind each other on
   * the counter's row. Below the limit, `ON CONFLICT … WHERE` re-checks the row under its lock, so
   * the take stays exact. (A count only goes down by a refund, and a refund racing the read may as
   * well have come after it.)
   */
  async consume(counter: string, limit: number, resetAt: number): Promise<number> {
    if (limit < 1) return -1;
    const { rows } = await this.named(
      "consume",
      `INSERT INTO ${this.t.counters} AS c (name, count, reset_at)
       SELECT $1::text, 1, $2::bigint WHERE NOT EXISTS (SELECT 1 FROM ${this.t.counters} WHERE name = $1::text AND count >= $3::bigint)
       ON CONFLICT (name) DO UPDATE SET count = c.count + 1 WHERE c.count < $3::bigint RETURNING count`,
      [counter, resetAt, limit],
    );
    return rows.length ? Number(rows[0].count) : -1;
  }

  /**
   * Takes every `takes[i].units` when all stay within their limits, else nothing: one call of the
   * `…consume_all` function (one statement, one round trip), which locks the counters' rows in name
   * order, checks them all, then adds to them all.
   */
  async consumeAll(takes: readonly CounterTake[]): Promise<number[]> {
    const { rows } = await this.named("consume_all", `SELECT ${this.t.base}consume_all($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS counts`, [
      takes.map((t) => t.counter),
      takes.map((t) => t.limit),
      takes.map((t) => t.resetAt),
      takes.map((t) => t.units),
    ]);
    return (rows[0].counts as Array<string | number>).map(Number);
  }

  /** Gives back `takes[i].units` of each counter (never below zero), in one statement. */
  async refundAll(takes: readonly CounterTake[]): Promise<void> {
    await this.named(
      "refund_all",
      `UPDATE ${this.t.counters} AS c SET count = greatest(0, c.count - u.units) FROM unnest($1::text[], $2::bigint[]) AS u(name, units) WHERE c.name = u.name`,
      [takes.map((t) => t.counter), takes.map((t) => t.units)],
    );
  }

  /** The counter's count now (0 when absent). */
  async count(counter: string): Promise<number> {
    const { rows } = await this.named("count", `SELECT count FROM ${this.t.counters} WHERE name = $1`, [counter]);
    return rows.length ? Number(rows[0].count) : 0;
  }

  async refund(counter: string): Promise<void> {
    await this.named("refund", `UPDATE ${this.t.counters} SET count = count - 1 WHERE name = $1 AND count > 0`, [counter]);
  }

  /** Ends the pool when the store created it (a pool you passed in stays yours to end). */
  async close(): Promise<void> {
    if (this.owned && this.pool) {
      const pool = this.pool;
      this.pool = null;
      this.starting = null;
      await pool.end();
    }
  }
}

interface PgModule {
  Pool: new (config: { connectionString: string; max?: number }) => PgPoolLike & { on(event: "error", listener: (error: Error) => void): unknown };
}

concealInternals(PostgresStore, (store) => ({ schema: store["schema"], tablePrefix: store["t"].prefix, connected: store.pool !== null }));
