/**
 * The `keyward` command table: each command's options (for `node:util` parseArgs), its
 * positional arguments and its help text. Pure data; no I/O.
 */
import type { ParseArgsConfig } from "node:util";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec = {
  db: { type: "string" },
  prefix: { type: "string" },
  modes: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** One `keyward keys <name>` command. */
export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Positional argument names (each required), e.g. `["ID"]`. */
  readonly positionals: readonly string[];
  readonly options: OptionSpec;
  /** Usage line and option descriptions shown by `--help`. */
  readonly help: string;
  /** True for a command over the key format alone (`scan`, `keys pattern`): it opens no key manager and needs no database. */
  readonly formatOnly?: boolean;
}

const GLOBAL_HELP = `Global options:
  --db FILE        SQLite key database (default: $KEYWARD_DB or ./keyward.db)
  --prefix P       key prefix (default: $KEYWARD_PREFIX, else the one the database records, else sk)
  --modes LIST     comma-separated modes, or "none" (default: $KEYWARD_MODES, else the database's, else live,test)
                   The database records the format of its first user; a --prefix or --modes that
                   differs from it is refused (exit 2), since such keys would not authenticate.
  --json           machine-readable JSON on stdout
  -h, --help       show help`;

const command = (name: string, summary: string, positionals: string[], options: OptionSpec, usage: string, details: string): CommandSpec => ({
  name,
  summary,
  positionals,
  options,
  help: `Usage: keyward keys ${usage}\n\n${summary}\n\n${details ? `Options:\n${details}\n\n` : ""}${GLOBAL_HELP}\n`,
});

/** The `keys` commands by name. */
export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  [
    command(
      "create",
      "Create a key. Prints the secret alone on stdout (shown once); details go to stderr.",
      [],
      {
        name: { type: "string" },
        mode: { type: "string" },
        scope: { type: "string", multiple: true },
        expires: { type: "string" },
        project: { type: "string", multiple: true },
        owner: { type: "string" },
        kind: { type: "string" },
        tier: { type: "string" },
        "allow-ip": { type: "string", multiple: true },
        credits: { type: "string" },
        "credits-refill": { type: "string" },
      },
      "create --name NAME [--mode MODE] [--scope S]... [--expires 90d] [--project P]... [--allow-ip CIDR]... [--owner U] [--kind user|project] [--tier T] [--credits N] [--credits-refill N/1d] [--json]",
      `  --name NAME      label, e.g. ci-deploys (required)
  --mode MODE      one of the modes (default: the first, e.g. live)
  --scope S        a granted scope such as models:read; repeat for more (default: full access)
  --expires D      lifetime such as 30d, 90d, 12h, a number of seconds, or "never" (default: never)
  --project P      project allow-list entry (user keys; repeatable), or the project of a --kind project key
  --allow-ip CIDR  client address or range the key may be used from, e.g. 203.0.113.0/24 or
                   2001:db8::/32 (repeatable; default: any address)
  --owner U        owner user id (default: none)
  --kind K         user (default) or project
  --tier T         tier name, when the server defines tiers
  --credits N      credits the key may spend, 1 per request (more on routes with a cost); a whole
                   number up to 1000000000000 (default: no credit limit, or the refill amount)
  --credits-refill AMOUNT/INTERVAL
                   reset the balance to AMOUNT every INTERVAL: 1000/1d (00:00 UTC), 500/1mo (the
                   1st, UTC), 100/1h (default: never)`,
    ),
    command(
      "update",
      "Change a key's name, scopes or credits.",
      ["ID"],
      {
        name: { type: "string" },
        scope: { type: "string", multiple: true },
        credits: { type: "string" },
        "credits-refill": { type: "string" },
      },
      "update ID [--name NAME] [--scope S]... [--credits N|none] [--credits-refill N/1d|none] [--json]",
      `  --name NAME      a new label
  --scope S        the key's scopes from now on (repeat for more; replaces the old list)
  --credits N      a new balance of N credits from now on (what was spent before no longer counts);
                   none removes the key's credits (no credit limit)
  --credits-refill AMOUNT/INTERVAL
                   with the new balance, reset it to AMOUNT every INTERVAL (1000/1d, 500/1mo);
                   none for never (default: never). Alone, the balance starts at AMOUNT`,
    ),
    command(
      "list",
      "List keys, newest first.",
      [],
      {
        owner: { type: "string" },
        mode: { type: "string" },
        status: { type: "string" },
        project: { type: "string" },
        limit: { type: "string" },
      },
      "list [--owner U] [--mode MODE] [--status active|expired|revoked|disabled] [--project P] [--limit N] [--json]",
      `  --owner U        only keys of this owner
  --mode MODE      only keys of this mode
  --status S       active, expired, revoked or disabled
  --project P      only keys that may act on this project
  --limit N        at most N keys (default 100, at most 1000)`,
    ),
    command("show", "Show one key.", ["ID"], {}, "show ID [--json]", ""),
    command(
      "rotate",
      "Issue a successor key; the old one keeps working during the overlap. Prints the new secret alone on stdout.",
      ["ID"],
      {
        overlap: { type: "string" },
      },
      "rotate ID [--overlap 24h] [--json]",
      `  --overlap D      how long the old key keeps working, e.g. 24h, 7d; 0 revokes it now (default 24h)`,
    ),
    command("revoke", "Revoke a key now and for good (repeating is a no-op). Takes its id or the secret itself.", ["ID"], {}, "revoke ID|SECRET [--json]", ""),
    command("disable", "Pause a key: refused with 401 key_disabled until enabled again (reversible, unlike revoke).", ["ID"], {}, "disable ID [--json]", ""),
    command("enable", "Resume a key paused with keys disable.", ["ID"], {}, "enable ID [--json]", ""),
    command(
      "usage",
      "Requests per UTC day, oldest first.",
      ["ID"],
      { days: { type: "string" } },
      "usage ID [--days 30] [--json]",
      `  --days N         how many days, 1-90 (default 30)`,
    ),
    command(
      "sweep",
      "Send the lifecycle notices due now (key.expiring, key.idle) and expire idle keys with --idle-expiry. Prints each notice sent.",
      [],
      {
        expiring: { type: "string" },
        "idle-after": { type: "string" },
        "idle-expiry": { type: "string" },
      },
      "sweep [--expiring 14d,1d] [--idle-after 30d|never] [--idle-expiry 90d] [--json]",
      `  --expiring LIST  how long before a key's expiry to warn, comma-separated (default 14d,1d)
  --idle-after D   report keys unused this long, or never (default 30d)
  --idle-expiry D  expire keys unused this long, each warned on an earlier sweep (default: never)
  Each notice is sent once: the database records it, so a later sweep (or an app's own
  sweepInterval on the same database) does not send it again.`,
    ),
    command(
      "scope-usage",
      "The scopes the key's requests were admitted for (most used first) and its scopes never used.",
      ["ID"],
      { days: { type: "string" } },
      "scope-usage ID [--days 30] [--json]",
      `  --days N         how many days, 1-90 (default 30)`,
    ),
    {
      ...command(
        "pattern",
        "Print the regex matching this app's keys, with a gitleaks rule and a GitHub secret scanning custom pattern.",
        [],
        {},
        "pattern [--json]",
        `  --json           one JSON object: regex, keywords, gitleaks (the TOML rule), github (secretFormat,
                   beforeSecret, afterSecret)`,
      ),
      formatOnly: true,
    },
  ].map((c) => [c.name, c]),
);

/** `keyward scan [PATH]...`: finds leaked keys of the app's format in files and stdin. */
export const SCAN: CommandSpec = {
  name: "scan",
  summary: "Find keys of this app's format in files, directories or stdin; exit 1 when any is found.",
  positionals: [],
  options: {},
  formatOnly: true,
  help: `Usage: keyward scan [PATH]... [--json]

Find keys of this app's format (prefix and modes as for the keys commands: flags, environment,
else the database's recorded format if it exists, else sk with live,test) in files and
directories (recursively, skipping .git, node_modules, binary files and files over 10 MB) or in
standard input ("-", or no PATH with piped input; no PATH otherwise scans the current directory).
A regex finds candidates and the checksum confirms them, so look-alikes are not reported.

Each key is printed as FILE:LINE:COLUMN: <prefix>_<mode>_<4 characters>… (its public start, never
the secret); columns count bytes. A summary goes to stderr.

Options:
  --json           one JSON object per line (JSON Lines) per key found:
                   {"file","line","column","mode","start"}

Exit codes: 0 no key found, 1 keys found (or a failure), 2 usage error (e.g. no such path).

${GLOBAL_HELP}
`,
};

/** `keyward --help`. */
export const TOP_HELP = `Usage: keyward keys <command> [options]
       keyward scan [PATH]... [options]

Manage API keys in the keyward SQLite database (the one apiKeyAuth() uses by default).

Commands:
${[...COMMANDS.values()].map((c) => `  keys ${c.name.padEnd(11)} ${c.summary.split(". ")[0]!.replace(/\.$/, "")}`).join("\n")}
  scan [PATH]...   ${SCAN.summary.split("; ")[0]}

Run \`keyward keys <command> --help\` for a command's options.

${GLOBAL_HELP}

Exit codes: 0 success, 1 failure (e.g. no such key; also a bare \`keyward\`, which prints this help
like git and npm do), 2 usage error (bad flags or values).
`;
