/**
 * Helpers for the CLI tests: run `runCli` in-process with stdout/stderr captured, and keep the
 * process-global state a spawned `keyward` used to isolate (the KEYWARD_* environment) per test.
 */
import { Readable } from "node:stream";
import { runCli, type CliIo, type CliPreset } from "keyward";

/** The environment variables the CLI reads. */
export const CLI_ENV = ["KEYWARD_DB", "KEYWARD_PREFIX", "KEYWARD_MODES"] as const;

/** An `io` for `runCli` that keeps what was written to stdout and stderr; `stdin`, when given, is what the command reads. */
export function capture(stdin?: string): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
    ...(stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) }),
  };
  return io;
}

/** What a CLI run printed and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in-process like `bin/keyward` does: the exit code `runCli` returns, or 1 with the
 * message on stderr when it rejects (as `dist/cjs/cli/main.js` prints it).
 */
export async function cli(args: string[], preset?: CliPreset): Promise<CliRun> {
  const io = capture();
  let code: number;
  try {
    code = await runCli(args, io, preset);
  } catch (error) {
    io.err(`keyward: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** The KEYWARD_* variables as they are now, for {@link restoreCliEnv}. */
export function saveCliEnv(): Record<string, string | undefined> {
  return Object.fromEntries(CLI_ENV.map((name) => [name, process.env[name]]));
}

/** Puts the KEYWARD_* variables back as {@link saveCliEnv} found them (unset ones deleted). */
export function restoreCliEnv(saved: Record<string, string | undefined>): void {
  for (const name of CLI_ENV) {
    const value = saved[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
