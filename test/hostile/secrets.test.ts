/**
 * Secrets never leak: not in views (`ApiKey`, `req.apiKey`), error bodies or messages, events of
 * every type, Express's own error log, or an inspected KeyManager (hashes, pepper). The leak guard
 * checks all console/stdout/stderr output and events of this file too, and is itself tested here.
 */
import { allEvents, capturedText, findLeaks, trackHash, trackSecret } from "./leak-guard";
import { inspect } from "node:util";
import express from "express";
import request from "supertest";
import { KeyManager, KeywardError, MemoryStore, apiKeyAuth, createHasher, requireScope, type KeyStore } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { lastCharChanged, tempDir } from "../helpers";
import { countingStore } from "../counting-store";

const PEPPER = "pepper-0123456789-abcdef";

describe("the leak guard", () => {
  it("finds a secret or hash fragment, and ignores the public display form", async () => {
    const keys = new KeyManager({ store: new MemoryStore() });
    const { secret, key } = await keys.create({ name: "probe" });
    const hash = createHasher()(secret);
    expect(findLeaks(`log: ${secret.slice(10, 40)}`)).not.toEqual([]);
    expect(findLeaks(`log: ${hash.slice(20, 52)}`)).not.toEqual([]);
    expect(findLeaks(`listing shows ${key.start}`)).toEqual([]);
    await keys.close();
  });
});

describe("every surface, with a pepper, on SQLite", () => {
  const tmp = tempDir();
  const counting = countingStore(new SqliteStore(tmp.file("s.db")) as KeyStore);
  const sink: unknown[] = [];
  const keys = new KeyManager({
    store: counting.store,
    pepper: PEPPER,
    onEvent: (e) => sink.push(e),
    sampleAuthSucceeded: 1,
    rateLimit: { limit: 3, window: "1m" },
    usage: { flushInterval: "1h" },
  });
  afterAll(async () => {
    await keys.close();
    tmp.cleanup();
  });

  it("views, bodies, headers, events and Express's error log hold no secret, hash or pepper", async () => {
    trackSecret(PEPPER);
    const created = await keys.create({ name: "main", scopes: ["notes:read"] });
    const { secret } = created;
    const hash = createHasher(PEPPER)(secret);
    trackHash(hash);
    const shown: unknown[] = [created.key];
    shown.push(await keys.get(created.key.id), await keys.list(), await keys.update(created.key.id, { name: "renamed" }), await keys.usage(created.key.id, 2));
    const rotated = await keys.rotate(created.key.id, { overlap: "1h" });
    shown.push(rotated.key, rotated.previous, await keys.verify(secret));

    const app = express();
    app.set("env", "development"); // Express's final handler logs forwarded errors outside "test"
    app.use("/forward", apiKeyAuth({ keys, forwardErrors: true }), (_req, res) => {
      res.end();
    });
    app.use(apiKeyAuth({ keys }));
    app.get("/whoami", (req, res) => {
      res.json({ apiKey: req.apiKey, inspected: inspect(req.apiKey, { depth: 5 }) });
    });
    app.get("/write", requireScope("notes:write"), (_req, res) => {
      res.end();
    });
    const auth = (s: string) => ({ Authorization: `Bearer ${s}` });
    const responses = [
      await request(app).get("/whoami").set(auth(secret)),
      await request(app).get("/write").set(auth(secret)),
      await request(app).get("/whoami").set(auth(secret)),
      await request(app).get("/whoami").set(auth(secret)), // rate limited now
      await request(app)
        .get("/whoami")
        .set(auth(`${secret}x`)),
      await request(app)
        .get("/whoami")
        .set(auth(secret.replace("sk_live_", "sk_test_"))),
      await request(app).get(`/whoami?api_key=${secret}`),
      await request(app)
        .get("/forward")
        .set(auth(`${secret} trailing`)),
      await request(app).get("/forward").set(auth(hash)),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 403, 200, 429, 401, 401, 401, 400, 401]);
    await keys.revoke(rotated.key.id);
    await request(app).get("/whoami").set(auth(rotated.secret)).expect(401);
    counting.fault("recordUsage", "throw");
    await expect(keys.flushUsage()).rejects.toThrow();
    counting.fault("recordUsage", null);
    counting.fault("consume", "throw");
    const countersDown = await request(app).get("/whoami").set(auth(secret)); // a counters.unavailable event
    expect(countersDown.status).toBe(503);
    counting.fault("consume", null);
    counting.fault("findByHash", "throw");
    keys.invalidate();
    const down = await request(app).get("/whoami").set(auth(secret));
    expect(down.status).toBe(503);
    counting.fault("findByHash", null);

    const surfaces = [
      ...shown.map((v) => JSON.stringify(v)),
      ...shown.map((v) => inspect(v, { depth: 8 })),
      ...[...responses, down, countersDown].map((r) => JSON.stringify(r.headers) + r.text),
      inspect(keys, { depth: 6, showHidden: true }),
      inspect(counting.store, { depth: 3 }),
      JSON.stringify(sink),
      inspect(sink, { depth: 5 }),
    ];
    for (const text of surfaces) {
      expect(findLeaks(text)).toEqual([]);
      expect(text).not.toContain(PEPPER);
    }
    // Every event type was produced (and the guard checks them all after the file).
    expect(new Set(allEvents.map((e) => e.type))).toEqual(
      new Set(["key.created", "key.updated", "key.rotated", "key.revoked", "auth.succeeded", "auth.failed", "usage.flush_failed", "counters.unavailable"]),
    );
    // Express logged the forwarded refusals (so the capture really saw output), without the key.
    expect(capturedText()).toContain("KeywardError");
  });

  it("management errors for a key sent where an id belongs carry no secret; revoking by the secret echoes it nowhere", async () => {
    const { secret } = await keys.create({ name: "e" });
    const failures: unknown[] = [];
    for (const call of [
      () =>
        keys.get(secret).then((k) => {
          if (k === null) throw new KeywardError("not_found", "null");
        }),
      () => keys.update(secret, { name: "x" }),
      () => keys.revoke(lastCharChanged(secret)),
      () => keys.rotate(secret),
      () => keys.usage(secret),
      () => keys.create({ name: secret.repeat(4) }),
    ]) {
      failures.push(
        await call().then(
          () => null,
          (e: unknown) => e,
        ),
      );
    }
    for (const error of failures) {
      expect(error).toBeInstanceOf(KeywardError);
      const text = `${(error as Error).message} ${JSON.stringify(error)} ${inspect(error)}`;
      expect(findLeaks(text)).toEqual([]);
    }
    const revoked = await keys.revoke(secret); // revoke takes the secret itself: found by hash
    expect(revoked.status).toBe("revoked");
    expect(findLeaks(`${JSON.stringify(revoked)} ${inspect(revoked)}`)).toEqual([]);
  });
});
