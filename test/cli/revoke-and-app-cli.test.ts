/**
 * Revoking by the secret itself (`keys.revoke("sk_live_…")`, `keyward keys revoke <secret>`), and
 * keyward's CLI run in-process under an app's own name with its key format preset (`runCli`).
 */
import express from "express";
import request from "supertest";
import { KeyManager, KeyFormat, apiKeyAuth, requireScope, runCli, type CliPreset, type KeywardEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { lastCharChanged, makeKeys, tempDir } from "../helpers";
import { capture } from "./cli-io";

describe("KeyManager.revoke(idOrSecret)", () => {
  let env: ReturnType<typeof makeKeys>;
  beforeEach(() => {
    env = makeKeys({ storeKind: "sqlite" });
  });
  afterEach(() => env.close());

  it("revokes by the secret: the key is refused at once and the events name only its id", async () => {
    const { secret, key } = await env.keys.create({ name: "ci-deploys-2026q2", mode: "live" });
    expect((await env.keys.verify(secret)).ok).toBe(true);
    const revoked = await env.keys.revoke(secret);
    expect(revoked).toMatchObject({ id: key.id, status: "revoked" });
    const after = await env.keys.verify(secret);
    expect(after.ok === false && after.error.code).toBe("key_revoked");
    expect(JSON.stringify(env.events)).not.toContain(secret);
    expect(env.events.filter((e: KeywardEvent) => e.type === "key.revoked")).toHaveLength(1);
  });

  it("still revokes by id, and revoking by secret again is a no-op", async () => {
    const a = await env.keys.create({ name: "a" });
    const b = await env.keys.create({ name: "b" });
    await env.keys.revoke(a.key.id);
    expect((await env.keys.get(a.key.id))!.status).toBe("revoked");
    const first = await env.keys.revoke(b.secret);
    const again = await env.keys.revoke(b.secret);
    expect(again.revokedAt).toEqual(first.revokedAt);
  });

  it.each([
    ["a well-formed secret that is not stored", () => new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("live")],
    ["a secret with a typo (checksum fails)", (secret: string) => lastCharChanged(secret)],
    ["another product's key", () => "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"],
  ])("answers not_found for %s, without echoing it", async (_label, make) => {
    const { secret, key } = await env.keys.create({ name: "kept" });
    const wrong = make(secret);
    const error = await env.keys.revoke(wrong).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "not_found", message: "No such API key." });
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(wrong.slice(8));
    expect((await env.keys.get(key.id))!.status).toBe("active");
  });
});

describe("an app's own command through runCli", () => {
  const tmp = tempDir();
  const db = tmp.file("acme-keys.db");
  const preset: CliPreset = { name: "acme-keys", prefix: "acme", modes: ["test", "live"], db, owner: "acct_ci" };
  const keys = new KeyManager({ store: new SqliteStore(db), prefix: "acme", modes: ["test", "live"], cache: false });
  const app = express()
    .use(apiKeyAuth({ keys }))
    .get("/v1/models", requireScope("models:read"), (req, res) => {
      res.json({ owner: req.apiKey!.ownerId, mode: req.apiKey!.mode });
    });
  afterAll(async () => {
    await keys.close();
    tmp.cleanup();
  });

  it("`acme-keys keys create --name … --mode live --scope … --scope … --expires 90d` makes a key the app accepts", async () => {
    const io = capture();
    const code = await runCli(
      ["keys", "create", "--name", "ci-deploys", "--mode", "live", "--scope", "models:read", "--scope", "models:upload", "--expires", "90d"],
      io,
      preset,
    );
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/^acme_live_[0-9A-Za-z]+\n$/);
    const secret = io.stdout.trim();
    expect(io.stderr).not.toContain(secret);
    const res = await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(res.body).toEqual({ owner: "acct_ci", mode: "live" });
    const stored = (await keys.list({ ownerId: "acct_ci" })).keys[0]!;
    expect(stored).toMatchObject({ name: "ci-deploys", scopes: ["models:read", "models:upload"] });
    expect(stored.expiresAt!.getTime() - stored.createdAt.getTime()).toBe(90 * 86_400_000);
  });

  it("`acme-keys keys revoke <secret>` revokes by the secret and prints it nowhere", async () => {
    const made = capture();
    await runCli(["keys", "create", "--name", "old", "--mode", "live"], made, preset);
    const secret = made.stdout.trim();
    await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
    const io = capture();
    expect(await runCli(["keys", "revoke", secret], io, preset)).toBe(0);
    expect(io.stdout).toBe("");
    expect(io.stderr).toMatch(/^Revoked key_/);
    expect(io.stderr).not.toContain(secret.slice(8));
    await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(401);
    const missing = capture();
    expect(await runCli(["keys", "revoke", lastCharChanged(secret)], missing, preset)).toBe(1);
    expect(missing.stderr).toBe("acme-keys: No such API key.\n");
  });

  it("speaks under the app's name in help and errors; flags still override the preset", async () => {
    const help = capture();
    expect(await runCli(["--help"], help, preset)).toBe(0);
    expect(help.stdout).toContain("Usage: acme-keys keys <command>");
    const bad = capture();
    expect(await runCli(["keys", "create", "--name", "x", "--mode", "staging"], bad, preset)).toBe(2);
    expect(bad.stderr).toMatch(/^acme-keys: --mode: must be one of test, live/);
    const other = capture();
    expect(await runCli(["keys", "create", "--name", "x", "--db", tmp.file("other.db"), "--prefix", "ndx", "--modes", "none"], other, preset)).toBe(0);
    expect(other.stdout).toMatch(/^ndx_[0-9A-Za-z]+\n$/);
  });
});
