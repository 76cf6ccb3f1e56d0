/**
 * `npm run bench:micro`: in-process costs of the hot path (ns/op and ops/s): `verify()` and
 * `authenticate()` + scope check from the cache, uncached lookups on SQLite, `ScopeSet.has`,
 * `KeyFormat.check`; memory per 100k cached keys; and the scaling run (uncached verify with 1k,
 * 100k and 1M keys in one SQLite file). Writes bench/results/micro.json. BENCH_MICRO_MAX_KEYS
 * lowers the largest scaling size (default 1,000,000); BENCH_MICRO_MS sets each timing (default 300).
 * Also times an uncached `verify()` on PostgreSQL over loopback (wall time per call, one at a time:
 * a network store's cost is its round trip), when KEYWARD_TEST_PG (default the local `test`
 * database) answers; BENCH_MICRO_PG=0 skips it.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KeyFormat, KeyManager, MemoryStore, ScopeSet, requiredScope } from "../dist/esm/index.js";
import { SqliteStore } from "../dist/esm/sqlite.js";
import { quantile } from "./report.mjs";
import { fmt, table } from "./report.mjs";

/** What the pipeline's authenticate step answers for a good key (an internal type): its compiled scopes are enough here. */
type VerifiedKey = { readonly grant: ScopeSet };

/** The internal pipeline steps timed here (`KeyManager.pipeline` is internal: the published types leave it out). */
interface PipelineSteps {
  authenticate(secret: string): unknown;
  charge(key: VerifiedKey): unknown;
  recordUse(key: VerifiedKey): void;
}

/** `keys.pipeline`, typed by what this benchmark calls (looked up once, outside the timed loops). */
const stepsOf = (keys: KeyManager): PipelineSteps => (keys as unknown as { pipeline: PipelineSteps }).pipeline;

const here = dirname(fileURLToPath(import.meta.url));
const MS = Number(process.env.BENCH_MICRO_MS) || 300;
const MAX_KEYS = Number(process.env.BENCH_MICRO_MAX_KEYS) || 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;

interface Timing {
  name: string;
  nsPerOp: number;
  opsPerSec: number;
}
const timings: Timing[] = [];
let sink: unknown;

/** CPU time of this process in ns: unlike wall time it does not count while other processes run. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Best CPU ns/op of 7 timed batches of `fn` (each ≥ MS/10 ms) after a warm-up: the least disturbed by other processes. */
function time(name: string, fn: (i: number) => unknown, record = true): Timing {
  let batch = 1000;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) sink = fn(i);
    const took = performance.now() - t0;
    if (took > MS / 10) break;
    batch *= 2;
  }
  // Warm up well past the optimising compiler: its background threads count in process CPU time.
  const warm = performance.now() + MS;
  while (performance.now() < warm) for (let i = 0; i < batch; i++) sink = fn(i);
  const samples: number[] = [];
  for (let s = 0; s < 7; s++) {
    const t0 = cpuNs();
    for (let i = 0; i < batch; i++) sink = fn(i);
    samples.push((cpuNs() - t0) / batch);
  }
  const ns = Math.min(...samples);
  const t = { name, nsPerOp: ns, opsPerSec: 1e9 / ns };
  if (record) timings.push(t);
  return t;
}

/** The same for an async call: awaits each call in sequence. */
async function timeAsync(name: string, fn: (i: number) => Promise<unknown>): Promise<Timing> {
  const run = async (n: number) => {
    const t0 = cpuNs();
    for (let i = 0; i < n; i++) sink = await fn(i);
    return (cpuNs() - t0) / n;
  };
  let batch = 1000;
  while ((await run(batch)) * batch < (MS / 10) * 1e6) batch *= 2;
  const warm = performance.now() + MS;
  while (performance.now() < warm) await run(batch);
  const samples: number[] = [];
  for (let s = 0; s < 7; s++) samples.push(await run(batch));
  const ns = Math.min(...samples);
  const t = { name, nsPerOp: ns, opsPerSec: 1e9 / ns };
  timings.push(t);
  return t;
}

const scope = requiredScope("nodes:read");

function hasScope(found: VerifiedKey | Error): boolean {
  return !(found instanceof Error) && found.grant.has(scope);
}

async function hotPath(): Promise<{ cachedVerifyScope: Timing; uncachedSqlite: Timing }> {
  const keys = new KeyManager({ store: new MemoryStore() });
  const { secret } = await keys.create({ name: "micro", scopes: ["nodes:read", "nodes:write"] });
  const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
  const grant = ScopeSet.compile(["nodes:read", "users:*"]);
  time("KeyFormat.check (well-formed key)", () => format.check(secret));
  time("ScopeSet.has", () => grant.has(scope));
  const steps = stepsOf(keys);
  const cachedVerifyScope = time("authenticate() + ScopeSet.has, cached (MemoryStore)", () => hasScope(steps.authenticate(secret) as VerifiedKey));
  time("authenticate() + charge() + recordUse(), cached, no limits", () => {
    const found = steps.authenticate(secret) as VerifiedKey;
    steps.charge(found);
    steps.recordUse(found);
    return found;
  });
  await timeAsync("verify() with scope, cached (async API)", () => keys.verify(secret, { scope }));
  await keys.close();

  const dir = mkdtempSync(join(tmpdir(), "keyward-micro-"));
  try {
    const store = new SqliteStore(join(dir, "keys.db"));
    const uncached = new KeyManager({ store, cache: false, usage: false });
    const made = await uncached.create({ name: "micro", scopes: ["nodes:read"] });
    const uncachedSteps = stepsOf(uncached);
    const uncachedSqlite = time("authenticate() + ScopeSet.has, uncached (SQLite, cache: false)", () =>
      hasScope(uncachedSteps.authenticate(made.secret) as VerifiedKey),
    );
    await timeAsync("verify() with scope, uncached (SQLite, cache: false)", () => uncached.verify(made.secret, { scope }));
    await uncached.close();

    const limited = new KeyManager({
      store: new SqliteStore(join(dir, "limited.db")),
      tiers: { t: { monthlyRequests: 1e9, rateLimit: { limit: 1e9, window: "1m" } } },
    });
    const lk = await limited.create({ name: "micro", scopes: ["nodes:read"], tier: "t" });
    const limitedSteps = stepsOf(limited);
    time("authenticate() + charge() + recordUse(), cached, SQLite rate limit + quota", () => {
      const found = limitedSteps.authenticate(lk.secret) as VerifiedKey;
      limitedSteps.charge(found);
      limitedSteps.recordUse(found);
      return found;
    });
    await limited.close();
    return { cachedVerifyScope, uncachedSqlite };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Heap growth from caching 100k verified keys (run with --expose-gc for a clean reading). */
async function cacheMemory(): Promise<number | null> {
  if (!gc) return null;
  const n = 100_000;
  const store = new MemoryStore();
  const keys = new KeyManager({ store, cache: { max: n, ttl: "1h" }, usage: false });
  const secrets: string[] = [];
  for (let i = 0; i < n; i++) secrets.push((await keys.create({ name: `k${i}`, scopes: ["nodes:read", "users:read"] })).secret);
  keys.invalidate();
  gc();
  const before = process.memoryUsage().heapUsed;
  const steps = stepsOf(keys);
  for (const s of secrets) steps.authenticate(s);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (keys.cacheSize.keys !== n) throw new Error(`expected ${n} cached keys, got ${keys.cacheSize.keys}`);
  await keys.close();
  return after - before;
}

/**
 * Uncached verify cost with 1k, 100k and 1M keys: one SQLite file per size (filler rows inserted in
 * one transaction through the store's db handle, plus 1000 real keys to look up), then the sizes
 * are timed in interleaved rounds (A B C A B C A B C) and each keeps its best round, so a burst of
 * load from other processes cannot land on one size only.
 */
async function scaling(sizes: number[]): Promise<Array<{ keys: number; nsPerOp: number; insertMs: number }>> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-scale-"));
  const subjects: Array<{ size: number; keys: KeyManager; probes: string[]; insertMs: number; best: number }> = [];
  try {
    for (const size of sizes) {
      const store = new SqliteStore(join(dir, `scale-${size}.db`));
      const keys = new KeyManager({ store, cache: false, usage: false });
      const probes: string[] = [];
      for (let i = 0; i < 1000; i++) probes.push((await keys.create({ name: `probe${i}`, scopes: ["nodes:read"] })).secret);
      const insert =
        store.db.prepare(`INSERT INTO keyward_keys (id, hash, start, name, owner_id, kind, project_id, projects, mode, scopes, tier, rate_limit, metadata, created_at, expires_at, revoked_at, last_used_at, request_count, rotated_from, rotated_to)
        VALUES (?, ?, 'sk_live_xxxx', 'filler', 'owner', 'user', NULL, '[]', 'live', '["nodes:read"]', NULL, NULL, '{}', ?, NULL, NULL, NULL, 0, NULL, NULL)`);
      const t0 = performance.now();
      store.db.transaction(() => {
        for (let i = probes.length; i < size; i++) {
          const hash = createHash("sha256").update(`filler-${i}`).digest("hex");
          insert.run(`key_filler${String(i).padStart(14, "0")}`, hash, 1_700_000_000_000 + i);
        }
      })();
      const insertMs = performance.now() - t0;
      store.db.pragma("wal_checkpoint(TRUNCATE)");
      process.stderr.write(`  scaling: ${size.toLocaleString("en-US")} keys inserted in ${fmt(insertMs / 1000, 1)} s\n`);
      subjects.push({ size, keys, probes, insertMs, best: Infinity });
    }
    for (let round = 0; round < 3; round++) {
      for (const s of subjects) {
        const steps = stepsOf(s.keys);
        const t = time(`uncached authenticate(), ${s.size} keys`, (i) => steps.authenticate(s.probes[(i * 7919) % s.probes.length]!), false);
        s.best = Math.min(s.best, t.nsPerOp);
      }
    }
    for (const s of subjects) process.stderr.write(`  scaling: ${s.size.toLocaleString("en-US")} keys: ${fmt(s.best / 1000, 2)} µs/op\n`);
    return subjects.map((s) => ({ keys: s.size, nsPerOp: s.best, insertMs: s.insertMs }));
  } finally {
    for (const s of subjects) await s.keys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Uncached `verify()` on PostgreSQL (cache off, usage off): 200 keys, 300 warm-up calls, then 3,000
 * calls one after another, each timed by the wall clock. Null when PostgreSQL does not answer.
 */
async function postgresVerify(): Promise<{ p50: number; p99: number } | null> {
  if (process.env.BENCH_MICRO_PG === "0") return null;
  const url = process.env.KEYWARD_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
  const { PostgresStore } = await import("../dist/esm/postgres.js");
  const schema = `kw_micro_${Date.now().toString(36)}`;
  const store = new PostgresStore(url, { schema, poolSize: 2 });
  try {
    await store.init();
  } catch (error) {
    process.stderr.write(`  postgres: not measured (${error instanceof Error ? error.message : String(error)})\n`);
    await Promise.resolve(store.close()).catch(() => undefined);
    return null;
  }
  const keys = new KeyManager({ store, cache: false, usage: false });
  try {
    const secrets: string[] = [];
    for (let i = 0; i < 200; i++) secrets.push((await keys.create({ name: `pg${i}`, scopes: ["nodes:read"] })).secret);
    for (let i = 0; i < 300; i++) await keys.verify(secrets[i % secrets.length]!, { scope: "nodes:read" });
    const us: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const t0 = performance.now();
      const r = await keys.verify(secrets[(i * 7) % secrets.length]!, { scope: "nodes:read" });
      us.push((performance.now() - t0) * 1000);
      if (!r.ok) throw new Error(`verify failed: ${r.error.code}`);
    }
    const result = { p50: quantile(us, 0.5), p99: quantile(us, 0.99) };
    process.stderr.write(`  postgres: uncached verify p50 ${fmt(result.p50, 0)} µs, p99 ${fmt(result.p99, 0)} µs\n`);
    return result;
  } finally {
    await keys.close();
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

async function main(): Promise<void> {
  const { cachedVerifyScope, uncachedSqlite } = await hotPath();
  const postgres = await postgresVerify();
  const memory = await cacheMemory();
  const sizes = [1000, 100_000, 1_000_000].filter((n) => n <= MAX_KEYS);
  const scale = await scaling(sizes);
  const growth = scale.length > 1 ? scale[scale.length - 1]!.nsPerOp / scale[0]!.nsPerOp : NaN;

  const targets = [
    {
      target: "cached authenticate + scope check ≤ 1.5 µs (≥ 650k/s)",
      value: `${fmt(cachedVerifyScope.nsPerOp / 1000, 2)} µs`,
      pass: cachedVerifyScope.nsPerOp <= 1500,
    },
    { target: "uncached lookup on SQLite ≤ 12 µs", value: `${fmt(uncachedSqlite.nsPerOp / 1000, 2)} µs`, pass: uncachedSqlite.nsPerOp <= 12_000 },
    { target: `flat from 1k to ${(sizes.at(-1)! / 1000).toLocaleString("en-US")}k keys (≤ 1.3× growth)`, value: `${fmt(growth, 2)}×`, pass: growth <= 1.3 },
    {
      target: "uncached verify on PostgreSQL (loopback) ≤ 250 µs p50",
      value: postgres === null ? "not measured (no PostgreSQL)" : `${fmt(postgres.p50, 0)} µs (p99 ${fmt(postgres.p99, 0)} µs)`,
      pass: postgres === null ? null : postgres.p50 <= 250,
    },
  ];
  const lines: string[] = [`### Micro-benchmarks (Node ${process.version})`, ""];
  lines.push(
    ...table(
      ["operation", "ns/op", "ops/s"],
      timings.map((t) => [t.name, fmt(t.nsPerOp, 0), fmt(t.opsPerSec, 0)]),
    ),
  );
  lines.push(
    "",
    memory === null
      ? "Memory per 100k cached keys: run with `node --expose-gc` to measure."
      : `Memory per 100k cached keys: ${fmt(memory / 1024 / 1024, 1)} MiB (${fmt(memory / 100_000, 0)} bytes per key)`,
  );
  lines.push(
    "",
    ...table(
      ["keys in SQLite", "uncached authenticate µs/op", "× 1k"],
      scale.map((s) => [s.keys.toLocaleString("en-US"), fmt(s.nsPerOp / 1000, 2), fmt(s.nsPerOp / scale[0]!.nsPerOp, 2)]),
    ),
  );
  lines.push("", "| target | measured | result |", "|---|---|---|");
  for (const t of targets) lines.push(`| ${t.target} | ${t.value} | ${t.pass === null ? "n/a" : t.pass ? "PASS" : "FAIL"} |`);
  process.stdout.write(lines.join("\n") + "\n");
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "micro.json"),
    JSON.stringify(
      { date: new Date().toISOString(), node: process.version, timings, cacheBytesPer100k: memory, scaling: scale, postgresVerifyUs: postgres, targets },
      null,
      2,
    ) + "\n",
  );
  void sink;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:micro failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
