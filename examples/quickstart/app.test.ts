/** Quickstart end to end: a public route, a route any valid key may call, a scope-guarded one. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-quickstart-"));
const keys = new KeyManager({ store: new SqliteStore(join(dir, "keys.db")) });
const app = createApp(keys);
afterAll(async () => {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

test("health is open, whoami needs a key and never shows the secret", async () => {
  const { secret } = await keys.create({ name: "quickstart", mode: "test", scopes: ["notes:read"] });
  await request(app).get("/health").expect(200, { ok: true });
  const missing = await request(app).get("/v1/whoami").expect(401);
  expect(missing.body.error.code).toBe("missing_key");
  const ok = await request(app).get("/v1/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
  expect(ok.body.key).toMatchObject({ name: "quickstart", mode: "test", scopes: ["notes:read"] });
  expect(JSON.stringify(ok.body)).not.toContain(secret);
});

test("a route needing notes:write refuses a read-only key with 403 and admits a writer", async () => {
  const reader = await keys.create({ name: "reader", scopes: ["notes:read"] });
  const writer = await keys.create({ name: "writer", scopes: ["notes:write"] });
  const refused = await request(app).post("/v1/notes").set("Authorization", `Bearer ${reader.secret}`).expect(403);
  expect(refused.body.error.code).toBe("insufficient_scope");
  await request(app).post("/v1/notes").set("Authorization", `Bearer ${writer.secret}`).expect(201, { created: true });
});
