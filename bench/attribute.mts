/**
 * `node --import tsx bench/attribute.mts <callgrind dump> <perf map> [requests] [top]`: names the
 * cost in a dump kept by `INSTR_KEEP=<folder> npm run bench:instructions`. callgrind cannot name
 * V8's JIT-compiled code (it shows addresses); V8's perf map (`/tmp/perf-<pid>.map`, written because
 * of `--perf-basic-prof`) says which JavaScript function each address range holds. Prints the
 * self cost per request of the most expensive functions, JavaScript and native alike.
 */
import { readFileSync } from "node:fs";

interface PerfSymbol { start: number; end: number; name: string }

/** The perf map's "<start hex> <size hex> <name>" lines, sorted by start. */
function readPerfMap(file: string): PerfSymbol[] {
  const symbols: PerfSymbol[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (!match) continue;
    const start = parseInt(match[1]!, 16);
    symbols.push({ start, end: start + parseInt(match[2]!, 16), name: match[3]! });
  }
  return symbols.sort((a, b) => a.start - b.start);
}

/** The JavaScript function holding `address`, by binary search. */
function lookup(symbols: PerfSymbol[], address: number): string | null {
  let lo = 0;
  let hi = symbols.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = symbols[mid]!;
    if (address < s.start) hi = mid - 1;
    else if (address >= s.end) lo = mid + 1;
    else return `JS ${s.name}`;
  }
  return null;
}

/**
 * Self cost per function in a callgrind dump (name compression `fn=(id) name` resolved; the cost
 * line after `calls=` is a callee's inclusive cost and is skipped).
 */
function selfCosts(file: string): Map<string, number> {
  const names = new Map<string, string>();
  const costs = new Map<string, number>();
  let current = "";
  let afterCall = false;
  const nameOf = (spec: string) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!match) return spec;
    if (match[2] !== undefined) names.set(match[1]!, match[2]);
    return names.get(match[1]!) ?? spec;
  };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("fn=")) { current = nameOf(line.slice(3)); afterCall = false; continue; }
    if (line.startsWith("cfn=")) { nameOf(line.slice(4)); continue; }
    if (line.startsWith("calls=")) { afterCall = true; continue; }
    if (!/^[0-9+\-*]/.test(line)) continue;
    if (afterCall) { afterCall = false; continue; }
    const cost = Number(line.split(" ")[1]);
    if (Number.isFinite(cost)) costs.set(current, (costs.get(current) ?? 0) + cost);
  }
  return costs;
}

function main(): void {
  const [dump, map, requestsArg, topArg] = process.argv.slice(2);
  if (!dump || !map) {
    process.stderr.write("usage: node --import tsx bench/attribute.mts <callgrind dump> <perf map> [requests=2000] [top=50]\n");
    process.exit(2);
  }
  const requests = Number(requestsArg ?? 2000);
  const symbols = readPerfMap(map);
  const named = new Map<string, number>();
  let total = 0;
  for (const [fn, cost] of selfCosts(dump)) {
    const address = /^0x([0-9a-f]+)/i.exec(fn);
    const name = address ? (lookup(symbols, parseInt(address[1]!, 16)) ?? "JIT code (unnamed)") : fn;
    named.set(name, (named.get(name) ?? 0) + cost);
    total += cost;
  }
  const rows = [...named].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 50));
  process.stdout.write(`${Math.round(total / requests).toLocaleString("en")} instructions per request\n`);
  for (const [name, cost] of rows) process.stdout.write(`${Math.round(cost / requests).toLocaleString("en").padStart(10)}  ${name.slice(0, 140)}\n`);
}

main();
