/**
 * Rotation is bounded: the overlap during which a rotated-away (possibly leaked) key keeps working
 * is at most `maxRotationOverlap` (default 7 days, the longest rolling overlap Stripe offers) through
 * `rotate()`, the REST router and the CLI; rotating a successor ends its predecessor's overlap at
 * once, so one lineage never has more than two usable keys; and a lineage counts once against
 * `maxActiveKeys`. Held on every store.
 */
import request from "supertest";
import { KeyManager, MemoryStore, runCli, type KeyStore } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { SqliteStore } from "keyward/sqlite";
import { routerApp } from "../http/router-app";
import { PG_URL, describeWithServices } from "../stores/services";
import { TestClock, tempDir } from "../helpers";

const DAY = 86_400_000;
const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;

function boundsSuite(kind: string, makeStore: () => KeyStore) {
  const make = (options: Partial<ConstructorParameters<typeof KeyManager>[0]> = {}) => {
    const clock = new TestClock();
    const keys = new KeyManager({ store: makeStore(), clock: clock.now, usage: false, cache: false, ...options });
    return { keys, clock };
  };
  const usable = async (keys: KeyManager, secrets: string[]) => {
    const results = await Promise.all(secrets.map((s) => keys.verify(s)));
    return results.filter((r) => r.ok).length;
  };

  describe(`rotation bounds (${kind})`, () => {
    it("refuses an overlap longer than maxRotationOverlap (default 7d) with validation_failed, and writes nothing", async () => {
      const { keys } = make();
      const { key } = await keys.create({ name: "deploys" });
      for (const overlap of ["36500d", "8d", 7 * 86_400 + 1]) {
        await expect(keys.rotate(key.id, { overlap })).rejects.toMatchObject({
          code: "validation_failed",
          status: 422,
          details: [{ path: "overlap", message: expect.stringContaining("at most 7d") }],
        });
      }
      expect((await keys.get(key.id))!).toMatchObject({ status: "active", rotatedTo: null, expiresAt: null });
      const rotated = await keys.rotate(key.id, { overlap: "7d" });
      expect(rotated.previous.expiresAt!.getTime() - rotated.key.createdAt.getTime()).toBe(7 * DAY);
      await keys.close();
    });

    it("a shorter maxRotationOverlap also caps the default overlap (a day)", async () => {
      const { keys, clock } = make({ maxRotationOverlap: "1h" });
      const { key } = await keys.create({ name: "deploys" });
      const rotated = await keys.rotate(key.id);
      expect(rotated.previous.expiresAt).toEqual(new Date(clock.ms + 3_600_000));
      await expect(keys.rotate(rotated.key.id, { overlap: "2h" })).rejects.toMatchObject({ code: "validation_failed" });
      await keys.close();
    });

    it("rotating the newest key six times leaves two usable keys: the newest and its predecessor", async () => {
      const { keys, clock } = make();
      const first = await keys.create({ name: "deploys" });
      const secrets = [first.secret];
      let id = first.key.id;
      for (let i = 0; i < 6; i++) {
        clock.advance(60_000);
        const next = await keys.rotate(id, { overlap: "7d" });
        secrets.push(next.secret);
        id = next.key.id;
        expect(await usable(keys, secrets)).toBe(2);
      }
      expect((await keys.verify(secrets[5]!)).ok).toBe(true); // the predecessor, in its overlap
      expect((await keys.verify(secrets[6]!)).ok).toBe(true); // the newest
      const ended = await keys.verify(secrets[4]!);
      expect(!ended.ok && ended.error.code).toBe("key_expired");
      expect((await keys.list({ status: "active" })).keys.map((k) => k.id)).toHaveLength(2);
      await keys.close();
    });

    it("a lineage counts once against maxActiveKeys, however often it is rotated", async () => {
      const { keys } = make({ tiers: { free: { maxActiveKeys: 2 } }, defaultTier: "free" });
      const a = await keys.create({ name: "a", ownerId: "u1" });
      await keys.create({ name: "b", ownerId: "u1" });
      let id = a.key.id;
      for (let i = 0; i < 6; i++) id = (await keys.rotate(id, { overlap: "1d" })).key.id;
      await expect(keys.create({ name: "c", ownerId: "u1" })).rejects.toMatchObject({ code: "key_limit_reached", status: 403 });
      expect((await keys.list({ ownerId: "u1", status: "active" })).keys).toHaveLength(3); // b, and a's lineage: newest + predecessor
      await keys.revoke(id); // the newest of a's lineage: its predecessor (still in its overlap) now holds the slot
      await expect(keys.create({ name: "c", ownerId: "u1" })).rejects.toMatchObject({ code: "key_limit_reached" });
      await keys.close();
    });
  });
}

boundsSuite("memory", () => new MemoryStore());
boundsSuite("sqlite", () => new SqliteStore(tmp.file(`rotation-${n++}.db`)));
describeWithServices("rotation bounds on PostgreSQL", ["postgres"], () => {
  const schemas: string[] = [];
  boundsSuite("postgres", () => {
    const schema = `kw_rotation_${process.pid}_${n++}`;
    schemas.push(schema);
    return new PostgresStore(PG_URL, { schema });
  });
  afterAll(async () => {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });
});

describe("the overlap bound through the REST router and the CLI", () => {
  it("POST /:id/rotate with a 100-year overlap answers 422 validation_failed and changes nothing", async () => {
    const keys = new KeyManager({ store: new MemoryStore(), usage: false });
    const { key } = await keys.create({ name: "deploys", ownerId: "u1" });
    const app = routerApp(keys);
    const res = await request(app).post(`/api/keys/${key.id}/rotate`).set("x-user", "u1").send({ overlap: "36500d" });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "validation_failed", message: expect.stringContaining("overlap") });
    expect((await keys.get(key.id))!.rotatedTo).toBeNull();
    await keys.close();
  });

  it("`keyward keys rotate ID --overlap 36500d` fails with a message naming --overlap and the bound", async () => {
    const db = tmp.file("cli-rotate.db");
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
    expect(await runCli(["keys", "create", "--db", db, "--name", "ci"], io)).toBe(0);
    const id = /key_[0-9A-Za-z]{22}/.exec(err.join(""))![0];
    const code = await runCli(["keys", "rotate", id, "--db", db, "--overlap", "36500d"], io);
    expect(code).not.toBe(0);
    expect(err.join("")).toMatch(/--overlap: must be at most 7d/);
  });
});
