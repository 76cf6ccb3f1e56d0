/**
 * Command-line parsing with `node:util` parseArgs: a lenient pass finds the command, then a
 * strict pass with that command's options. Every mistake becomes a one-line {@link UsageError}.
 */
import { parseArgs } from "node:util";
import { COMMANDS, GLOBAL_OPTIONS, SCAN, type CommandSpec } from "./spec.js";

/** A bad command line (exit code 2), with the help to point at. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The line every usage error ends with: the command's help, or the top help when no command is known.
 *
 * @example
 * usageHint("create"); // "Run `keyward keys create --help` for usage."
 * usageHint();         // "Run `keyward --help` for usage."
 */
export function usageHint(command?: string): string {
  return command === undefined ? "Run `keyward --help` for usage." : `Run \`keyward ${command === "scan" ? "" : "keys "}${command} --help\` for usage.`;
}

/** Option values as parseArgs returns them. */
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What the command line asks for. */
export type Invocation =
  | { kind: "help"; command: CommandSpec | null /** False for a bare `keyward` (or `keyward keys`): help, but exit 1 like git and npm. */; asked: boolean }
  | { kind: "run"; command: CommandSpec; args: string[]; values: Values };

const ALL_OPTIONS = Object.assign({}, GLOBAL_OPTIONS, SCAN.options, ...[...COMMANDS.values()].map((c) => c.options));

/**
 * Parses `argv` (without `node` and the script).
 *
 * @example
 * parseCommandLine(["keys", "create", "--name", "ci", "--scope", "a:b"]);
 * // { kind: "run", command: <create>, args: [], values: { name: "ci", scope: ["a:b"] } }
 */
export function parseCommandLine(argv: string[]): Invocation {
  const loose = parseArgs({ args: argv, options: ALL_OPTIONS, strict: false, allowPositionals: true });
  const [group, name] = loose.positionals;
  const wantsHelp = loose.values.help === true;
  if (group === undefined) return { kind: "help", command: null, asked: wantsHelp };
  if (group === "scan") {
    if (wantsHelp) return { kind: "help", command: SCAN, asked: true };
    const parsed = strictParse(argv, SCAN);
    return { kind: "run", command: SCAN, args: parsed.positionals.slice(1), values: parsed.values };
  }
  if (group !== "keys") throw new UsageError(`unknown command "${group}"`, usageHint());
  if (name === undefined) return { kind: "help", command: null, asked: wantsHelp };
  const command = COMMANDS.get(name);
  if (!command) throw new UsageError(`unknown command "keys ${name}"`, usageHint());
  if (wantsHelp) return { kind: "help", command, asked: true };
  const hint = usageHint(command.name);
  const parsed = strictParse(argv, command);
  const args = parsed.positionals.slice(2);
  if (args.length < command.positionals.length) throw new UsageError(`missing ${command.positionals.slice(args.length).join(" ")}`, hint);
  if (args.length > command.positionals.length) throw new UsageError(`unexpected argument "${args[command.positionals.length]}"`, hint);
  return { kind: "run", command, args, values: parsed.values };
}

/** The strict parse of `argv` with `command`'s options; a mistake becomes a {@link UsageError}. */
function strictParse(argv: string[], command: CommandSpec): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, strict: true, allowPositionals: true }) as {
      values: Values;
      positionals: string[];
    };
  } catch (error) {
    throw new UsageError(firstSentence(error instanceof Error ? error.message : String(error)), usageHint(command.name));
  }
}

function firstSentence(message: string): string {
  const end = message.indexOf(". ");
  return (end < 0 ? message : message.slice(0, end)).replace(/\.$/, "");
}
