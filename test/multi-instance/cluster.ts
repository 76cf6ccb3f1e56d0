/**
 * Helpers for the multi-instance tests: start app instances (test/multi-instance/server.ts, bundled
 * to plain JavaScript on the built package by ../node-entry.ts) as child processes, talk to them over HTTP, poll for a condition, and write measurements
 * to test-artifacts/ as JSON.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Redis from "ioredis";
import pg from "pg";
import { nodeEntry } from "../node-entry";
import { PG_URL, REDIS_URL } from "../stores/services";

const ROOT = join(__dirname, "..", "..");
const SERVER = join(__dirname, "server.ts");

/** How one instance is configured (see server.ts). */
export interface InstanceOptions {
  schema: string;
  redisPrefix?: string;
  counters?: "postgres" | "redis" | "redis-reserving";
  channel?: "none" | "redis" | "postgres";
  cacheTtl?: string;
  flushInterval?: string;
}

/** A running instance. */
export interface Instance {
  readonly url: string;
  readonly process: ChildProcess;
  /** Sends a request; resolves with status and parsed JSON body. */
  // biome-ignore lint/suspicious/noExplicitAny: the tests read whichever JSON fields each route answers
  request(path: string, init?: { method?: string; secret?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  /** SIGTERM and wait for exit (a clean close flushes usage). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (nothing is flushed). */
  kill(): Promise<void>;
}

/** Starts an instance and resolves once it listens. */
export function startInstance(options: InstanceOptions): Promise<Instance> {
  const config = {
    pgUrl: PG_URL,
    redisUrl: REDIS_URL,
    redisPrefix: options.redisPrefix ?? `kw:${options.schema}:`,
    counters: options.counters ?? "postgres",
    channel: options.channel ?? "none",
    cacheTtl: options.cacheTtl ?? "5s",
    flushInterval: options.flushInterval ?? "1s",
    schema: options.schema,
  };
  const child = spawn(process.execPath, [nodeEntry(SERVER)], {
    cwd: ROOT,
    env: { ...process.env, KEYWARD_INSTANCE: JSON.stringify(config) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise<Instance>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`instance did not start within 60 s: ${stderr}`));
    }, 60_000);
    const early = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code}) before listening: ${stderr}`));
    };
    child.once("exit", early);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      clearTimeout(timer);
      child.removeListener("exit", early);
      const url = `http://127.0.0.1:${JSON.parse(line).port}`;
      resolve({
        url,
        process: child,
        async request(path, init = {}) {
          const headers: Record<string, string> = {};
          if (init.secret) headers.authorization = `Bearer ${init.secret}`;
          if (init.body !== undefined) headers["content-type"] = "application/json";
          const res = await fetch(url + path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : null };
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          await exited;
        },
      });
    });
  });
}

/** Starts several instances at once; when one fails, stops the others and rethrows. */
export async function startInstances(list: InstanceOptions[]): Promise<Instance[]> {
  const settled = await Promise.allSettled(list.map(startInstance));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const started = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (failed) {
    await Promise.all(started.map((i) => i.kill()));
    throw failed.reason;
  }
  return started;
}

/** What {@link useCluster} gives a describe block: its instances and the clients to inspect their stores. */
export interface Cluster {
  /** The Postgres schema and Redis key prefix of this block alone. */
  readonly schema: string;
  readonly redisPrefix: string;
  /** A small pool and a Redis client, to read what the instances wrote. */
  readonly pool: pg.Pool;
  readonly redis: Redis;
  /** The instances, started in `beforeAll` (empty until then). */
  readonly instances: Instance[];
}

/**
 * Registers a describe block's `beforeAll` (starts `count` instances at once on a schema and Redis
 * prefix of the block's own, each with `options`) and `afterAll` (stops them, drops the schema,
 * deletes the prefix's Redis keys, closes the clients).
 *
 * @example
 * const cluster = useCluster(3, { counters: "redis", channel: "redis" });
 * it("…", async () => { await cluster.instances[0]!.request("/v1/ping"); });
 */
export function useCluster(count: number, options: Omit<InstanceOptions, "schema" | "redisPrefix">, label = "kw_multi"): Cluster {
  const schema = `${label}_${randomBytes(5).toString("hex")}`;
  const redisPrefix = `kwtest:${schema}:`;
  const cluster: Cluster = {
    schema,
    redisPrefix,
    pool: new pg.Pool({ connectionString: PG_URL, max: 2 }),
    redis: new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }),
    instances: [],
  };
  beforeAll(async () => {
    cluster.instances.push(...(await startInstances(Array.from({ length: count }, () => ({ ...options, schema, redisPrefix })))));
  });
  afterAll(async () => {
    await Promise.all(cluster.instances.map((i) => i.stop()));
    await cluster.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await cluster.pool.end();
    const names = await cluster.redis.keys(`${redisPrefix}*`);
    if (names.length) await cluster.redis.del(...names);
    cluster.redis.disconnect();
  });
  return cluster;
}

/** Creates a key named "multi" (of `tier`, when given) through `via`'s admin route. */
export async function createKey(via: Instance, tier?: string): Promise<{ secret: string; id: string }> {
  return (await via.request("/admin/keys", { method: "POST", body: { name: "multi", tier } })).body as { secret: string; id: string };
}

/**
 * Calls `probe` until it returns true or `limitMs` passes; resolves with the elapsed ms, or null
 * when it never became true.
 */
export async function pollUntil(probe: () => Promise<boolean>, limitMs: number): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    if (await probe()) return performance.now() - start;
    await new Promise((resolve) => setImmediate(resolve)); // let I/O (messages, reconnects) in
  }
  return null;
}

/** Summary statistics of a list of measurements (ms, rounded to 0.1). */
export function summarize(values: number[]): { n: number; min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { n: sorted.length, min: r(sorted[0] ?? NaN), median: r(sorted[Math.floor(sorted.length / 2)] ?? NaN), max: r(sorted[sorted.length - 1] ?? NaN) };
}

/** Writes `data` to test-artifacts/<name>.json (measurements for the docs; never asserted on). */
export function writeArtifact(name: string, data: unknown): void {
  const dir = join(ROOT, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ measuredAt: new Date().toISOString(), ...(data as object) }, null, 2) + "\n");
}
