/**
 * A request answered 503 because its counter take timed out never consumes quota, even when the
 * take completes later: with Redis counters on a private redis-server killed and restarted, or
 * frozen and resumed, under HTTP load (ioredis queues and resends the takes, or a frozen server
 * answers them late), and with PostgreSQL counters held up by a row lock. After things settle,
 * each counter equals the requests answered 200 that it counted.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import Redis, { type RedisOptions } from "ioredis";
import pg from "pg";
import request from "supertest";
import { KeyManager, MemoryStore } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { RedisCounters } from "keyward/redis";
import { makeApp } from "../helpers";
import { PrivateRedis } from "./private-redis";
import { PG_URL, describeWithServices } from "./services";

/**
 * A KeyManager whose monthly quota lives on the Redis at `port` (ioredis keeps and replays commands:
 * no retry limit), with a 200 ms storeTimeout, a metered key and an HTTP server for it.
 */
async function meteredApp(port: number, name: string, redisOptions: RedisOptions = {}) {
  const client = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: null, ...redisOptions });
  client.on("error", () => undefined);
  const prefix = `kwtest:${randomBytes(6).toString("hex")}:`;
  const keys = new KeyManager({
    store: new MemoryStore(),
    counters: new RedisCounters(client, { prefix }),
    tiers: { metered: { monthlyRequests: 100_000 } },
    storeTimeout: "200ms",
    usage: false,
  });
  const { secret, key } = await keys.create({ name, tier: "metered" });
  const server = http.createServer(makeApp(keys)).listen(0, "127.0.0.1");
  return { client, prefix, keys, secret, key, server };
}

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` holds (checked every 10 ms); fails naming `what` after 30 s. */
async function until(what: string, done: () => boolean): Promise<void> {
  for (const start = performance.now(); !done(); await sleep(10)) {
    if (performance.now() - start > 30_000) throw new Error(`timed out waiting until ${what}`);
  }
}

describe("counter takes that time out (Redis killed and restarted under load)", () => {
  let redisServer: PrivateRedis;
  beforeAll(async () => {
    redisServer = await PrivateRedis.start();
  });
  afterAll(async () => {
    await redisServer?.stop();
  });

  it("refunds every unit a 503'd request's take consumed once Redis is back: the counter equals the 200s", async () => {
    // ioredis defaults that keep and replay commands: unsent ones wait in the offline queue (no
    // retry limit here), sent-but-unanswered ones are resent after the reconnect.
    const { client, prefix, keys, secret, key, server } = await meteredApp(redisServer.port, "outage", { retryStrategy: () => 50 });

    const answers: Array<{ status: number; at: number }> = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const res = await request(server).get("/whoami").set("Authorization", `Bearer ${secret}`);
        answers.push({ status: res.status, at: performance.now() });
      }
    };
    const answered = (status: number, after: number) => answers.filter((a) => a.status === status && a.at > after).length;
    const workers = Array.from({ length: 6 }, worker);
    await until("requests are admitted", () => answered(200, 0) >= 6);
    await redisServer.kill(); // mid-load: takes in flight are lost with the server's data
    const killedAt = performance.now();
    // Every take now waits in ioredis' queue and its request is answered 503 after the storeTimeout.
    await until("10 requests are refused while Redis is down", () => answered(503, killedAt) >= 10);
    const restartedAt = performance.now(); // from here on a take can reach the new server
    await redisServer.restart();
    await until("10 requests are admitted after the restart", () => answered(200, restartedAt) >= 10);
    running = false;
    await Promise.all(workers);
    server.close();
    await keys.close(); // waits for the late takes (and sends their refunds)
    await client.ping(); // one connection runs commands in order: every refund has run by now

    const count = Number((await client.get(`${prefix}q:${key.id}:${new Date().toISOString().slice(0, 7)}`)) ?? 0);
    const refused = answers.filter((a) => a.status === 503);
    const admittedAfterRestart = answers.filter((a) => a.status === 200 && a.at > restartedAt);
    client.disconnect();
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(admittedAfterRestart.length).toBeGreaterThanOrEqual(10);
    // Nothing is admitted while Redis is down (fail closed); the server's data went with it.
    expect(answers.filter((a) => a.status === 200 && a.at > killedAt + 100 && a.at < restartedAt)).toHaveLength(0);
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    expect(count).toBe(admittedAfterRestart.length);
  });
});

describe("counter takes that time out (Redis frozen and resumed under load)", () => {
  let redisServer: PrivateRedis;
  beforeAll(async () => {
    redisServer = await PrivateRedis.start();
  });
  afterAll(async () => {
    await redisServer?.stop();
  });

  it("takes answered after the timeout are given back: the counter equals every request answered 200", async () => {
    const { client, prefix, keys, secret, key, server } = await meteredApp(redisServer.port, "frozen");
    const statuses: number[] = [];
    let running = true;
    const worker = async () => {
      while (running) statuses.push((await request(server).get("/whoami").set("Authorization", `Bearer ${secret}`)).status);
    };
    const count = (status: number, from = 0) => statuses.slice(from).filter((s) => s === status).length;
    const workers = Array.from({ length: 6 }, worker);
    await until("requests are admitted", () => count(200) >= 6);
    redisServer.pause();
    const pausedAt = statuses.length;
    // Every take sent now is answered only after the resume, long after its request's 503.
    await until("6 requests are refused while Redis is frozen", () => count(503, pausedAt) >= 6);
    redisServer.resume();
    const resumedAt = statuses.length;
    await until("6 requests are admitted after the resume", () => count(200, resumedAt) >= 6);
    running = false;
    await Promise.all(workers);
    server.close();
    await keys.close();
    await client.ping(); // after every refund: one connection runs commands in order

    const counted = Number((await client.get(`${prefix}q:${key.id}:${new Date().toISOString().slice(0, 7)}`)) ?? 0);
    client.disconnect();
    expect(count(503)).toBeGreaterThanOrEqual(6);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(counted).toBe(count(200));
  });
});

describeWithServices("counter takes that time out (PostgreSQL counters held up by a row lock)", ["postgres"], () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const schema = `kw_late_${randomBytes(6).toString("hex")}`;
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it("gives back the units of takes that completed after their requests were answered 503", async () => {
    const tiers = { metered: { monthlyRequests: 1000 } };
    // Set-up (migration, the key) under the default storeTimeout: on a loaded machine it can take
    // longer than the 300 ms the requests below are given, and it is not what this test measures.
    const setup = new KeyManager({ store: new PostgresStore(PG_URL, { schema }), tiers, usage: false });
    const { secret, key } = await setup.create({ name: "stalled", tier: "metered" });
    await setup.close();
    const store = new PostgresStore(PG_URL, { schema, poolSize: 24 });
    const keys = new KeyManager({ store, tiers, storeTimeout: "300ms", usage: false });
    // The first request connects the pool; retried so a slow first connection is not mistaken for the case under test.
    let first = await keys.verify(secret);
    for (let i = 0; i < 20 && !first.ok; i++) first = await keys.verify(secret);
    expect(first.ok).toBe(true);
    const counter = `"${schema}".keyward_counters`;
    const holder = await pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT count FROM ${counter} WHERE name LIKE $1 FOR UPDATE`, [`q:${key.id}:%`]);
      const results = await Promise.all(Array.from({ length: 20 }, () => keys.verify(secret)));
      expect(results.every((r) => !r.ok && r.error.code === "store_unavailable")).toBe(true);
    } finally {
      await holder.query("COMMIT"); // the 20 waiting takes now run, after their requests were refused
      holder.release();
    }
    await keys.close(); // waits for the late takes and their refunds
    const { rows } = await pool.query(`SELECT count::integer AS count FROM ${counter} WHERE name LIKE $1`, [`q:${key.id}:%`]);
    expect(rows.map((r) => r.count)).toEqual([1]);
  });
});
