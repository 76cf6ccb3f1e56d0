/**
 * keyward/fastify beyond the hostile table: a real Fastify 5 server over real HTTP. The RateLimit
 * and lifecycle headers match the Express adapter's; route config `scopes` refuses before the rate
 * limit is charged; `requireScope()` refuses with the unit given back; `global: false` and
 * `config.apiKey` pick the protected routes; the plugin follows Fastify's encapsulation; options
 * and route config are validated at start-up; anonymous requests with `required: false`; the
 * project header; formatError, realm and the audit event's request details. Real MemoryStores.
 */
import Fastify, { type FastifyInstance } from "fastify";
import request from "supertest";
import { KeywardConfigError, type KeywardEvent } from "keyward";
import { keyward, requireScope, type FastifyApiKeyAuthOptions } from "keyward/fastify";
import { makeApp, makeKeys } from "../helpers";
import { expectProjectSteps } from "./project-steps";

const tiers = { t: { monthlyRequests: 1000, rateLimit: { limit: 10, window: "10s" } } };
const NOW = Date.UTC(2026, 10, 23, 12, 0, 4);

/** A Fastify app with the plugin and `routes`, listening on 127.0.0.1; closed by `close()`. */
async function serve(options: FastifyApiKeyAuthOptions, routes: (app: FastifyInstance) => void) {
  const app = Fastify();
  await app.register(keyward, options);
  routes(app);
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  const get = (path: string, headers: Record<string, string> = {}, method = "GET") => fetch(base + path, { method, headers });
  return { app, get, close: () => app.close() };
}

const whoami = (app: FastifyInstance, path = "/whoami", config: Record<string, unknown> = {}) =>
  app.get(path, { config }, async (req) => ({ apiKey: req.apiKey ?? null }));

describe("keyward/fastify", () => {
  it("gives the same RateLimit headers and body as the Express adapter", async () => {
    const express = makeKeys({ tiers });
    const fast = makeKeys({ tiers });
    express.clock.set(NOW);
    fast.clock.set(NOW);
    const a = await express.keys.create({ name: "t", tier: "t" });
    const b = await fast.keys.create({ name: "t", tier: "t" });
    const res = await request(makeApp(express.keys, { rateLimitHeaders: "both" }))
      .get("/whoami")
      .set("Authorization", `Bearer ${a.secret}`)
      .expect(200);
    const server = await serve({ keys: fast.keys, rateLimitHeaders: "both" }, (app) => whoami(app));
    const got = await server.get("/whoami", { authorization: `Bearer ${b.secret}` });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { apiKey: { id: string } }).apiKey.id).toBe(b.key.id);
    for (const name of ["ratelimit-policy", "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]) {
      expect([name, got.headers.get(name)]).toEqual([name, res.headers[name]]);
    }
    await server.close();
    await express.close();
    await fast.close();
  });

  it("sends Deprecation, Sunset and Link for a key in its rotation overlap", async () => {
    const { keys, close } = makeKeys();
    const { secret, key } = await keys.create({ name: "old" });
    await keys.rotate(key.id, { overlap: "1h" });
    const server = await serve({ keys, deprecationLink: "https://example.com/rotate" }, (app) => whoami(app));
    const res = await server.get("/whoami", { authorization: `Bearer ${secret}` });
    expect(res.status).toBe(200);
    expect(res.headers.get("deprecation")).toMatch(/^@\d+$/);
    expect(res.headers.get("sunset")).toMatch(/GMT$/);
    expect(res.headers.get("link")).toBe('<https://example.com/rotate>; rel="deprecation"');
    await server.close();
    await close();
  });

  it("config.scopes refuses before the charge; requireScope refuses with the unit given back", async () => {
    const { keys, clock, close } = makeKeys({ tiers });
    clock.set(NOW);
    const { secret, key } = await keys.create({ name: "t", tier: "t", scopes: ["notes:read"] });
    const server = await serve({ keys }, (app) => {
      whoami(app, "/notes", { scopes: ["notes:read"] });
      app.get("/admin", { config: { scopes: ["notes:admin", "notes:read"] } }, async () => "no");
      app.post("/notes", { preHandler: requireScope("notes:write") }, async () => ({ created: true }));
    });
    const auth = { authorization: `Bearer ${secret}` };
    const read = await server.get("/notes", auth);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ apiKey: expect.objectContaining({ id: key.id, scopes: ["notes:read"] }) });
    expect(read.headers.get("ratelimit")).toMatch(/^"window";r=9;/);
    const admin = await server.get("/admin", auth);
    expect(admin.status).toBe(403);
    expect(await admin.json()).toEqual({ error: { code: "insufficient_scope", message: expect.stringContaining("notes:admin") } });
    expect(admin.headers.get("www-authenticate")).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="This key lacks the required scope: notes:admin.", scope="notes:admin"',
    );
    expect(admin.headers.get("ratelimit")).toBeNull(); // refused before the charge
    const write = await server.get("/notes", auth, "POST");
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ error: { code: "insufficient_scope" } });
    expect(write.headers.get("ratelimit")).toMatch(/^"window";r=9;/); // the refused request's unit came back
    const again = await server.get("/notes", auth);
    expect(again.headers.get("ratelimit")).toMatch(/^"window";r=8;/);
    expect((await server.get("/notes")).status).toBe(401);
    await server.close();
    await close();
  });

  it("global: false protects only routes with config.apiKey or config.scopes; apiKey: false opens a route", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "r", scopes: ["notes:read"] });
    const picked = await serve({ keys, global: false }, (app) => {
      whoami(app, "/open");
      whoami(app, "/keyed", { apiKey: true });
      whoami(app, "/scoped", { scopes: ["notes:read"] });
    });
    expect([(await picked.get("/open")).status, (await picked.get("/keyed")).status, (await picked.get("/scoped")).status]).toEqual([200, 401, 401]);
    const keyed = await picked.get("/keyed", { authorization: `Bearer ${secret}` });
    expect(keyed.status).toBe(200);
    const all = await serve({ keys }, (app) => {
      whoami(app, "/health", { apiKey: false });
      whoami(app, "/private");
    });
    const health = await all.get("/health", { authorization: "Bearer not-even-checked" });
    expect([health.status, await health.json()]).toEqual([200, { apiKey: null }]);
    expect((await all.get("/private")).status).toBe(401);
    await picked.close();
    await all.close();
    await close();
  });

  it("follows Fastify's encapsulation: registered inside a plugin, it protects only that plugin's routes", async () => {
    const { keys, close } = makeKeys();
    const app = Fastify();
    await app.register(async (api) => {
      await api.register(keyward, { keys });
      whoami(api, "/v1/whoami");
    });
    app.get("/public", async () => ({ ok: true }));
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    expect((await fetch(`${base}/public`)).status).toBe(200);
    expect((await fetch(`${base}/v1/whoami`)).status).toBe(401);
    await app.close();
    await close();
  });

  it("fails closed for routes added before the plugin loaded (register not awaited), honouring their config", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "r", scopes: ["notes:read"] });
    const app = Fastify();
    void app.register(keyward, { keys }); // not awaited: these routes are added before the plugin runs
    whoami(app, "/early");
    whoami(app, "/early-open", { apiKey: false });
    whoami(app, "/early-admin", { scopes: ["notes:admin"] });
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const auth = { authorization: `Bearer ${secret}` };
    expect((await fetch(`${base}/early`)).status).toBe(401);
    const admitted = await fetch(`${base}/early`, { headers: auth });
    expect([admitted.status, ((await admitted.json()) as { apiKey: { name: string } }).apiKey.name]).toEqual([200, "r"]);
    expect((await fetch(`${base}/early-open`)).status).toBe(200);
    const admin = await fetch(`${base}/early-admin`, { headers: auth });
    expect([admin.status, await admin.json()]).toEqual([403, { error: expect.objectContaining({ code: "insufficient_scope" }) }]);
    // An unknown path needs a key too (as under Express's app.use), then is a plain 404.
    expect((await fetch(`${base}/nowhere`)).status).toBe(401);
    expect((await fetch(`${base}/nowhere`, { headers: auth })).status).toBe(404);
    await app.close();
    await close();
  });

  it("lets a request without a key through as anonymous with required: false, and still refuses a bad one", async () => {
    const { keys, close } = makeKeys();
    const server = await serve({ keys, required: false }, (app) => whoami(app));
    const none = await server.get("/whoami");
    expect([none.status, await none.json()]).toEqual([200, { apiKey: null }]);
    expect((await server.get("/whoami", { authorization: "Basic dXNlcjpwYXNz" })).status).toBe(200);
    expect((await server.get("/whoami", { authorization: "Bearer sk_live_nope" })).status).toBe(401);
    await server.close();
    await close();
  });

  it("validates options when registered and route config when the route is added", async () => {
    const { keys, close } = makeKeys();
    const register = async (options: unknown) => {
      const app = Fastify();
      try {
        await app.register(keyward, options as FastifyApiKeyAuthOptions);
        await app.ready();
      } finally {
        await app.close();
      }
    };
    await expect(register({ keys, header: "bad header" })).rejects.toThrow(KeywardConfigError);
    await expect(register({ keys, modes: ["staging"] })).rejects.toThrow(/unknown mode "staging"/);
    await expect(register({})).rejects.toThrow(/keys/);
    await expect(register({ keys, nope: true })).rejects.toThrow(KeywardConfigError);
    const app = Fastify();
    await app.register(keyward, { keys });
    expect(() => whoami(app, "/a", { scopes: ["not a scope!"] })).toThrow(KeywardConfigError);
    expect(() => whoami(app, "/b", { scopes: [] })).toThrow(/config\.scopes/);
    expect(() => whoami(app, "/c", { apiKey: false, scopes: ["notes:read"] })).toThrow(/apiKey: false/);
    expect(() => whoami(app, "/d", { apiKey: "yes" })).toThrow(/config\.apiKey/);
    expect(() => requireScope()).toThrow(KeywardConfigError);
    await app.close();
    await close();
  });

  it("reads the project header for user keys (400 for a bad id, 403 outside the allow-list)", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "u", ownerId: "u1", projects: ["alpha"] });
    const server = await serve({ keys, projectHeader: "x-project" }, (app) => whoami(app));
    const status = async (project: string) => (await server.get("/whoami", { authorization: `Bearer ${secret}`, "x-project": project })).status;
    const ok = await server.get("/whoami", { authorization: `Bearer ${secret}`, "x-project": "alpha" });
    expect(((await ok.json()) as { apiKey: { project: string } }).apiKey.project).toBe("alpha");
    expect(await status("beta")).toBe(403);
    expect(await status("not a project!")).toBe(400);
    await server.close();
    await close();
  });

  it("resolves the project from the request, then the header, then the default, and asks memberOf (403 project_forbidden)", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "u", ownerId: "u1" }); // empty allow-list: every project the owner has
    const asked: string[] = [];
    const server = await serve(
      {
        keys,
        projectHeader: "x-project",
        project: (request) => (request.params as { project?: string }).project,
        defaultProject: (key) => `home_${key.ownerId}`,
        memberOf: async (ownerId, project) => {
          asked.push(`${ownerId}:${project}`);
          return project !== "gamma";
        },
      },
      (app) => {
        whoami(app);
        whoami(app, "/projects/:project/whoami");
      },
    );
    const projectOf = async (path: string, headers: Record<string, string> = {}) => {
      const res = await server.get(path, { authorization: `Bearer ${secret}`, ...headers });
      return res.status === 200 ? ((await res.json()) as { apiKey: { project: string } }).apiKey.project : res.status;
    };
    await expectProjectSteps(projectOf, "whoami", asked);
    await expect(Fastify().register(keyward, { keys, defaultProject: "not an id!" }).ready()).rejects.toThrow(/defaultProject/);
    await server.close();
    await close();
  });

  it("shapes refusal bodies with formatError, uses the realm, and reports the refusal with Fastify's request id and no query", async () => {
    const { keys, events, close } = makeKeys();
    const server = await serve({ keys, realm: "notes", formatError: (e, req) => ({ data: null, error: e.message, path: req.routeOptions.url }) }, (app) =>
      whoami(app, "/v1/notes"),
    );
    const res = await server.get("/v1/notes?secret=1");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="notes"');
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ data: null, error: expect.any(String), path: "/v1/notes" });
    const failed = events.filter((e: KeywardEvent) => e.type === "auth.failed");
    expect(failed).toEqual([
      expect.objectContaining({ code: "missing_key", method: "GET", path: "/v1/notes", requestId: expect.stringMatching(/^req-/), ip: "127.0.0.1" }),
    ]);
    await server.close();
    await close();
  });

  it("a formatError that throws reaches Fastify's error handler (500), not the client half-answered", async () => {
    const { keys, close } = makeKeys();
    const server = await serve(
      {
        keys,
        formatError: () => {
          throw new Error("format broke");
        },
      },
      (app) => whoami(app),
    );
    const res = await server.get("/whoami");
    expect(res.status).toBe(500);
    await server.close();
    await close();
  });

  it("requireScope without the plugin before it answers 401 missing_key", async () => {
    const app = Fastify();
    app.get("/", { preHandler: requireScope("notes:read") }, async () => "no");
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    const res = await fetch(base);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "missing_key" } });
    await app.close();
  });
});
