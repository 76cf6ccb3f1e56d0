/**
 * Hashing. SHA-256 of the whole key by default (read back from a real SQLite
 * file), HMAC-SHA-256 with a pepper, and the raw secret stored nowhere on disk.
 */
import Database from "better-sqlite3";
import { createHash, createHmac } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { KeyManager, createHasher } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

describe("hashing", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("stores sha256(secret) in hex by default, in an indexed column", async () => {
    const file = tmp.file("plain.db");
    const keys = new KeyManager({ store: new SqliteStore(file), usage: false });
    const { secret, key } = await keys.create({ name: "ci" });
    await keys.close();
    const db = new Database(file, { readonly: true });
    const row = db.prepare("SELECT hash, start FROM keyward_keys WHERE id = ?").get(key.id) as { hash: string; start: string };
    expect(row.hash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(row.start).toBe(secret.slice(0, 12));
    // Lookup by hash uses an index (the UNIQUE constraint), not a table scan.
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM keyward_keys WHERE hash = ?").all(row.hash) as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING (COVERING )?INDEX/);
    db.close();
    expect(createHasher()(secret)).toBe(row.hash);
  });

  it("uses HMAC-SHA-256 with a pepper; a key made under one pepper fails under another", async () => {
    const file = tmp.file("pepper.db");
    const pepper = "pepper-one-0123456789";
    const keys = new KeyManager({ store: new SqliteStore(file), pepper, usage: false });
    const { secret, key } = await keys.create({ name: "ci" });
    expect((await keys.verify(secret)).ok).toBe(true);
    await keys.close();

    const db = new Database(file, { readonly: true });
    const { hash } = db.prepare("SELECT hash FROM keyward_keys WHERE id = ?").get(key.id) as { hash: string };
    db.close();
    expect(hash).toBe(createHmac("sha256", pepper).update(secret).digest("hex"));
    expect(hash).not.toBe(createHash("sha256").update(secret).digest("hex"));

    for (const other of [{ pepper: "pepper-two-0123456789" }, {}]) {
      const again = new KeyManager({ store: new SqliteStore(file), usage: false, ...other });
      const result = await again.verify(secret);
      expect(result.ok ? "ok" : result.error.code).toBe("invalid_key");
      await again.close();
    }
    const same = new KeyManager({ store: new SqliteStore(file), pepper, usage: false });
    expect((await same.verify(secret)).ok).toBe(true);
    await same.close();
  });

  it("writes the secret nowhere: not in the database file, its WAL, or any of its columns", async () => {
    const dir = tempDir();
    const file = dir.file("keys.db");
    const keys = new KeyManager({ store: new SqliteStore(file), usage: { flushInterval: "1s" } });
    const secrets: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { secret } = await keys.create({ name: `k${i}`, scopes: ["nodes:read"], metadata: { n: i } });
      secrets.push(secret);
      expect((await keys.verify(secret)).ok).toBe(true);
    }
    const { secret: rotated } = await keys.rotate((await keys.list()).keys[0]!.id);
    secrets.push(rotated);
    await keys.flushUsage();
    // Bytes on disk while open (database + WAL) and after close (checkpointed).
    const scan = () => {
      const bytes = readdirSync(dir.dir)
        .map((f) => readFileSync(dir.file(f)).toString("latin1"))
        .join("\n");
      expect(bytes.length).toBeGreaterThan(1000);
      for (const s of secrets) {
        expect(bytes.includes(s)).toBe(false);
        expect(bytes.includes(s.slice(8))).toBe(false); // nor the body alone
        expect(bytes.includes(s.slice(8, 30))).toBe(false);
      }
    };
    scan();
    await keys.close();
    scan();
    dir.cleanup();
  });
});
