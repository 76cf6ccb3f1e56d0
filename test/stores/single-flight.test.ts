/**
 * Single-flight lookups on an asynchronous store (PostgreSQL): concurrent cache misses for one key
 * hash share one `findByHash`, for a valid key and for an unknown well-formed key, over HTTP and
 * through `verify`; a revocation while that read is in flight is not undone by it; a failed read is
 * not shared with the requests after it. Reads are counted by a wrapper around the real store.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import pg from "pg";
import request from "supertest";
import { KeyManager } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { countingStore } from "../counting-store";
import { makeApp } from "../helpers";
import { PG_URL, describeWithServices } from "./services";

describeWithServices("single-flight lookups (PostgresStore)", ["postgres"], () => {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
  const schema = `kw_flight_${randomBytes(6).toString("hex")}`;
  const managers: KeyManager[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((k) => k.close()));
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  /** A manager on the real store, its reads counted; usage off so only lookups touch the store. */
  async function setup() {
    const counted = countingStore(new PostgresStore(pool, { schema }));
    const keys = new KeyManager({ store: counted.store, usage: false, cache: { ttl: "1h" } });
    managers.push(keys);
    const { secret, key } = await keys.create({ name: "flight" });
    counted.reset();
    return { keys, counted, secret, id: key.id };
  }

  /**
   * 64 concurrent requests through apiKeyAuth on one listening server; resolves with their statuses.
   * Each store read answers 300 ms late, so all 64 arrive while the first read is still pending.
   */
  async function burst(keys: KeyManager, secret: string, counted: ReturnType<typeof countingStore>): Promise<number[]> {
    const server = http.createServer(makeApp(keys)).listen(0, "127.0.0.1");
    counted.fault("findByHash", { delayMs: 300 });
    try {
      const results = await Promise.all(Array.from({ length: 64 }, () => request(server).get("/whoami").set("Authorization", `Bearer ${secret}`)));
      return results.map((r) => r.status);
    } finally {
      counted.fault("findByHash", null);
      server.close();
    }
  }

  it("64 concurrent requests with one cold valid key make exactly one findByHash", async () => {
    const { keys, counted, secret } = await setup();
    const statuses = await burst(keys, secret, counted);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(counted.count("findByHash")).toBe(1);
  });

  it("64 concurrent requests with one unknown well-formed key make exactly one findByHash", async () => {
    const { keys, counted } = await setup();
    const statuses = await burst(keys, keys.format.generate("live"), counted);
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(counted.count("findByHash")).toBe(1);
  });

  it("64 concurrent verify() calls share one read, for a valid and for an unknown key", async () => {
    const { keys, counted, secret } = await setup();
    const valid = await Promise.all(Array.from({ length: 64 }, () => keys.verify(secret)));
    expect(valid.every((r) => r.ok)).toBe(true);
    expect(counted.count("findByHash")).toBe(1);
    const unknown = keys.format.generate("live");
    const refused = await Promise.all(Array.from({ length: 64 }, () => keys.verify(unknown)));
    expect(refused.every((r) => !r.ok && r.error.code === "invalid_key")).toBe(true);
    expect(counted.count("findByHash")).toBe(2);
  });

  it("a revocation while the shared read is in flight is not undone by it", async () => {
    const { keys, counted, secret, id } = await setup();
    counted.fault("findByHash", { delayMs: 150 }); // the read answers the active key, 150 ms later
    const early = Array.from({ length: 16 }, () => keys.verify(secret));
    await keys.revoke(id);
    counted.fault("findByHash", null);
    // Started after revoke() resolved: must not join the read that began before it.
    const late = await Promise.all(Array.from({ length: 16 }, () => keys.verify(secret)));
    expect(late.every((r) => !r.ok && r.error.code === "key_revoked")).toBe(true);
    await Promise.all(early);
    expect(counted.count("findByHash")).toBe(2);
    // The early read settled last; it must not have put the active key back in the cache.
    const after = await keys.verify(secret);
    expect(!after.ok && after.error.code).toBe("key_revoked");
    expect(counted.count("findByHash")).toBe(2);
  });

  it("a failed read is not kept: the next request reads again", async () => {
    const { keys, counted, secret } = await setup();
    counted.fault("findByHash", { reject: true });
    const failed = await Promise.all(Array.from({ length: 8 }, () => keys.verify(secret)));
    expect(failed.every((r) => !r.ok && r.error.code === "store_unavailable")).toBe(true);
    expect(counted.count("findByHash")).toBe(1);
    counted.fault("findByHash", null);
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(counted.count("findByHash")).toBe(2);
  });
});
