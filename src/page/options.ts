/**
 * keysPage options: the public `KeysPageOptions` and the resolved `PageConfig`, validated with zod
 * once at construction so a misconfigured page fails at start-up.
 */
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { durationMs, type Duration } from "../core/duration.js";
import { NAME_PATTERN } from "../core/key-format.js";
import { fn, parseOptions, scopeOption } from "../core/options.js";
import type { MaybePromise } from "../core/types.js";
import { KeyManager } from "../keys/key-manager.js";
import { PROJECT_ID_PATTERN } from "../keys/projects.js";

/**
 * A scope offered as a checkbox: its name, or the name with a short description.
 *
 * @example
 * const scopes: PageScope[] = ["notes:read", { scope: "notes:write", description: "Create and edit notes" }];
 */
export type PageScope =
  | string
  | {
      /** The scope. */ scope: string;
      /** Shown next to its checkbox. */ description?: string;
    };
/**
 * A project offered in the allow-list: its id, or the id with a display name.
 *
 * @example
 * const projects: PageProject[] = ["proj_1", { id: "proj_2", name: "Billing" }];
 */
export type PageProject =
  | string
  | {
      /** The project id. */ id: string;
      /** Shown instead of the id. */ name?: string;
    };

/**
 * Options for {@link keysPage}.
 *
 * @example
 * const options: KeysPageOptions = { router: "/api/keys", scopes: ["notes:read", { scope: "notes:write", description: "Create and edit notes" }], modes: ["live", "test"], title: "Developer keys" };
 */
export interface KeysPageOptions {
  /** Path where `keysRouter` is mounted on the same origin, e.g. `"/api/keys"`. Defaults to `"/api/keys"`. */
  router?: string;
  /** Takes the scope catalogue and modes from this manager when `scopes` / `modes` are not given. Defaults to none. */
  keys?: KeyManager;
  /** Scopes offered as checkboxes (a list, or a function of the request). Defaults to `keys.scopeCatalogue`, else none (keys get the default scopes). */
  scopes?: PageScope[] | ((req: IncomingMessage) => MaybePromise<PageScope[]>);
  /** Modes offered (first is preselected); `[]` hides modes. Defaults to `keys.modes`, else `["live", "test"]`. */
  modes?: string[];
  /** Projects offered for the allow-list (a list, or a function of the request). Defaults to none (no allow-list control). */
  projects?: PageProject[] | ((req: IncomingMessage) => MaybePromise<PageProject[]>);
  /** Heading and document title. Defaults to `"API keys"`. */
  title?: string;
  /** Lifetimes offered at creation (first is preselected); `null` is "Never". Defaults to `["30d", "60d", "90d", null]`. */
  expiries?: Array<Duration | null>;
  /** Where the "sign in" link points when the session is missing. Defaults to none (no link). */
  loginUrl?: string;
}

/** A scope or project option as the page renders it. */
export interface Choice {
  value: string;
  label: string;
  description?: string;
}

/** Options after validation and defaults. */
export interface PageConfig {
  router: string;
  title: string;
  modes: readonly string[];
  expiries: ReadonlyArray<{ value: Duration | null; label: string }>;
  loginUrl: string | null;
  scopes: (req: IncomingMessage) => MaybePromise<PageScope[]>;
  projects: ((req: IncomingMessage) => MaybePromise<PageProject[]>) | null;
}

const sameOriginPath = z
  .string()
  .max(512)
  .regex(/^\/(?!\/)[^\s"'<>\\]*$/, 'must be a path on this origin starting with "/", e.g. "/api/keys"');
const scopeItem = z.union([scopeOption, z.strictObject({ scope: scopeOption, description: z.string().max(200).optional() })]);
const projectId = z.string().regex(PROJECT_ID_PATTERN, "must be a project id");
const projectItem = z.union([projectId, z.strictObject({ id: projectId, name: z.string().max(128).optional() })]);
const expiry = z
  .union([z.string(), z.number(), z.null()])
  .refine((v) => v === null || durationMs(v) !== null, 'must be a duration such as "30d" or null for "Never"');

const schema = z.strictObject({
  router: sameOriginPath.default("/api/keys"),
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }).optional(),
  scopes: z.union([z.array(scopeItem).max(1024), fn<(req: IncomingMessage) => MaybePromise<PageScope[]>>()]).optional(),
  modes: z.array(z.string().regex(NAME_PATTERN, "each mode is 1-16 characters from [a-z0-9]")).max(8).optional(),
  projects: z.union([z.array(projectItem).max(1024), fn<(req: IncomingMessage) => MaybePromise<PageProject[]>>()]).optional(),
  title: z.string().trim().min(1, "must not be empty").max(120).default("API keys"),
  expiries: z.array(expiry).min(1, "offer at least one lifetime").max(12).default(["30d", "60d", "90d", null]),
  loginUrl: z
    .string()
    .max(2048)
    .regex(/^(\/(?!\/)|https?:\/\/)\S*$/, 'must be a path ("/login") or an http(s) URL')
    .optional(),
});

const UNIT_WORDS: Record<string, string> = { ms: "millisecond", s: "second", m: "minute", h: "hour", d: "day", w: "week" };

/** "30d" → "30 days", 3600 → "1 hour", null → "Never". */
export function expiryLabel(value: Duration | null): string {
  if (value === null) return "Never";
  const match = typeof value === "string" ? /^(\d+)(ms|s|m|h|d|w)$/.exec(value.trim()) : null;
  const [n, unit] = match ? [Number(match[1]), UNIT_WORDS[match[2]!]!] : [Number(value), "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** Validates options and applies defaults; throws a KeywardConfigError naming a wrong option. */
export function resolvePageOptions(options: KeysPageOptions): PageConfig {
  const o = parseOptions(schema, options, "keysPage");
  const staticScopes: PageScope[] = Array.isArray(o.scopes) ? o.scopes : [...(o.keys?.scopeCatalogue ?? [])];
  const staticProjects: PageProject[] | null = Array.isArray(o.projects) ? o.projects : null;
  return {
    router: o.router.replace(/\/+$/, "") || "/",
    title: o.title,
    modes: o.modes ?? o.keys?.modes ?? ["live", "test"],
    expiries: o.expiries.map((value) => ({ value, label: expiryLabel(value) })),
    loginUrl: o.loginUrl ?? null,
    scopes: typeof o.scopes === "function" ? o.scopes : () => staticScopes,
    projects: typeof o.projects === "function" ? o.projects : staticProjects ? () => staticProjects : null,
  };
}

/** Scope entries as checkbox choices (duplicates dropped). */
export function scopeChoices(list: readonly PageScope[]): Choice[] {
  return uniqueChoices(list, (item) => {
    if (typeof item === "string") return { value: item, label: item };
    return item.description ? { value: item.scope, label: item.scope, description: item.description } : { value: item.scope, label: item.scope };
  });
}

/** Project entries as checkbox choices (duplicates dropped). */
export function projectChoices(list: readonly PageProject[]): Choice[] {
  return uniqueChoices(list, (item) => (typeof item === "string" ? { value: item, label: item } : { value: item.id, label: item.name || item.id }));
}

/** `list` mapped to choices, keeping the first of each value. */
function uniqueChoices<T>(list: readonly T[], toChoice: (item: T) => Choice): Choice[] {
  const seen = new Set<string>();
  const out: Choice[] = [];
  for (const item of list) {
    const choice = toChoice(item);
    if (seen.has(choice.value)) continue;
    seen.add(choice.value);
    out.push(choice);
  }
  return out;
}
