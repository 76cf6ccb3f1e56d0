/**
 * `npm run bench:cluster`: three app instances (bench/cluster-server.mjs) with keys and usage on
 * PostgreSQL and rate-limit/quota counters and cache invalidation on Redis, driven by an open-loop
 * load generator at a fixed rate across the three, next to the same three instances on one SQLite
 * file. Reports each setup's server CPU per request, latency percentiles (measured from when each
 * request was due, so a stall is not hidden), key reads and Redis round trips per request (counted
 * in the instances, cross-checked with Redis `INFO commandstats`), and how fast a revocation made in
 * one instance reaches the others. Needs PostgreSQL and Redis (KEYWARD_TEST_PG, KEYWARD_TEST_REDIS).
 * Knobs: CLUSTER_RATE (req/s, default 2000), CLUSTER_SECONDS (10), CLUSTER_WARMUP (3),
 * CLUSTER_KEYS (distinct keys in the spread run, 300), CLUSTER_TRIALS (revocations, 20),
 * CLUSTER_COUNTERS (reserving|redis).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { fmt, quantile, table } from "./report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const env = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const RATE = env("CLUSTER_RATE", 2000);
const SECONDS = env("CLUSTER_SECONDS", 10);
const WARMUP = env("CLUSTER_WARMUP", 3);
const SPREAD_KEYS = env("CLUSTER_KEYS", 300);
const TRIALS = env("CLUSTER_TRIALS", 20);
const COUNTERS = process.env.CLUSTER_COUNTERS === "redis" ? "redis" : "reserving";
const PG_URL = process.env.KEYWARD_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.KEYWARD_TEST_REDIS ?? "redis://127.0.0.1:6379";

interface Stats {
  cpu: NodeJS.CpuUsage;
  served: number;
  reads: number;
  trips: number;
}

/** One running instance and its IPC calls. */
interface Instance {
  port: number;
  child: ChildProcess;
  call<T>(message: Record<string, unknown>): Promise<T>;
}

let seq = 0;
function startInstance(config: Record<string, unknown>): Promise<Instance> {
  const child = fork(join(here, "cluster-server.mjs"), [JSON.stringify(config)], { execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const call = <T,>(message: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      const on = (m: { seq?: number; type: string; message?: string }) => {
        if (m.seq !== id) return;
        child.off("message", on);
        if (m.type === "error") reject(new Error(m.message));
        else resolve(m as T);
      };
      child.on("message", on);
      child.send({ ...message, seq: id });
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("instance did not start within 120 s")), 120_000);
    child.once("exit", (code) => reject(new Error(`instance exited (${code}) before listening`)));
    child.on("message", (m: { type: string; port?: number; message?: string; seq?: number }) => {
      if (m.seq !== undefined) return;
      clearTimeout(timer);
      if (m.type === "error") reject(new Error(m.message));
      if (m.type === "ready") resolve({ port: m.port!, child, call });
    });
  });
}

async function stopAll(instances: Instance[]): Promise<void> {
  await Promise.all(
    instances.map(
      (i) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            i.child.kill("SIGKILL");
            resolve();
          }, 10_000);
          i.child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          i.child.send({ type: "stop" });
        }),
    ),
  );
}

/** One GET /v1/ping; resolves with the status. */
function get(agent: Agent, port: number, secret: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/v1/ping", agent, headers: { authorization: `Bearer ${secret}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
    req.end();
  });
}

/**
 * Open-loop load: request i is due at start + i / rate, sent to instance i mod 3 with key i mod
 * keys.length, whether or not earlier answers arrived; its latency counts from when it was due.
 */
async function drive(
  instances: Instance[],
  secrets: string[],
  rate: number,
  seconds: number,
): Promise<{ latencies: number[]; failures: number; sent: number }> {
  const agents = instances.map(() => new Agent({ keepAlive: true, maxSockets: 256 }));
  const total = Math.round(rate * seconds);
  const latencies = new Array<number>(total);
  let failures = 0;
  let sent = 0;
  let done = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const i = sent;
        const at = start + (i * 1000) / rate;
        void get(agents[i % instances.length]!, instances[i % instances.length]!.port, secrets[i % secrets.length]!).then((status) => {
          latencies[i] = performance.now() - at;
          if (status !== 200) failures++;
          if (++done === total) resolve();
        });
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  for (const a of agents) a.destroy();
  return { latencies, failures, sent };
}

async function statsOf(instances: Instance[]): Promise<Stats> {
  const all = await Promise.all(instances.map((i) => i.call<Stats>({ type: "stats" })));
  return all.reduce(
    (a, s) => ({
      cpu: { user: a.cpu.user + s.cpu.user, system: a.cpu.system + s.cpu.system },
      served: a.served + s.served,
      reads: a.reads + s.reads,
      trips: a.trips + s.trips,
    }),
    { cpu: { user: 0, system: 0 }, served: 0, reads: 0, trips: 0 },
  );
}

/** Script calls Redis has run (all clients: other users of this Redis show up here too). */
async function redisScriptCalls(redis: Redis): Promise<number> {
  const text = await redis.info("commandstats");
  let n = 0;
  for (const m of text.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}

interface RunResult {
  name: string;
  requests: number;
  failures: number;
  cpuUsPerRequest: number;
  p50: number;
  p99: number;
  p999: number;
  readsPerRequest: number;
  tripsPerRequest: number;
  redisScriptCallsPerRequest: number | null;
}

async function measure(name: string, instances: Instance[], secrets: string[], redis: Redis | null): Promise<RunResult> {
  await drive(instances, secrets, RATE, WARMUP);
  const before = await statsOf(instances);
  const scriptsBefore = redis ? await redisScriptCalls(redis) : 0;
  const { latencies, failures } = await drive(instances, secrets, RATE, SECONDS);
  const after = await statsOf(instances);
  const scripts = redis ? (await redisScriptCalls(redis)) - scriptsBefore : null;
  const served = after.served - before.served;
  const cpu = after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system;
  const result = {
    name,
    requests: served,
    failures,
    cpuUsPerRequest: cpu / served,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    readsPerRequest: (after.reads - before.reads) / served,
    tripsPerRequest: (after.trips - before.trips) / served,
    redisScriptCallsPerRequest: scripts === null ? null : scripts / served,
  };
  process.stderr.write(
    `  ${name}: ${served} requests, ${fmt(result.cpuUsPerRequest, 0)} µs CPU/req, p50 ${fmt(result.p50, 2)} ms, p99 ${fmt(result.p99, 2)} ms, p99.9 ${fmt(result.p999, 2)} ms, ${fmt(result.tripsPerRequest, 4)} Redis round trips/req${failures ? `, ${failures} failures` : ""}\n`,
  );
  return result;
}

/** Revokes a fresh key through instance 0 and polls the two others until each refuses it: ms per instance. */
async function revocations(instances: Instance[]): Promise<number[]> {
  const agent = new Agent({ keepAlive: true });
  const out: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const { secret, id } = await instances[0]!.call<{ secret: string; id: string }>({ type: "create" });
    for (const i of instances) if ((await get(agent, i.port, secret)) !== 200) throw new Error("a fresh key was refused");
    const start = performance.now();
    await instances[0]!.call({ type: "revoke", id });
    await Promise.all(
      instances.slice(1).map(async (i) => {
        while ((await get(agent, i.port, secret)) === 200) {
          if (performance.now() - start > 10_000) throw new Error("a revocation did not reach another instance within 10 s");
        }
        out.push(performance.now() - start);
      }),
    );
  }
  agent.destroy();
  return out;
}

async function keysFor(instance: Instance, n: number): Promise<string[]> {
  const secrets: string[] = [];
  for (let i = 0; i < n; i++) secrets.push((await instance.call<{ secret: string }>({ type: "create" })).secret);
  return secrets;
}

async function main(): Promise<void> {
  process.stderr.write(`keyward cluster bench: 3 instances, open loop at ${RATE} req/s for ${SECONDS} s (after ${WARMUP} s warm-up), counters ${COUNTERS}\n`);
  const results: RunResult[] = [];

  // The same app on one SQLite file shared by the three instances (counters on SQLite too).
  const dir = mkdtempSync(join(tmpdir(), "keyward-cluster-"));
  let sqlite = await Promise.all([0, 1, 2].map(() => startInstance({ kind: "sqlite", file: join(dir, "keys.db") })));
  try {
    const hot = await keysFor(sqlite[0]!, 1);
    results.push(await measure("SQLite, one hot key", sqlite, hot, null));
  } finally {
    await stopAll(sqlite);
    sqlite = [];
    rmSync(dir, { recursive: true, force: true });
  }

  const schema = `kw_bench_${randomBytes(5).toString("hex")}`;
  const prefix = `kwbench:${schema}:`;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const config = { kind: "postgres", pgUrl: PG_URL, redisUrl: REDIS_URL, schema, prefix, counters: COUNTERS };
  // The first instance creates the schema; the others start once it exists.
  const first = await startInstance(config);
  const cluster = [first, ...(await Promise.all([1, 2].map(() => startInstance(config))))];
  let revocation: number[] = [];
  try {
    const hot = await keysFor(cluster[0]!, 1);
    results.push(await measure("PostgreSQL + Redis, one hot key", cluster, hot, redis));
    const spread = await keysFor(cluster[0]!, SPREAD_KEYS);
    results.push(await measure(`PostgreSQL + Redis, ${SPREAD_KEYS} keys in turn`, cluster, spread, redis));
    revocation = await revocations(cluster);
  } finally {
    await stopAll(cluster);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
    const names = await redis.keys(`${prefix}*`);
    if (names.length) await redis.del(...names);
    redis.disconnect();
  }

  const base = results[0]!;
  const hot = results[1]!;
  const spread = results[2]!;
  const lines = [
    `### Cluster benchmark (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, Node ${process.version}, ${cpus().length} cores, 3 instances, open loop ${fmt(RATE, 0)} req/s for ${SECONDS} s, counters: ${COUNTERS === "reserving" ? "ReservingCounters" : "RedisCounters"})`,
    "",
    ...table(
      [
        "setup",
        "requests",
        "server CPU µs/req",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "key reads/req",
        "Redis round trips/req",
        "Redis script calls/req (INFO, all clients)",
      ],
      results.map((r) => [
        r.name,
        fmt(r.requests, 0),
        fmt(r.cpuUsPerRequest, 0),
        fmt(r.p50, 2),
        fmt(r.p99, 2),
        fmt(r.p999, 2),
        fmt(r.readsPerRequest, 4),
        r.redisScriptCallsPerRequest === null ? "–" : fmt(r.tripsPerRequest, 4),
        r.redisScriptCallsPerRequest === null ? "–" : fmt(r.redisScriptCallsPerRequest, 4),
      ]),
    ),
    "",
    `Latency added by PostgreSQL + Redis over SQLite (one hot key): p50 ${fmt(hot.p50 - base.p50, 2)} ms, p99 ${fmt(hot.p99 - base.p99, 2)} ms, p99.9 ${fmt(hot.p999 - base.p999, 2)} ms; CPU ${fmt(hot.cpuUsPerRequest - base.cpuUsPerRequest, 0)} µs/req.`,
    `Revocation propagation (revoked through one instance, polled on the two others, ${revocation.length} measurements): p50 ${fmt(quantile(revocation, 0.5), 1)} ms, p99 ${fmt(quantile(revocation, 0.99), 1)} ms, max ${fmt(Math.max(...revocation), 1)} ms.`,
    "",
    "| target | measured | result |",
    "|---|---|---|",
  ];
  const failures = results.reduce((a, r) => a + r.failures, 0);
  const target = (what: string, value: string, pass: boolean | null) =>
    lines.push(`| ${what} | ${value} | ${pass === null ? "n/a" : pass ? "PASS" : "FAIL"} |`);
  // Open-loop latencies only mean something when the machine serves the rate: otherwise requests
  // queue behind each other and the percentiles measure the backlog, not the stores.
  const keptUp = base.p50 < 20 && hot.p50 < 20;
  const worstTrips = Math.max(hot.tripsPerRequest, spread.tripsPerRequest);
  target("≤ 1 Redis round trip per request (worst of both runs)", fmt(worstTrips, 4), worstTrips <= 1);
  target("≤ 0.05 Redis round trips per request for a hot key", fmt(hot.tripsPerRequest, 4), hot.tripsPerRequest <= 0.05);
  target(
    "p99 added over the same app on SQLite ≤ 1 ms (one hot key)",
    `${fmt(hot.p99 - base.p99, 2)} ms${keptUp ? "" : ` (not judged: this machine did not serve ${fmt(RATE, 0)} req/s, p50 ${fmt(base.p50, 0)} ms on SQLite; lower CLUSTER_RATE)`}`,
    keptUp ? hot.p99 - base.p99 <= 1 : null,
  );
  target("every request answered 200", `${failures} failures`, failures === 0);
  lines.push(
    "",
    `Load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(", ")} on ${cpus().length} cores.`,
  );
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(here, "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "cluster.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        rate: RATE,
        seconds: SECONDS,
        counters: COUNTERS,
        results,
        revocationMs: revocation,
        loadavg: loadavg(),
      },
      null,
      2,
    ) + "\n",
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:cluster failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
