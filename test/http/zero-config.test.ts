/**
 * Zero-config. `apiKeyAuth()` with no options uses one process-wide KeyManager
 * on a SqliteStore at `KEYWARD_DB` (else ./keyward.db), so keys written to that file by another
 * KeyManager (or the CLI) work with no set-up.
 */
import express from "express";
import request from "supertest";
import { KeyManager, apiKeyAuth, defaultDatabasePath, defaultKeyManager, requireScope } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

describe("zero-config apiKeyAuth()", () => {
  const tmp = tempDir();
  const file = tmp.file("zero.db");
  const previous = process.env.KEYWARD_DB;
  let secret: string;

  beforeAll(async () => {
    process.env.KEYWARD_DB = file; // before the first defaultKeyManager() call in this module registry
    const writer = new KeyManager({ store: new SqliteStore(file) }); // e.g. what `keyward keys create` did
    secret = (await writer.create({ name: "cli-made", mode: "test", scopes: ["notes:read"] })).secret;
    await writer.close();
  });
  afterAll(async () => {
    await defaultKeyManager().close();
    if (previous === undefined) delete process.env.KEYWARD_DB;
    else process.env.KEYWARD_DB = previous;
    tmp.cleanup();
  });

  it("verifies keys from the SQLite file at KEYWARD_DB", async () => {
    expect(defaultDatabasePath()).toBe(file);
    const app = express();
    app.use(apiKeyAuth());
    app.get("/notes", requireScope("notes:read"), (req, res) => {
      res.json({ name: req.apiKey!.name, mode: req.apiKey!.mode });
    });
    app.post("/notes", requireScope("notes:write"), (_req, res) => {
      res.status(201).end();
    });
    await request(app).get("/notes").set("Authorization", `Bearer ${secret}`).expect(200, { name: "cli-made", mode: "test" });
    await request(app).post("/notes").set("Authorization", `Bearer ${secret}`).expect(403);
    await request(app).get("/notes").expect(401);
  });

  it("shares one KeyManager across every zero-config middleware (sk prefix, live/test modes)", async () => {
    const keys = defaultKeyManager();
    expect(defaultKeyManager()).toBe(keys);
    expect(keys.format.prefix).toBe("sk");
    expect(keys.modes).toEqual(["live", "test"]);
    // A key revoked through the shared manager is refused at once by a zero-config middleware.
    const app = express();
    app.use(apiKeyAuth({ required: true }));
    app.get("/", (_req, res) => {
      res.json({});
    });
    await request(app).get("/").set("Authorization", `Bearer ${secret}`).expect(200);
    const id = (await keys.list({ mode: "test" })).keys[0]!.id;
    await keys.revoke(id);
    const res = await request(app).get("/").set("Authorization", `Bearer ${secret}`).expect(401);
    expect(res.body.error.code).toBe("key_revoked");
  });

  it("falls back to keyward.db when KEYWARD_DB is unset or empty", () => {
    process.env.KEYWARD_DB = "";
    expect(defaultDatabasePath()).toBe("keyward.db");
    delete process.env.KEYWARD_DB;
    expect(defaultDatabasePath()).toBe("keyward.db");
    process.env.KEYWARD_DB = file;
  });
});
