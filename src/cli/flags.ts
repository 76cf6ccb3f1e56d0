/**
 * Flag values checked and typed before the database is opened, so a bad flag fails fast with
 * a one-line usage error (exit 2). Values the KeyManager owns (mode, scopes) are checked by it.
 */
import { durationMs } from "../core/duration.js";
import { UsageError, usageHint, type Values } from "./args.js";

/** The typed flags of any `keys` command. */
export interface Flags {
  json: boolean;
  name?: string;
  mode?: string;
  scopes: string[];
  /** `--expires`: a duration string, seconds, or null for never. */
  expires?: string | number | null;
  /** `--project` values (create: the allow-list or the project key's project; list: the filter). */
  projects: string[];
  owner?: string;
  kind?: "user" | "project";
  tier?: string;
  /** `--allow-ip` values: the key's IP allow-list (create). */
  allowIps: string[];
  /** `--credits`: the balance (create, update), or null to remove the credits (update: `none`). */
  credits?: number | null;
  /** `--credits-refill`: the refill, or null for none. */
  creditsRefill?: { amount: number; interval: string } | null;
  status?: "active" | "expired" | "revoked" | "disabled";
  limit?: number;
  overlap?: string | number;
  days?: number;
  /** `sweep --expiring`: the expiry warning thresholds. */
  expiring?: Array<string | number>;
  /** `sweep --idle-after`: a duration, or false for never. */
  idleAfter?: string | number | false;
  /** `sweep --idle-expiry`. */
  idleExpiry?: string | number;
}

const str = (v: Values[string]): string | undefined => (typeof v === "string" ? v : undefined);
const many = (v: Values[string]): string[] => (Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : []);

/**
 * Reads and checks the flags of `keys <command>`; throws {@link UsageError}.
 *
 * @example
 * readFlags("create", { name: "ci", scope: ["a:b"], expires: "90d" }); // { name: "ci", scopes: ["a:b"], expires: "90d", … }
 */
export function readFlags(command: string, v: Values): Flags {
  const usage = (message: string) => new UsageError(message, usageHint(command));
  const duration = (flag: string, allowNever: boolean): string | number | null | undefined => {
    const value = str(v[flag]);
    if (value === undefined) return undefined;
    if (allowNever && (value === "never" || value === "none")) return null;
    // The one duration grammar (core/duration): a bare number is seconds, as everywhere else.
    if (/^\d+$/.test(value) && durationMs(Number(value)) !== null) return Number(value);
    if (durationMs(value) !== null) return value;
    throw usage(`--${flag}: "${value}" is not a duration; use e.g. 90d, 12h, 30m${allowNever ? " or never" : ", or 0"}`);
  };
  const integer = (flag: string, min: number, max: number): number | undefined => {
    const value = str(v[flag]);
    if (value === undefined) return undefined;
    const n = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) throw usage(`--${flag}: must be a whole number from ${min} to ${max}`);
    return n;
  };
  const flags: Flags = {
    json: v.json === true,
    scopes: many(v.scope),
    projects: many(v.project),
    allowIps: many(v["allow-ip"]),
    name: str(v.name),
    mode: str(v.mode),
    owner: str(v.owner),
    tier: str(v.tier),
  };
  if (command === "create") {
    if (flags.name === undefined) throw usage("--name is required");
    const kind = str(v.kind);
    if (kind !== undefined && kind !== "user" && kind !== "project") throw usage('--kind: must be "user" or "project"');
    flags.kind = kind;
    if (kind === "project" && flags.projects.length !== 1) throw usage("--kind project needs exactly one --project");
    flags.expires = duration("expires", true);
  }
  if (command === "create" || command === "update") readCredits(command, v, flags, usage);
  if (command === "update" && flags.name === undefined && flags.scopes.length === 0 && flags.credits === undefined && flags.creditsRefill === undefined)
    throw usage("give at least one of --name, --scope, --credits, --credits-refill");
  if (command === "list") {
    const status = str(v.status);
    if (status !== undefined && status !== "active" && status !== "expired" && status !== "revoked" && status !== "disabled")
      throw usage("--status: must be active, expired, revoked or disabled");
    flags.status = status;
    flags.limit = integer("limit", 1, 1000);
  }
  if (command === "rotate") flags.overlap = duration("overlap", false) ?? undefined;
  if (command === "sweep") {
    const positive = (flag: string, text: string): string | number => {
      const ms = /^\d+$/.test(text) ? durationMs(Number(text)) : durationMs(text);
      if (ms === null || ms === 0) throw usage(`--${flag}: "${text}" is not a duration longer than zero; use e.g. 14d, 12h`);
      return /^\d+$/.test(text) ? Number(text) : text;
    };
    const expiring = str(v.expiring);
    if (expiring !== undefined) flags.expiring = expiring.split(",").map((t) => positive("expiring", t.trim()));
    const idleAfter = str(v["idle-after"]);
    if (idleAfter !== undefined) flags.idleAfter = idleAfter === "never" ? false : positive("idle-after", idleAfter);
    const idleExpiry = str(v["idle-expiry"]);
    if (idleExpiry !== undefined) flags.idleExpiry = positive("idle-expiry", idleExpiry);
  }
  if (command === "usage" || command === "scope-usage") flags.days = integer("days", 1, 90);
  return flags;
}

/** `--credits` and `--credits-refill` of create and update, checked for form (the KeyManager checks the amounts). */
function readCredits(command: string, v: Values, flags: Flags, usage: (message: string) => UsageError): void {
  const credits = str(v.credits);
  const refill = str(v["credits-refill"]);
  const removable = command === "update";
  if (credits !== undefined) {
    if (removable && credits === "none") flags.credits = null;
    else if (/^\d{1,16}$/.test(credits)) flags.credits = Number(credits);
    else throw usage(`--credits: must be a whole number of credits, e.g. 1000${removable ? ", or none" : ""}`);
  }
  if (refill !== undefined) {
    const match = /^(\d{1,16})\/([0-9a-z]{1,12})$/.exec(refill);
    if (refill === "none") flags.creditsRefill = null;
    else if (match) flags.creditsRefill = { amount: Number(match[1]), interval: match[2]! };
    else throw usage(`--credits-refill: "${refill.slice(0, 40)}" is not AMOUNT/INTERVAL; use e.g. 1000/1d, 500/1mo or none`);
  }
  if (flags.credits === null && flags.creditsRefill !== undefined) throw usage("--credits none removes the credits; leave out --credits-refill");
  if (flags.credits === undefined && flags.creditsRefill === null) throw usage("--credits-refill none needs --credits N, the new balance");
}

/**
 * The `credits` input of `--credits` and `--credits-refill`: undefined when neither was given, null
 * to remove them; the balance defaults to the refill amount.
 *
 * @example
 * creditsInput({ credits: undefined, creditsRefill: { amount: 1000, interval: "1d" } }); // { remaining: 1000, refill: { amount: 1000, interval: "1d" } }
 */
export function creditsInput(
  flags: Pick<Flags, "credits" | "creditsRefill">,
): { remaining: number; refill: { amount: number; interval: string } | null } | null | undefined {
  const { credits, creditsRefill } = flags;
  if (credits === null) return null;
  if (credits === undefined && creditsRefill == null) return undefined;
  return { remaining: credits ?? creditsRefill!.amount, refill: creditsRefill ?? null };
}
