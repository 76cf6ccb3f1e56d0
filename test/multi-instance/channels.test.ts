/**
 * Invalidation channels between two KeyManagers on one PostgreSQL database (each with its own
 * pool, as two instances would be) and a 60 s cache: without a channel the other instance keeps
 * its cached record; with Redis pub/sub or Postgres LISTEN/NOTIFY, updates, rotations and
 * revocations reach it at once, and a dropped listener connection clears the whole cache.
 */
import { randomBytes } from "node:crypto";
import Redis from "ioredis";
import pg from "pg";
import { KeyManager, requiredScope } from "keyward";
import { PostgresStore, postgresInvalidation, type PgPoolLike } from "keyward/postgres";
import { redisInvalidation, type InvalidationChannel } from "keyward/redis";
import { PG_URL, REDIS_URL, describeWithServices } from "../stores/services";
import { pollUntil } from "./cluster";

const READ = requiredScope("b:read");

describeWithServices("invalidation channels", ["postgres", "redis"], () => {
  const schema = `kw_chan_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  const instance = async () => {
    const store = new PostgresStore(PG_URL, { schema, poolSize: 3 });
    const keys = new KeyManager({ store, cache: { ttl: "60s" }, scopes: ["a:read", "b:read"] });
    await store.init();
    cleanups.push(() => keys.close());
    return { store, keys };
  };
  const refused = (keys: KeyManager, secret: string, code: string) => async () => {
    const r = await keys.verify(secret);
    return !r.ok && r.error.code === code;
  };

  type Connect = (keys: KeyManager, store: PostgresStore, name: string) => Promise<{ channel: InvalidationChannel; drop: () => Promise<void> }>;
  const redisChannel: Connect = async (keys, _store, name) => {
    const publisher = new Redis(REDIS_URL);
    const subscriber = new Redis(REDIS_URL);
    const channel = await redisInvalidation(keys, { publisher, subscriber, channel: `kwtest:${name}` });
    cleanups.push(
      () => {
        publisher.disconnect();
        subscriber.disconnect();
      },
      () => channel.close(),
    );
    return {
      channel,
      drop: async () => {
        subscriber.disconnect(true);
      },
    };
  };
  const postgresChannel: Connect = async (keys, store, name) => {
    const channel = await postgresInvalidation(keys, store, { channel: name, reconnectDelayMs: 50 });
    cleanups.push(() => channel.close());
    return {
      channel,
      drop: async () => {
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`, [`LISTEN ${name}`]);
      },
    };
  };

  it("without a channel, another instance keeps serving its cached record until the TTL", async () => {
    const a = await instance();
    const b = await instance();
    const { secret, key } = await a.keys.create({ name: "k" });
    expect((await b.keys.verify(secret)).ok).toBe(true);
    await a.keys.revoke(key.id);
    expect((await a.keys.verify(secret)).ok).toBe(false);
    expect((await b.keys.verify(secret)).ok).toBe(true); // cached for up to 60 s: what a channel fixes
  });

  it("Postgres: close() while the listener is reconnecting hands its connection back and stops listening", async () => {
    const { keys } = await instance();
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    cleanups.push(() => pool.end());
    // The reconnect's connect() waits at a gate, so close() lands while it is under way.
    let connects = 0;
    let reconnectStarted!: () => void;
    const started = new Promise<void>((resolve) => (reconnectStarted = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const source: PgPoolLike = {
      query: (text: string, values?: unknown[]) => pool.query(text, values),
      end: () => pool.end(),
      connect: async () => {
        if (++connects > 1) {
          reconnectStarted();
          await gate;
        }
        return pool.connect();
      },
    };
    const name = `${schema}_${randomBytes(3).toString("hex")}`;
    const channel = await postgresInvalidation(keys, source, { channel: name, reconnectDelayMs: 10 });
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`, [`LISTEN ${name}`]);
    await started;
    const closing = channel.close();
    openGate();
    await closing;
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a leaked LISTEN to show
    expect(pool.totalCount - pool.idleCount).toBe(0); // no connection left checked out
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1`, [`LISTEN ${name}`]);
    expect(rows[0].n).toBe(0);
  });

  describe.each([
    ["Redis pub/sub", redisChannel],
    ["Postgres LISTEN/NOTIFY", postgresChannel],
  ])("%s", (_name, connect) => {
    let a: Awaited<ReturnType<typeof instance>>, b: Awaited<ReturnType<typeof instance>>;
    let dropB: () => Promise<void>;
    beforeEach(async () => {
      a = await instance();
      b = await instance();
      const name = `${schema}_${randomBytes(3).toString("hex")}`;
      await connect(a.keys, a.store, name);
      dropB = (await connect(b.keys, b.store, name)).drop;
    });

    it("carries revocations, rotations and scope changes to the other instance", async () => {
      const revoked = await a.keys.create({ name: "r", scopes: ["a:read"] });
      const rotated = await a.keys.create({ name: "o", scopes: ["a:read"] });
      const rescoped = await a.keys.create({ name: "s", scopes: ["a:read"] });
      for (const k of [revoked, rotated, rescoped]) expect((await b.keys.verify(k.secret)).ok).toBe(true);
      expect((await b.keys.verify(rescoped.secret, { scope: READ })).ok).toBe(false);

      await a.keys.revoke(revoked.key.id);
      await a.keys.rotate(rotated.key.id, { overlap: 0 });
      await a.keys.update(rescoped.key.id, { scopes: ["b:read"] });
      expect(await pollUntil(refused(b.keys, revoked.secret, "key_revoked"), 5000)).not.toBeNull();
      expect(await pollUntil(refused(b.keys, rotated.secret, "key_revoked"), 5000)).not.toBeNull();
      expect(await pollUntil(async () => (await b.keys.verify(rescoped.secret, { scope: READ })).ok, 5000)).not.toBeNull();
    });

    it("drops the whole cache when its listening connection drops, and keeps listening after", async () => {
      const first = await a.keys.create({ name: "x" });
      expect((await b.keys.verify(first.secret)).ok).toBe(true);
      await b.store.revoke(first.key.id, Date.now()); // a change no channel announces
      await dropB();
      expect(await pollUntil(refused(b.keys, first.secret, "key_revoked"), 5000)).not.toBeNull();

      const second = await a.keys.create({ name: "y" });
      await pollUntil(async () => (await b.keys.verify(second.secret)).ok, 5000);
      // Listening again: a revocation in A reaches B (poll: reconnecting takes a moment).
      await a.keys.revoke(second.key.id);
      expect(await pollUntil(refused(b.keys, second.secret, "key_revoked"), 5000)).not.toBeNull();
    });
  });
});
