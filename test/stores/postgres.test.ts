/**
 * PostgresStore against the shared store conformance suite, in a schema of its own (created by
 * the store's migrations, emptied between tests, dropped at the end), plus migration checks.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { KeywardConfigError } from "keyward";
import { POSTGRES_SCHEMA_VERSION, PostgresStore } from "keyward/postgres";
import { describeStoreConformance, storedKey } from "./store-conformance";
import { PG_URL, describeWithServices } from "./services";

describeWithServices("PostgresStore", ["postgres"], () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 12 });
  const schema = `kw_test_${randomBytes(6).toString("hex")}`;
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  describeStoreConformance("PostgresStore", async () => {
    const store = new PostgresStore(pool, { schema });
    return {
      store,
      cleanup: async () => {
        await pool.query(
          `TRUNCATE "${schema}".keyward_keys, "${schema}".keyward_usage_daily, "${schema}".keyward_counters, "${schema}".keyward_meta, "${schema}".keyward_notices`,
        );
      },
    };
  });

  describe("migrations and connections", () => {
    it("records each migration once, even when several instances start together", async () => {
      const own = `kw_test_${randomBytes(6).toString("hex")}`;
      try {
        const stores = Array.from({ length: 4 }, () => new PostgresStore(pool, { schema: own }));
        await Promise.all(stores.map((s) => s.init()));
        const { rows } = await pool.query(`SELECT version FROM "${own}".keyward_migrations ORDER BY version`);
        expect(rows.map((r) => r.version)).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${own}" CASCADE`);
      }
    });

    it("refuses a database written by a newer keyward", async () => {
      const own = `kw_test_${randomBytes(6).toString("hex")}`;
      try {
        await new PostgresStore(pool, { schema: own }).init();
        await pool.query(`INSERT INTO "${own}".keyward_migrations (version) VALUES (999)`);
        await expect(new PostgresStore(pool, { schema: own }).init()).rejects.toThrow(/schema version 999 is newer/);
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${own}" CASCADE`);
      }
    });

    it("opens its own pool from a connection string, with a table prefix, and ends it on close", async () => {
      const store = new PostgresStore(PG_URL, { schema, tablePrefix: "other_" });
      await store.init();
      const key = storedKey();
      await store.insert(key);
      expect((await store.findByHash(key.hash))?.id).toBe(key.id);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".other_keys`);
      expect(rows[0].n).toBe(1);
      await store.close();
      expect(store.pool).toBeNull();
    });

    it("survives the server closing its idle connections (restart, failover) and reconnects", async () => {
      const app = `kwterm_${randomBytes(4).toString("hex")}`;
      const store = new PostgresStore(`${PG_URL}?application_name=${app}`, { schema });
      await store.init();
      const key = storedKey();
      await store.insert(key);
      const { rows } = await pool.query("SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1", [app]);
      expect(rows[0].n).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the pool see the closed sockets
      expect((await store.findById(key.id))?.id).toBe(key.id);
      await store.close();
    });

    it("names the bad option at construction", () => {
      expect(() => new PostgresStore("mysql://x")).toThrow(KeywardConfigError);
      expect(() => new PostgresStore(PG_URL, { schema: "Bad-Name" })).toThrow(/PostgresStore.schema/);
      expect(() => new PostgresStore(PG_URL, { tablePrefix: "x;drop" })).toThrow(/PostgresStore.tablePrefix/);
    });
  });
});
