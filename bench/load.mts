/**
 * Load generators: `wrk` when it is installed (lighter, so more of the 2nd core is left to the
 * server), otherwise autocannon (a devDependency, so a fresh clone always has one). Both drive
 * keep-alive connections at one URL with fixed headers and report req/s, p99 latency and errors.
 */
import { execFile, execFileSync } from "node:child_process";

/** One load run's outcome. */
export interface LoadResult {
  requests: number;
  rps: number;
  p99Ms: number;
  /** Responses other than 2xx, plus socket errors and timeouts. */
  failures: number;
}

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

export type LoadGenerator = { name: string; run: (o: LoadOptions) => Promise<LoadResult> };

function hasWrk(): boolean {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

const toMs = (value: number, unit: string) => (unit === "us" ? value / 1000 : unit === "s" ? value * 1000 : unit === "m" ? value * 60_000 : value);

/** Parses wrk's `--latency` report. */
export function parseWrk(text: string): LoadResult {
  const total = /(\d+) requests in/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s|m)\b/.exec(text);
  if (!total || !rps || !p99) throw new Error(`could not read wrk output:\n${text}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests: Number(total[1]), rps: Number(rps[1]), p99Ms: toMs(Number(p99[1]), p99[2]!), failures: Number(non2xx?.[1] ?? 0) + socketErrors };
}

const wrk: LoadGenerator = {
  name: "wrk",
  run: (o) =>
    new Promise((resolve, reject) => {
      const args = ["-t1", `-c${o.connections}`, `-d${Math.max(1, Math.round(o.seconds))}s`, "--latency"];
      for (const [k, v] of Object.entries(o.headers)) args.push("-H", `${k}: ${v}`);
      args.push(o.url);
      execFile("wrk", args, { timeout: (o.seconds + 30) * 1000 }, (error, stdout) => {
        if (error) return reject(error);
        try {
          resolve(parseWrk(stdout));
        } catch (e) {
          reject(e);
        }
      });
    }),
};

const autocannon: LoadGenerator = {
  name: "autocannon",
  run: async (o) => {
    const { default: run } = (await import("autocannon")) as unknown as {
      default: (opts: object) => Promise<{
        requests: { total: number; average: number };
        latency: { p99: number };
        non2xx: number;
        errors: number;
        timeouts: number;
        duration: number;
      }>;
    };
    const r = await run({ url: o.url, connections: o.connections, duration: o.seconds, headers: o.headers, pipelining: 1 });
    return { requests: r.requests.total, rps: r.requests.total / r.duration, p99Ms: r.latency.p99, failures: r.non2xx + r.errors + r.timeouts };
  },
};

/** The generator to use: `BENCH_LOADGEN=wrk|autocannon`, else wrk when installed, else autocannon. */
export function pickLoadGenerator(choice = process.env.BENCH_LOADGEN ?? "auto"): LoadGenerator {
  if (choice === "autocannon") return autocannon;
  if (choice === "wrk") return wrk;
  return hasWrk() ? wrk : autocannon;
}
