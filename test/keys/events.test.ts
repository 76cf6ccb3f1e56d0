/** Audit events: every type's shape, request id and IP on auth events, and never a secret or a hash. */
import request from "supertest";
import { requireScope, type KeywardEvent } from "keyward";
import { makeApp, makeKeys } from "../helpers";
import { expectNoSecrets } from "./support";

describe("onEvent", () => {
  it("emits key.created/updated/rotated/revoked and auth.succeeded/failed with their fields and no secret", async () => {
    const { keys, clock, events, close } = makeKeys({ sampleAuthSucceeded: 1, tiers: { free: { rateLimit: { limit: 1, window: "1m" } } } });
    const at = new Date(clock.ms);
    const { secret, key } = await keys.create({ name: "ci", ownerId: "user_1", mode: "live", scopes: ["notes:read"] });
    await keys.update(key.id, { name: "ci-2" });
    const rotated = await keys.rotate(key.id, { overlap: "1h" });
    const limited = await keys.create({ name: "limited", tier: "free", mode: "test" });
    const app = makeApp(keys, {}, (a) =>
      a.post("/notes", requireScope("notes:write"), (_req, res) => {
        res.end();
      }),
    );
    const send = (s?: string, path = "/whoami", method: "get" | "post" = "get") => {
      const r = request(app)[method](path).set("X-Request-Id", "req-42");
      return s ? r.set("Authorization", `Bearer ${s}`) : r;
    };
    await send(rotated.secret).expect(200);
    await send(rotated.secret, "/notes", "post").expect(403);
    await send(limited.secret).expect(200);
    await send(limited.secret).expect(429);
    await send().expect(401);
    await send(keys.format.generate("live")).expect(401);
    await keys.revoke(rotated.key.id);
    await send(rotated.secret).expect(401);
    clock.advance(3_600_000);
    await send(secret).expect(401); // the old key's overlap has ended

    const request42 = { requestId: "req-42", ip: expect.stringMatching(/127\.0\.0\.1/), method: expect.any(String), path: expect.any(String) };
    const key1 = { ownerId: "user_1", mode: "live" };
    expect(events).toEqual<KeywardEvent[]>([
      { type: "key.created", at, keyId: key.id, name: "ci", ...key1 },
      { type: "key.updated", at, keyId: key.id, name: "ci-2", ...key1 },
      { type: "key.rotated", at, keyId: key.id, name: "ci-2", ...key1, successorId: rotated.key.id },
      { type: "key.created", at, keyId: limited.key.id, name: "limited", ownerId: null, mode: "test" },
      { type: "auth.succeeded", at, keyId: rotated.key.id, ...key1, ...request42, method: "GET", path: "/whoami" },
      { type: "auth.succeeded", at, keyId: rotated.key.id, ...key1, ...request42, method: "POST", path: "/notes" },
      { type: "auth.failed", at, code: "insufficient_scope", keyId: rotated.key.id, ...request42, method: "POST", path: "/notes" },
      { type: "auth.succeeded", at, keyId: limited.key.id, ownerId: null, mode: "test", ...request42 },
      { type: "auth.failed", at, code: "rate_limited", keyId: limited.key.id, ...request42 },
      { type: "auth.failed", at, code: "missing_key", ...request42 },
      { type: "auth.failed", at, code: "invalid_key", ...request42 },
      { type: "key.revoked", at, keyId: rotated.key.id, name: "ci-2", ...key1 },
      { type: "auth.failed", at, code: "key_revoked", keyId: rotated.key.id, ...request42 },
      { type: "auth.failed", at: new Date(clock.ms), code: "key_expired", keyId: key.id, ...request42 },
    ]);
    for (const event of events) expectNoSecrets(event, [secret, rotated.secret, limited.secret]);
    await close();
  });

  it("samples auth.succeeded: none by default", async () => {
    const { keys, events, close } = makeKeys();
    const { secret } = await keys.create({ name: "ci" });
    await request(makeApp(keys)).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    expect(events.map((e) => e.type)).toEqual(["key.created"]);
    await close();
  });

  it("keeps serving when the event sink throws", async () => {
    const { keys, close } = makeKeys({
      onEvent: () => {
        throw new Error("sink down");
      },
      sampleAuthSucceeded: 1,
    });
    const { secret } = await keys.create({ name: "ci" });
    await request(makeApp(keys)).get("/whoami").set("Authorization", `Bearer ${secret}`).expect(200);
    await close();
  });
});

describe("keys.verify() goes through the same pipeline as the middleware", () => {
  it("emits auth.succeeded and auth.failed with the same fields, taking the request details from `request`", async () => {
    const { keys, clock, events, close } = makeKeys({ sampleAuthSucceeded: 1 });
    const { secret, key } = await keys.create({ name: "ci", ownerId: "user_1", mode: "live", scopes: ["notes:read"] });
    const request = { requestId: "req-7", ip: "203.0.113.9", method: "POST", path: "/rpc" };
    events.length = 0;
    expect((await keys.verify(secret, { scope: "notes:read", request })).ok).toBe(true);
    expect((await keys.verify(secret, { scope: "notes:write", request })).ok).toBe(false);
    expect((await keys.verify(secret, { modes: ["test"] })).ok).toBe(false);
    expect((await keys.verify(keys.format.generate("live"), { request })).ok).toBe(false);
    const at = new Date(clock.ms);
    expect(events).toEqual([
      { type: "auth.succeeded", at, keyId: key.id, ownerId: "user_1", mode: "live", ...request },
      { type: "auth.failed", at, code: "insufficient_scope", keyId: key.id, ...request },
      { type: "auth.failed", at, code: "mode_forbidden", keyId: key.id },
      { type: "auth.failed", at, code: "invalid_key", ...request },
    ]);
    expectNoSecrets(events, [secret]);
    await close();
  });
});
