/**
 * Scopes. Grammar checked at creation (`validation_failed` naming the bad one),
 * wildcards, implications, the catalogue, default scopes stored on the key, and hostile
 * scope strings.
 */
import express from "express";
import request from "supertest";
import {
  KeyManager,
  KeywardConfigError,
  KeywardError,
  MemoryStore,
  ScopeSet,
  apiKeyAuth,
  normalizeScopes,
  requireAnyScope,
  requireScope,
  requiredScope,
  scopeError,
} from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

const has = (granted: string[], required: string, implies?: Record<string, string[]>) => ScopeSet.compile(granted, implies).has(requiredScope(required));

describe("scope grammar", () => {
  it.each([
    "*",
    "nodes",
    "nodes:read",
    "nodes:*",
    "batches:write",
    "a1.b-c_d:x.y-z_1",
    "constructor",
    "constructor:read",
    "9lives:read",
    "a".repeat(64) + ":" + "b".repeat(64),
  ])("accepts %s", (scope) => {
    expect(scopeError(scope)).toBeNull();
  });

  it.each([
    ["empty", "", /empty/],
    ["__proto__", "__proto__", /not a valid scope/],
    ["__proto__:read", "__proto__:read", /not a valid scope/],
    ["*:*:*", "*:*:*", /not a valid scope/],
    ["three parts", "nodes:read:extra", /not a valid scope/],
    ["uppercase", "Nodes:read", /not a valid scope/],
    ["no resource", ":read", /not a valid scope/],
    ["no action", "nodes:", /not a valid scope/],
    ["wildcard resource", "*:read", /not a valid scope/],
    ["inner star", "no*des:read", /not a valid scope/],
    ["space", "nodes read", /not a valid scope/],
    ["trailing space", "nodes:read ", /not a valid scope/],
    ["non-ASCII", "nodes:r\u00e9ad", /not a valid scope/],
    ["10 kB long", "x".repeat(10_240), /10240 characters long/],
    ["65-character segment", "a".repeat(65) + ":r", /not a valid scope/],
  ])("refuses a scope that is %s", (_label, scope, message) => {
    expect(scopeError(scope)).toMatch(message);
  });

  it("refuses non-strings", () => {
    for (const v of [null, undefined, 1, {}, ["a"]]) expect(scopeError(v)).toMatch(/must be a string/);
  });

  it("normalizeScopes names every bad entry and drops duplicates", () => {
    expect(normalizeScopes(["nodes:read", "nodes:read", "*"])).toEqual(["nodes:read", "*"]);
    try {
      normalizeScopes(["nodes:read", "", "Bad", "__proto__"]);
      throw new Error("should have thrown");
    } catch (e) {
      expect(e).toBeInstanceOf(KeywardError);
      const err = e as KeywardError;
      expect(err.code).toBe("validation_failed");
      expect(err.status).toBe(422);
      expect(err.details!.map((d) => d.path)).toEqual(["scopes.1", "scopes.2", "scopes.3"]);
      expect(err.message).toContain('"Bad"');
      expect(err.message).toContain('"__proto__"');
    }
    expect(() => normalizeScopes("nodes:read")).toThrow(/must be an array/);
    expect(() => normalizeScopes(Array.from({ length: 257 }, (_, i) => `s${i}`))).toThrow(/at most 256/);
  });
});

describe("scope matching", () => {
  it("matches exact scopes, resource wildcards and the full wildcard", () => {
    expect(has(["nodes:read"], "nodes:read")).toBe(true);
    expect(has(["nodes:read"], "nodes:write")).toBe(false);
    expect(has(["nodes:*"], "nodes:write")).toBe(true);
    expect(has(["nodes:*"], "nodes")).toBe(false); // a bare resource scope is its own scope
    expect(has(["nodes:*"], "nodesx:read")).toBe(false);
    expect(has(["nodes"], "nodes:read")).toBe(false);
    expect(has(["nodes"], "nodes")).toBe(true);
    expect(has(["*"], "anything:goes")).toBe(true);
    expect(has(["*"], "read")).toBe(true);
    expect(has([], "nodes:read")).toBe(false);
  });

  it("does not treat prototype names as granted", () => {
    expect(has(["nodes:read"], "constructor")).toBe(false);
    expect(has(["nodes:read"], "constructor:read")).toBe(false);
    expect(has(["nodes:read"], "tostring")).toBe(false);
    expect(has(["constructor"], "constructor")).toBe(true);
  });

  it("expands implications transitively, including from wildcards, without loops hanging", () => {
    const implies = { "nodes:write": ["nodes:read"], "nodes:read": ["metrics:read"], "admin:all": ["*"], "a:x": ["b:x"], "b:x": ["a:x"] };
    expect(has(["nodes:write"], "nodes:read", implies)).toBe(true);
    expect(has(["nodes:write"], "metrics:read", implies)).toBe(true);
    expect(has(["nodes:read"], "nodes:write", implies)).toBe(false);
    expect(has(["nodes:*"], "metrics:read", implies)).toBe(true);
    expect(has(["admin:all"], "billing:delete", implies)).toBe(true);
    expect(has(["a:x"], "b:x", implies)).toBe(true);
  });

  it("guards refuse wildcards and bad scopes at start-up", () => {
    expect(() => requireScope("nodes:*")).toThrow(KeywardConfigError);
    expect(() => requireScope("*")).toThrow(/wildcard/);
    expect(() => requireScope("")).toThrow(/requireScope\[0\]: scope must not be empty/);
    expect(() => requireScope("nodes:read", "__proto__")).toThrow(/requireScope\[1\]/);
    expect(() => requireAnyScope("x".repeat(10_240))).toThrow(/requireAnyScope\[0\]/);
    expect(() => requireScope()).toThrow(/at least one scope/);
  });
});

describe("scopes on keys", () => {
  it("refuses a bad scope at creation with validation_failed naming it", async () => {
    const keys = new KeyManager({ store: new MemoryStore(), usage: false });
    for (const bad of ["", "__proto__", "*:*:*", "Nodes:Read", "x".repeat(10_240)]) {
      const err = await keys.create({ name: "k", scopes: ["nodes:read", bad] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "validation_failed", status: 422, details: [{ path: "scopes.1" }] });
      expect((err as KeywardError).message.length).toBeLessThan(400); // a 10 kB scope is not echoed back whole
    }
    const { key } = await keys.create({ name: "k", scopes: ["constructor", "nodes:*"] });
    expect(key.scopes).toEqual(["constructor", "nodes:*"]);
    const err = await keys.update(key.id, { scopes: ["ok:read", "*:*:*"] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "validation_failed", details: [{ path: "scopes.1" }] });
    expect((await keys.get(key.id))!.scopes).toEqual(["constructor", "nodes:*"]);
    expect(await keys.list()).toMatchObject({ keys: [{ id: key.id }] }); // nothing extra written
  });

  it("with a catalogue, refuses unknown scopes but admits wildcards that cover known ones", async () => {
    const keys = new KeyManager({
      store: new MemoryStore(),
      usage: false,
      scopes: ["nodes:read", "nodes:write", "analytics:read"],
      defaultScopes: ["nodes:read"],
    });
    expect((await keys.create({ name: "a", scopes: ["nodes:*", "analytics:read"] })).key.scopes).toEqual(["nodes:*", "analytics:read"]);
    expect((await keys.create({ name: "b", scopes: ["*"] })).key.scopes).toEqual(["*"]);
    await expect(keys.create({ name: "c", scopes: ["webhooks:manage"] })).rejects.toMatchObject({
      code: "validation_failed",
      message: expect.stringContaining('unknown scope "webhooks:manage"'),
    });
    await expect(keys.create({ name: "d", scopes: ["billing:*"] })).rejects.toMatchObject({ code: "validation_failed" });
    expect(keys.scopeCatalogue).toEqual(["nodes:read", "nodes:write", "analytics:read"]);
    expect(() => new KeyManager({ store: new MemoryStore(), scopes: ["nodes:read"], defaultScopes: ["users:read"] })).toThrow(/defaultScopes/);
  });

  it("stores default scopes on the key: changing defaultScopes later does not change old keys", async () => {
    const tmp = tempDir();
    const file = tmp.file("keys.db");
    const v1 = new KeyManager({ store: new SqliteStore(file), usage: false, prefix: "niq", defaultScopes: ["nodes:read", "analytics:read"] });
    const old = await v1.create({ name: "old" });
    expect(old.key.scopes).toEqual(["nodes:read", "analytics:read"]);
    await v1.close();

    const v2 = new KeyManager({ store: new SqliteStore(file), usage: false, prefix: "niq", defaultScopes: ["nodes:read"] });
    const fresh = await v2.create({ name: "new" });
    expect(fresh.key.scopes).toEqual(["nodes:read"]);
    expect((await v2.get(old.key.id))!.scopes).toEqual(["nodes:read", "analytics:read"]);

    const app = express();
    app.use(apiKeyAuth({ keys: v2 }));
    app.get("/analytics", requireScope("analytics:read"), (_req, res) => {
      res.json({ ok: true });
    });
    await request(app).get("/analytics").set("Authorization", `Bearer ${old.secret}`).expect(200);
    await request(app).get("/analytics").set("Authorization", `Bearer ${fresh.secret}`).expect(403);
    await v2.close();
    tmp.cleanup();
  });

  it('defaults to full access ("*") for a key created without scopes', async () => {
    const keys = new KeyManager({ store: new MemoryStore(), usage: false });
    const { secret, key } = await keys.create({ name: "full" });
    expect(key.scopes).toEqual(["*"]);
    const app = express();
    app.use(apiKeyAuth({ keys }));
    app.post("/nodes", requireScope("nodes:write", "batches:write"), (_req, res) => {
      res.status(201).json({});
    });
    await request(app).post("/nodes").set("Authorization", `Bearer ${secret}`).expect(201);
    // An explicit empty list is stored as given: a key that may do nothing scoped.
    const none = await keys.create({ name: "none", scopes: [] });
    expect(none.key.scopes).toEqual([]);
    await request(app).post("/nodes").set("Authorization", `Bearer ${none.secret}`).expect(403);
  });
});
