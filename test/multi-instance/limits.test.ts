/**
 * Credits and owner-wide limits across three app instances, with counters in PostgreSQL (one
 * function call per request), in Redis (one script per request) and in Redis taken in reserved
 * batches (ReservingCounters: at most one script per request): concurrent requests spread over the
 * instances never take more than the balance or the owner's shared quota, and refused ones take
 * nothing.
 */
import { describeWithServices } from "../stores/services";
import { useCluster } from "./cluster";

jest.setTimeout(90_000);

describe.each(["postgres", "redis", "redis-reserving"] as const)("three instances, counters in %s", (counters) => {
  describeWithServices(`credits and owner-wide quotas (${counters})`, ["postgres", "redis"], () => {
    const { instances } = useCluster(3, { counters }, "kw_limits");

    const create = async (body: Record<string, unknown>) =>
      (await instances[0]!.request("/admin/keys", { method: "POST", body: { name: "multi", ...body } })).body as { secret: string; id: string };

    it("never admits more reports (cost 5) than 100 credits pay for, and loses none: 90 concurrent requests, then one at a time", async () => {
      const { secret, id } = await create({ credits: { remaining: 100 } });
      const burst = await Promise.all(Array.from({ length: 90 }, (_, i) => instances[i % 3]!.request("/v1/report", { method: "POST", secret })));
      const admitted = burst.filter((r) => r.status === 200).length;
      expect(admitted).toBeLessThanOrEqual(20);
      expect(burst.filter((r) => r.status === 429 && r.body.error.code === "credits_exhausted")).toHaveLength(90 - admitted);
      // Refused requests gave everything back: the balance is exactly what the admitted ones left.
      expect((await instances[1]!.request(`/admin/keys/${id}`)).body.credits.remaining).toBe(100 - 5 * admitted);
      let more = 0;
      for (let i = 0; i < 25; i++) if ((await instances[i % 3]!.request("/v1/report", { method: "POST", secret })).status === 200) more++;
      expect(admitted + more).toBe(20);
      for (const instance of instances) expect((await instance.request(`/admin/keys/${id}`)).body.credits.remaining).toBe(0);
    });

    it("lets four keys of one owner share one monthly quota of 40 over 160 concurrent requests", async () => {
      const owned = await Promise.all(Array.from({ length: 4 }, () => create({ tier: "team", ownerId: `acme-${counters}` })));
      const results = await Promise.all(Array.from({ length: 160 }, (_, i) => instances[i % 3]!.request("/v1/ping", { secret: owned[i % 4]!.secret })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(40);
      expect(results.filter((r) => r.status === 429 && r.body.error.code === "quota_exceeded")).toHaveLength(120);
      const other = await create({ tier: "team", ownerId: `other-${counters}` });
      expect((await instances[1]!.request("/v1/ping", { secret: other.secret })).status).toBe(200);
    });

    it("never takes past a quota of 600 taken with two named limits and credits in one step, and admits exactly it once spare units are handed back", async () => {
      const { secret, id } = await create({ tier: "reserved", credits: { remaining: 100_000 } });
      // 800 at once: the instances' store bound (server.ts) covers the queue on one counter row.
      const burst = await Promise.all(Array.from({ length: 800 }, (_, i) => instances[i % 3]!.request("/v1/ping", { secret })));
      const admitted = burst.filter((r) => r.status === 200).length;
      expect(admitted).toBeLessThanOrEqual(600);
      expect(burst.filter((r) => r.status !== 200 && !(r.status === 429 && r.body.error.code === "quota_exceeded"))).toEqual([]);
      // ReservingCounters instances may hold spare units of the quota: handed back, they admit the rest.
      const release = () => Promise.all(instances.map((i) => i.request("/admin/release", { method: "POST" })));
      await release();
      let more = 0;
      for (const instance of instances) while ((await instance.request("/v1/ping", { secret })).status === 200) more++;
      expect(admitted + more).toBe(600);
      await release();
      // Refused requests took no credit: exactly one per admitted request.
      for (const instance of instances) expect((await instance.request(`/admin/keys/${id}`)).body.credits.remaining).toBe(100_000 - 600);
    });
  });
});
