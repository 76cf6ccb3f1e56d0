/**
 * PostgresStore counters under contention: a take refused because the counter is at its limit
 * does not wait for the counter's row lock (it is a plain read), while a take below the limit
 * still waits for it and stays exact; a burst on one counter admits exactly the limit.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresStore } from "keyward/postgres";
import { PG_URL, describeWithServices } from "./services";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithServices("PostgresStore counters under contention", ["postgres"], () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 20 });
  const schema = `kw_ctr_${randomBytes(6).toString("hex")}`;
  const store = new PostgresStore(pool, { schema });
  const resetAt = Date.now() + 3_600_000;
  beforeAll(() => store.init());
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  /** Runs `body` while another transaction holds the row lock of `counter`. */
  async function whileLocked<T>(counter: string, body: () => Promise<T>): Promise<T> {
    const holder = await pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT count FROM "${schema}".keyward_counters WHERE name = $1 FOR UPDATE`, [counter]);
      return await body();
    } finally {
      await holder.query("COMMIT");
      holder.release();
    }
  }

  it("refuses a take at the limit without waiting for the counter's row lock", async () => {
    for (let i = 0; i < 3; i++) await store.consume("full", 3, resetAt);
    const answer = await whileLocked("full", () => Promise.race([store.consume("full", 3, resetAt), sleep(2000).then(() => "waited for the lock")]));
    expect(answer).toBe(-1);
  });

  it("still waits for the lock below the limit, then takes exactly one unit", async () => {
    await store.consume("open", 3, resetAt);
    let settled = false;
    // Wrapped, so whileLocked does not await the take before it lets the lock go.
    const { take } = await whileLocked("open", async () => {
      const pending = store.consume("open", 3, resetAt).then((n) => {
        settled = true;
        return n;
      });
      await sleep(200);
      expect(settled).toBe(false);
      return { take: pending };
    });
    expect(await take).toBe(2);
  });

  it("admits exactly the limit of a burst on one counter", async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => store.consume("burst", 50, resetAt)));
    expect(answers.filter((n) => n > 0).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(answers.filter((n) => n === -1)).toHaveLength(150);
  });
});
