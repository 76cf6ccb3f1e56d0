/**
 * The keys page script is TypeScript (src/page/client/keys-page.ts) and reaches the server as the
 * generated, committed string module src/page/assets/client-bundle.ts, so jest and tsx need no build
 * step. This keeps the two in step: the committed module is exactly what the source compiles to.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CLIENT_JS } from "../../src/page/assets/client-bundle";

const root = join(__dirname, "../..");

describe("the keys page script bundle", () => {
  test("is up to date with src/page/client/keys-page.ts (run `npm run build` and commit it)", () => {
    const run = spawnSync(process.execPath, [join(root, "scripts/build-client.mjs"), "--check"], { cwd: root, encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  test("is one classic strict-mode script: no module syntax, no eval, no HTML strings", () => {
    expect(CLIENT_JS.startsWith('"use strict";\n')).toBe(true);
    expect(CLIENT_JS).not.toMatch(/^\s*(import|export)\b|\brequire\(|\bimport\(/m);
    expect(CLIENT_JS).not.toMatch(/\beval\(|new Function|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(() => new Function(CLIENT_JS)).not.toThrow();
  });
});
