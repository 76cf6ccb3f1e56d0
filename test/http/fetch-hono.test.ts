/**
 * keyward/fetch and keyward/hono beyond the hostile table: the headers an admitted request gets
 * (RateLimit, lifecycle) match the Express adapter's; anonymous requests with `required: false`;
 * options validated at construction; the project header; formatError; Hono's typed `c.get("apiKey")`
 * and a `requireScope` refusal that gives back the rate-limit unit. Real MemoryStores.
 */
import request from "supertest";
import { Hono } from "hono";
import { getRequestListener } from "@hono/node-server";
import { KeywardConfigError } from "keyward";
import { fetchAuth } from "keyward/fetch";
import { apiKeyAuth, requireScope, type ApiKeyEnv } from "keyward/hono";
import { makeApp, makeKeys } from "../helpers";
import { expectProjectSteps } from "./project-steps";

const tiers = { t: { monthlyRequests: 1000, rateLimit: { limit: 10, window: "10s" } } };
const NOW = Date.UTC(2026, 10, 23, 12, 0, 4);
const get = (headers: Record<string, string> = {}, path = "/") => new Request(`http://localhost${path}`, { headers });

describe("keyward/fetch", () => {
  it("gives the same RateLimit headers as the Express adapter", async () => {
    const express = makeKeys({ tiers });
    const web = makeKeys({ tiers });
    express.clock.set(NOW);
    web.clock.set(NOW);
    const a = await express.keys.create({ name: "t", tier: "t" });
    const b = await web.keys.create({ name: "t", tier: "t" });
    const res = await request(makeApp(express.keys, { rateLimitHeaders: "both" }))
      .get("/whoami")
      .set("Authorization", `Bearer ${a.secret}`)
      .expect(200);
    const result = await fetchAuth({ keys: web.keys, rateLimitHeaders: "both" })(get({ authorization: `Bearer ${b.secret}` }));
    if (!result.ok) throw new Error("refused");
    expect(result.key?.id).toBe(b.key.id);
    for (const name of ["ratelimit-policy", "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]) {
      expect([name, result.headers.get(name)]).toEqual([name, res.headers[name]]);
    }
    await express.close();
    await web.close();
  });

  it("sends Deprecation, Sunset and Link for a key in its rotation overlap", async () => {
    const { keys, close } = makeKeys();
    const { secret, key } = await keys.create({ name: "old" });
    await keys.rotate(key.id, { overlap: "1h" });
    const result = await fetchAuth({ keys, deprecationLink: "https://example.com/rotate" })(get({ authorization: `Bearer ${secret}` }));
    if (!result.ok) throw new Error("refused");
    expect(result.headers.get("deprecation")).toMatch(/^@\d+$/);
    expect(result.headers.get("sunset")).toMatch(/GMT$/);
    expect(result.headers.get("link")).toBe('<https://example.com/rotate>; rel="deprecation"');
    await close();
  });

  it("lets a request without a key through as anonymous with required: false, and still refuses a bad one", async () => {
    const { keys, close } = makeKeys();
    const auth = fetchAuth({ keys, required: false });
    expect(await auth(get())).toMatchObject({ ok: true, key: undefined });
    expect(await auth(get({ authorization: "Basic dXNlcjpwYXNz" }))).toMatchObject({ ok: true, key: undefined });
    const bad = await auth(get({ authorization: "Bearer sk_live_nope" }));
    expect(bad.ok ? 200 : bad.response.status).toBe(401);
    await close();
  });

  it("validates options at construction", () => {
    const { keys } = makeKeys();
    expect(() => fetchAuth({ keys, header: "bad header" })).toThrow(KeywardConfigError);
    expect(() => fetchAuth({ keys, modes: ["staging"] })).toThrow(/unknown mode "staging"/);
    expect(() => fetchAuth({ keys, scopes: ["not a scope!"] })).toThrow(KeywardConfigError);
    expect(() => fetchAuth({} as never)).toThrow(/keys/);
    expect(() => fetchAuth({ keys, nope: true } as never)).toThrow(KeywardConfigError);
  });

  it("reads the project header for user keys (400 for a bad id, 403 outside the allow-list)", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "u", ownerId: "u1", projects: ["alpha"] });
    const auth = fetchAuth({ keys, projectHeader: "x-project" });
    const ok = await auth(get({ authorization: `Bearer ${secret}`, "x-project": "alpha" }));
    expect(ok.ok && ok.key?.project).toBe("alpha");
    const status = async (project: string) => {
      const r = await auth(get({ authorization: `Bearer ${secret}`, "x-project": project }));
      return r.ok ? 200 : r.response.status;
    };
    expect(await status("beta")).toBe(403);
    expect(await status("not a project!")).toBe(400);
    await close();
  });

  it("resolves the project from the request, then the header, then the default, and asks memberOf (403 project_forbidden)", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "u", ownerId: "u1" }); // empty allow-list: every project the owner has
    const asked: string[] = [];
    const auth = fetchAuth({
      keys,
      projectHeader: "x-project",
      project: (request) => /^\/projects\/([^/]+)\//.exec(new URL(request.url).pathname)?.[1],
      defaultProject: (key) => `home_${key.ownerId}`,
      memberOf: (ownerId, project) => {
        asked.push(`${ownerId}:${project}`);
        return project !== "gamma";
      },
    });
    const projectOf = async (path: string, headers: Record<string, string> = {}) => {
      const r = await auth(get({ authorization: `Bearer ${secret}`, ...headers }, path));
      return r.ok ? r.key?.project : r.response.status;
    };
    await expectProjectSteps(projectOf, "notes", asked);
    expect(() => fetchAuth({ keys, defaultProject: "not an id!" })).toThrow(/defaultProject/);
    await close();
  });

  it("shapes refusal bodies with formatError and uses the realm", async () => {
    const { keys, close } = makeKeys();
    const auth = fetchAuth({ keys, realm: "notes", formatError: (e, req) => ({ data: null, error: e.message, path: new URL(req.url).pathname }) });
    const result = await auth(get({}, "/v1/notes"));
    if (result.ok) throw new Error("admitted");
    expect(result.response.status).toBe(401);
    expect(result.response.headers.get("www-authenticate")).toBe('Bearer realm="notes"');
    expect(await result.response.json()).toEqual({ data: null, error: expect.any(String), path: "/v1/notes" });
    await close();
  });
});

describe("keyward/hono", () => {
  it('sets a typed c.get("apiKey") and the RateLimit headers; requireScope refuses with the unit given back', async () => {
    const { keys, clock, close } = makeKeys({ tiers });
    clock.set(NOW);
    const { secret, key } = await keys.create({ name: "t", tier: "t", scopes: ["notes:read"] });
    const app = new Hono<ApiKeyEnv>();
    app.use("/v1/*", apiKeyAuth({ keys }));
    app.get("/v1/notes", requireScope("notes:read"), (c) => c.json({ id: c.get("apiKey")?.id ?? null }));
    app.post("/v1/notes", requireScope("notes:write"), (c) => c.json({ created: true }, 201));
    const auth = { authorization: `Bearer ${secret}` };
    const read = await app.request("/v1/notes", { headers: auth });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ id: key.id });
    expect(read.headers.get("ratelimit")).toMatch(/^"window";r=9;/);
    const write = await app.request("/v1/notes", { method: "POST", headers: auth });
    expect(write.status).toBe(403);
    expect(await write.json()).toMatchObject({ error: { code: "insufficient_scope" } });
    expect(write.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/);
    expect(write.headers.get("ratelimit")).toMatch(/^"window";r=9;/); // the refused request's unit came back
    const again = await app.request("/v1/notes", { headers: auth });
    expect(again.headers.get("ratelimit")).toMatch(/^"window";r=8;/);
    const none = await app.request("/v1/notes");
    expect(none.status).toBe(401);
    // The two admitted reads count as uses of notes:read; the refused write counts nothing.
    expect(await keys.scopeUsage(key.id)).toMatchObject({ used: [{ scope: "notes:read", count: 2 }], unused: [] });
    await close();
  });

  it("fetchAuth's scopes option counts its scopes for admitted requests only", async () => {
    const { keys, close } = makeKeys();
    const { secret, key } = await keys.create({ name: "f", scopes: ["notes:read", "notes:write", "users:read"] });
    const auth = fetchAuth({ keys, scopes: ["notes:read", "notes:write"] });
    expect((await auth(get({ authorization: `Bearer ${secret}` }))).ok).toBe(true);
    const reader = await keys.create({ name: "r", scopes: ["notes:read"] });
    expect((await auth(get({ authorization: `Bearer ${reader.secret}` }))).ok).toBe(false);
    expect(await keys.scopeUsage(key.id)).toMatchObject({
      used: [
        { scope: "notes:read", count: 1 },
        { scope: "notes:write", count: 1 },
      ],
      unused: ["users:read"],
    });
    expect((await keys.scopeUsage(reader.key.id)).used).toEqual([]);
    await close();
  });

  it("puts its headers on the handler's response, over @hono/node-server too, even one whose headers cannot change", async () => {
    const { keys, clock, close } = makeKeys({ tiers });
    clock.set(NOW);
    const { secret } = await keys.create({ name: "t", tier: "t" });
    const app = new Hono<ApiKeyEnv>();
    app.use("*", apiKeyAuth({ keys }));
    app.get("/own", (c) => {
      c.header("x-handler", "kept");
      c.header("ratelimit", "set by the handler");
      return c.json({ ok: true });
    });
    // Response.redirect's headers are immutable: the adapter cannot change them in place.
    app.get("/moved", () => Response.redirect("http://localhost/elsewhere", 302));
    const auth = { authorization: `Bearer ${secret}` };
    const own = await app.request("/own", { headers: auth });
    expect([own.status, own.headers.get("x-handler"), own.headers.get("ratelimit")]).toEqual([200, "kept", expect.stringMatching(/^"window";r=9;/)]);
    const moved = await app.request("/moved", { headers: auth });
    expect([moved.status, moved.headers.get("location"), moved.headers.get("ratelimit")]).toEqual([
      302,
      "http://localhost/elsewhere",
      expect.stringMatching(/^"window";r=8;/),
    ]);
    const server = request(getRequestListener(app.fetch));
    const wire = await server.get("/own").set(auth).expect(200);
    expect([wire.headers["x-handler"], wire.headers["ratelimit"], wire.headers["ratelimit-policy"], wire.body]).toEqual([
      "kept",
      expect.stringMatching(/^"window";r=7;/),
      expect.stringMatching(/^"window";q=10;w=10, /),
      { ok: true },
    ]);
    const redirect = await server.get("/moved").set(auth).expect(302);
    expect([redirect.headers.location, redirect.headers["ratelimit"]]).toEqual(["http://localhost/elsewhere", expect.stringMatching(/^"window";r=6;/)]);
    await close();
  });

  it("requireScope without apiKeyAuth before it answers 401 missing_key", async () => {
    const app = new Hono<ApiKeyEnv>();
    app.get("/", requireScope("notes:read"), (c) => c.text("no"));
    const res = await app.request("/");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "missing_key" } });
  });
});
