/**
 * Which test servers (PostgreSQL at 127.0.0.1:5432 db `test`, Redis at 127.0.0.1:6379) answer,
 * probed once per test file in a child process (jest registers tests synchronously), and
 * `describeWithServices`, which runs a suite only when its servers answer. On a machine without
 * them the suite is replaced by one test that says why it did not run; under CI it fails instead.
 */
import { spawnSync } from "node:child_process";

/** Connection string of the test database. Override with KEYWARD_TEST_PG. */
export const PG_URL = process.env.KEYWARD_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
/** URL of the test Redis. Override with KEYWARD_TEST_REDIS. */
export const REDIS_URL = process.env.KEYWARD_TEST_REDIS ?? "redis://127.0.0.1:6379";

export type Service = "postgres" | "redis";

const PROBE = `
const [pgUrl, redisUrl, which] = process.argv.slice(1);
const out = {};
const timeout = (p, ms) => Promise.race([p, new Promise((_, r) => setTimeout(() => r(new Error("no answer within " + ms + " ms")), ms))]);
(async () => {
  if (which.includes("postgres")) {
    const { Client } = require("pg");
    const c = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 2000 });
    try { await timeout(c.connect().then(() => c.query("SELECT 1")), 3000); out.postgres = null; } catch (e) { out.postgres = String(e && e.message || e); }
    c.end().catch(() => {});
  }
  if (which.includes("redis")) {
    const Redis = require("ioredis");
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    r.on("error", () => {});
    try { await timeout(r.connect().then(() => r.ping()), 3000); out.redis = null; } catch (e) { out.redis = String(e && e.message || e); }
    r.disconnect();
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})();
`;

const cache = new Map<Service, string | null>();

/** Why each service is unusable (null when it answers). */
export function probeServices(services: readonly Service[]): Map<Service, string | null> {
  const todo = services.filter((s) => !cache.has(s));
  if (todo.length) {
    const run = spawnSync(process.execPath, ["-e", PROBE, PG_URL, REDIS_URL, todo.join(",")], { encoding: "utf8", timeout: 10_000 });
    let answer: Record<string, string | null> = {};
    try {
      answer = JSON.parse(run.stdout);
    } catch {
      for (const s of todo) answer[s] = `probe failed: ${run.error?.message ?? run.stderr.trim().slice(0, 200)}`;
    }
    for (const s of todo) cache.set(s, answer[s] === undefined ? "probe gave no answer" : answer[s]!);
  }
  return new Map(services.map((s) => [s, cache.get(s)!]));
}

/**
 * `describe(name, body)` when every service answers. Otherwise one test explains what did not
 * run and why: it passes on a developer machine, and fails when `CI` is set (CI always runs them).
 *
 * @example
 * describeWithServices("PostgresStore", ["postgres"], () => { it("…", async () => { … }); });
 */
export function describeWithServices(name: string, services: readonly Service[], body: () => void): void {
  const down = [...probeServices(services)].filter(([, why]) => why !== null);
  if (down.length === 0) {
    describe(name, body);
    return;
  }
  const reason = down.map(([s, why]) => `${s} at ${s === "postgres" ? PG_URL : REDIS_URL} is unreachable (${why})`).join("; ");
  describe(name, () => {
    it(`did not run: ${reason}`, () => {
      if (process.env.CI) throw new Error(`CI must run "${name}" but ${reason}. Start the server(s) (see .ci/run).`);
      console.warn(`keyward: skipped "${name}": ${reason}. Start PostgreSQL/Redis locally to run it; CI always does.`);
    });
  });
}
