// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with .d.ts files, using tsc only. First
// regenerates src/page/assets/client-bundle.ts from the keys page browser script (build-client.mjs).
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { writeClientBundle } from "./build-client.mjs";

const tsc = (args) => execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", ...args], { stdio: "inherit" });
writeClientBundle();
rmSync("dist", { recursive: true, force: true });
tsc(["-p", "tsconfig.build.json", "--outDir", "dist/esm"]);
tsc(["-p", "tsconfig.build.json", "--outDir", "dist/cjs", "--module", "commonjs", "--moduleResolution", "node10"]);
writeFileSync("dist/esm/package.json", JSON.stringify({ type: "module" }) + "\n");
writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n");
for (const bin of ["dist/cjs/cli/main.js"]) if (existsSync(bin)) chmodSync(bin, 0o755);
