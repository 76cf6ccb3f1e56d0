/**
 * The allow-list and pause columns arrive by migration: a database written by the previous schema
 * (SQLite `user_version` 2, Postgres migration 2) is upgraded on start-up, its keys reading back
 * with `allowedIps: []` (any address) and `disabledAt: null` (enabled), and keep working.
 */
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { KeyManager } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { SqliteStore, SQLITE_SCHEMA_VERSION } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { PG_URL, describeWithServices } from "../stores/services";

it("SQLite: a version-2 file gains allowed_ips and disabled_at; old keys read as any address and enabled", async () => {
  const tmp = tempDir();
  const file = tmp.file("keys.db");
  const first = new KeyManager({ store: new SqliteStore(file) });
  const { secret, key } = await first.create({ name: "old" });
  await first.close();
  const db = new Database(file);
  db.exec("ALTER TABLE keyward_keys DROP COLUMN allowed_ips; ALTER TABLE keyward_keys DROP COLUMN disabled_at; ALTER TABLE keyward_keys DROP COLUMN credits;");
  db.exec("DROP TABLE keyward_notices; DROP TABLE keyward_scope_usage_daily;");
  db.pragma("user_version = 2");
  db.close();

  const keys = new KeyManager({ store: new SqliteStore(file) });
  expect(await keys.get(key.id)).toMatchObject({ allowedIps: [], disabledAt: null, status: "active" });
  expect((await keys.verify(secret, { ip: "203.0.113.1" })).ok).toBe(true);
  await keys.disable(key.id);
  expect((await keys.get(key.id))!.status).toBe("disabled");
  await keys.close();
  const check = new Database(file);
  expect(check.pragma("user_version", { simple: true })).toBe(SQLITE_SCHEMA_VERSION);
  check.close();
  tmp.cleanup();
});

describeWithServices("PostgresStore migration", ["postgres"], () => {
  it("a schema at migration 2 gains allowed_ips and disabled_at; old keys read as any address and enabled", async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    const schema = `kw_test_${randomBytes(6).toString("hex")}`;
    try {
      const first = new KeyManager({ store: new PostgresStore(pool, { schema }) });
      const { secret, key } = await first.create({ name: "old" });
      await first.close();
      await pool.query(`ALTER TABLE "${schema}".keyward_keys DROP COLUMN allowed_ips, DROP COLUMN disabled_at, DROP COLUMN credits`);
      await pool.query(`DROP TABLE "${schema}".keyward_notices, "${schema}".keyward_scope_usage_daily`);
      await pool.query(`DROP FUNCTION "${schema}".keyward_consume_all`);
      await pool.query(`DELETE FROM "${schema}".keyward_migrations WHERE version > 2`);
      const keys = new KeyManager({ store: new PostgresStore(pool, { schema }) });
      expect(await keys.get(key.id)).toMatchObject({ allowedIps: [], disabledAt: null, status: "active" });
      expect((await keys.verify(secret, { ip: "2001:db8::1" })).ok).toBe(true);
      await keys.update(key.id, { allowedIps: ["2001:db8::/32"] });
      expect((await keys.verify(secret, { ip: "2001:db9::1" })).ok).toBe(false);
      await keys.close();
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
