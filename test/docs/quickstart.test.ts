/**
 * The README's quickstart works as a new user runs it: the first ```ts block under "## Quickstart"
 * is saved as server.ts in an empty temp dir and run with tsx (`keyward` resolved to the sources by
 * a tsconfig `paths` entry, packages from the repository's node_modules), on a port the OS picks
 * (PORT=0). The test reads the key and the curl line it prints, makes that request with fetch
 * (200), the same without the key (401), and stops the server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeBlocks, root } from "./markdown";

/** The quickstart block: the first ts block after the "## Quickstart" heading. */
function quickstart(): string {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const headingLine = text.split("\n").findIndex((l) => l.trim() === "## Quickstart") + 1;
  const block = codeBlocks("README.md").find((b) => b.lang === "ts" && b.line > headingLine);
  if (headingLine === 0 || !block) throw new Error('README.md has no ```ts block under "## Quickstart"');
  return block.code;
}

/** Resolves with the first stdout line matching `pattern`; rejects if the process exits first or after `ms`. */
function waitForLine(child: ChildProcess, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms\nstdout: ${out}\nstderr: ${err}`)), ms);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing the curl line\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

describe("README quickstart", () => {
  const code = quickstart();

  it("fits in 25 lines", () => {
    expect(code.split("\n").length).toBeLessThanOrEqual(25);
  });

  it("runs, listens, prints a key and a curl line that answers 200", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keyward-quickstart-"));
    let child: ChildProcess | undefined;
    try {
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { strict: true, esModuleInterop: true, paths: { keyward: [join(root, "src/index.ts")], "keyward/*": [join(root, "src/*.ts")] } },
        }),
      );
      writeFileSync(join(dir, "server.ts"), code);
      child = spawn(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), "server.ts"], {
        cwd: dir,
        env: { ...process.env, PORT: "0", NODE_ENV: "development" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const match = await waitForLine(child, /curl -H "Authorization: Bearer (\S+)" (http:\/\/\S+)/, 60_000);
      const [, key, url] = match as unknown as [string, string, string];
      expect(key).toMatch(/^sk_live_[0-9A-Za-z]{38}$/);

      const ok = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ key: "quickstart", notes: ["hello"] });

      const refused = await fetch(url);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("missing_key");
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
