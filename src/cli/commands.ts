/**
 * The `keyward keys …` commands over a KeyManager. Each writes its result through `io`: a
 * secret alone on stdout (create, rotate), data on stdout (list, show, usage), notes on stderr,
 * or one JSON document on stdout with `--json`.
 */
import { KeywardError } from "../core/errors.js";
import type { CreateKeyInput } from "../keys/inputs.js";
import type { KeyManager } from "../keys/key-manager.js";
import { keyJson } from "../http/key-json.js";
import { UsageError, type Values } from "./args.js";
import { describeKey, keyTable, usageLines } from "./format.js";

/** Where a command writes. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** A command body: the manager, positional arguments, option values, output. */
type Command = (keys: KeyManager, args: string[], values: Values, io: Io) => Promise<void>;

const str = (v: Values[string]): string | undefined => (typeof v === "string" ? v : undefined);
const list = (v: Values[string]): string[] => (Array.isArray(v) ? (v as string[]) : []);

/** A duration flag: `90d`, `12h`, plain seconds (`3600`, `0`), or `never`/`none` → null. */
function durationFlag(value: string | undefined, flag: string, allowNever: boolean, command: string): string | number | null | undefined {
  if (value === undefined) return undefined;
  if (allowNever && (value === "never" || value === "none")) return null;
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+(ms|s|m|h|d|w)$/.test(value)) return value;
  throw new UsageError(`--${flag}: "${value}" is not a duration; use e.g. 90d, 12h, 30m${allowNever ? " or never" : ""}`, `Run \`keyward keys ${command} --help\`.`);
}

function intFlag(value: string | undefined, flag: string, min: number, max: number, command: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${flag}: must be a whole number from ${min} to ${max}`, `Run \`keyward keys ${command} --help\`.`);
  return n;
}

const json = (io: Io, data: unknown) => io.out(JSON.stringify(data, null, 2) + "\n");

const create: Command = async (keys, _args, v, io) => {
  const name = str(v.name);
  if (name === undefined) throw new UsageError("--name is required", "Run `keyward keys create --help`.");
  const kind = str(v.kind);
  if (kind !== undefined && kind !== "user" && kind !== "project") throw new UsageError(`--kind: must be "user" or "project"`, "Run `keyward keys create --help`.");
  const projects = list(v.project);
  if (kind === "project" && projects.length !== 1) throw new UsageError("--kind project needs exactly one --project", "Run `keyward keys create --help`.");
  const scopes = list(v.scope);
  const input: CreateKeyInput = {
    name, ownerId: str(v.owner) ?? null, mode: str(v.mode), tier: str(v.tier),
    ...(kind === "project" ? { kind, project: projects[0]! } : { kind: "user" as const, projects }),
    ...(scopes.length ? { scopes } : {}),
  };
  const expires = durationFlag(str(v.expires), "expires", true, "create");
  if (expires !== undefined) input.expiresIn = expires;
  const { secret, key } = await keys.create(input);
  if (v.json) return json(io, { secret, key: keyJson(key) });
  io.out(`${secret}\n`);
  io.err(`Created ${describeKey(keyJson(key))}The secret above is shown once: store it in a secrets manager now.\n`);
};

const listKeys: Command = async (keys, _args, v, io) => {
  const status = str(v.status);
  if (status !== undefined && status !== "active" && status !== "expired" && status !== "revoked") throw new UsageError("--status: must be active, expired or revoked", "Run `keyward keys list --help`.");
  const mode = str(v.mode);
  if (mode !== undefined && !keys.modes.includes(mode)) throw new UsageError(`--mode: must be one of ${keys.modes.join(", ") || "(none: keys have no mode)"}`, "Run `keyward keys list --help`.");
  const page = await keys.list({ ownerId: str(v.owner), mode, status, projectId: str(v.project), limit: intFlag(str(v.limit), "limit", 1, 1000, "list") ?? 100 });
  const rows = page.keys.map(keyJson);
  if (v.json) return json(io, { keys: rows, next: page.next });
  if (rows.length === 0) return io.err("No keys.\n");
  io.out(keyTable(rows));
  if (page.next) io.err(`More keys exist; raise --limit to see them.\n`);
};

const show: Command = async (keys, [id], v, io) => {
  const key = await keys.get(id!);
  if (!key) throw new KeywardError("not_found", `No key with id ${id}.`);
  if (v.json) return json(io, { key: keyJson(key) });
  io.out(describeKey(keyJson(key)));
};

const rotate: Command = async (keys, [id], v, io) => {
  const overlap = durationFlag(str(v.overlap), "overlap", false, "rotate");
  const { secret, key, previous } = await keys.rotate(id!, overlap === undefined || overlap === null ? {} : { overlap });
  if (v.json) return json(io, { secret, key: keyJson(key), previous: keyJson(previous) });
  io.out(`${secret}\n`);
  const old = previous.revokedAt ? "was revoked now" : `keeps working until ${previous.expiresAt?.toISOString()}`;
  io.err(`Rotated ${previous.id} → ${key.id} (${key.start}…); the old key ${old}.\nThe secret above is shown once: store it in a secrets manager now.\n`);
};

const revoke: Command = async (keys, [id], v, io) => {
  const key = await keys.revoke(id!);
  if (v.json) return json(io, { key: keyJson(key) });
  io.err(`Revoked ${key.id} (${key.name}, ${key.start}…) at ${key.revokedAt?.toISOString()}.\n`);
};

const usage: Command = async (keys, [id], v, io) => {
  const days = intFlag(str(v.days), "days", 1, 90, "usage") ?? 30;
  const rows = await keys.usage(id!, days);
  if (v.json) return json(io, { usage: rows });
  io.out(usageLines(rows));
};

/** Command bodies by name (`keyward keys <name>`). */
export const RUNNERS: ReadonlyMap<string, Command> = new Map([
  ["create", create], ["list", listKeys], ["show", show], ["rotate", rotate], ["revoke", revoke], ["usage", usage],
]);
