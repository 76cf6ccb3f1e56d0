/** Test helpers: temp SQLite files, a controllable clock, an app factory, event capture and a near-miss key. */
import express from "express";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyManager, MemoryStore, apiKeyAuth, type ApiKeyAuthOptions, type KeyManagerOptions, type KeywardEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** `secret` with its last character replaced by a different one: a near miss that is never the key itself. */
export function lastCharChanged(secret: string): string {
  return secret.slice(0, -1) + (secret.endsWith("a") ? "b" : "a");
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "keyward-test-"));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock tests move by hand. */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 10, 23, 12, 0, 0)) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/** A KeyManager on a fresh store (memory or a temp SQLite file) with a test clock and captured events. */
export function makeKeys(options: Partial<KeyManagerOptions> & { storeKind?: "memory" | "sqlite" } = {}) {
  const { storeKind = "memory", ...rest } = options;
  const tmp = storeKind === "sqlite" ? tempDir() : null;
  const clock = new TestClock();
  const events: KeywardEvent[] = [];
  const store = rest.store ?? (tmp ? new SqliteStore(tmp.file("keys.db")) : new MemoryStore());
  const keys = new KeyManager({ clock: clock.now, onEvent: (e) => events.push(e), ...rest, store });
  return {
    keys,
    clock,
    events,
    store,
    dbFile: tmp?.file("keys.db"),
    async close() {
      await keys.close();
      tmp?.cleanup();
    },
  };
}

/** An Express 5 app with apiKeyAuth and a few routes that echo `req.apiKey`. */
export function makeApp(keys: KeyManager, options: ApiKeyAuthOptions = {}, mount?: (app: express.Express) => void) {
  const app = express();
  app.use(apiKeyAuth({ keys, ...options }));
  mount?.(app);
  app.get("/whoami", (req, res) => {
    res.json({ apiKey: req.apiKey ?? null });
  });
  return app;
}

/** Starts a process that opens `file` and holds a write transaction for `holdMs`. Resolves once it holds it. */
export function holdWriteLock(file: string, holdMs: number): Promise<{ released: Promise<number | null> }> {
  const script = `
    const Database = require("better-sqlite3");
    const db = new Database(process.argv[1]);
    db.pragma("busy_timeout = 5000");
    db.exec("BEGIN IMMEDIATE");
    db.prepare("UPDATE keyward_keys SET name = name").run();
    process.stdout.write("locked\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
    db.exec("COMMIT");
    db.close();`;
  const child = spawn(process.execPath, ["-e", script, file, String(holdMs)], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  const released = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line === "locked") resolve({ released });
    });
    child.on("exit", (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
}
