/**
 * One app instance for the multi-instance tests, run as a child process (bundled by ../node-entry.ts). Configured by
 * the KEYWARD_INSTANCE env var (JSON): Postgres schema, where counters live (Postgres or Redis),
 * which invalidation channel (none, Redis, Postgres), cache TTL and usage flush interval.
 * Prints `{"port":N}` on stdout once it listens; closes cleanly on SIGTERM; exits when its
 * parent goes away (stdin closes), so a killed test run leaves no instance behind.
 */
import http from "node:http";
import Redis from "ioredis";
import express from "express";
import { KeyManager, apiKeyAuth, chargeCredits } from "keyward";
import { PostgresStore, postgresInvalidation } from "keyward/postgres";
import { RedisCounters, ReservingCounters, redisInvalidation, type InvalidationChannel } from "keyward/redis";

interface InstanceConfig {
  pgUrl: string;
  schema: string;
  redisUrl: string;
  redisPrefix: string;
  counters: "postgres" | "redis" | "redis-reserving";
  channel: "none" | "redis" | "postgres";
  cacheTtl: string;
  flushInterval: string;
}

const config = JSON.parse(process.env.KEYWARD_INSTANCE ?? "{}") as InstanceConfig;

async function main(): Promise<void> {
  const store = new PostgresStore(config.pgUrl, { schema: config.schema, poolSize: 8 });
  const redisClients: Redis[] = [];
  const redis = () => {
    const client = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
    redisClients.push(client);
    return client;
  };
  const counters =
    config.counters === "redis"
      ? new RedisCounters(redis(), { prefix: config.redisPrefix })
      : config.counters === "redis-reserving"
        ? new ReservingCounters(redis(), { prefix: config.redisPrefix })
        : undefined;
  const keys = new KeyManager({
    store,
    counters,
    tiers: {
      metered: { monthlyRequests: 50 },
      bulk: { monthlyRequests: 600 },
      // All keys of one owner share the quota; the named rate limits are taken with it in one step.
      team: { monthlyRequests: 40, rateLimit: { burst: "100000/h", sustained: "1000000/d" }, countPer: "owner" },
      // Named limits and a quota large enough for ReservingCounters to reserve units of each.
      reserved: { monthlyRequests: 600, rateLimit: { burst: "100000/h", sustained: "1000000/d" } },
    },
    cache: { ttl: config.cacheTtl },
    usage: { flushInterval: config.flushInterval },
    // These tests judge exactness under contention: a hundred requests per instance queue on one
    // counter row, which on a busy shared machine can take longer than the 2 s default bound, and a
    // request past the bound fails closed with 503 (that bound is tested in test/stores/counter-timeouts.test.ts).
    storeTimeout: "30s",
  });
  await store.init();
  let channel: InvalidationChannel | null = null;
  if (config.channel === "redis")
    channel = await redisInvalidation(keys, { publisher: redis(), subscriber: redis(), channel: `${config.redisPrefix}invalidate` });
  if (config.channel === "postgres") channel = await postgresInvalidation(keys, store, { channel: `${config.schema}_inv` });

  const app = express();
  app.use(express.json());
  // Test-only management endpoints (a real app puts these behind its own login).
  app.post("/admin/keys", async (req, res) => {
    const { secret, key } = await keys.create({
      name: String(req.body?.name ?? "k"),
      tier: req.body?.tier,
      ownerId: req.body?.ownerId,
      credits: req.body?.credits,
    });
    res.json({ secret, id: key.id });
  });
  app.get("/admin/keys/:id", async (req, res) => {
    res.json(await keys.get(req.params.id));
  });
  app.post("/admin/keys/:id/revoke", async (req, res) => {
    const key = await keys.revoke(req.params.id);
    res.json({ status: key.status });
  });
  // Hands this instance's reserved counter units back to Redis (ReservingCounters only).
  app.post("/admin/release", async (_req, res) => {
    if (counters instanceof ReservingCounters) await counters.release();
    res.json({ ok: true });
  });
  app.use("/v1", apiKeyAuth({ keys }));
  app.get("/v1/ping", (req, res) => {
    res.json({ id: req.apiKey!.id, pid: process.pid });
  });
  app.post("/v1/report", chargeCredits(5), (req, res) => {
    res.json({ id: req.apiKey!.id });
  });

  const server = http.createServer({ keepAliveTimeout: 1000 }, app);
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 }) + "\n");
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    void (async () => {
      await channel?.close();
      await keys.close();
      if (counters instanceof ReservingCounters) await counters.close();
      for (const c of redisClients) c.disconnect();
      process.exit(0);
    })();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`instance failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
