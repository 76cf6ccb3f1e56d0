/**
 * `npm run bench:instructions`: instructions per request, counted by valgrind's callgrind. Load
 * benchmarks on a shared 2-core machine swing by ±20% between rounds; an instruction count does
 * not (the same build gives the same count to within ~1%), so this is how a hot-path change is
 * judged. Each setup's server runs under callgrind; after a warm-up (so V8 has optimised the hot
 * path) the counters are zeroed, N requests are sent over keep-alive connections, and the server
 * thread's instructions are read from the dump. Needs `valgrind` on PATH (Debian: `valgrind`);
 * without it the run says so and exits 0. Tunable: INSTR_SETUPS, INSTR_REQUESTS, INSTR_WARMUP,
 * INSTR_START_MS (how long a server under valgrind may take to start; 180 s by default).
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
const REQUESTS = Number(process.env.INSTR_REQUESTS) || 2000;
const WARMUP = Number(process.env.INSTR_WARMUP) || 12_000;
const START_MS = Number(process.env.INSTR_START_MS) || 180_000;
/** A folder to keep each setup's callgrind dump in (V8's perf map is /tmp/perf-<pid>.map); read both with `bench/attribute.mts`. None by default. */
const KEEP = process.env.INSTR_KEEP ?? null;
const SETUPS = (
  process.env.INSTR_SETUPS ?? "http,http-floor,kw-http-memory,kw-http-sqlite,express,express-noop,kw-express-memory,kw-express-sqlite,handwritten,passport"
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
    if (await drive(ready.port, ready.headers, REQUESTS)) throw new Error("non-200 answers");
    execFileSync("callgrind_control", ["-d", String(child.pid)], { stdio: "ignore" });
    // The dump of the zeroed interval is cg.<pid>.1-01 (part 1, thread 1: the event loop).
    const dump = readdirSync(dir).find((f) => /^cg\.\d+\.1-01$/.test(f));
    if (!dump) throw new Error("callgrind wrote no dump");
    return totalOf(join(dir, dump)) / REQUESTS;
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
    `keyward instruction counts: ${SETUPS.length} setups, ${REQUESTS} requests each after ${WARMUP} warm-up requests (two setups at a time)\n`,
  );
  const results = new Map<string, number | Error>();
  const queue = [...SETUPS];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const value = await measure(name).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      results.set(name, value);
      process.stderr.write(`  ${name.padEnd(20)} ${value instanceof Error ? `failed: ${value.message}` : `${fmt(value, 0)} instructions/request`}\n`);
    }
  };
  await Promise.all([worker(), worker()]);

  const num = (name: string) => {
    const v = results.get(name);
    return typeof v === "number" ? v : null;
  };
  const http = num("http");
  const express = num("express");
  const rows = SETUPS.map((name) => {
    const v = num(name);
    const base = name === "http" || name.startsWith("http-") || name.startsWith("kw-http") ? http : express;
    return [
      name,
      v === null ? "–" : fmt(v, 0),
      v === null || base === null ? "–" : fmt(v - base, 0),
      v === null || base === null ? "–" : `${fmt((v / base - 1) * 100, 1)}%`,
    ];
  });
  const lines = [`### Instructions per request (callgrind, event-loop thread, ${REQUESTS} requests after ${WARMUP} warm-up, Node ${process.version})`, ""];
  lines.push(...table(["setup", "instructions/request", "over its bare server", "%"], rows));
  const kwExpress = num("kw-express-sqlite");
  const kwHttp = num("kw-http-sqlite");
  if (express && kwExpress)
    lines.push("", `keyward (Express, SQLite, all features) vs bare Express by instructions: ${fmt(express / kwExpress, 3)}× (target for req/s: ≥ 0.95×)`);
  const passport = num("passport");
  if (passport && kwExpress)
    lines.push(
      `keyward (Express, SQLite, all features) vs passport-headerapikey by instructions: ${fmt(passport / kwExpress, 2)}× (target for req/s: ≥ 1.25×)`,
    );
  if (http && kwHttp)
    lines.push(
      `keyward on node:http (SQLite, all features): ${fmt(kwHttp - http, 0)} instructions/request over bare node:http (${fmt((kwHttp / http - 1) * 100, 1)}%)`,
    );
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
        perRequest: Object.fromEntries([...results].map(([k, v]) => [k, typeof v === "number" ? v : String(v.message)])),
      },
      null,
      2,
    ) + "\n",
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:instructions failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
