/**
 * `node --import tsx bench/attribute.mts <callgrind dump> <perf map> [requests] [top] [callers]`:
 * names the cost in a dump kept by `INSTR_KEEP=<folder> npm run bench:instructions`. callgrind
 * cannot name V8's JIT-compiled code (it shows addresses); V8's perf map (`/tmp/perf-<pid>.map`,
 * written because of `--perf-basic-prof`) says which JavaScript function each address range holds.
 * Prints the self cost per request of the most expensive functions, JavaScript and native alike.
 * With `callers` (comma-separated substrings of function names, e.g. `*admit,*keywardGuard`), prints
 * instead, for each matching function, its self cost and the inclusive cost of each function it
 * calls: where a function's time goes, callee by callee.
 */
import { readFileSync } from "node:fs";

interface PerfSymbol {
  start: number;
  end: number;
  name: string;
  line: number;
}

/** The perf map's "<start hex> <size hex> <name>" lines, sorted by start, each with its line number. */
function readPerfMap(file: string): PerfSymbol[] {
  const symbols: PerfSymbol[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((text, line) => {
      const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(text);
      if (!match) return;
      const start = parseInt(match[1]!, 16);
      symbols.push({ start, end: start + parseInt(match[2]!, 16), name: match[3]!, line });
    });
  return symbols.sort((a, b) => a.start - b.start);
}

/**
 * The JavaScript function holding `address`. V8 reuses the addresses of code it has thrown away,
 * so several entries can cover one address: the one written last (the latest code) wins.
 */
function lookup(symbols: PerfSymbol[], address: number): string | null {
  // The last entry starting at or before the address, then every earlier one that still covers it.
  let lo = 0;
  let hi = symbols.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (symbols[mid]!.start <= address) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  let best: PerfSymbol | null = null;
  for (let i = last; i >= 0; i--) {
    const s = symbols[i]!;
    if (address < s.end && (best === null || s.line > best.line)) best = s;
    if (address - s.start > 1 << 24) break; // no code object is 16 MiB long
  }
  return best ? `JS ${best.name}` : null;
}

interface Costs {
  /** Self cost per function. */
  self: Map<string, number>;
  /** Per caller, the inclusive cost of each callee it called. */
  calls: Map<string, Map<string, number>>;
}

const add = (map: Map<string, number>, key: string, cost: number) => map.set(key, (map.get(key) ?? 0) + cost);

/**
 * Self and call costs in a callgrind dump (name compression `fn=(id) name` resolved; the cost line
 * after `calls=` is the callee's inclusive cost for those calls). `name` maps a raw function name
 * (an address for JIT code) to the name reported.
 */
function readCosts(file: string, name: (raw: string) => string): Costs {
  const names = new Map<string, string>();
  const self = new Map<string, number>();
  const calls = new Map<string, Map<string, number>>();
  let current = "";
  let callee = "";
  let afterCall = false;
  const nameOf = (spec: string) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return name(spec);
    if (match[2] !== undefined) names.set(match[1]!, name(match[2]));
    return names.get(match[1]!) ?? spec;
  };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("fn=")) {
      current = nameOf(line.slice(3));
      afterCall = false;
      continue;
    }
    if (line.startsWith("cfn=")) {
      callee = nameOf(line.slice(4));
      continue;
    }
    if (line.startsWith("calls=")) {
      afterCall = true;
      continue;
    }
    if (!/^[0-9+\-*]/.test(line)) continue;
    const cost = Number(line.split(" ")[1]);
    if (!Number.isFinite(cost)) continue;
    if (afterCall) {
      afterCall = false;
      let byCallee = calls.get(current);
      if (byCallee === undefined) calls.set(current, (byCallee = new Map()));
      add(byCallee, callee, cost);
    } else add(self, current, cost);
  }
  return { self, calls };
}

const perRequest = (cost: number, requests: number) =>
  Math.round(cost / requests)
    .toLocaleString("en")
    .padStart(10);

function main(): void {
  const [dump, map, requestsArg, topArg, callersArg] = process.argv.slice(2);
  if (!dump || !map) {
    process.stderr.write("usage: node --import tsx bench/attribute.mts <callgrind dump> <perf map> [requests=2000] [top=50] [callers]\n");
    process.exit(2);
  }
  const requests = Number(requestsArg ?? 2000);
  const top = Number(topArg ?? 50);
  const symbols = readPerfMap(map);
  const resolved = new Map<string, string>();
  const name = (raw: string) => {
    const address = /^0x([0-9a-f]+)/i.exec(raw);
    if (!address) return raw;
    let n = resolved.get(raw);
    if (n === undefined) resolved.set(raw, (n = lookup(symbols, parseInt(address[1]!, 16)) ?? "JIT code (unnamed)"));
    return n;
  };
  const { self, calls } = readCosts(dump, name);
  const out: string[] = [];
  if (callersArg) {
    const wanted = callersArg.split(",").filter(Boolean);
    for (const fn of new Set([...self.keys(), ...calls.keys()])) {
      if (!wanted.some((w) => fn.includes(w))) continue;
      out.push(`${fn.slice(0, 140)}: self ${perRequest(self.get(fn) ?? 0, requests).trim()}`);
      const callees = [...(calls.get(fn) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, top);
      for (const [callee, cost] of callees) out.push(`${perRequest(cost, requests)}  ${callee.slice(0, 140)}`);
    }
  } else {
    let total = 0;
    for (const cost of self.values()) total += cost;
    out.push(`${Math.round(total / requests).toLocaleString("en")} instructions per request`);
    for (const [fn, cost] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`${perRequest(cost, requests)}  ${fn.slice(0, 140)}`);
  }
  process.stdout.write(out.join("\n") + "\n");
}

main();
