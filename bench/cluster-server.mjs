/**
 * One app instance of the cluster benchmark (bench/cluster.mts), over the built package: plain
 * node:http with apiKeyAuth + requireScope on GET /v1/ping, keys on PostgreSQL (counters and
 * invalidation on Redis) or on a SQLite file shared by the instances. Counts what it asks of its
 * stores (key reads, Redis script calls) and answers the runner over IPC: stats, create, revoke.
 */
import { createServer } from "node:http";
import { KeyManager, apiKeyAuth, requireScope } from "../dist/esm/index.js";

const config = JSON.parse(process.argv[2] ?? "{}");
const send = (message) => process.send?.(message);
/**
 * Limits high enough never to refuse during a run: every request pays for four counters (two named
 * rate limits, the monthly quota and the key's credits), taken in one step.
 */
const TIERS = {
  bench: {
    monthlyRequests: 1_000_000_000,
    rateLimit: { burst: { limit: 1_000_000_000, window: "1m" }, sustained: { limit: 1_000_000_000, window: "1h" } },
  },
};
const CREDITS = { remaining: 1_000_000_000 };

/** Counts calls of `method` on `target` into `counter.n`. */
function countCalls(target, method, counter) {
  const original = target[method].bind(target);
  target[method] = (...args) => {
    counter.n++;
    return original(...args);
  };
}

async function main() {
  const reads = { n: 0 };
  const trips = { n: 0 };
  const clients = [];
  let counters;
  let channel = null;
  let store;
  if (config.kind === "sqlite") {
    const { SqliteStore } = await import("../dist/esm/sqlite.js");
    store = new SqliteStore(config.file);
  } else {
    const [{ default: Redis }, { PostgresStore }, redisEntry] = await Promise.all([
      import("ioredis"),
      import("../dist/esm/postgres.js"),
      import("../dist/esm/redis.js"),
    ]);
    store = new PostgresStore(config.pgUrl, { schema: config.schema, poolSize: 8 });
    const client = () => {
      const c = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    };
    const countersClient = client();
    countCalls(countersClient, "evalsha", trips);
    countCalls(countersClient, "eval", trips);
    counters =
      config.counters === "redis"
        ? new redisEntry.RedisCounters(countersClient, { prefix: config.prefix })
        : new redisEntry.ReservingCounters(countersClient, { prefix: config.prefix });
    await store.init();
    channel = { open: () => redisEntry.redisInvalidation(keys, { publisher: client(), subscriber: client(), channel: `${config.prefix}invalidate` }) };
  }
  countCalls(store, "findByHash", reads);
  const keys = new KeyManager({ store, counters, tiers: TIERS });
  if (channel) channel = await channel.open();
  const auth = apiKeyAuth({ keys });
  const guard = requireScope("nodes:read");
  const body = JSON.stringify({ ok: true });
  let served = 0;
  const server = createServer((req, res) => {
    served++;
    auth(req, res, (err) => {
      if (err) return void res.writeHead(500).end();
      guard(req, res, (err2) => {
        if (err2) return void res.writeHead(500).end();
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body);
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.on("message", (m) => {
    const reply = (value) => send({ ...value, seq: m.seq });
    if (m.type === "stats") reply({ type: "stats", cpu: process.cpuUsage(), served, reads: reads.n, trips: trips.n });
    else if (m.type === "create")
      keys.create({ name: "bench", scopes: ["nodes:read"], tier: "bench", credits: CREDITS }).then(
        ({ secret, key }) => reply({ type: "created", secret, id: key.id }),
        (e) => reply({ type: "error", message: String(e) }),
      );
    else if (m.type === "revoke")
      keys.revoke(m.id).then(
        () => reply({ type: "revoked" }),
        (e) => reply({ type: "error", message: String(e) }),
      );
    else if (m.type === "stop") {
      server.closeAllConnections();
      server.close();
      void (async () => {
        await channel?.close();
        await keys.close();
        await counters?.close?.();
        for (const c of clients) c.disconnect();
        process.exit(0);
      })();
    }
  });
  send({ type: "ready", port: server.address().port });
}

main().catch((error) => {
  send({ type: "error", message: error instanceof Error ? error.stack : String(error) });
  setTimeout(() => process.exit(1), 50);
});
