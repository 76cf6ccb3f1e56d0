/**
 * What the hot-path optimisations must leave unchanged: RateLimit headers, 429 codes with
 * Retry-After, refunds when a guard refuses, req.apiKey and the guards' view of the key, on the
 * memory and SQLite stores, under Express and plain node:http.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import request from "supertest";
import { apiKeyAuth, requireScope, type Middleware } from "keyward";
import { makeApp, makeKeys } from "../helpers";

const tiers = { small: { monthlyRequests: 3, rateLimit: { limit: 2, window: "1m" as const } }, big: { monthlyRequests: 1_000_000 } };

describe.each(["memory", "sqlite"] as const)("hot path on the %s store", (storeKind) => {
  let env: ReturnType<typeof makeKeys>;
  beforeEach(() => {
    env = makeKeys({ storeKind, tiers });
  });
  afterEach(() => env.close());

  it("writes RateLimit headers, refuses with rate_limited then quota_exceeded, and refunds on a guard refusal", async () => {
    const { secret } = await env.keys.create({ name: "t", scopes: ["nodes:read"], tier: "small" });
    const app = makeApp(env.keys, {}, (a) => {
      a.get("/read", requireScope("nodes:read"), (_req, res) => {
        res.json({ ok: true });
      });
      a.get("/write", requireScope("nodes:write"), (_req, res) => {
        res.json({ ok: true });
      });
    });
    const auth = { Authorization: `Bearer ${secret}` };
    const first = await request(app).get("/read").set(auth);
    expect(first.status).toBe(200);
    expect(first.headers["ratelimit-policy"]).toBe('"window";q=2;w=60, "monthly";q=3;w=2592000');
    expect(first.headers["ratelimit"]).toBe('"window";r=1;t=60');
    const refused = await request(app).get("/write").set(auth);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("insufficient_scope");
    const second = await request(app).get("/read").set(auth);
    expect(second.headers["ratelimit"]).toBe('"window";r=0;t=60');
    const limited = await request(app).get("/read").set(auth);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(limited.headers["retry-after"]).toBe("60");
    expect(limited.headers["ratelimit"]).toBe('"window";r=0;t=60');
    env.clock.advance(60_000);
    expect((await request(app).get("/read").set(auth)).status).toBe(200);
    const over = await request(app).get("/read").set(auth);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("quota_exceeded");
    expect(over.headers["retry-after"]).toBe("647940");
    expect(over.headers["ratelimit"]).toBe('"monthly";r=0;t=647940');
    env.clock.advance(60_000);
    expect((await request(app).get("/read").set(auth)).body.error.code).toBe("quota_exceeded");
  });

  it("sets req.apiKey without secrets and counts usage", async () => {
    const { secret, key } = await env.keys.create({ name: "t", scopes: ["nodes:read"], tier: "big" });
    const app = makeApp(env.keys);
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get("/whoami").set("Authorization", `Bearer ${secret}`);
      expect(res.status).toBe(200);
      expect(res.body.apiKey).toMatchObject({ id: key.id, name: "t", scopes: ["nodes:read"], tier: "big" });
      expect(JSON.stringify(res.body)).not.toContain(secret.slice(8));
      expect(res.headers["ratelimit"]).toBe(`"monthly";r=${999_999 - i};t=648000`);
    }
    await env.keys.flushUsage();
    expect((await env.keys.get(key.id))!.requestCount).toBe(3);
  });

  it("works the same under plain node:http", async () => {
    const { secret } = await env.keys.create({ name: "t", scopes: ["nodes:read"], tier: "small" });
    const auth: Middleware = apiKeyAuth({ keys: env.keys });
    const guard: Middleware = requireScope("nodes:write");
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      auth(req, res, () => guard(req, res, () => res.end("ok")));
    });
    const refused = await request(server).get("/").set("Authorization", `Bearer ${secret}`);
    expect(refused.status).toBe(403);
    expect(refused.headers["www-authenticate"]).toContain('error="insufficient_scope"');
    const again = await request(server).get("/").set("Authorization", `Bearer ${secret}`);
    expect(again.headers["ratelimit"]).toBe('"window";r=2;t=60');
    expect((await request(server).get("/")).status).toBe(401);
  });
});

describe("Bearer parsing", () => {
  let env: ReturnType<typeof makeKeys>;
  beforeEach(() => {
    env = makeKeys();
  });
  afterEach(() => env.close());

  it("takes the scheme in any case, refuses other schemes, empty tokens and repeated Authorization headers", async () => {
    const { secret } = await env.keys.create({ name: "t" });
    const app = makeApp(env.keys);
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"])
      expect((await request(app).get("/whoami").set("Authorization", `${scheme} ${secret}`)).status).toBe(200);
    expect((await request(app).get("/whoami").set("Authorization", `Bearer   ${secret}`)).status).toBe(200);
    const basic = await request(app).get("/whoami").set("Authorization", `Basic ${secret}`);
    expect([basic.status, basic.body.error.code]).toEqual([401, "missing_key"]);
    const bearerx = await request(app).get("/whoami").set("Authorization", `Bearerx ${secret}`);
    expect([bearerx.status, bearerx.body.error.code]).toEqual([401, "missing_key"]);
    const empty = await request(app).get("/whoami").set("Authorization", "Bearer ");
    expect(empty.status).toBe(400);
    const server = createServer(makeApp(env.keys));
    const twice = await new Promise<number>((resolve, reject) => {
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        const r = httpRequest(
          { port, host: "127.0.0.1", path: "/whoami", headers: ["Authorization", `Bearer ${secret}`, "authorization", `Bearer ${secret}`] },
          (res: IncomingMessage) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        r.on("error", reject);
        r.end();
      });
    });
    server.close();
    expect(twice).toBe(400);
  });
});

describe("req.apiKey under Express", () => {
  let env: ReturnType<typeof makeKeys>;
  beforeEach(() => {
    env = makeKeys();
  });
  afterEach(() => env.close());

  it("is readable in handlers, in mounted sub-apps and Express 4, assignable by the app, and absent for anonymous requests", async () => {
    const { secret, key } = await env.keys.create({ name: "t", scopes: ["nodes:read"] });
    const express5 = (await import("express")).default;
    const express4 = (await import("express4")).default as unknown as typeof express5;
    for (const express of [express5, express4]) {
      const app = express();
      app.use(apiKeyAuth({ keys: env.keys, required: false }));
      const sub = express();
      sub.get("/who", (req, res) => {
        res.json({ id: req.apiKey?.id ?? null });
      });
      app.use("/sub", sub);
      app.get("/who", (req, res) => {
        res.json({ id: req.apiKey?.id ?? null, scopes: req.apiKey?.scopes ?? null });
      });
      app.get("/override", (req, res) => {
        req.apiKey = { ...req.apiKey!, name: "changed" };
        res.json({ name: req.apiKey.name });
      });
      const auth = { Authorization: `Bearer ${secret}` };
      expect((await request(app).get("/who").set(auth)).body).toEqual({ id: key.id, scopes: ["nodes:read"] });
      expect((await request(app).get("/sub/who").set(auth)).body).toEqual({ id: key.id });
      expect((await request(app).get("/override").set(auth)).body).toEqual({ name: "changed" });
      expect((await request(app).get("/who")).body).toEqual({ id: null, scopes: null });
      expect((await request(app).get("/who").set(auth)).body.id).toBe(key.id);
    }
  });
});
