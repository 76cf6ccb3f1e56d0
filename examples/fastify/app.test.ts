/**
 * The Fastify example end to end over real HTTP: health is open; whoami needs a key and never shows
 * the secret; reading needs notes:read (route config), writing needs notes:write (preHandler); the
 * refusals carry WWW-Authenticate; a key-limited tier shows its RateLimit headers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-fastify-"));
const keys = new KeyManager({ store: new SqliteStore(join(dir, "keys.db")), tiers: { free: { rateLimit: { limit: 100, window: "1m" } } } });
let base = "";
let close = async () => {};
beforeAll(async () => {
  const app = await createApp(keys);
  base = await app.listen({ port: 0, host: "127.0.0.1" });
  close = () => app.close();
});
afterAll(async () => {
  await close();
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (path: string, secret?: string, body?: unknown) =>
  fetch(base + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { ...(secret ? { authorization: `Bearer ${secret}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

test("health is open; whoami needs a key and never shows the secret", async () => {
  const { secret } = await keys.create({ name: "fastify", mode: "test", scopes: ["notes:read"] });
  expect(await (await call("/health")).json()).toEqual({ ok: true });
  const missing = await call("/v1/whoami");
  expect(missing.status).toBe(401);
  expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="api"');
  expect(await missing.json()).toMatchObject({ error: { code: "missing_key" } });
  const ok = await call("/v1/whoami", secret);
  const text = await ok.text();
  expect(ok.status).toBe(200);
  expect(JSON.parse(text).key).toMatchObject({ name: "fastify", mode: "test", scopes: ["notes:read"] });
  expect(text).not.toContain(secret);
});

test("reading needs notes:read, writing needs notes:write; a writer's note is listed with its key id", async () => {
  const reader = await keys.create({ name: "reader", scopes: ["notes:read"], tier: "free" });
  const writer = await keys.create({ name: "writer", scopes: ["notes:read", "notes:write"] });
  const list = await call("/v1/notes", reader.secret);
  expect(list.status).toBe(200);
  expect(list.headers.get("ratelimit-policy")).toBe('"window";q=100;w=60');
  const refused = await call("/v1/notes", reader.secret, { text: "hello" });
  expect(refused.status).toBe(403);
  expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  expect(await refused.json()).toMatchObject({ error: { code: "insufficient_scope" } });
  const created = await call("/v1/notes", writer.secret, { text: "hello" });
  expect(created.status).toBe(201);
  expect(await created.json()).toEqual({ id: 1, text: "hello", by: writer.key.id });
  expect(await (await call("/v1/notes", reader.secret)).json()).toEqual({ notes: [{ id: 1, text: "hello", by: writer.key.id }] });
  expect((await call("/v1/notes", writer.secret, { text: "" })).status).toBe(400);
  const other = await keys.create({ name: "billing", scopes: ["billing:read"] });
  expect((await call("/v1/notes", other.secret)).status).toBe(403);
});
