/**
 * `keyward scan` and `keyward keys pattern`: commands over the app's key format alone (no key
 * database needed). `scan` streams files (recursing into directories, skipping `.git`,
 * `node_modules`, binary files and files over 10 MB) and stdin through a {@link KeyScanner} and
 * prints each confirmed key as `file:line:column: <start>…`, never the secret; `pattern` prints
 * the format's regex with a gitleaks rule and a GitHub secret scanning custom pattern.
 */
import { createReadStream, type Dirent } from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { KeyScanner, type KeyFinding } from "../core/key-scan.js";
import { CHECKSUM_LENGTH, RANDOM_LENGTH, type KeyFormat } from "../core/key-format.js";
import { UsageError, usageHint } from "./args.js";
import type { Io } from "./commands.js";
import type { Flags } from "./flags.js";

/** Files larger than this are skipped. */
export const MAX_SCAN_FILE_BYTES = 10 * 1024 * 1024;
/** Directories never entered. */
const SKIPPED_DIRS = new Set([".git", "node_modules"]);
/** Bytes looked at for a NUL to call a file binary (as git does). */
const BINARY_SNIFF_BYTES = 8000;
const CHUNK_BYTES = 1 << 20;

/** A command over the key format: returns its exit code. */
export type FormatCommand = (format: KeyFormat, args: string[], flags: Flags, io: Io) => Promise<number>;

interface Tally {
  files: number;
  bytes: number;
  binary: number;
  large: number;
  unreadable: number;
  found: number;
  filesWithKeys: number;
}

/** Scans one stream of bytes; returns false when it was skipped as binary. */
async function scanStream(
  source: AsyncIterable<Buffer | string>,
  scanner: KeyScanner,
  found: (f: KeyFinding) => void,
  tally: Tally,
  sniff: boolean,
): Promise<boolean> {
  let first = sniff;
  for await (const chunk of source) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (first) {
      first = false;
      if (buffer.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return false;
    }
    tally.bytes += buffer.length;
    scanner.push(buffer.toString("latin1"), found);
  }
  scanner.end(found);
  return true;
}

const scan: FormatCommand = async (format, args, flags, io) => {
  const scanner = new KeyScanner(format);
  const tally: Tally = { files: 0, bytes: 0, binary: 0, large: 0, unreadable: 0, found: 0, filesWithKeys: 0 };
  const report = (file: string) => {
    let first = true;
    return (f: KeyFinding) => {
      tally.found++;
      if (first) {
        first = false;
        tally.filesWithKeys++;
      }
      io.out(
        flags.json
          ? JSON.stringify({ file, line: f.line, column: f.column, mode: f.mode, start: f.start }) + "\n"
          : `${file}:${f.line}:${f.column}: ${f.start}…\n`,
      );
    };
  };
  const scanFile = async (file: string, size: number) => {
    if (size > MAX_SCAN_FILE_BYTES) {
      tally.large++;
      io.err(`keyward: skipped ${file} (over 10 MB)\n`);
      return;
    }
    try {
      const scanned = await scanStream(createReadStream(file, { highWaterMark: CHUNK_BYTES }), scanner, report(file), tally, true);
      if (scanned) tally.files++;
      else tally.binary++;
    } catch (error) {
      scanner.end(() => undefined); // drop the partial file's state
      tally.unreadable++;
      io.err(`keyward: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    }
  };
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      tally.unreadable++;
      io.err(`keyward: cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      // Symbolic links are not followed inside directories (no loops, no scanning outside the tree).
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(path);
      } else if (entry.isFile()) await scanFile(path, (await lstat(path)).size);
    }
  };

  const stdin = io.stdin ?? (process.stdin.isTTY ? undefined : process.stdin);
  const paths = args.length ? args : stdin ? ["-"] : ["."];
  for (const path of paths) {
    if (path === "-") {
      if (!stdin) throw new UsageError("- reads standard input, but none is piped", usageHint("scan"));
      tally.files++;
      await scanStream(stdin, scanner, report("<stdin>"), tally, false);
      continue;
    }
    const info = await stat(path).catch(() => null);
    if (!info) throw new UsageError(`no such file or directory: ${path}`, usageHint("scan"));
    if (info.isDirectory()) await walk(path);
    else await scanFile(path, info.size);
  }
  const skipped = [tally.binary && `${tally.binary} binary`, tally.large && `${tally.large} over 10 MB`, tally.unreadable && `${tally.unreadable} unreadable`]
    .filter(Boolean)
    .join(", ");
  const scanned = `${tally.files} file${tally.files === 1 ? "" : "s"}, ${(tally.bytes / 1e6).toFixed(1)} MB${skipped ? `; skipped ${skipped}` : ""}`;
  io.err(
    tally.found
      ? `keyward: found ${tally.found} ${format.prefix} key${tally.found === 1 ? "" : "s"} in ${tally.filesWithKeys} file${tally.filesWithKeys === 1 ? "" : "s"} (${scanned}). Revoke each with \`keyward keys revoke\`.\n`
      : `keyward: no ${format.prefix} keys found (${scanned}).\n`,
  );
  return tally.found ? 1 : 0;
};

/** The format's heads, e.g. `["sk_live_", "sk_test_"]`. */
function heads(format: KeyFormat): string[] {
  return format.modes.length ? format.modes.map((m) => `${format.prefix}_${m}_`) : [`${format.prefix}_`];
}

/**
 * The format's scanning rules: the regex (with word boundaries), a gitleaks rule and a GitHub
 * secret scanning custom pattern (whose secret format has no boundaries: they go in the
 * "before/after secret" fields).
 */
export function patternRules(format: KeyFormat): {
  regex: string;
  keywords: string[];
  gitleaks: string;
  github: { secretFormat: string; beforeSecret: string; afterSecret: string };
} {
  const regex = format.pattern().source;
  const keywords = heads(format);
  const body = `${format.modes.length ? `(?:${format.modes.join("|")})_` : ""}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}`;
  const gitleaks = [
    "[[rules]]",
    `id = "keyward-${format.prefix}-api-key"`,
    `description = "keyward API key (${keywords.map((k) => `${k}…`).join(", ")})"`,
    `regex = '''${regex}'''`,
    `keywords = [${keywords.map((k) => JSON.stringify(k)).join(", ")}]`,
    "",
  ].join("\n");
  return {
    regex,
    keywords,
    gitleaks,
    github: { secretFormat: `${format.prefix}_${body}`, beforeSecret: "\\A|[^0-9A-Za-z_]", afterSecret: "\\z|[^0-9A-Za-z_]" },
  };
}

const pattern: FormatCommand = async (format, _args, flags, io) => {
  const rules = patternRules(format);
  if (flags.json) {
    io.out(JSON.stringify(rules, null, 2) + "\n");
    return 0;
  }
  io.out(`Regex for ${rules.keywords.map((k) => `${k}…`).join(", ")} keys (add the checksum check of \`keyward scan\` to rule out look-alikes):
${rules.regex}

gitleaks rule (append to .gitleaks.toml):
${rules.gitleaks}
GitHub secret scanning custom pattern (Settings → Code security → Secret scanning → New pattern; under "More options"):
  Secret format:  ${rules.github.secretFormat}
  Before secret:  ${rules.github.beforeSecret}
  After secret:   ${rules.github.afterSecret}
`);
  return 0;
};

/** Format commands by name. */
export const FORMAT_RUNNERS: ReadonlyMap<string, FormatCommand> = new Map([
  ["scan", scan],
  ["pattern", pattern],
]);
