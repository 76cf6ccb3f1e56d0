#!/usr/bin/env -S npx tsx
/** `node-data`: this app's own key command — keyward's CLI under the app's name, its key format preset (`"bin": { "node-data": "node-data.js" }`). */
import { runCli } from "keyward";
import { cliPreset } from "./app";

runCli(process.argv.slice(2), undefined, cliPreset()).then((code) => {
  process.exitCode = code;
});
