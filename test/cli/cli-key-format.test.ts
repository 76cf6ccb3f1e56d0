/**
 * The key format a database records: the CLI (in-process, through `runCli`) uses the format an app
 * recorded, refuses a `--prefix`/`--modes`/environment format that differs (exit 2), and a
 * KeyManager configured with another format than its database's fails with a clear error.
 */
import express from "express";
import request from "supertest";
import { KeyManager, KeywardConfigError, apiKeyAuth, runCli } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { capture, restoreCliEnv, saveCliEnv } from "./cli-io";

const tmp = tempDir();
let saved: ReturnType<typeof saveCliEnv>;
beforeEach(() => {
  saved = saveCliEnv();
  delete process.env.KEYWARD_PREFIX;
  delete process.env.KEYWARD_MODES;
});
afterEach(() => restoreCliEnv(saved));
afterAll(() => tmp.cleanup());

let n = 0;
/** A database first used by an app configured with `prefix: "xk"`, and that app. */
function ndApp() {
  const db = tmp.file(`app-${++n}.db`);
  const keys = new KeyManager({ store: new SqliteStore(db), prefix: "xk", cache: false });
  const app = express()
    .use(apiKeyAuth({ keys }))
    .get("/v1/me", (req, res) => {
      res.json({ id: req.apiKey!.id, mode: req.apiKey!.mode });
    });
  return { db, keys, app };
}

describe("the CLI and the format a database records", () => {
  it("without --prefix, creates a key of the app's prefix, which the app accepts", async () => {
    const { db, keys, app } = ndApp();
    try {
      const io = capture();
      expect(await runCli(["keys", "create", "--db", db, "--name", "x"], io)).toBe(0);
      expect(io.stdout).toMatch(/^xk_live_[0-9A-Za-z]+\n$/);
      const res = await request(app).get("/v1/me").set("Authorization", `Bearer ${io.stdout.trim()}`).expect(200);
      expect(res.body.mode).toBe("live");
    } finally {
      await keys.close();
    }
  });

  it("--prefix sk against that database exits 2 naming both formats and the fix, and creates nothing", async () => {
    const { db, keys } = ndApp();
    try {
      const io = capture();
      expect(await runCli(["keys", "create", "--db", db, "--name", "x", "--prefix", "sk"], io)).toBe(2);
      expect(io.stdout).toBe("");
      const [message, hint] = io.stderr.trimEnd().split("\n");
      expect(message).toContain(`the database ${db} holds keys of prefix "xk" with modes live,test, not prefix "sk" with modes live,test (from --prefix)`);
      expect(message).toContain("Leave out --prefix to use the database's format, or pass --prefix xk --modes live,test");
      expect(hint).toBe("Run `keyward keys create --help` for usage.");
      expect((await keys.list()).keys).toHaveLength(0);
    } finally {
      await keys.close();
    }
  });

  it("refuses a differing KEYWARD_PREFIX or --modes the same way; the same modes in another order are fine", async () => {
    const { db, keys } = ndApp();
    try {
      process.env.KEYWARD_PREFIX = "sk";
      const env = capture();
      expect(await runCli(["keys", "list", "--db", db], env)).toBe(2);
      expect(env.stderr).toMatch(/holds keys of prefix "xk".*\(from KEYWARD_PREFIX\)/);
      delete process.env.KEYWARD_PREFIX;
      const modes = capture();
      expect(await runCli(["keys", "create", "--db", db, "--name", "x", "--modes", "live"], modes)).toBe(2);
      expect(modes.stderr).toContain('not prefix "xk" with modes live (from --modes)');
      const reordered = capture();
      expect(await runCli(["keys", "create", "--db", db, "--name", "x", "--prefix", "xk", "--modes", "test,live"], reordered)).toBe(0);
      expect(reordered.stdout).toMatch(/^xk_test_/); // the first given mode is the default
    } finally {
      await keys.close();
    }
  });

  it("records its own format in a fresh database, so an app configured otherwise fails at start-up", async () => {
    const db = tmp.file("cli-first.db");
    const io = capture();
    expect(await runCli(["keys", "create", "--db", db, "--name", "x", "--prefix", "orbit", "--modes", "none"], io)).toBe(0);
    expect(io.stdout).toMatch(/^orbit_[0-9A-Za-z]+\n$/);
    const again = capture();
    expect(await runCli(["keys", "create", "--db", db, "--name", "y"], again)).toBe(0); // no flags: the recorded format
    expect(again.stdout).toMatch(/^orbit_[0-9A-Za-z]+\n$/);
    const store = new SqliteStore(db);
    try {
      expect(() => new KeyManager({ store, prefix: "sk" })).toThrow(KeywardConfigError);
      expect(() => new KeyManager({ store, prefix: "sk" })).toThrow(
        /holds keys of prefix "orbit" without modes; this KeyManager was configured with prefix "sk" with modes live,test/,
      );
    } finally {
      store.close();
    }
  });
});

describe("a KeyManager on a database of another format", () => {
  it("throws a KeywardConfigError at construction naming the file, both formats and the fix", async () => {
    const { db, keys } = ndApp();
    await keys.close();
    const store = new SqliteStore(db);
    try {
      let error: unknown;
      try {
        new KeyManager({ store, prefix: "sk" });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KeywardConfigError);
      expect((error as KeywardConfigError).option).toBe("prefix");
      expect((error as Error).message).toContain(
        `the database ${db} (SqliteStore) holds keys of prefix "xk" with modes live,test; this KeyManager was configured with prefix "sk" with modes live,test`,
      );
      expect((error as Error).message).toContain('Configure prefix: "xk", modes: ["live", "test"]');
      expect(() => new KeyManager({ store, prefix: "xk", modes: ["live"] })).toThrow(/^modes: /);
      const reordered = new KeyManager({ store, prefix: "xk", modes: ["test", "live"] });
      expect((await reordered.create({ name: "ok" })).secret).toMatch(/^xk_test_/);
    } finally {
      store.close();
    }
  });

  it("checks keys written before formats were recorded, and records a format that fits them", async () => {
    const { db, keys } = ndApp();
    await keys.create({ name: "old" });
    await keys.close();
    const raw = new SqliteStore(db);
    raw.db.exec("DELETE FROM keyward_meta"); // as a database written by an earlier keyward
    raw.close();
    const store = new SqliteStore(db);
    try {
      expect(() => new KeyManager({ store, prefix: "sk" })).toThrow(/already holds keys \(such as xk_live_[0-9A-Za-z]{4}…\) of prefix "xk"/);
      expect(store.keyFormat()).toBeNull();
      new KeyManager({ store, prefix: "xk" });
      expect(store.keyFormat()).toEqual({ prefix: "xk", modes: ["live", "test"] });
    } finally {
      store.close();
    }
  });
});
