/**
 * The revocation bound: two KeyManagers on one PostgreSQL database with a 60 s cache and
 * `maxStaleness: 500ms`. B's invalidation channel is cut (Redis: its subscriber connection killed
 * with CLIENT KILL and kept down; Postgres: its LISTEN connection partitioned by a TCP proxy that
 * stops forwarding, so no error tells B), then A revokes: B must refuse the key no later than
 * 500 ms after the revocation, emit `cache.channel_silent`, and `cache.channel_restored` once its
 * channel is back. Measurements are printed and written to test-artifacts/.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import Redis from "ioredis";
import pg from "pg";
import { KeyManager, type KeywardEvent } from "keyward";
import { PostgresStore, postgresInvalidation } from "keyward/postgres";
import { RedisCounters, redisInvalidation } from "keyward/redis";
import { PG_URL, REDIS_URL, describeWithServices } from "../stores/services";
import { pollUntil, writeArtifact } from "./cluster";

const BOUND_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to 127.0.0.1:`target` that can be partitioned (forwards nothing, closes nothing) and healed (drops its connections). */
async function tcpProxy(target: number) {
  let partitioned = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d) => {
      if (!partitioned) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!partitioned) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    partition() {
      partitioned = true;
    },
    heal() {
      partitioned = false;
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describeWithServices("revocation bound (maxStaleness) with the invalidation channel cut", ["postgres", "redis"], () => {
  const schema = `kw_bound_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const cleanups: Array<() => unknown> = [];
  const measured: Record<string, unknown> = {};
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  afterAll(async () => {
    writeArtifact("revocation-bound", measured);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  const instance = async (counters?: RedisCounters) => {
    const store = new PostgresStore(PG_URL, { schema, poolSize: 3 });
    const events: KeywardEvent[] = [];
    const keys = new KeyManager({ store, counters, cache: { ttl: "60s" }, maxStaleness: `${BOUND_MS}ms`, onEvent: (e) => events.push(e) });
    await store.init();
    cleanups.push(() => keys.close());
    return { store, keys, events };
  };
  const healthy = (keys: KeyManager) => pollUntil(async () => keys.stats().channel.state === "healthy", 5000);

  /**
   * Revokes on A with B's channel cut; polls B every few ms and answers how long after the revoke
   * call began B last accepted the key, and when it first refused it.
   */
  async function revokeAndWatch(a: KeyManager, b: KeyManager, secret: string, id: string) {
    const started = Date.now();
    const revoking = a.revoke(id);
    let lastAccepted = -1;
    let refusedAt = -1;
    while (Date.now() - started < 5000) {
      const at = Date.now();
      const r = await b.verify(secret);
      if (r.ok) lastAccepted = at - started;
      else if (r.error.code === "key_revoked") {
        refusedAt = at - started;
        break;
      }
      await sleep(5);
    }
    await revoking;
    return { lastAcceptedMs: lastAccepted, refusedAfterMs: refusedAt };
  }

  it("Redis counters + Redis channel: B refuses a key revoked on A within maxStaleness after its subscriber is killed, then reports silent and restored", async () => {
    const redis = new Redis(REDIS_URL);
    const counters = new RedisCounters(redis, { prefix: `kwtest:${schema}:c:` });
    const a = await instance(counters);
    const b = await instance(counters);
    const channel = `kwtest:${schema}:inv`;
    const name = `kwbound_${randomBytes(4).toString("hex")}`;
    const pubA = new Redis(REDIS_URL),
      subA = new Redis(REDIS_URL),
      pubB = new Redis(REDIS_URL);
    // B's subscriber stays down for 1.5 s after it is killed (no reconnect that would drop B's cache).
    const subB = new Redis(REDIS_URL, { connectionName: name, retryStrategy: () => 1500 });
    cleanups.push(() => {
      for (const c of [redis, pubA, subA, pubB, subB]) c.disconnect();
    });
    const chA = await redisInvalidation(a.keys, { publisher: pubA, subscriber: subA, channel });
    const chB = await redisInvalidation(b.keys, { publisher: pubB, subscriber: subB, channel });
    cleanups.push(
      () => chA.close(),
      () => chB.close(),
    );
    expect(await healthy(a.keys)).not.toBeNull();
    expect(await healthy(b.keys)).not.toBeNull();

    // With the channel up, a revocation propagates in tens of ms (measured below).
    const quick = await a.keys.create({ name: "quick" });
    expect((await b.keys.verify(quick.secret)).ok).toBe(true);
    await a.keys.revoke(quick.key.id);
    const quickMs = await pollUntil(async () => !(await b.keys.verify(quick.secret)).ok, 2000);
    expect(quickMs).not.toBeNull();

    const { secret, key } = await a.keys.create({ name: "k" });
    expect((await b.keys.verify(secret)).ok).toBe(true); // cached in B for up to 60 s
    const clients = (await redis.client("LIST")) as string;
    const line = clients.split("\n").find((l) => l.includes(` name=${name} `));
    expect(line).toBeDefined();
    await redis.client("KILL", "ID", /\bid=(\d+)/.exec(line!)![1]!);
    const watched = await revokeAndWatch(a.keys, b.keys, secret, key.id);
    expect(watched.refusedAfterMs).toBeGreaterThanOrEqual(0);
    expect(watched.lastAcceptedMs).toBeLessThanOrEqual(BOUND_MS);
    expect(b.events.some((e) => e.type === "cache.channel_silent")).toBe(true);

    // The subscriber reconnects after 1.5 s: B hears heartbeats again.
    expect(await pollUntil(async () => b.events.some((e) => e.type === "cache.channel_restored"), 5000)).not.toBeNull();
    const types = b.events.filter((e) => e.type.startsWith("cache.")).map((e) => e.type);
    expect(types.indexOf("cache.channel_silent")).toBeLessThan(types.lastIndexOf("cache.channel_restored"));
    expect((await b.keys.verify(secret)).ok).toBe(false);
    const lag = b.keys.stats().channel.lagMs;
    expect(lag.samples).toBeGreaterThan(0);
    measured.redis = { boundMs: BOUND_MS, channelUpRevocationMs: quickMs, ...watched, channelLagMs: lag };
    console.log(
      `Redis: channel up → B refused after ≤ ${quickMs} ms; channel killed → B last accepted ${watched.lastAcceptedMs} ms and refused ${watched.refusedAfterMs} ms after revoke() began (bound ${BOUND_MS} ms); heartbeat lag ms`,
      lag,
    );
  });

  it("Postgres channel: B refuses a key revoked on A within maxStaleness while its LISTEN connection is partitioned, then reports silent and restored", async () => {
    const a = await instance();
    const b = await instance();
    const proxy = await tcpProxy(Number(new URL(PG_URL).port || 5432));
    const url = new URL(PG_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const channelPool = new pg.Pool({ connectionString: url.toString(), max: 3 });
    channelPool.on("error", () => undefined);
    cleanups.push(
      () => proxy.close(),
      () => channelPool.end().catch(() => undefined),
    );
    const name = `${schema}_inv`;
    const chA = await postgresInvalidation(a.keys, a.store, { channel: name });
    const chB = await postgresInvalidation(b.keys, channelPool, { channel: name, reconnectDelayMs: 100 });
    cleanups.push(
      () => chA.close(),
      () => chB.close(),
    );
    expect(await healthy(a.keys)).not.toBeNull();
    expect(await healthy(b.keys)).not.toBeNull();

    const { secret, key } = await a.keys.create({ name: "k" });
    expect((await b.keys.verify(secret)).ok).toBe(true);
    proxy.partition(); // nothing reaches B's listener any more, and nothing tells it so
    const watched = await revokeAndWatch(a.keys, b.keys, secret, key.id);
    expect(watched.refusedAfterMs).toBeGreaterThanOrEqual(0);
    expect(watched.lastAcceptedMs).toBeLessThanOrEqual(BOUND_MS);
    expect(await pollUntil(async () => b.events.some((e) => e.type === "cache.channel_silent"), 2000)).not.toBeNull();
    expect(b.keys.stats().channel.state).toBe("silent");

    proxy.heal(); // the connection drops; the listener reconnects through the healed proxy
    expect(await pollUntil(async () => b.events.some((e) => e.type === "cache.channel_restored"), 8000)).not.toBeNull();
    expect(b.keys.stats().channel.state).toBe("healthy");
    expect((await b.keys.verify(secret)).ok).toBe(false);
    const lag = b.keys.stats().channel.lagMs;
    measured.postgres = { boundMs: BOUND_MS, ...watched, channelLagMs: lag };
    console.log(
      `Postgres: channel partitioned → B last accepted ${watched.lastAcceptedMs} ms and refused ${watched.refusedAfterMs} ms after revoke() began (bound ${BOUND_MS} ms); heartbeat lag ms`,
      lag,
    );
  });
});
