/**
 * Scope and project abuse: prototype names (`__proto__`, `constructor`, `toString`,
 * `hasOwnProperty`) as scopes, project ids, owners, tiers and metadata keys; case variants;
 * wildcard edges; project ids that are prefixes of allowed ones. Never a 500, never a grant,
 * and Object.prototype is never touched.
 */
import { trackSecret } from "./leak-guard";
import express from "express";
import request from "supertest";
import { KeyManager, KeywardConfigError, KeywardError, MemoryStore, apiKeyAuth, requireAnyScope, requireScope, requiredScope } from "keyward";
import { makeKeys } from "../helpers";

const PROTO_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype", "valueOf", "__defineGetter__"];
const protoSnapshot = Object.getOwnPropertyNames(Object.prototype).sort();

afterAll(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoSnapshot);
  expect(({} as Record<string, unknown>).scopes).toBeUndefined();
  expect(({} as Record<string, unknown>).projects).toBeUndefined();
});

async function createError(keys: KeyManager, input: Parameters<KeyManager["create"]>[0]): Promise<string> {
  try {
    await keys.create(input);
    return "created";
  } catch (e) {
    expect(e).toBeInstanceOf(KeywardError);
    return (e as KeywardError).code;
  }
}

describe("prototype names at creation", () => {
  const env = makeKeys();
  afterAll(() => env.close());

  it.each([
    ["__proto__", "validation_failed"],
    ["toString", "validation_failed"],
    ["hasOwnProperty", "validation_failed"],
    ["__defineGetter__", "validation_failed"],
    ["__proto__:read", "validation_failed"],
    ["users:__proto__", "validation_failed"],
    ["Users:read", "validation_failed"],
    ["USERS:READ", "validation_failed"],
    ["users:*:read", "validation_failed"],
    ["*:read", "validation_failed"],
    ["users :read", "validation_failed"],
    ["constructor", "created"],
    ["prototype", "created"],
    ["constructor:read", "created"],
    ["valueof", "created"],
  ])("scope %p → %s", async (scope, want) => {
    expect(await createError(env.keys, { name: "s", scopes: [scope] })).toBe(want);
  });

  it.each([
    ["__proto__", "validation_failed"],
    ["__defineGetter__", "validation_failed"],
    [" proj", "validation_failed"],
    ["proj/../x", "validation_failed"],
    ["constructor", "created"],
    ["toString", "created"],
    ["hasOwnProperty", "created"],
  ])("project id %p → %s (user allow-list and project key)", async (project, want) => {
    expect(await createError(env.keys, { name: "p", projects: [project] })).toBe(want);
    expect(await createError(env.keys, { name: "p", kind: "project", project })).toBe(want);
  });

  it("owner ids, tiers and metadata keys named after prototype members never break or pollute", async () => {
    for (const name of PROTO_NAMES) {
      expect(await createError(env.keys, { name: "o", ownerId: name })).toBe("created");
      expect(await createError(env.keys, { name: "t", tier: name })).toBe("validation_failed");
    }
    const listed = await env.keys.list({ ownerId: "__proto__" });
    expect(listed.keys).toHaveLength(1);
    for (const bad of ['{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"admin": true}}}', '{"a": {"b": {"__proto__": {"admin": true}}}}']) {
      expect(await createError(env.keys, { name: "m", metadata: JSON.parse(bad) })).toBe("validation_failed");
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("configuration with prototype names: refused at start-up or inert, never a grant", () => {
    expect(() => new KeyManager({ store: new MemoryStore(), defaultScopes: ["__proto__"] })).toThrow(KeywardConfigError);
    expect(() => new KeyManager({ store: new MemoryStore(), scopes: ["toString"] })).toThrow(KeywardConfigError);
    expect(() => new KeyManager({ store: new MemoryStore(), implies: { "users:read": ["__proto__"] } })).toThrow(KeywardConfigError);
    expect(() => new KeyManager({ store: new MemoryStore(), tiers: JSON.parse('{"__proto__": {"maxActiveKeys": 1}}'), defaultTier: "__proto__" })).toThrow(
      KeywardConfigError,
    );
    expect(() => requiredScope("__proto__")).toThrow(KeywardConfigError);
    expect(() => requireScope("hasOwnProperty")).toThrow(KeywardConfigError);
    expect(() => requireScope("users:*")).toThrow(KeywardConfigError);
    expect(() => requireScope("Users:read")).toThrow(KeywardConfigError);
    expect(() => apiKeyAuth({ keys: new KeyManager({ store: new MemoryStore() }), defaultProject: "__proto__" })).toThrow(KeywardConfigError);
    // A JSON config whose implication rule is keyed "__proto__" is inert: it grants nothing.
    const keys = new KeyManager({ store: new MemoryStore(), implies: JSON.parse('{"__proto__": ["users:read"]}') });
    return keys.create({ name: "x", scopes: ["constructor"] }).then(async ({ secret }) => {
      trackSecret(secret);
      const result = await keys.verify(secret, { scope: requiredScope("users:read") });
      expect(result.ok).toBe(false);
      await keys.close();
    });
  });
});

describe("guards and project selection over HTTP", () => {
  const env = makeKeys({ implies: { constructor: ["admin:read"] } });
  const app = express();
  app.use((req, _res, next) => {
    // A spoofed principal from an earlier middleware must not satisfy the guards on /spoof.
    (req as unknown as { apiKey: unknown }).apiKey = { id: "key_x", scopes: ["*"] };
    next();
  });
  app.get("/spoof", requireScope("users:read"), (_req, res) => {
    res.json({ ok: true });
  });
  app.use(apiKeyAuth({ keys: env.keys, projectHeader: "x-project" }));
  // Routes are numbered: a ":" in an Express path would start a route parameter.
  const ROUTE_SCOPES = ["users:read", "users:write", "users", "usersx:read", "user:read", "constructor", "tostring", "admin:read"];
  ROUTE_SCOPES.forEach((scope, i) => {
    app.get(`/scope/${i}`, requireScope(scope), (_req, res) => {
      res.json({ ok: true });
    });
  });
  app.get("/any", requireAnyScope("constructor", "usersx:read"), (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/project", (req, res) => {
    res.json({ project: req.apiKey!.project });
  });
  afterAll(() => env.close());

  const secrets = new Map<string, string>();
  beforeAll(async () => {
    const make = async (label: string, input: Parameters<KeyManager["create"]>[0]) => secrets.set(label, (await env.keys.create(input)).secret);
    await make("users:*", { name: "w", scopes: ["users:*"] });
    await make("users", { name: "b", scopes: ["users"] });
    await make("users:read", { name: "r", scopes: ["users:read"] });
    await make("*", { name: "all", scopes: ["*"] });
    await make("none", { name: "none", scopes: [] });
    await make("constructor", { name: "c", scopes: ["constructor"] });
    await make("allow:proj_abc", { name: "a", projects: ["proj_abc"] });
    await make("allow:toString", { name: "ts", projects: ["toString", "constructor"] });
    await make("allow:any", { name: "any" });
    await make("project:constructor", { name: "pk", kind: "project", project: "constructor" });
  });

  const get = (label: string, path: string, project?: string) => {
    const r = request(app)
      .get(path)
      .set("Authorization", `Bearer ${secrets.get(label)!}`);
    return project === undefined ? r : r.set("x-project", project);
  };

  it.each([
    ["users:*", "users:read", 200],
    ["users:*", "users:write", 200],
    ["users:*", "users", 403],
    ["users:*", "usersx:read", 403],
    ["users:*", "user:read", 403],
    ["users:*", "constructor", 403],
    ["users:*", "tostring", 403],
    ["users", "users", 200],
    ["users", "users:read", 403],
    ["users", "usersx:read", 403],
    ["users:read", "users:read", 200],
    ["users:read", "users:write", 403],
    ["users:read", "users", 403],
    ["users:read", "usersx:read", 403],
    ["*", "users:read", 200],
    ["*", "usersx:read", 200],
    ["*", "constructor", 200],
    ["none", "users:read", 403],
    ["none", "users", 403],
    ["none", "constructor", 403],
    ["none", "tostring", 403],
    ["constructor", "constructor", 200],
    ["constructor", "admin:read", 200],
    ["constructor", "users:read", 403],
    ["constructor", "tostring", 403],
  ] as const)("key %p on a route requiring %p → %i", async (label, scope, status) => {
    const res = await get(label, `/scope/${ROUTE_SCOPES.indexOf(scope)}`);
    expect(res.status).toBe(status);
    if (status === 403) expect(res.body.error.code).toBe("insufficient_scope");
  });

  it("requireAnyScope with prototype-named scopes grants only what is held", async () => {
    expect((await get("constructor", "/any")).status).toBe(200);
    expect((await get("users:*", "/any")).status).toBe(403);
    expect((await get("none", "/any")).status).toBe(403);
  });

  it("a principal set by another middleware never satisfies a guard", async () => {
    const res = await request(app).get("/spoof");
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 401, code: "missing_key" });
  });

  it.each([
    ["allow:proj_abc", "proj_abc", 200, "proj_abc"],
    ["allow:proj_abc", "proj_ab", 403, "project_forbidden"],
    ["allow:proj_abc", "proj_abcd", 403, "project_forbidden"],
    ["allow:proj_abc", "PROJ_ABC", 403, "project_forbidden"],
    ["allow:proj_abc", "proj_abc.", 403, "project_forbidden"],
    ["allow:proj_abc", "constructor", 403, "project_forbidden"],
    ["allow:proj_abc", "toString", 403, "project_forbidden"],
    ["allow:proj_abc", "__proto__", 400, "invalid_request"],
    ["allow:proj_abc", "proj_abc, proj_x", 400, "invalid_request"],
    ["allow:proj_abc", "", 400, "invalid_request"],
    ["allow:toString", "toString", 200, "toString"],
    ["allow:toString", "constructor", 200, "constructor"],
    ["allow:toString", "tostring", 403, "project_forbidden"],
    ["allow:toString", "hasOwnProperty", 403, "project_forbidden"],
    ["allow:any", "hasOwnProperty", 200, "hasOwnProperty"],
    ["project:constructor", "proj_abc", 200, "constructor"],
    ["project:constructor", "__proto__", 200, "constructor"],
  ] as const)("key %p asking for project %p → %i %s", async (label, project, status, expected) => {
    const res = await get(label, "/project", project);
    expect(res.status).toBe(status);
    if (status === 200) expect(res.body.project).toBe(expected);
    else expect(res.body.error.code).toBe(expected);
  });

  it("a repeated project header is refused, not merged", async () => {
    const res = await request(app)
      .get("/project")
      .set("Authorization", `Bearer ${secrets.get("allow:proj_abc")!}`)
      .set("x-project", ["proj_abc", "proj_abc"] as unknown as string);
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code: "invalid_request" });
  });

  it("verify() with prototype-named projects follows the same allow-list rules", async () => {
    const restricted = await env.keys.verify(secrets.get("allow:proj_abc")!, { project: "constructor" });
    expect(restricted.ok ? "ok" : restricted.error.code).toBe("project_forbidden");
    const prefix = await env.keys.verify(secrets.get("allow:proj_abc")!, { project: "proj_ab" });
    expect(prefix.ok ? "ok" : prefix.error.code).toBe("project_forbidden");
    const bound = await env.keys.verify(secrets.get("project:constructor")!, { project: "toString" });
    expect(bound.ok && bound.key.project).toBe("constructor");
  });
});
