/**
 * Several app processes on one PostgreSQL (counters in Postgres): quotas stay exact across them,
 * a key revoked in one is refused by the others within the cache TTL (no channel) or at once
 * (LISTEN/NOTIFY channel), and a SIGKILLed instance loses only its last flush interval of usage.
 * Latencies are recorded in test-artifacts/multi-instance-postgres.json; only bounds are asserted.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { PG_URL, describeWithServices } from "../stores/services";
import { createKey, pollUntil, startInstances, summarize, writeArtifact, type Instance } from "./cluster";

jest.setTimeout(60_000);

describeWithServices("several instances on one PostgreSQL", ["postgres"], () => {
  const schema = `kw_multi_${randomBytes(5).toString("hex")}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const TTL_MS = 1000;
  const FLUSH_MS = 200;
  const artifact: Record<string, unknown> = { cacheTtlMs: TTL_MS, flushIntervalMs: FLUSH_MS };
  let a: Instance, b: Instance, c: Instance, d: Instance;

  beforeAll(async () => {
    // The instances start together (their migrations take turns under an advisory lock).
    [a, b, c, d] = (await startInstances([
      { schema, cacheTtl: `${TTL_MS}ms`, flushInterval: `${FLUSH_MS}ms` },
      { schema, cacheTtl: `${TTL_MS}ms`, flushInterval: `${FLUSH_MS}ms` },
      { schema, channel: "postgres", cacheTtl: "60s" },
      { schema, channel: "postgres", cacheTtl: "60s" },
    ])) as [Instance, Instance, Instance, Instance];
  });
  afterAll(async () => {
    await Promise.all([a, b, c, d].map((i) => i?.stop()));
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    writeArtifact("multi-instance-postgres", artifact);
  });

  it("admits exactly the monthly quota (50) of 200 concurrent requests spread over two instances", async () => {
    const { secret, id } = await createKey(a, "metered");
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).request("/v1/ping", { secret })));
    // One tally of every outcome, so a failure shows what the others were answered (e.g. 503s).
    const tally: Record<string, number> = {};
    for (const r of results) {
      const outcome = r.status === 200 ? "200" : `${r.status} ${r.body?.error?.code}`;
      tally[outcome] = (tally[outcome] ?? 0) + 1;
    }
    expect(tally).toEqual({ "200": 50, "429 quota_exceeded": 150 });
    const { rows } = await pool.query(`SELECT count::integer AS count FROM "${schema}".keyward_counters WHERE name LIKE $1`, [`q:${id}:%`]);
    expect(rows.map((r) => r.count)).toEqual([50]);
  });

  /** Revokes a fresh key in `from` after `to` has it cached; resolves with ms until `to` refuses it. */
  const revocationLatency = async (from: Instance, to: Instance, limitMs: number) => {
    const { secret, id } = await createKey(from);
    expect((await to.request("/v1/ping", { secret })).status).toBe(200);
    expect((await from.request(`/admin/keys/${id}/revoke`, { method: "POST" })).body.status).toBe("revoked");
    expect((await from.request("/v1/ping", { secret })).status).toBe(401); // at once where it was revoked
    return pollUntil(async () => {
      const r = await to.request("/v1/ping", { secret });
      return r.status === 401 && r.body.error.code === "key_revoked";
    }, limitMs);
  };

  it("without a channel, refuses a key revoked in another instance within the cache TTL", async () => {
    const latencies: number[] = [];
    for (let trial = 0; trial < 2; trial++) {
      const ms = await revocationLatency(a, b, TTL_MS + 4000);
      expect(ms).not.toBeNull();
      latencies.push(ms!);
    }
    artifact.revocationWithoutChannelMs = summarize(latencies);
  });

  it("with the LISTEN/NOTIFY channel, refuses it long before the 60 s cache TTL", async () => {
    const latencies: number[] = [];
    for (let trial = 0; trial < 7; trial++) {
      const ms = await revocationLatency(trial % 2 ? c : d, trial % 2 ? d : c, 5000);
      expect(ms).not.toBeNull();
      latencies.push(ms!);
    }
    artifact.revocationPostgresNotifyMs = summarize(latencies);
  });

  it("loses at most about one flush interval of usage when an instance is killed with SIGKILL", async () => {
    const { secret, id } = await createKey(b);
    const acks: number[] = [];
    const start = performance.now();
    while (performance.now() - start < 1000) {
      expect((await a.request("/v1/ping", { secret })).status).toBe(200);
      acks.push(performance.now());
    }
    const killedAt = performance.now();
    await a.kill();
    const { rows } = await pool.query(`SELECT request_count::int AS n FROM "${schema}".keyward_keys WHERE id = $1`, [id]);
    const stored: number = rows[0].n;
    const lost = acks.length - stored;
    // Requests are sequential, so the stored ones are the first `stored`; the lost ones came last.
    const lostWindowMs = lost > 0 ? Math.round(killedAt - acks[stored]!) : 0;
    artifact.sigkill = { requests: acks.length, stored, lost, lostWindowMs };
    expect(stored).toBeLessThanOrEqual(acks.length);
    // Generous bound (10 flush intervals) so a loaded machine cannot make it flaky; the measured
    // window is in the artifact.
    expect(stored).toBeGreaterThanOrEqual(acks.filter((t) => t < killedAt - 10 * FLUSH_MS).length);
  });
});
