/** The test-live API end to end: test/live keys that never cross, per-mode webhook secrets and signed deliveries, every scoped operation, rotation, the app's own CLI. */
import express from "express";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { runCli, verifyWebhook, type CliIo } from "keyward";
import { ENDPOINTS, SCOPES, cliPreset, createApp } from "./app";

const dir = mkdtempSync(join(tmpdir(), "keyward-test-live-"));
const db = join(dir, "keys.db");
let now = Date.now();
const { app, keys, login } = createApp({ db, clock: () => now });
const session = login("user_ada");

// A webhook receiver standing in for the customer's endpoint.
const received: Array<{ body: string; signature: string }> = [];
const receiver = express().post("/hooks", express.text({ type: "*/*" }), (req, res) => {
  received.push({ body: req.body as string, signature: String(req.headers["nodedata-signature"]) });
  res.sendStatus(204);
});
let hooks: Server;
let hookUrl = "";
beforeAll(
  () =>
    new Promise<void>((ready) => {
      hooks = receiver.listen(0, "127.0.0.1", () => {
        hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks`;
        ready();
      });
    }),
);
afterAll(async () => {
  await new Promise((done) => hooks.close(done));
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
});

const mint = async (mode: "test" | "live", scopes?: string[]) => (await keys.create({ name: "ci-deploys", ownerId: "user_ada", mode, scopes })).secret;
const as = (secret: string) => ({ Authorization: `Bearer ${secret}` });

describe("test and live modes", () => {
  test("keys are nd_test_… or nd_live_… and /v1/me names the mode", async () => {
    const test = await mint("test");
    const live = await mint("live");
    expect(test).toMatch(/^nd_test_/);
    expect(live).toMatch(/^nd_live_/);
    expect((await request(app).get("/v1/me").set(as(test)).expect(200)).body).toMatchObject({ account: "user_ada", mode: "test" });
    expect((await request(app).get("/v1/me").set(as(live)).expect(200)).body).toMatchObject({ account: "user_ada", mode: "live" });
  });

  test("nothing crosses over: a test key never sees live objects, and the reverse", async () => {
    const test = await mint("test");
    const live = await mint("live");
    const liveModel = (await request(app).post("/v1/models").set(as(live)).send({ name: "prod-llm" }).expect(201)).body;
    const testModel = (await request(app).post("/v1/models").set(as(test)).send({ name: "sandbox-llm" }).expect(201)).body;
    expect((await request(app).get("/v1/models").set(as(test)).expect(200)).body.models).toEqual([testModel]);
    expect((await request(app).get("/v1/models").set(as(live)).expect(200)).body.models).toEqual([liveModel]);
    await request(app).get(`/v1/models/${liveModel.id}`).set(as(test)).expect(404);
    await request(app).get(`/v1/models/${testModel.id}`).set(as(live)).expect(404);
    expect((await request(app).get("/v1/payouts").set(as(test)).expect(200)).body.mode).toBe("test");
  });
});

describe("webhook signing secrets per mode", () => {
  test("each mode has its own whsec_test_/whsec_live_ secret, stable per account", async () => {
    const test = await mint("test");
    const live = await mint("live");
    const t1 = (await request(app).post("/v1/webhook_endpoints").set(as(test)).send({ url: hookUrl }).expect(201)).body;
    const l1 = (await request(app).post("/v1/webhook_endpoints").set(as(live)).send({ url: hookUrl }).expect(201)).body;
    expect(t1.secret).toMatch(/^whsec_test_/);
    expect(l1.secret).toMatch(/^whsec_live_/);
    const again = (
      await request(app)
        .post("/v1/webhook_endpoints")
        .set(as(await mint("test")))
        .send({ url: `${hookUrl}?2` })
        .expect(201)
    ).body;
    expect(again.secret).toBe(t1.secret);
  });

  test("a delivery is signed with its mode's secret: it verifies with that secret only", async () => {
    const live = await mint("live");
    const test = await mint("test");
    const liveSecret = (await request(app).post("/v1/webhook_endpoints").set(as(live)).send({ url: hookUrl }).expect(201)).body.secret;
    const testSecret = (await request(app).post("/v1/webhook_endpoints").set(as(test)).send({ url: hookUrl }).expect(201)).body.secret;
    received.length = 0;
    const model = (await request(app).post("/v1/models").set(as(live)).send({ name: "signed" }).expect(201)).body;
    const delivery = received.find((d) => JSON.parse(d.body).data.id === model.id)!;
    expect(delivery.signature).toMatch(/^t=\d+,v1=[0-9a-f]+/);
    expect(JSON.parse(delivery.body)).toMatchObject({ type: "model.created", data: model });
    expect(verifyWebhook(delivery.body, delivery.signature, liveSecret, { mode: "live" })).toMatchObject({ mode: "live" });
    const refusal = (fn: () => unknown) => {
      try {
        fn();
        return "accepted";
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    expect(refusal(() => verifyWebhook(delivery.body, delivery.signature, testSecret))).toBe("invalid_signature");
    expect(refusal(() => verifyWebhook(delivery.body, delivery.signature, testSecret, { mode: "live" }))).toBe("mode_forbidden");
    expect(refusal(() => verifyWebhook(delivery.body.replace("signed", "forged"), delivery.signature, liveSecret))).toBe("invalid_signature");
  });
});

describe("restricted keys", () => {
  const routes = ENDPOINTS.filter(([, path]) => !path.includes(":id"));
  const SUCCESS: Record<string, number> = { get: 200, post: 201, patch: 200, delete: 200 };
  const mintFor = async (owner: string, scopes?: string[]) => (await keys.create({ name: "table", ownerId: owner, mode: "live", scopes })).secret;

  test("every scope of the doc's list guards at least one operation", () => {
    expect([...new Set(ENDPOINTS.map(([, , scope]) => scope))].sort()).toEqual([...SCOPES].sort());
  });

  test.each(ENDPOINTS)("%s %s: 2xx with %s, 403 without it", async (method, path, scope) => {
    const full = await mintFor("user_table");
    const resolve = async () => {
      if (!path.includes(":id")) return path;
      const collection = path.slice(0, path.indexOf("/:id"));
      const made = await request(app).post(collection).set(as(full)).send({ name: "fixture", url: "http://127.0.0.1:9/hooks" }).expect(201);
      return path.replace(":id", made.body.id);
    };
    const send = async (secret: string) =>
      request(app)
        [method](await resolve())
        .set(as(secret))
        .send({ name: "m", url: "http://127.0.0.1:9/hooks" });
    expect((await send(await mintFor("user_table", [scope]))).status).toBe(SUCCESS[method]);
    const refused = await send(
      await mintFor(
        "user_table",
        SCOPES.filter((s) => s !== scope),
      ),
    );
    expect([refused.status, refused.body.error?.code]).toEqual([403, "insufficient_scope"]);
  });

  test("a default key (no scopes) can do anything; a restricted key only what it lists", async () => {
    const full = await mint("live");
    for (const [method, path] of routes) expect((await request(app)[method](path).set(as(full)).send({ name: "m", url: hookUrl })).status).toBeLessThan(300);
    const ci = await mint("live", ["models:read", "models:upload"]);
    await request(app).post("/v1/models").set(as(ci)).send({ name: "ci-build" }).expect(201);
    await request(app).get("/v1/payouts").set(as(ci)).expect(403);
  });
});

describe("rotation from the dashboard: overlap, then revoke", () => {
  test("the new key works at once, the old one until it is revoked", async () => {
    const created = await request(app)
      .post("/dashboard/api-keys")
      .set("Cookie", session)
      .send({ name: "ci-deploys", mode: "live", scopes: ["models:read"], expiresIn: "90d" })
      .expect(201);
    const old = created.body;
    const rotated = (await request(app).post(`/dashboard/api-keys/${old.key.id}/rotate`).set("Cookie", session).send({ overlap: "24h" }).expect(201)).body;
    expect(rotated.secret).toMatch(/^nd_live_/);
    expect(rotated.key).toMatchObject({ name: "ci-deploys", mode: "live", scopes: ["models:read"], rotatedFrom: old.key.id });
    await request(app).get("/v1/models").set(as(old.secret)).expect(200);
    await request(app).get("/v1/models").set(as(rotated.secret)).expect(200);
    await request(app).delete(`/dashboard/api-keys/${old.key.id}`).set("Cookie", session).expect(200);
    expect((await request(app).get("/v1/models").set(as(old.secret)).expect(401)).body.error.code).toBe("key_revoked");
    await request(app).get("/v1/models").set(as(rotated.secret)).expect(200);
  });

  test("the SDK pattern: create a new key, then revoke the old one by its key string", async () => {
    const old = await keys.create({ name: "ci-deploys-2026q2", ownerId: "user_ada", mode: "live" });
    const fresh = await keys.create({ name: "ci-deploys-2026q3", ownerId: "user_ada", mode: "live" });
    await request(app).get("/v1/me").set(as(fresh.secret)).expect(200);
    expect(old.secret).toMatch(/^nd_live_/);
    expect(await keys.revoke(old.secret)).toMatchObject({ id: old.key.id, status: "revoked" });
    await request(app).get("/v1/me").set(as(old.secret)).expect(401);
    await request(app).get("/v1/me").set(as(fresh.secret)).expect(200);
  });
});

describe("the doc's CLI line, under the app's own name", () => {
  const capture = (): CliIo & { stdout: string; stderr: string } => {
    const io = {
      stdout: "",
      stderr: "",
      out: (t: string) => {
        io.stdout += t;
      },
      err: (t: string) => {
        io.stderr += t;
      },
    };
    return io;
  };
  const preset = cliPreset({ KEYWARD_DB: db, NODE_DATA_ACCOUNT: "user_ada" });
  const DOC_LINE = ["keys", "create", "--name", "ci-deploys", "--mode", "live", "--scope", "models:read", "--scope", "models:upload", "--expires", "90d"];

  test('node-data keys create --name "ci-deploys" --mode live --scope … --scope … --expires 90d makes a restricted live key the app accepts', async () => {
    const io = capture();
    expect(await runCli(DOC_LINE, io, preset)).toBe(0);
    const secret = io.stdout.trim();
    expect(secret).toMatch(/^nd_live_[A-Za-z0-9]+$/);
    expect(io.stderr).not.toContain(secret);
    expect((await request(app).get("/v1/me").set(as(secret)).expect(200)).body).toMatchObject({
      account: "user_ada",
      mode: "live",
      key: "ci-deploys",
      scopes: ["models:read", "models:upload"],
    });
    await request(app).post("/v1/models").set(as(secret)).send({ name: "from-ci" }).expect(201);
    await request(app).get("/v1/payouts").set(as(secret)).expect(403);
    const stored = (await keys.list({ ownerId: "user_ada", mode: "live" })).keys.find((k) => secret.startsWith(k.start))!;
    expect(Math.round((stored.expiresAt!.getTime() - stored.createdAt.getTime()) / 86_400_000)).toBe(90);
  });

  test("node-data keys revoke nd_live_… revokes by the key string; the running app refuses it within its 5 s cache", async () => {
    const made = capture();
    await runCli(["keys", "create", "--name", "ci-deploys-old", "--mode", "live"], made, preset);
    const secret = made.stdout.trim();
    await request(app).get("/v1/me").set(as(secret)).expect(200);
    const io = capture();
    expect(await runCli(["keys", "revoke", secret], io, preset)).toBe(0);
    expect(io.stderr).not.toContain(secret.slice(8));
    now += 5_001; // the CLI is another process: the app's verification cache (5 s) bounds how long it still admits the key
    expect((await request(app).get("/v1/me").set(as(secret)).expect(401)).body.error.code).toBe("key_revoked");
  });

  test("the node-data.ts bin runs the doc's line as written (one spawned process)", async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ["--import", "tsx", join(__dirname, "node-data.ts"), ...DOC_LINE],
        { cwd: join(__dirname, "..", ".."), env: { ...process.env, KEYWARD_DB: db, NODE_DATA_ACCOUNT: "user_ada" } },
        (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).toContain("ci-deploys");
    expect(run.code).toBe(0);
    const secret = run.stdout.trim();
    expect(secret).toMatch(/^nd_live_/);
    expect((await request(app).get("/v1/me").set(as(secret)).expect(200)).body).toMatchObject({ account: "user_ada", mode: "live" });
  }, 60_000);
});
