/**
 * `npm run bench:instructions`: instructions per request, counted by valgrind's callgrind. Load
 * benchmarks on a shared 2-core machine swing by ±20% between rounds; an instruction count does
 * not (the same build gives the same count to within ~1%), so this is how a hot-path change is
 * judged. Each setup's server runs under callgrind; after a warm-up (so V8 has optimised the hot
 * path) the counters are zeroed, N requests are sent over keep-alive connections, and the server
 * thread's instructions are read from the dump. Needs `valgrind` on PATH (Debian: `valgrind`);
 * without it the run says so and exits 0. Tunable: INSTR_SETUPS, INSTR_REQUESTS, INSTR_WARMUP,
 * INSTR_START_S (how long a server may take to start under valgrind; default 600 s, for busy machines),
 * INSTR_TIME_SCALE and INSTR_V8_FLAGS (below).
 * INSTR_KEEP=<folder> keeps each setup's dump there and runs Node with `--perf-basic-prof`, so
 * JIT-compiled functions in the dump can be named from /tmp/perf-<pid>.map.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, table } from "./report.mjs";
import { forkServer } from "./server-process.mjs";

const here = dirname(fileURLToPath(import.meta.url));
/**
 * Requests counted for the node:http setups. A short window moves by thousands of instructions per
 * request with where V8's collections and late optimisations fall; 10,000 (about 30 s under
 * callgrind) keeps runs of one build within about ±1,200 of each other (±4,000 with 2,000).
 */
const REQUESTS = Number(process.env.INSTR_REQUESTS) || 10_000;
/**
 * Requests counted for the Express setups: Express's count moves by ±2% (about ±10,000) with where
 * its scavenges fall in a short run, more than the difference judged, so its setups count 6,000.
 */
const EXPRESS_REQUESTS = Number(process.env.INSTR_EXPRESS_REQUESTS) || 6000;
/** Whether `name` runs on Express (bare, with middleware, or with a competitor's package). */
const onExpress = (name: string) =>
  !(["http", "fastify", "hono"].some((bare) => name === bare || name.startsWith(`${bare}-`) || name.startsWith(`kw-${bare}`)) || name.startsWith("kw-connect"));
const requestsFor = (name: string) => (onExpress(name) ? EXPRESS_REQUESTS : REQUESTS);
const WARMUP = Number(process.env.INSTR_WARMUP) || 12_000;
const START_MS = (Number(process.env.INSTR_START_S) || 600) * 1000;
/** A folder to keep each setup's callgrind dump in (V8's perf map is /tmp/perf-<pid>.map); read both with `bench/attribute.mts`. None by default. */
const KEEP = process.env.INSTR_KEEP ?? null;
/**
 * Stretches keyward's wall-clock timers (usage flush, 1 s; cache TTL, 5 s) by this factor in the
 * measured servers (`KEYWARD_BENCH_TIME_SCALE`, read by setups.mjs). Callgrind runs a server about
 * 100× slower than natively (the line each setup prints gives its ms/request under callgrind), so
 * unstretched timers fire 100× as often per request as at native speed, and more often still when
 * the machine is busy: the count would depend on the machine's load, the one thing it must not.
 * Stretched by the slowdown (the default, 100), each request carries its native share of the flush
 * and cache-refresh work (a few instructions at thousands of requests per second);
 * `INSTR_TIME_SCALE=1` shows the unstretched count.
 */
const TIME_SCALE = Number(process.env.INSTR_TIME_SCALE) || 100;
/**
 * V8 flags of every measured server, bare ones included. `--single-threaded-gc` runs the garbage
 * collector's work on the event-loop thread, the one counted, so a setup's allocations are paid for
 * in its count instead of vanishing into helper threads some of the time; `--predictable-gc-schedule`
 * fixes V8's heap-growing and memory-reducing heuristics, which run on timers (stretched ~100× by
 * callgrind, like keyward's) and put a full collection inside one run's window but not the next's.
 * `INSTR_V8_FLAGS=""` runs without them.
 */
const V8_FLAGS = (process.env.INSTR_V8_FLAGS ?? "--single-threaded-gc --predictable-gc-schedule").split(/\s+/).filter(Boolean);
process.env.KEYWARD_BENCH_TIME_SCALE = String(TIME_SCALE);
/** Wall time per measured request under callgrind, per setup (for the slowdown; not judged). */
const windowMs = new Map<string, number>();
const SETUPS = (
  process.env.INSTR_SETUPS ??
  "http,http-floor,kw-http-memory,kw-http-sqlite,express,express-noop,express-floor,kw-express-memory,kw-express-sqlite,handwritten,passport"
)
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);

function hasValgrind(): boolean {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Sends `count` GET /v1/ping requests, 8 at a time on keep-alive connections; resolves with the non-2xx count. */
function drive(port: number, headers: Record<string, string>, count: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  let done = 0;
  let bad = 0;
  return new Promise((resolve, reject) => {
    const one = () => {
      if (sent >= count) return;
      sent++;
      const req = request({ host: "127.0.0.1", port, path: "/v1/ping", headers, agent }, (res) => {
        if (res.statusCode !== 200) bad++;
        res.resume();
        res.on("end", () => {
          if (++done === count) {
            agent.destroy();
            resolve(bad);
          } else one();
        });
      });
      req.on("error", reject);
      req.end();
    };
    for (let i = 0; i < 8; i++) one();
  });
}

/** The server thread's instruction count in a callgrind dump (`summary:` or `totals:` line). */
function totalOf(file: string): number {
  const match = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(file, "utf8"));
  if (!match) throw new Error(`no totals in ${file}`);
  return Number(match[1]);
}

/** Runs one setup under callgrind and returns its main-thread instructions per request. */
async function measure(name: string): Promise<number> {
  const dir = KEEP ? join(KEEP, name) : mkdtempSync(join(tmpdir(), "keyward-instr-"));
  if (KEEP) mkdirSync(dir, { recursive: true });
  const { child, ready: started } = forkServer(
    name,
    {
      execPath: "valgrind",
      execArgv: [
        "--tool=callgrind",
        "--smc-check=all-non-file",
        "--separate-threads=yes",
        `--callgrind-out-file=${join(dir, "cg.%p")}`,
        process.execPath,
        ...V8_FLAGS,
        ...(KEEP ? ["--perf-basic-prof", "--interpreted-frames-native-stack"] : []),
      ],
      // V8's perf map goes to /tmp/perf-<pid>.map; its log files go to the working folder.
      ...(KEEP ? { cwd: dir } : {}),
    },
    START_MS,
  );
  try {
    const ready = await started;
    if (await drive(ready.port, ready.headers, WARMUP)) throw new Error("non-200 answers during warm-up");
    execFileSync("callgrind_control", ["-z", String(child.pid)], { stdio: "ignore" });
    const requests = requestsFor(name);
    const windowStart = performance.now();
    if (await drive(ready.port, ready.headers, requests)) throw new Error("non-200 answers");
    windowMs.set(name, (performance.now() - windowStart) / requests);
    execFileSync("callgrind_control", ["-d", String(child.pid)], { stdio: "ignore" });
    // The dump of the zeroed interval is cg.<pid>.1-01 (part 1, thread 1: the event loop).
    const dump = readdirSync(dir).find((f) => /^cg\.\d+\.1-01$/.test(f));
    if (!dump) throw new Error("callgrind wrote no dump");
    return totalOf(join(dir, dump)) / requests;
  } finally {
    child.kill("SIGKILL");
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!hasValgrind()) {
    process.stdout.write("bench:instructions: valgrind is not installed (Debian: apt-get install valgrind); nothing measured.\n");
    return;
  }
  process.stderr.write(
    `keyward instruction counts: ${SETUPS.length} setups, ${REQUESTS} requests each (${EXPRESS_REQUESTS} on Express) after ${WARMUP} warm-up requests (two setups at a time); keyward's timers stretched ${TIME_SCALE}×; V8 flags: ${V8_FLAGS.join(" ") || "none"}\n`,
  );
  const results = new Map<string, number | Error>();
  const queue = [...SETUPS];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const value = await measure(name).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      results.set(name, value);
      process.stderr.write(
        `  ${name.padEnd(20)} ${value instanceof Error ? `failed: ${value.message}` : `${fmt(value, 0)} instructions/request (${fmt(windowMs.get(name) ?? 0, 1)} ms/request under callgrind)`}\n`,
      );
    }
  };
  await Promise.all([worker(), worker()]);

  const num = (name: string) => {
    const v = results.get(name);
    return typeof v === "number" ? v : null;
  };
  const http = num("http");
  const express = num("express");
  /** The bare server a setup is compared with: node:http, Fastify, Hono, else Express. */
  const baseOf = (name: string) => {
    for (const bare of ["http", "fastify", "hono"]) if (name === bare || name.startsWith(`${bare}-`) || name.startsWith(`kw-${bare}`)) return num(bare);
    return express;
  };
  const rows = SETUPS.map((name) => {
    const v = num(name);
    const base = baseOf(name);
    return [
      name,
      v === null ? "–" : fmt(v, 0),
      v === null || base === null ? "–" : fmt(v - base, 0),
      v === null || base === null ? "–" : `${fmt((v / base - 1) * 100, 1)}%`,
    ];
  });
  const lines = [
    `### Instructions per request (callgrind, event-loop thread, ${REQUESTS} requests on node:http and ${EXPRESS_REQUESTS} on Express after ${WARMUP} warm-up, Node ${process.version})`,
    "",
  ];
  lines.push(...table(["setup", "instructions/request", "over its bare server", "%"], rows));
  const targets = instructionTargets(num);
  lines.push("", "| target | measured | result |", "|---|---|---|");
  for (const t of targets) lines.push(`| ${t.target} | ${t.value} | ${t.pass === null ? "n/a" : t.pass ? "PASS" : "FAIL"} |`);
  process.stdout.write(lines.join("\n") + "\n");
  const out = join(here, "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "instructions.json"),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        requests: REQUESTS,
        warmup: WARMUP,
        expressRequests: EXPRESS_REQUESTS,
        timeScale: TIME_SCALE,
        v8Flags: V8_FLAGS,
        targets,
        perRequest: Object.fromEntries([...results].map(([k, v]) => [k, typeof v === "number" ? v : String(v.message)])),
      },
      null,
      2,
    ) + "\n",
  );
}

/** One judged figure: what it is, the measured value, PASS/FAIL (null when a setup it needs was not measured). */
interface Target {
  target: string;
  value: string;
  pass: boolean | null;
}

/** The instruction-count targets, from the measured setups (`num` answers null for one not measured). */
function instructionTargets(num: (name: string) => number | null): Target[] {
  const out: Target[] = [];
  const judge = (target: string, value: number | null, show: (v: number) => string, pass: (v: number) => boolean) =>
    out.push({ target, value: value === null ? "n/a" : show(value), pass: value === null ? null : pass(value) });
  const over = (name: string, base: string) => {
    const v = num(name);
    const b = num(base);
    return v === null || b === null ? null : v - b;
  };
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? null : a / b);
  const kwHttp = over("kw-http-sqlite", "http");
  const floor = over("http-floor", "http");
  judge(
    "keyward on node:http (SQLite, all features) over bare node:http ≤ +18,000 instructions/request",
    kwHttp,
    (v) => `+${fmt(v, 0)}`,
    (v) => v <= 18_000,
  );
  out.push({
    target: "(information) http-floor over bare node:http: read the header, one SHA-256, two RateLimit fields; keyward / floor",
    value: floor === null ? "n/a" : `+${fmt(floor, 0)}${kwHttp === null ? "" : `; keyward / floor ${fmt(kwHttp / floor, 2)}×`}`,
    pass: null,
  });
  judge(
    "keyward (Express, SQLite, all features) / hand-written Express middleware ≤ 1.00×",
    ratio(num("kw-express-sqlite"), num("handwritten")),
    (v) => `${fmt(v, 3)}×`,
    (v) => v <= 1,
  );
  judge(
    `keyward (Express, SQLite, all features) over bare Express ≤ +25,000 instructions/request (${EXPRESS_REQUESTS} requests each)`,
    over("kw-express-sqlite", "express"),
    (v) => `+${fmt(v, 0)}`,
    (v) => v <= 25_000,
  );
  const expressFloor = over("express-floor", "express");
  const kwExpress = over("kw-express-sqlite", "express");
  out.push({
    target: "(information) express-floor over bare Express: http-floor's work as one app.use middleware + a no-op route guard; keyward / floor",
    value: expressFloor === null ? "n/a" : `+${fmt(expressFloor, 0)}${kwExpress === null ? "" : `; keyward / floor ${fmt(kwExpress / expressFloor, 2)}×`}`,
    pass: null,
  });
  judge(
    "passport-headerapikey / keyward (Express, SQLite, all features) ≥ 1.30×",
    ratio(num("passport"), num("kw-express-sqlite")),
    (v) => `${fmt(v, 2)}×`,
    (v) => v >= 1.3,
  );
  return out;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:instructions failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
