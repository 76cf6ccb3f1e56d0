/**
 * Printing keyward's objects shows no secret: `console.log(keys)`, `util.inspect` (even with
 * `showHidden` and unlimited depth), `String()` and `JSON.stringify` of a KeyManager and of every
 * store show a short summary, never a stored hash, the pepper, a connection string's password or
 * the clients inside. Keys are verified first, so caches and stores hold every hash.
 */
import { capturedText, findLeaks, trackHash } from "./leak-guard";
import { inspect } from "node:util";
import Redis from "ioredis";
import pg from "pg";
import { KeyManager, MemoryStore, createHasher, type KeyStore, type CounterStore } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { RedisCounters } from "keyward/redis";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { PG_URL, REDIS_URL, describeWithServices } from "../stores/services";

const PEPPER = "pepper-for-the-inspect-test-0123";
const PASSWORD = "pg-password-never-shown";

/** Every way a user might print `value`. */
function printed(value: object): string {
  const logged: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => {
    logged.push(args.map((a) => inspect(a)).join(" "));
  };
  try {
    console.log(value);
  } finally {
    console.log = original;
  }
  return [
    ...logged,
    inspect(value),
    inspect(value, { depth: Infinity, showHidden: true }),
    String(value),
    `${value}`,
    JSON.stringify(value),
    JSON.stringify({ nested: value }),
  ].join("\n");
}

async function exercise(store: KeyStore, counters?: CounterStore) {
  const keys = new KeyManager({ store, counters, pepper: PEPPER, prefix: "sk", rateLimit: counters ? { limit: 100, window: "1m" } : undefined });
  const made = await Promise.all([1, 2, 3].map((i) => keys.create({ name: `k${i}`, scopes: ["nodes:read"] })));
  for (const { secret } of made) {
    trackHash(createHasher(PEPPER)(secret));
    expect((await keys.verify(secret, { scope: "nodes:read" })).ok).toBe(true);
  }
  return { keys, made };
}

function expectNothingSecret(text: string, made: Array<{ secret: string }>) {
  expect(findLeaks(text)).toEqual([]);
  for (const { secret } of made) expect(text).not.toContain(secret);
  expect(text).not.toContain(PEPPER);
  expect(text).not.toContain(PASSWORD);
}

describe("printing a KeyManager or a store", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it.each([
    ["MemoryStore", () => new MemoryStore()],
    ["SqliteStore", () => new SqliteStore(tmp.file("inspect.db"))],
  ])("%s and its manager print a summary, not their records", async (name, makeStore) => {
    const store = makeStore();
    const { keys, made } = await exercise(store);
    const text = printed(keys) + printed(store);
    expectNothingSecret(text, made);
    expect(inspect(store)).toMatch(new RegExp(`^${name} \\{`));
    expect(inspect(keys)).toBe(`KeyManager { prefix: "sk", modes: ["live","test"], store: "${name}", closed: false }`);
    expect(JSON.parse(JSON.stringify(keys))).toEqual({ type: "KeyManager", prefix: "sk", modes: ["live", "test"], store: name, closed: false });
    await keys.close();
  });

  it("the leak guard sees what a printed store would have shown without the summary", async () => {
    const store = new MemoryStore();
    const { keys, made } = await exercise(store);
    const raw = inspect(store, { depth: Infinity, customInspect: false });
    expect(findLeaks(raw)).not.toEqual([]);
    expect(made.length).toBe(3);
    await keys.close();
  });
});

describeWithServices("printing the Postgres store and Redis counters", ["postgres", "redis"], () => {
  it("shows neither hashes, the connection string's password, nor the Redis client", async () => {
    const url = new URL(PG_URL);
    url.password = PASSWORD; // the test server trusts local connections, so the password is accepted and ignored
    const schema = `kw_inspect_${Date.now().toString(36)}`;
    const store = new PostgresStore(url.toString(), { schema });
    const redis = new Redis(REDIS_URL, { password: undefined, connectionName: PASSWORD });
    const counters = new RedisCounters(redis, { prefix: `kw:inspect:${schema}:` });
    const { keys, made } = await exercise(store, counters);
    const text = printed(keys) + printed(store) + printed(counters);
    expectNothingSecret(text, made);
    expect(inspect(store)).toBe(`PostgresStore { schema: "${schema}", tablePrefix: "keyward_", connected: true }`);
    expect(inspect(counters)).toBe(`RedisCounters { prefix: "kw:inspect:${schema}:" }`);
    await keys.close();
    redis.disconnect();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });
});

afterAll(() => {
  expect(findLeaks(capturedText())).toEqual([]);
});
