/**
 * The secret (and its hash) appear nowhere but in the create/rotate return value: not in
 * `req.apiKey`, records, errors (message, stack, inspect, JSON), events, or responses.
 */
import express from "express";
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import request from "supertest";
import { KeyManager, MemoryStore, apiKeyAuth, requireScope, type KeywardEvent } from "keyward";
import { TestClock, lastCharChanged } from "../helpers";

it("no secret or hash leaks through req.apiKey, records, errors, events or responses", async () => {
  const clock = new TestClock();
  const events: KeywardEvent[] = [];
  const keys = new KeyManager({ store: new MemoryStore(), clock: clock.now, onEvent: (e) => events.push(e), sampleAuthSucceeded: 1, usage: false });
  const made = await keys.create({ name: "k", scopes: ["a:read"], expiresIn: "1h" });
  const rotated = await keys.rotate(made.key.id, { overlap: "1m" });
  const secrets = [made.secret, rotated.secret];
  const forbidden = secrets.flatMap((s) => [s, s.slice(12), createHash("sha256").update(s).digest("hex")]);
  const seen: string[] = [];
  const record = (value: unknown) => {
    seen.push(JSON.stringify(value) ?? "", inspect(value, { depth: 10, showHidden: true }));
    if (value instanceof Error) seen.push(String(value), value.stack ?? "");
  };

  const app = express();
  app.use(apiKeyAuth({ keys }));
  app.get("/a", requireScope("a:read"), (req, res) => {
    record(req.apiKey);
    res.json(req.apiKey);
  });
  app.get("/b", requireScope("b:read"), (_req, res) => {
    res.json({});
  });
  const responses = [
    await request(app).get("/a").set("Authorization", `Bearer ${made.secret}`).expect(200),
    await request(app).get("/a").set("Authorization", `Bearer ${rotated.secret}`).expect(200),
    await request(app).get("/b").set("Authorization", `Bearer ${made.secret}`).expect(403),
    await request(app)
      .get("/a")
      .set("Authorization", `Bearer ${lastCharChanged(made.secret)}`)
      .expect(401),
    await request(app).get("/a").set("Authorization", `Bearer ${made.secret} x`).expect(400),
  ];
  clock.advance(2 * 60_000); // the old key's overlap ends
  responses.push(await request(app).get("/a").set("Authorization", `Bearer ${made.secret}`).expect(401));
  for (const r of responses) seen.push(r.text, JSON.stringify(r.headers));

  for (const bad of [made.secret, `${made.secret}!`, rotated.secret.toLowerCase()]) {
    const result = await keys.verify(bad);
    record(result);
    if (!result.ok) record(result.error);
  }
  record(await keys.revoke(made.key.id));
  record(await keys.rotate(made.key.id).catch((e: unknown) => e)); // conflict: already revoked
  record(await keys.list());
  record(await keys.get(rotated.key.id));
  record(made.key);
  record(rotated.key);
  record(rotated.previous);
  record(events);

  expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["key.created", "key.rotated", "auth.succeeded", "auth.failed"]));
  const all = seen.join("\n");
  for (const f of forbidden) expect(all).not.toContain(f);
  await keys.close();
});
