/**
 * Projects. User keys with an allow-list or an empty one, project keys
 * bound to one project (not scope-gated, header ignored), the project header, resolver and default.
 */
import express from "express";
import request from "supertest";
import { KeyManager, MemoryStore, apiKeyAuth, requireScope, type ApiKeyAuthOptions } from "keyward";

const P1 = "5903725b-f554-4294-ab17-c992a765a001";
const P2 = "5903725b-f554-4294-ab17-c992a765a002";
const P3 = "5903725b-f554-4294-ab17-c992a765a003";
const HEADER = "x-acme-project";

describe("projects", () => {
  const keys = new KeyManager({ store: new MemoryStore(), usage: false });
  let listed: string; // user key allowed on P1, P2 with scopes ["read"]
  let open: string; // user key with an empty allow-list
  let bound: string; // project key bound to P2
  let boundId: string;

  beforeAll(async () => {
    listed = (await keys.create({ name: "cli", ownerId: "u1", projects: [P1, P2], scopes: ["read"] })).secret;
    open = (await keys.create({ name: "agent", ownerId: "u1", scopes: ["read", "deploy"] })).secret;
    const p = await keys.create({ name: "ci", kind: "project", project: P2, ownerId: "u1" });
    bound = p.secret;
    boundId = p.key.id;
    expect(p.key).toMatchObject({ kind: "project", projectId: P2, projects: [], scopes: [] });
  });
  afterAll(() => keys.close());

  const app = (options: ApiKeyAuthOptions = {}) => {
    const a = express();
    a.use(apiKeyAuth({ keys, projectHeader: HEADER, ...options }));
    a.get("/v1/apps", (req, res) => {
      res.json({ project: req.apiKey!.project, projects: req.apiKey!.projects, kind: req.apiKey!.kind });
    });
    a.post("/v1/deploy", requireScope("deploy"), (req, res) => {
      res.status(201).json({ project: req.apiKey!.project });
    });
    return a;
  };
  const get = (a: express.Express, secret: string, project?: string) => {
    const r = request(a).get("/v1/apps").set("Authorization", `Bearer ${secret}`);
    return project === undefined ? r : r.set(HEADER, project);
  };

  it("lets a user key act on a project in its allow-list and sets req.apiKey.project", async () => {
    const res = await get(app(), listed, P1).expect(200);
    expect(res.body).toEqual({ project: P1, projects: [P1, P2], kind: "user" });
  });

  it("refuses a user key outside its allow-list with 403 project_forbidden", async () => {
    const res = await get(app(), listed, P3).expect(403);
    expect(res.body).toEqual({ error: { code: "project_forbidden", message: expect.any(String) } });
    expect(res.headers["www-authenticate"]).toBeUndefined();
  });

  it("lets a user key with an empty allow-list act on any project", async () => {
    for (const p of [P1, P3, "proj_42"]) expect((await get(app(), open, p).expect(200)).body.project).toBe(p);
  });

  it("binds project keys: the header is ignored (even a malformed one) and scopes are not checked", async () => {
    const a = app();
    for (const p of [undefined, P1, P3, "not a project!"]) {
      expect((await get(a, bound, p).expect(200)).body).toEqual({ project: P2, projects: [P2], kind: "project" });
    }
    const res = await request(a).post("/v1/deploy").set("Authorization", `Bearer ${bound}`).set(HEADER, P1).expect(201);
    expect(res.body.project).toBe(P2);
    // The user key without `deploy` is scope-gated; the one with it passes.
    await request(a)
      .post("/v1/deploy")
      .set("Authorization", `Bearer ${listed}`)
      .set(HEADER, P1)
      .expect(403, { error: { code: "insufficient_scope", message: "This key lacks the required scope: deploy." } });
    await request(a).post("/v1/deploy").set("Authorization", `Bearer ${open}`).set(HEADER, P1).expect(201);
  });

  it.each([
    ["a space", "proj 1"],
    ["a slash", "../etc"],
    ["a leading dash", "-p"],
    ["129 characters", "p".repeat(129)],
    ["an empty value", ""],
  ])("answers 400 invalid_request to a project header with %s", async (_label, value) => {
    const res = await get(app(), open, value).expect(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.message).toContain(HEADER);
  });

  it("gives null as the project when none is named and there is no default", async () => {
    expect((await get(app(), open).expect(200)).body.project).toBeNull();
    expect((await get(app({ projectHeader: undefined }), open, P1).expect(200)).body.project).toBeNull();
  });

  it("falls back to defaultProject (a string) when the header is absent", async () => {
    const a = app({ defaultProject: P1 });
    expect((await get(a, open).expect(200)).body.project).toBe(P1);
    expect((await get(a, open, P3).expect(200)).body.project).toBe(P3); // the header wins
    expect((await get(a, listed).expect(200)).body.project).toBe(P1);
    const outside = app({ defaultProject: P3 });
    expect((await get(outside, listed).expect(403)).body.error.code).toBe("project_forbidden");
  });

  it("falls back to defaultProject (a function of the key and request), e.g. the owner's default", async () => {
    const defaults: Record<string, string> = { u1: P2 };
    const seen: string[] = [];
    const a = app({
      defaultProject: (key, req) => {
        expect(req.headers.authorization).toMatch(/^Bearer /);
        seen.push(JSON.stringify(key));
        return key.ownerId ? defaults[key.ownerId] : null;
      },
    });
    expect((await get(a, open).expect(200)).body.project).toBe(P2);
    expect((await get(a, listed).expect(200)).body.project).toBe(P2);
    expect(seen).toHaveLength(2);
    for (const json of seen) for (const leak of [open, listed, "hash", "secret"]) expect(json).not.toContain(leak);
    expect((await get(a, bound).expect(200)).body.project).toBe(P2); // not consulted for project keys
    expect(seen).toHaveLength(2);
  });

  it("uses the project resolver before the header, then the header, then the default", async () => {
    const a = app({
      defaultProject: P3,
      project: (req) => /^\/v1\/apps\?project=([\w-]+)/.exec(req.url ?? "")?.[1] ?? null,
    });
    const via = (q: string, header?: string) => {
      const r = request(a).get(`/v1/apps${q}`).set("Authorization", `Bearer ${open}`);
      return (header ? r.set(HEADER, header) : r).expect(200).then((res) => res.body.project);
    };
    expect(await via(`?project=${P1}`, P2)).toBe(P1);
    expect(await via("", P2)).toBe(P2);
    expect(await via("")).toBe(P3);
    const res = await request(a).get(`/v1/apps?project=${P3}`).set("Authorization", `Bearer ${listed}`).expect(403);
    expect(res.body.error.code).toBe("project_forbidden");
  });

  it("checks what a resolver or default function returns like a header value (400 invalid_request)", async () => {
    for (const bad of ["a b", "../x", 42, { id: P1 }]) {
      const viaResolver = app({ project: () => bad as string });
      const res = await get(viaResolver, open).expect(400);
      expect(res.body.error).toEqual({ code: "invalid_request", message: "The requested project is not a valid project id." });
      await get(app({ defaultProject: () => bad as string }), open).expect(400);
    }
    // undefined and null mean "none named": fall through to the header, then the default.
    expect((await get(app({ project: () => undefined }), open, P1).expect(200)).body.project).toBe(P1);
    expect((await get(app({ project: () => null, defaultProject: () => undefined }), open).expect(200)).body.project).toBeNull();
  });

  it("applies the same rules in KeyManager.verify and list", async () => {
    const ok = await keys.verify(listed, { project: P2 });
    expect(ok.ok && ok.key.project).toBe(P2);
    const no = await keys.verify(listed, { project: P3 });
    expect(!no.ok && no.error.code).toBe("project_forbidden");
    const b = await keys.verify(bound, { project: P1 });
    expect(b.ok && b.key.project).toBe(P2);
    const inP3 = (await keys.list({ projectId: P3 })).keys.map((k) => k.name).sort();
    expect(inP3).toEqual(["agent"]);
    const inP2 = (await keys.list({ projectId: P2 })).keys.map((k) => k.name).sort();
    expect(inP2).toEqual(["agent", "ci", "cli"]);
    expect((await keys.list({ kind: "project" })).keys.map((k) => k.id)).toEqual([boundId]);
  });

  it("validates project fields at creation", async () => {
    await expect(keys.create({ name: "x", kind: "project" })).rejects.toMatchObject({ code: "validation_failed", details: [{ path: "project" }] });
    await expect(keys.create({ name: "x", project: P1 })).rejects.toMatchObject({ details: [{ path: "project" }] });
    await expect(keys.create({ name: "x", kind: "project", project: P1, projects: [P2] })).rejects.toMatchObject({ details: [{ path: "projects" }] });
    await expect(keys.create({ name: "x", projects: ["bad project"] })).rejects.toMatchObject({ details: [{ path: "projects.0" }] });
    const p = await keys.create({ name: "y", kind: "project", project: P1 });
    await expect(keys.update(p.key.id, { scopes: ["read"] })).rejects.toMatchObject({ code: "validation_failed", details: [{ path: "scopes" }] });
  });
});

describe("memberOf: the owner's own project memberships", () => {
  const keys = new KeyManager({ store: new MemoryStore(), usage: false });
  const members = new Map([["u1", [P1, P2]]]);
  const isMember = (owner: string | null, project: string) => members.get(owner ?? "")?.includes(project) ?? false;
  afterAll(() => keys.close());

  const app = (memberOf: ApiKeyAuthOptions["memberOf"]) => {
    const a = express();
    a.use(apiKeyAuth({ keys, projectHeader: HEADER, memberOf }));
    a.get("/v1/apps", (req, res) => {
      res.json({ project: req.apiKey!.project });
    });
    return a;
  };

  it.each([
    ["sync", isMember],
    ["async", async (owner: string | null, project: string) => isMember(owner, project)],
  ] as const)("an empty allow-list reaches every project the owner has, and no other (%s)", async (_kind, memberOf) => {
    const { secret } = await keys.create({ name: "agent", ownerId: "u1" });
    const a = app(memberOf);
    await request(a).get("/v1/apps").set("Authorization", `Bearer ${secret}`).set(HEADER, P2).expect(200, { project: P2 });
    const refused = await request(a).get("/v1/apps").set("Authorization", `Bearer ${secret}`).set(HEADER, P3).expect(403);
    expect(refused.body.error.code).toBe("project_forbidden");
  });

  it("applies on top of the allow-list, and does not ask about project keys", async () => {
    const asked: string[] = [];
    const a = app((owner, project) => {
      asked.push(project);
      return isMember(owner, project);
    });
    const listed = await keys.create({ name: "cli", ownerId: "u1", projects: [P1, P3] });
    await request(a).get("/v1/apps").set("Authorization", `Bearer ${listed.secret}`).set(HEADER, P1).expect(200, { project: P1 });
    expect((await request(a).get("/v1/apps").set("Authorization", `Bearer ${listed.secret}`).set(HEADER, P3).expect(403)).body.error.code).toBe(
      "project_forbidden",
    );
    expect((await request(a).get("/v1/apps").set("Authorization", `Bearer ${listed.secret}`).set(HEADER, P2).expect(403)).body.error.code).toBe(
      "project_forbidden",
    );
    expect(asked).toEqual([P1, P3]); // P2 was refused by the allow-list before asking
    const bound = await keys.create({ name: "ci", kind: "project", project: P3, ownerId: null });
    await request(a).get("/v1/apps").set("Authorization", `Bearer ${bound.secret}`).expect(200, { project: P3 });
    expect(asked).toEqual([P1, P3]);
  });

  it("is checked at start-up", () => {
    expect(() => apiKeyAuth({ keys, memberOf: "yes" as never })).toThrow(/apiKeyAuth.memberOf/);
  });
});
