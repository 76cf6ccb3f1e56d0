#!/usr/bin/env node
/** `keyward`: the command-line entry point (see `keyward --help`). */
import { runCli } from "./run.js";

runCli(process.argv.slice(2), { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`keyward: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
