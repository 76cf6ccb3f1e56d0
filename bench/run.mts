/**
 * `npm run bench`: the load benchmark. Starts every setup in its own server process, then runs
 * them round by round (A B C … C B A …, the order reversed every other round) with the same load generator, reading each server's CPU
 * time over IPC before and after its run. Prints a Markdown table with PASS/FAIL per target and
 * writes bench/results/latest.json. Tunable: BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS,
 * BENCH_WARMUP, BENCH_LOADGEN (wrk|autocannon), BENCH_SETUPS (comma-separated names, which may
 * include the diagnostic setups), BENCH_PIN=0 (do not pin). With `taskset` and ≥ 2 cores, every
 * server runs on core 0 and the runner and load generator on core 1, so they do not take turns on
 * one core and the server's figures do not depend on where the scheduler put it.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../dist/esm/sqlite.js";
import { pickLoadGenerator, type LoadResult } from "./load.mjs";
import { forkServer } from "./server-process.mjs";
import { SETUPS } from "./setups.mjs";
import { fmt, median, quantile, table } from "./report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const env = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const ROUNDS = env("BENCH_ROUNDS", 5);
const SECONDS = env("BENCH_SECONDS", 3);
const CONNECTIONS = env("BENCH_CONNECTIONS", 50);
const WARMUP = env("BENCH_WARMUP", 3);
const PIN = process.env.BENCH_PIN !== "0" && cpus().length >= 2 && pin(process.pid, "1");
const chosen = process.env.BENCH_SETUPS?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);

interface Stats {
  cpu: NodeJS.CpuUsage;
  count: number;
  rss: number;
}
interface Server {
  name: string;
  label: string;
  child: ChildProcess;
  port: number;
  headers: Record<string, string>;
  notes: string;
  stats: () => Promise<Stats>;
}
interface RunRecord extends LoadResult {
  round: number;
  cpuUsPerRequest: number;
  systemUsPerRequest: number;
  served: number;
}
interface Unavailable {
  name: string;
  label: string;
  reason: string;
}

/** Pins every thread of `pid` to the CPU list `cores`; false when taskset is missing or refuses. */
function pin(pid: number, cores: string): boolean {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cores, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Starts the server for `name` and waits for it to listen. */
async function start(name: string, label: string): Promise<Server> {
  const { child, ready } = forkServer(name, {}, 60_000);
  const m = await ready;
  if (PIN) pin(child.pid!, "0");
  const stats = () =>
    new Promise<Stats>((res) => {
      const on = (s: { type: string } & Stats) => {
        if (s.type === "stats") {
          child.off("message", on);
          res(s);
        }
      };
      child.on("message", on);
      child.send({ type: "stats" });
    });
  return { name, label, child, port: m.port, headers: m.headers, notes: m.notes, stats };
}

async function stop(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.child.kill();
      resolve();
    }, 5000);
    server.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    server.child.send({ type: "stop" });
  });
}

/** The request a setup answers with 200; anything else means the setup is broken. */
async function check(server: Server): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/ping`, { headers: server.headers });
  if (res.status !== 200) throw new Error(`GET /v1/ping answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
}

/** WAL + synchronous=NORMAL: commits append to the WAL without fsync (only checkpoints sync). */
function syncMode(): { journal: string; synchronous: number } {
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  const store = new SqliteStore(join(dir, ".pragma-check.db"));
  try {
    return { journal: String(store.db.pragma("journal_mode", { simple: true })), synchronous: Number(store.db.pragma("synchronous", { simple: true })) };
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  const loadgen = pickLoadGenerator();
  const setups = chosen ? SETUPS.filter((s) => chosen.includes(s.name)) : SETUPS.filter((s) => !s.diagnostic);
  process.stderr.write(
    `keyward bench: ${setups.length} setups, ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, load generator ${loadgen.name}${PIN ? ", servers pinned to core 0, load generator to core 1" : ", not pinned"}\n`,
  );
  const servers: Server[] = [];
  const unavailable: Unavailable[] = [];
  for (const s of setups) {
    try {
      const server = await start(s.name, s.label);
      await check(server);
      servers.push(server);
    } catch (error) {
      unavailable.push({ name: s.name, label: s.label, reason: error instanceof Error ? error.message : String(error) });
      process.stderr.write(`  ${s.name}: unavailable (${unavailable.at(-1)!.reason})\n`);
    }
  }
  const runs = new Map<string, RunRecord[]>(servers.map((s) => [s.name, []]));
  const once = async (server: Server, seconds: number, round: number) => {
    const before = await server.stats();
    const load = await loadgen.run({ url: `http://127.0.0.1:${server.port}/v1/ping`, headers: server.headers, connections: CONNECTIONS, seconds });
    const after = await server.stats();
    const served = after.count - before.count;
    const system = after.cpu.system - before.cpu.system;
    const cpuTime = after.cpu.user - before.cpu.user + system;
    return { ...load, round, served, cpuUsPerRequest: served > 0 ? cpuTime / served : NaN, systemUsPerRequest: served > 0 ? system / served : NaN };
  };
  try {
    for (const server of servers) await once(server, WARMUP, 0);
    for (let round = 1; round <= ROUNDS; round++) {
      // Odd rounds run the setups in order, even rounds in reverse (A B C, C B A, …): a machine that
      // speeds up or slows down during a round then favours no setup over the rounds.
      for (const server of round % 2 === 1 ? servers : [...servers].reverse()) {
        const r = await once(server, SECONDS, round);
        runs.get(server.name)!.push(r);
        process.stderr.write(
          `  round ${round} ${server.name.padEnd(18)} ${fmt(r.rps, 0).padStart(7)} req/s  p99 ${fmt(r.p99Ms, 2)} ms  ${fmt(r.cpuUsPerRequest, 1)} µs CPU/req${r.failures ? `  ${r.failures} failures` : ""}\n`,
        );
      }
    }
  } finally {
    await Promise.all(servers.map(stop));
  }

  // Ratios are taken within a round (same machine load), then the median over rounds.
  const inRound = (name: string, round: number) => runs.get(name)?.find((r) => r.round === round);
  const perRound = (name: string, base: string, pick: (r: RunRecord) => number, op: (a: number, b: number) => number) => {
    const values: number[] = [];
    for (const r of runs.get(name) ?? []) {
      const b = inRound(base, r.round);
      if (b) values.push(op(pick(r), pick(b)));
    }
    return values;
  };
  const medianOrNull = (values: number[]) => (values.length ? median(values) : null);
  const ratio = (name: string, base: string, pick: (r: RunRecord) => number, op: (a: number, b: number) => number) =>
    medianOrNull(perRound(name, base, pick, op));
  /** The middle half of the per-round values (how far one round's verdict can be trusted), e.g. "rounds 0.86-0.97". */
  const spread = (values: number[], digits: number) =>
    values.length > 1 ? ` (rounds ${fmt(quantile(values, 0.25), digits)}-${fmt(quantile(values, 0.75), digits)})` : "";
  const rps = (r: RunRecord) => r.rps;
  const cpu = (r: RunRecord) => r.cpuUsPerRequest;
  const div = (a: number, b: number) => a / b;
  /** The baseline's value over this setup's: for CPU per request, the req/s ratio a machine with an idle core would show. */
  const inverse = (a: number, b: number) => b / a;
  const minus = (a: number, b: number) => a - b;
  const results = servers.map((s) => {
    const rs = runs.get(s.name)!;
    return {
      name: s.name,
      label: s.label,
      notes: s.notes,
      rps: median(rs.map((r) => r.rps)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
      /** The kernel's part of it (socket reads and writes, SQLite's file I/O). */
      systemUsPerRequest: median(rs.map((r) => r.systemUsPerRequest)),
      vsExpress: ratio(s.name, "express", rps, div),
      vsHttp: ratio(s.name, "http", rps, div),
      /** Bare Express's CPU per request over this setup's, in the same round. */
      vsExpressByCpu: ratio(s.name, "express", cpu, inverse),
      cpuOverHttpUs: ratio(s.name, "http", cpu, minus),
      failures: rs.reduce((a, r) => a + r.failures, 0),
      rounds: rs,
    };
  });

  const sync = syncMode();
  type Target = { target: string; value: string; pass: boolean | null };
  const targets: Target[] = [];
  /** A target on the median of per-round values, shown with the middle half of the rounds. */
  const judged = (target: string, values: number[], unit: string, digits: number, pass: (v: number) => boolean) => {
    const v = medianOrNull(values);
    targets.push({ target, value: v === null ? "n/a" : `${fmt(v, digits)}${unit}${spread(values, digits)}`, pass: v === null ? null : pass(v) });
  };
  /** Figures shown for information: on a shared machine load ratios move too much to judge by (instruction counts are judged). */
  const info = (target: string, values: number[], unit: string, digits: number) => {
    const v = medianOrNull(values);
    targets.push({ target: `(information) ${target}`, value: v === null ? "n/a" : `${fmt(v, digits)}${unit}${spread(values, digits)}`, pass: null });
  };
  // keyward/better-auth ≥ 0.9 × Express/better-auth, per round: the same as keyward/Express ≥ 0.9 by req/s in that round.
  const overBetterAuth = (name: string) => perRound(name, "better-auth", rps, div);
  const kwBa = medianOrNull(overBetterAuth("kw-express-sqlite"));
  const exBa = medianOrNull(overBetterAuth("express"));
  judged(
    `keyward (Express, SQLite, all features) / better-auth api-key ≥ 0.9 × Express / better-auth, same rounds (keyward ${kwBa === null ? "n/a" : `${fmt(kwBa, 2)}×`}, bare Express ${exBa === null ? "n/a" : `${fmt(exBa, 2)}×`} better-auth; value: per-round keyward/Express)`,
    perRound("kw-express-sqlite", "express", rps, div),
    "×",
    2,
    (v) => v >= 0.9,
  );
  info("keyward (Express, SQLite, all features) vs bare Express by req/s", perRound("kw-express-sqlite", "express", rps, div), "×", 2);
  info("(same, from server CPU per request)", perRound("kw-express-sqlite", "express", cpu, inverse), "×", 2);
  info("keyward (Express, SQLite, all features) vs hand-written middleware by req/s", perRound("kw-express-sqlite", "handwritten", rps, div), "×", 2);
  info("keyward (Express, SQLite, all features) vs passport-headerapikey by req/s", perRound("kw-express-sqlite", "passport", rps, div), "×", 2);
  info("keyward on node:http (SQLite, all features): server CPU over bare node:http", perRound("kw-http-sqlite", "http", cpu, minus), " µs", 1);
  targets.push({
    target: "no fsync per request (SQLite journal_mode=WAL, synchronous=NORMAL)",
    value: `${sync.journal}, synchronous=${sync.synchronous}`,
    pass: sync.journal === "wal" && sync.synchronous === 1,
  });
  const failures = results.filter((r) => r.failures > 0);

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    loadavg: loadavg(),
    loadGenerator: loadgen.name,
    pinned: PIN,
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    warmupSeconds: WARMUP,
  };
  const dir = join(here, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "latest.json"), JSON.stringify({ ...meta, results, unavailable, targets }, null, 2) + "\n");

  const lines: string[] = [];
  lines.push(
    `### Load benchmark (${meta.date.slice(0, 16).replace("T", " ")} UTC, Node ${meta.node}, ${meta.cores} cores, ${loadgen.name}, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s${PIN ? ", server on core 0, load generator on core 1" : ""})`,
    "",
  );
  lines.push(
    ...table(
      ["setup", "req/s (median)", "× Express", "× node:http", "p99 ms", "server CPU µs/req", "CPU µs over node:http", "× Express by CPU/req"],
      results.map((r) => [
        r.label,
        fmt(r.rps, 0),
        r.vsExpress === null ? "–" : fmt(r.vsExpress, 2),
        r.vsHttp === null ? "–" : fmt(r.vsHttp, 2),
        fmt(r.p99Ms, 2),
        fmt(r.cpuUsPerRequest, 0),
        r.cpuOverHttpUs === null ? "–" : fmt(r.cpuOverHttpUs, 0),
        r.vsExpressByCpu === null ? "–" : fmt(r.vsExpressByCpu, 2),
      ]),
    ),
  );
  for (const u of unavailable) lines.push("", `**${u.label}: not measured** (${u.reason})`);
  if (failures.length)
    lines.push("", `Non-2xx/errors: ${failures.map((f) => `${f.name} ${f.failures}`).join(", ")} (a setup must answer 200 to every request)`);
  lines.push("", "| target | measured | result |", "|---|---|---|");
  for (const t of targets) lines.push(`| ${t.target} | ${t.value} | ${t.pass === null ? "n/a" : t.pass ? "PASS" : "FAIL"} |`);
  lines.push(
    "",
    `Ratios are medians of per-round ratios (each setup against the baseline run in the same round); a target's "rounds" range is the middle half of its per-round values. Load average during the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(", ")} on ${meta.cores} cores. Results: bench/results/latest.json.`,
  );
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
