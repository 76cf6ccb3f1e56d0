/**
 * A KeyManager on a PostgreSQL database that records another key format: management calls throw
 * the KeywardConfigError naming both formats and verification fails closed (503, the error as its
 * cause). Each test uses a schema of its own, dropped at the end.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { KeyFormat, KeyManager, KeywardConfigError } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { PG_URL, describeWithServices } from "./services";

describeWithServices("KeyManager key format on PostgresStore", ["postgres"], () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 6 });
  const schemas: string[] = [];
  const ownSchema = () => {
    const schema = `kw_fmt_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    return schema;
  };
  afterAll(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it("records the first manager's format; a manager with another prefix throws a clear error on every management call", async () => {
    const schema = ownSchema();
    const first = new KeyManager({ store: new PostgresStore(pool, { schema }), prefix: "xk", cache: false, usage: false });
    const { secret } = await first.create({ name: "app" });
    expect(secret).toMatch(/^xk_live_/);
    const { rows } = await pool.query(`SELECT value FROM "${schema}".keyward_meta WHERE name = 'key_format'`);
    expect(rows[0].value).toEqual({ prefix: "xk", modes: ["live", "test"] });

    const other = new KeyManager({ store: new PostgresStore(pool, { schema }), prefix: "sk", cache: false, usage: false });
    try {
      const created = other.create({ name: "x" });
      await expect(created).rejects.toThrow(KeywardConfigError);
      await expect(created).rejects.toThrow(
        `the database schema "${schema}" (PostgresStore) holds keys of prefix "xk" with modes live,test; this KeyManager was configured with prefix "sk"`,
      );
      await expect(other.list()).rejects.toThrow(KeywardConfigError);
      await expect(other.revoke(secret)).rejects.toThrow(/holds keys of prefix "xk"/);
      const verified = await other.verify(new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("live"));
      expect(verified.ok).toBe(false);
      if (!verified.ok) {
        expect(verified.error.code).toBe("store_unavailable");
        expect(verified.error.cause).toBeInstanceOf(KeywardConfigError);
      }
      // A key of the database's own format fails closed too, rather than a silent 401 invalid_key.
      const own = await other.verify(secret);
      expect(!own.ok && own.error.code).toBe("store_unavailable");
      expect((await first.list()).keys).toHaveLength(1); // nothing was written by the other manager
    } finally {
      await other.close();
      await first.close();
    }
  });

  it("accepts the same modes in another order, and refuses another set of modes", async () => {
    const schema = ownSchema();
    const first = new KeyManager({ store: new PostgresStore(pool, { schema }), prefix: "xk", modes: ["test", "live"], usage: false });
    await first.create({ name: "a" });
    const reordered = new KeyManager({ store: new PostgresStore(pool, { schema }), prefix: "xk", modes: ["live", "test"], usage: false });
    const fewer = new KeyManager({ store: new PostgresStore(pool, { schema }), prefix: "xk", modes: ["live"], usage: false });
    try {
      expect((await reordered.create({ name: "b" })).secret).toMatch(/^xk_live_/);
      await expect(fewer.list()).rejects.toThrow(
        /^modes: .*holds keys of prefix "xk" with modes test,live; this KeyManager was configured with prefix "xk" with modes live/,
      );
    } finally {
      await Promise.all([first.close(), reordered.close(), fewer.close()]);
    }
  });
});
