/**
 * The `keyward keys …` commands over a KeyManager. Data goes to stdout, diagnostics to stderr:
 * a new secret alone on stdout (create, rotate) so it pipes cleanly, with its notes on stderr; the
 * key table (list), a key's details (show) and usage lines on stdout; confirmations (revoke, disable, enable) and
 * notes such as "No keys." on stderr. With `--json`, one JSON document on stdout.
 */
import { KeywardError } from "../core/errors.js";
import type { CreateKeyInput, UpdateKeyInput } from "../keys/inputs.js";
import type { KeyManager } from "../keys/key-manager.js";
import { keyJson } from "../http/key-json.js";
import { UsageError, usageHint } from "./args.js";
import { creditsInput, type Flags } from "./flags.js";
import { describeKey, keyTable, noticeLines, scopeUsageLines, usageLines } from "./format.js";

/**
 * Where a command writes: `out` for data (secrets, tables, details, JSON: stdout), `err` for diagnostics (stderr).
 *
 * @example
 * const io: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
 * await runCli(["keys", "list"], io);
 */
export interface Io {
  /** Writes to standard output (secrets and JSON only). */
  out(text: string): void;
  /** Writes to standard error (tables, messages). */
  err(text: string): void;
  /** Standard input for `keyward scan` (default: the process's stdin when piped). */
  stdin?: AsyncIterable<Buffer | string>;
}

/** A command body: the manager, positional arguments, checked flags, output. */
type Command = (keys: KeyManager, args: string[], flags: Flags, io: Io) => Promise<void>;

const json = (io: Io, data: unknown) => io.out(JSON.stringify(data, null, 2) + "\n");

const create: Command = async (keys, _args, f, io) => {
  const input: CreateKeyInput = {
    name: f.name!,
    ownerId: f.owner ?? null,
    mode: f.mode,
    tier: f.tier,
    ...(f.kind === "project" ? { kind: "project" as const, project: f.projects[0]! } : { kind: "user" as const, projects: f.projects }),
    ...(f.scopes.length ? { scopes: f.scopes } : {}),
    ...(f.expires !== undefined ? { expiresIn: f.expires } : {}),
    ...(f.allowIps.length ? { allowedIps: f.allowIps } : {}),
    ...(f.credits !== undefined || f.creditsRefill !== undefined ? { credits: creditsInput(f) } : {}),
  };
  const { secret, key } = await keys.create(input);
  if (f.json) return json(io, { secret, key: keyJson(key) });
  io.out(`${secret}\n`);
  io.err(`Created ${describeKey(keyJson(key))}The secret above is shown once: store it in a secrets manager now.\n`);
};

/** `update`: the changed key's details (stdout), or its JSON. */
const update: Command = async (keys, [id], f, io) => {
  const credits = creditsInput(f);
  const patch: UpdateKeyInput = {
    ...(f.name !== undefined ? { name: f.name } : {}),
    ...(f.scopes.length ? { scopes: f.scopes } : {}),
    ...(credits !== undefined ? { credits } : {}),
  };
  const key = await keys.update(id!, patch);
  if (f.json) return json(io, { key: keyJson(key) });
  io.out(describeKey(keyJson(key)));
};

const listKeys: Command = async (keys, _args, f, io) => {
  const modeError = f.mode === undefined ? null : keys.format.modeError(f.mode);
  if (modeError !== null) throw new UsageError(`--mode: ${modeError}`, usageHint("list"));
  const page = await keys.list({ ownerId: f.owner, mode: f.mode, status: f.status, projectId: f.projects[0], limit: f.limit ?? 100 });
  const rows = page.keys.map(keyJson);
  if (f.json) return json(io, { keys: rows, next: page.next });
  if (rows.length === 0) return io.err("No keys.\n");
  io.out(keyTable(rows));
  if (page.next) io.err(`More keys exist; raise --limit to see them.\n`);
};

const show: Command = async (keys, [id], f, io) => {
  const key = await keys.get(id!);
  if (!key) throw new KeywardError("not_found", `No key with id ${id}.`);
  if (f.json) return json(io, { key: keyJson(key) });
  io.out(describeKey(keyJson(key)));
};

const rotate: Command = async (keys, [id], f, io) => {
  const { secret, key, previous } = await keys.rotate(id!, f.overlap === undefined ? {} : { overlap: f.overlap });
  if (f.json) return json(io, { secret, key: keyJson(key), previous: keyJson(previous) });
  io.out(`${secret}\n`);
  const old = previous.revokedAt ? "was revoked now" : `keeps working until ${previous.expiresAt?.toISOString()}`;
  io.err(`Rotated ${previous.id} → ${key.id} (${key.start}…); the old key ${old}.\nThe secret above is shown once: store it in a secrets manager now.\n`);
};

const revoke: Command = async (keys, [id], f, io) => {
  const key = await keys.revoke(id!);
  if (f.json) return json(io, { key: keyJson(key) });
  io.err(`Revoked ${key.id} (${key.name}, ${key.start}…) at ${key.revokedAt?.toISOString()}.\n`);
};

/** `disable` / `enable`: pause or resume a key; a confirmation on stderr. */
const pause =
  (disable: boolean): Command =>
  async (keys, [id], f, io) => {
    const key = disable ? await keys.disable(id!) : await keys.enable(id!);
    if (f.json) return json(io, { key: keyJson(key) });
    io.err(`${disable ? "Disabled" : "Enabled"} ${key.id} (${key.name}, ${key.start}…); status: ${key.status}.\n`);
  };

const usage: Command = async (keys, [id], f, io) => {
  const rows = await keys.usage(id!, f.days ?? 30);
  if (f.json) return json(io, { usage: rows });
  io.out(usageLines(rows));
};

/** `sweep`: one line per notice sent on stdout, a summary on stderr. */
const sweep: Command = async (keys, _args, f, io) => {
  const report = await keys.sweep();
  if (f.json) return json(io, report);
  io.out(noticeLines(report.notices));
  const expired = report.expired.length ? ` Expired ${report.expired.length} idle key(s): ${report.expired.join(", ")}.` : "";
  io.err(`Swept ${report.scanned} active key(s): ${report.notices.length} notice(s) sent.${expired}\n`);
};

/** `scope-usage`: the scopes used (with counts) and the never-used ones. */
const scopeUsage: Command = async (keys, [id], f, io) => {
  const { used, unused } = await keys.scopeUsage(id!, f.days ?? 30);
  if (f.json) return json(io, { used: used.map((u) => ({ ...u, lastUsedAt: u.lastUsedAt?.toISOString() ?? null })), unused });
  io.out(scopeUsageLines(used, unused));
};

/** Command bodies by name (`keyward keys <name>`). */
export const RUNNERS: ReadonlyMap<string, Command> = new Map([
  ["create", create],
  ["update", update],
  ["list", listKeys],
  ["show", show],
  ["rotate", rotate],
  ["revoke", revoke],
  ["disable", pause(true)],
  ["enable", pause(false)],
  ["usage", usage],
  ["sweep", sweep],
  ["scope-usage", scopeUsage],
]);
