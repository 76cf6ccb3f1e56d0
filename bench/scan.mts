/**
 * `keyward scan` throughput: generates a corpus (default 200 MB in 40 files of 5 MB under a temp
 * directory: source-like lines, base64 blobs, look-alikes such as `sk_` identifiers, other
 * prefixes and keys with a wrong checksum, and one real key per 64 KB), scans it with the `scan`
 * command once to warm the page cache, then `BENCH_SCAN_RUNS` times (default 3), and prints MB/s
 * for each run and the best. Run with `node --import tsx bench/scan.mts`; `BENCH_SCAN_MB` sets the
 * size. The corpus is deleted at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyFormat } from "../src/core/key-format.js";
import { FORMAT_RUNNERS } from "../src/cli/scan.js";

const totalMb = Number(process.env.BENCH_SCAN_MB ?? 200);
const runs = Number(process.env.BENCH_SCAN_RUNS ?? 3);
const FILE_MB = 5;
const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
const other = new KeyFormat({ prefix: "pk", modes: ["live", "test"] });

/** About 1 MB of text: `realKeys` real keys, the rest noise and look-alikes. */
function block(): { text: string; realKeys: number } {
  const lines: string[] = [];
  let size = 0;
  let realKeys = 0;
  const b64 = () => Buffer.from(Array.from({ length: 48 }, () => Math.floor(Math.random() * 256))).toString("base64");
  for (let i = 0; size < 1 << 20; i++) {
    let line: string;
    switch (i % 16) {
      case 0:
        line = `  const sk_value_${i} = task_list[${i}]; // disk_usage, risk_level`;
        break;
      case 1:
        line = `  "blob": "${b64()}${b64()}",`;
        break;
      case 2:
        line = `  token = "${other.generate("live")}"`;
        break;
      case 3: {
        const k = format.generate("test");
        line = `  old = "${k.slice(0, -1)}${k.endsWith("a") ? "b" : "a"}"`;
        break;
      }
      case 4:
        line = `export function handle${i}(req, res) { return res.json({ ok: true, id: ${i} }); }`;
        break;
      default:
        line = `  // Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor ${i}`;
    }
    if (size % 65536 > (size + line.length + 1) % 65536) {
      line += ` key=${format.generate("live")}`;
      realKeys++;
    }
    lines.push(line);
    size += line.length + 1;
  }
  return { text: lines.join("\n") + "\n", realKeys };
}

const dir = mkdtempSync(join(tmpdir(), "keyward-scan-bench-"));
try {
  const { text, realKeys } = block();
  const fileText = text.repeat(FILE_MB);
  const files = Math.ceil(totalMb / FILE_MB);
  for (let f = 0; f < files; f++) writeFileSync(join(dir, `file-${f}.txt`), fileText);
  const bytes = files * Buffer.byteLength(fileText);
  const expected = files * FILE_MB * realKeys;
  const scan = FORMAT_RUNNERS.get("scan")!;
  const flags = { json: false, scopes: [], projects: [], allowIps: [] };
  const once = async () => {
    let found = 0;
    const started = process.hrtime.bigint();
    const code = await scan(format, [dir], flags, {
      out: (t) => {
        found += t.split("\n").length - 1;
      },
      err: () => undefined,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 1 || found !== expected) throw new Error(`found ${found} keys, expected ${expected}`);
    return bytes / 1e6 / seconds;
  };
  await once(); // warm the page cache and the JIT
  const results: number[] = [];
  for (let r = 0; r < runs; r++) results.push(await once());
  console.log(`keyward scan: ${(bytes / 1e6).toFixed(0)} MB in ${files} files, ${expected} real keys among look-alikes`);
  console.log(`runs: ${results.map((r) => `${r.toFixed(0)} MB/s`).join(", ")}; best ${Math.max(...results).toFixed(0)} MB/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
