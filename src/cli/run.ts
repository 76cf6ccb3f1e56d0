/**
 * The CLI driver: parses the command line, opens the SQLite database with the key format it
 * records (or the one given by flags, environment or preset, which must then match it), runs the
 * command and maps the outcome to an exit code (0 ok, 1 failure, 2 usage error).
 */
import { existsSync } from "node:fs";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import type { KeyFormat } from "../core/key-format.js";
import type { KeyFormatRecord } from "../core/types.js";
import type { KeyManager } from "../keys/key-manager.js";
import type { KeyManagerOptions } from "../keys/options.js";
import { parseCommandLine, usageHint, UsageError, type Values } from "./args.js";
import type { Io } from "./commands.js";
import { type Flags, readFlags } from "./flags.js";
import { TOP_HELP } from "./spec.js";

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Settings an app presets when it ships keyward's CLI under its own name (a two-line `bin` file):
 * its key format, database and command name. Command-line flags still win.
 *
 * @example
 * // bin/acme-keys.js, listed as "bin": { "acme-keys": "bin/acme-keys.js" } in the app's package.json
 * #!/usr/bin/env node
 * require("keyward").runCli(process.argv.slice(2), undefined, { name: "acme-keys", prefix: "acme", modes: ["test", "live"], db: "acme.db" }).then((code) => { process.exitCode = code; });
 */
export interface CliPreset {
  /** The command's name in help and messages, e.g. `"acme-keys"`. Defaults to `"keyward"`. */
  name?: string;
  /** The key prefix (as `--prefix`). Defaults to `$KEYWARD_PREFIX` or `sk`. */
  prefix?: string;
  /** The modes (as `--modes`; `[]` for none). Defaults to `$KEYWARD_MODES` or live,test. */
  modes?: string[];
  /** The SQLite file (as `--db`). Defaults to `$KEYWARD_DB` or `./keyward.db`. */
  db?: string;
  /** The owner of keys made by `keys create` without `--owner`, e.g. the signed-in account. Defaults to none. */
  owner?: string;
}

/** The process's own stdout and stderr. */
const STDIO: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

/** A format setting given on the command line, in the environment or by the preset, and where from. */
interface Given<T> {
  value: T;
  from: string;
}

/**
 * Opens the database; the heavy modules (zod, better-sqlite3) load only here, so help and usage
 * errors stay fast. Prefix and modes not given by `--prefix`/`--modes`, the preset or
 * `KEYWARD_PREFIX`/`KEYWARD_MODES` come from the format the database records (a fresh database gets
 * the CLI's format recorded by the KeyManager); a given one that differs is a usage error.
 */
async function openManager(values: Values, create: boolean, preset: CliPreset, command: string, extra: Partial<KeyManagerOptions>): Promise<KeyManager> {
  const [{ defaultDatabasePath }, { KeyManager }, { SqliteStore }] = await Promise.all([
    import("../keys/default-manager.js"),
    import("../keys/key-manager.js"),
    import("../stores/sqlite.js"),
  ]);
  const db = typeof values.db === "string" ? values.db : (preset.db ?? defaultDatabasePath());
  if (!create && !existsSync(db)) throw new KeywardError("not_found", `No key database at ${db}; pass --db or set KEYWARD_DB.`);
  const store = new SqliteStore(db);
  try {
    const { prefix, modes } = await resolveFormat(values, preset, command, db, store.keyFormat());
    return new KeyManager({ ...extra, store, prefix, modes, cache: false, usage: false });
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * The key format for a command that needs no key manager (`scan`, `keys pattern`): resolved as
 * for the others, with the database's recorded format read only when the database exists.
 */
async function openFormat(values: Values, preset: CliPreset, command: string): Promise<KeyFormat> {
  const [{ defaultDatabasePath }, { SqliteStore }, { KeyFormat }] = await Promise.all([
    import("../keys/default-manager.js"),
    import("../stores/sqlite.js"),
    import("../core/key-format.js"),
  ]);
  const db = typeof values.db === "string" ? values.db : (preset.db ?? defaultDatabasePath());
  let recorded: KeyFormatRecord | null = null;
  if (existsSync(db)) {
    const store = new SqliteStore(db);
    try {
      recorded = store.keyFormat();
    } finally {
      store.close();
    }
  }
  return new KeyFormat(await resolveFormat(values, preset, command, db, recorded));
}

/**
 * Prefix and modes: `--prefix`/`--modes`, the preset or `KEYWARD_PREFIX`/`KEYWARD_MODES`, else
 * the format the database records, else `sk` with live,test. A given one that differs from the
 * recorded one is a usage error.
 */
async function resolveFormat(values: Values, preset: CliPreset, command: string, db: string, recorded: KeyFormatRecord | null): Promise<KeyFormatRecord> {
  const [{ parseModes }, { describeKeyFormat, sameKeyFormat }, { NAME_PATTERN }] = await Promise.all([
    import("../keys/default-manager.js"),
    import("../keys/format-claim.js"),
    import("../core/key-format.js"),
  ]);
  const env = process.env;
  const givenPrefix: Given<string> | null =
    typeof values.prefix === "string"
      ? { value: values.prefix, from: "--prefix" }
      : preset.prefix !== undefined
        ? { value: preset.prefix, from: "this command's preset" }
        : env.KEYWARD_PREFIX
          ? { value: env.KEYWARD_PREFIX, from: "KEYWARD_PREFIX" }
          : null;
  const givenModes: Given<string[]> | null =
    typeof values.modes === "string"
      ? { value: parseModes(values.modes), from: "--modes" }
      : preset.modes !== undefined
        ? { value: preset.modes, from: "this command's preset" }
        : env.KEYWARD_MODES
          ? { value: parseModes(env.KEYWARD_MODES), from: "KEYWARD_MODES" }
          : null;
  const prefix = givenPrefix?.value ?? recorded?.prefix ?? "sk";
  const modes = givenModes?.value ?? recorded?.modes ?? ["live", "test"];
  const wellFormed = NAME_PATTERN.test(prefix) && modes.every((m) => NAME_PATTERN.test(m)); // else the KeyManager names the bad option
  if (recorded && wellFormed && !sameKeyFormat(recorded, { prefix, modes })) {
    const sources = [
      ...(prefix !== recorded.prefix && givenPrefix ? [givenPrefix.from] : []),
      ...(!sameKeyFormat({ prefix, modes: recorded.modes }, { prefix, modes }) && givenModes ? [givenModes.from] : []),
    ];
    const flags = [...new Set(sources)].join(" and ");
    throw new UsageError(
      `the database ${db} holds keys of ${describeKeyFormat(recorded)}, not ${describeKeyFormat({ prefix, modes })} (from ${flags}); ` +
        `keys made so would be refused by the app using this database. Leave out ${flags} to use the database's format, or pass --prefix ${recorded.prefix} --modes ${recorded.modes.join(",") || "none"}`,
      usageHint(command),
    );
  }
  return { prefix, modes };
}

/**
 * Runs `keyward` with `argv` (without `node` and the script) and returns the exit code. `io`
 * defaults to the process's stdout/stderr; `preset` lets an app ship the CLI under its own name
 * with its key format preset (see {@link CliPreset}).
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 * // an app's own command, so `acme-keys keys create --name ci --mode live --scope models:read --expires 90d` works:
 * process.exitCode = await runCli(process.argv.slice(2), undefined, { name: "acme-keys", prefix: "acme", modes: ["test", "live"] });
 */
export async function runCli(argv: string[], io: Io = STDIO, preset: CliPreset = {}): Promise<number> {
  let json = false;
  let command: string | undefined;
  let keys: KeyManager | null = null;
  const name = preset.name ?? "keyward";
  const named = (text: string) =>
    name === "keyward"
      ? text
      : text
          .replace(/\bkeyward keys\b/g, `${name} keys`)
          .replace(/`keyward --help`/g, `\`${name} --help\``)
          .replace(/^Usage: keyward /m, `Usage: ${name} `);
  try {
    const invocation = parseCommandLine(argv);
    if (invocation.kind === "help") {
      // A bare `keyward` prints the help on stdout and exits 1, as git and npm do.
      io.out(named(invocation.command ? invocation.command.help : TOP_HELP));
      return invocation.asked ? EXIT.ok : EXIT.failure;
    }
    command = invocation.command.name;
    json = invocation.values.json === true;
    const flags = readFlags(invocation.command.name, invocation.values);
    if (invocation.command.formatOnly) {
      const format = await openFormat(invocation.values, preset, command);
      const { FORMAT_RUNNERS } = await import("./scan.js");
      return await FORMAT_RUNNERS.get(command)!(format, invocation.args, flags, io);
    }
    if (flags.owner === undefined && preset.owner !== undefined && invocation.command.name === "create") flags.owner = preset.owner;
    keys = await openManager(invocation.values, invocation.command.name === "create", preset, command, sweepOptions(flags));
    const { RUNNERS } = await import("./commands.js");
    await RUNNERS.get(invocation.command.name)!(keys, invocation.args, flags, io);
    return EXIT.ok;
  } catch (error) {
    return report(error, { out: io.out, err: (text) => io.err(named(text).replace(/^keyward: /, `${name}: `)) }, json, command);
  } finally {
    await keys?.close().catch(() => undefined);
  }
}

/** The KeyManager options `keys sweep` sets from its flags (none for other commands). */
function sweepOptions(flags: Flags): Partial<KeyManagerOptions> {
  return {
    ...(flags.expiring ? { expiringThresholds: flags.expiring } : {}),
    ...(flags.idleAfter !== undefined ? { idleAfter: flags.idleAfter } : {}),
    ...(flags.idleExpiry !== undefined ? { idleExpiry: flags.idleExpiry } : {}),
  };
}

/** Writes the error (and, for a usage error, the hint line) to stderr; returns the exit code. */
function report(error: unknown, io: Io, json: boolean, command: string | undefined): number {
  if (error instanceof UsageError) {
    io.err(`keyward: ${error.message}.\n${error.hint}\n`);
    return EXIT.usage;
  }
  if (error instanceof KeywardConfigError) {
    io.err(`keyward: ${error.message.replace(/^KeyManager\./, "--")}\n${usageHint(command)}\n`);
    return EXIT.usage;
  }
  if (error instanceof KeywardError) {
    if (json) io.out(JSON.stringify({ error: error.toJSON() }) + "\n");
    const usage = error.code === "validation_failed";
    const message = usage && error.details?.length ? error.details.map((d) => `${flagFor(d.path)}: ${d.message}`).join("; ") : error.message;
    io.err(`keyward: ${message}\n${usage ? usageHint(command) + "\n" : ""}`);
    return usage ? EXIT.usage : EXIT.failure;
  }
  io.err(`keyward: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT.failure;
}

const FLAGS: Record<string, string> = {
  name: "--name",
  scopes: "--scope",
  expiresIn: "--expires",
  mode: "--mode",
  projects: "--project",
  project: "--project",
  ownerId: "--owner",
  tier: "--tier",
  kind: "--kind",
  overlap: "--overlap",
  allowedIps: "--allow-ip",
  credits: "--credits",
};

/** The flag a validation detail's path came from (`scopes.1` → `--scope`, `credits.refill.amount` → `--credits-refill`). */
function flagFor(path: string): string {
  if (path.startsWith("credits.refill")) return "--credits-refill";
  return FLAGS[path.split(".")[0]!] ?? path;
}
