/**
 * Lifecycle notices go out once per key and threshold across instances sharing a store and across
 * restarts: two KeyManagers (each with its own connection) sweeping one SQLite file or one
 * PostgreSQL schema at the same time, and a new KeyManager on the same database after a close.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { KeyManager, type KeyStore, type LifecycleEvent } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { SqliteStore } from "keyward/sqlite";
import { TestClock, tempDir } from "../helpers";
import { PG_URL, describeWithServices } from "../stores/services";

const DAY = 86_400_000;
const label = (n: LifecycleEvent) => `${n.type}:${n.threshold}`;

/** Managers on one clock, each over its own store from `open()`, with every notice delivered to `onEvent` collected. */
function cluster(open: () => KeyStore) {
  const clock = new TestClock();
  const delivered: LifecycleEvent[] = [];
  const managers: KeyManager[] = [];
  const make = () => {
    const keys = new KeyManager({
      store: open(),
      clock: clock.now,
      tiers: { free: { monthlyRequests: 10 } },
      idleExpiry: "90d",
      onEvent: (e) => {
        if (e.type === "key.expiring" || e.type === "key.idle" || e.type === "quota.threshold") delivered.push(e);
      },
    });
    managers.push(keys);
    return keys;
  };
  return { clock, delivered, make, closeAll: () => Promise.all(managers.map((m) => m.close())) };
}

/** Both managers sweep at the same time, three rounds; every notice either one emitted, in order. */
async function sweepTogether(a: KeyManager, b: KeyManager): Promise<LifecycleEvent[]> {
  const out: LifecycleEvent[] = [];
  for (let i = 0; i < 3; i++) for (const report of await Promise.all([a.sweep(), b.sweep()])) out.push(...report.notices);
  return out;
}

function sharedStoreTests(open: () => KeyStore) {
  it("two instances sweeping at the same time emit each notice once, and expire an idle key once", async () => {
    const { clock, delivered, make, closeAll } = cluster(open);
    const a = make();
    const b = make();
    const { key: expiring } = await a.create({ name: "expiring", expiresIn: "40d" });
    const { key: metered, secret } = await a.create({ name: "metered", tier: "free", expiresIn: "365d" });
    const { key: idle } = await b.create({ name: "idle" });
    const name = (n: LifecycleEvent) => `${n.name} ${label(n)}`;
    for (let i = 0; i < 8; i++) expect((await b.verify(secret)).ok).toBe(true);
    expect((await sweepTogether(a, b)).map(name)).toEqual(["metered quota.threshold:80"]);

    clock.advance(30 * DAY);
    expect((await sweepTogether(a, b)).map(name).sort()).toEqual([
      "expiring key.expiring:14d",
      "expiring key.idle:30d",
      "idle key.idle:30d",
      "metered key.idle:30d",
    ]);
    clock.advance(46 * DAY); // 14 days before the idle deadline (day 90) of `idle` and `metered`
    expect((await sweepTogether(a, b)).map(name).sort()).toEqual(["idle key.expiring:14d", "metered key.expiring:14d"]);
    clock.advance(13 * DAY);
    expect((await sweepTogether(a, b)).map(name).sort()).toEqual(["idle key.expiring:1d", "metered key.expiring:1d"]);
    clock.advance(DAY);
    const reports = await Promise.all([a.sweep(), b.sweep()]);
    expect(reports.flatMap((r) => r.notices)).toEqual([]);
    expect(reports.flatMap((r) => r.expired).sort()).toEqual([idle.id, metered.id].sort());
    expect((await b.get(idle.id))!.status).toBe("expired");
    expect((await a.get(expiring.id))!.status).toBe("expired");
    expect(delivered).toHaveLength(9);
    await closeAll();
  });

  it("a new instance on the same database after a restart sends nothing already sent", async () => {
    const { clock, delivered, make, closeAll } = cluster(open);
    const first = make();
    const { key } = await first.create({ name: "expiring", expiresIn: "40d" });
    await first.create({ name: "idle" });
    clock.advance(30 * DAY);
    expect((await first.sweep()).notices.map(label).sort()).toEqual(["key.expiring:14d", "key.idle:30d", "key.idle:30d"]);
    await first.close();
    const restarted = make();
    expect((await restarted.sweep()).notices).toEqual([]);
    clock.advance(9.5 * DAY);
    expect((await restarted.sweep()).notices.map((n) => [n.keyId, label(n)])).toEqual([[key.id, "key.expiring:1d"]]);
    expect((await make().sweep()).notices).toEqual([]);
    expect(delivered).toHaveLength(4);
    await closeAll();
  });
}

describe("one SQLite file", () => {
  const tmp = tempDir();
  let file = "";
  let n = 0;
  beforeEach(() => {
    file = tmp.file(`keys-${++n}.db`);
  });
  afterAll(() => tmp.cleanup());
  sharedStoreTests(() => new SqliteStore(file));
});

describeWithServices("one PostgreSQL schema", ["postgres"], () => {
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const pools: pg.Pool[] = [];
  let schema = "";
  beforeEach(() => {
    schema = `kw_sweep_${randomBytes(5).toString("hex")}`;
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
  afterAll(() => admin.end());
  sharedStoreTests(() => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    pools.push(pool);
    return new PostgresStore(pool, { schema });
  });
});
