/**
 * Several app processes on PostgreSQL (keys, usage) + Redis (counters, invalidation channel):
 * quotas stay exact across them, and a key revoked in one is refused by the others long before
 * the 60 s cache TTL. Latencies go to test-artifacts/multi-instance-redis.json.
 */
import { describeWithServices } from "../stores/services";
import { createKey, pollUntil, summarize, useCluster, writeArtifact, type Instance } from "./cluster";

jest.setTimeout(60_000);

describeWithServices("several instances on PostgreSQL + Redis", ["postgres", "redis"], () => {
  const { schema, pool, redis, redisPrefix, instances } = useCluster(2, { counters: "redis", channel: "redis", cacheTtl: "60s" });
  const artifact: Record<string, unknown> = { cacheTtlMs: 60_000 };
  let a: Instance, b: Instance;

  beforeAll(() => {
    [a, b] = instances as [Instance, Instance];
  });
  afterAll(() => writeArtifact("multi-instance-redis", artifact));

  it("admits exactly the monthly quota (50) of 200 concurrent requests spread over two instances", async () => {
    const { secret, id } = await createKey(a, "metered");
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).request("/v1/ping", { secret })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    expect(results.filter((r) => r.status === 429 && r.body.error.code === "quota_exceeded")).toHaveLength(150);
    const counters = await redis.keys(`${redisPrefix}q:${id}:*`);
    expect(counters).toHaveLength(1);
    expect(await redis.get(counters[0]!)).toBe("50");
    // The counters live in Redis, not in the Postgres table.
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".keyward_counters`);
    expect(rows[0].n).toBe(0);
  });

  it("refuses a key revoked in one instance in the other long before the 60 s cache TTL", async () => {
    const latencies: number[] = [];
    for (let trial = 0; trial < 7; trial++) {
      const [from, to] = trial % 2 ? [a, b] : [b, a];
      const { secret, id } = await createKey(from);
      expect((await to.request("/v1/ping", { secret })).status).toBe(200);
      expect((await from.request(`/admin/keys/${id}/revoke`, { method: "POST" })).body.status).toBe("revoked");
      const ms = await pollUntil(async () => {
        const r = await to.request("/v1/ping", { secret });
        return r.status === 401 && r.body.error.code === "key_revoked";
      }, 5000);
      expect(ms).not.toBeNull();
      latencies.push(ms!);
    }
    artifact.revocationRedisPubSubMs = summarize(latencies);
  });
});

describeWithServices("three instances on PostgreSQL + Redis with reserved counter batches (ReservingCounters)", ["postgres", "redis"], () => {
  const { redis, redisPrefix, instances } = useCluster(3, { counters: "redis-reserving", channel: "redis", cacheTtl: "60s" });

  it("admits exactly the monthly quota (50) of 200 concurrent requests spread over three instances", async () => {
    const { secret, id } = await createKey(instances[0]!, "metered");
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => instances[i % 3]!.request("/v1/ping", { secret })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    expect(results.filter((r) => r.status === 429 && r.body.error.code === "quota_exceeded")).toHaveLength(150);
    const counters = await redis.keys(`${redisPrefix}q:${id}:*`);
    expect(await redis.get(counters[0]!)).toBe("50");
  });

  it("never exceeds a quota it reserves in batches (600), and admits exactly it once the instances hand their spare units back", async () => {
    const { secret, id } = await createKey(instances[1]!, "bulk");
    const burst = await Promise.all(Array.from({ length: 800 }, (_, i) => instances[i % 3]!.request("/v1/ping", { secret })));
    const admitted = burst.filter((r) => r.status === 200).length;
    expect(admitted).toBeLessThanOrEqual(600);
    expect(burst.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
    await Promise.all(instances.map((i) => i.request("/admin/release", { method: "POST" })));
    const [counter] = await redis.keys(`${redisPrefix}q:${id}:*`);
    expect(Number(await redis.get(counter!))).toBe(admitted);
    let more = 0;
    for (const instance of instances) while ((await instance.request("/v1/ping", { secret })).status === 200) more++;
    expect(admitted + more).toBe(600);
    expect(await redis.get(counter!)).toBe("600");
  });
});
