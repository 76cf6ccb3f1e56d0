/**
 * `revocationEndpoint()` over real HTTP: anyone may submit leaked keys; the answer is byte-identical
 * for a live key, an unknown one, an already revoked one and a malformed string; live keys are
 * revoked through `keys.revoke()` with a `key.leaked` event (source `public_revocation`), once;
 * more than 1,000 credentials, bad JSON, wrong shapes and hostile bodies are refused with nothing
 * revoked, emitted or counted; the per-address rate limit is exact across two instances on one
 * database and counts IPv6 clients per /64; store failures answer 503.
 */
import express from "express";
import request from "supertest";
import { KeyManager, MemoryStore, revocationEndpoint, type KeywardEvent, type RevocationEndpointOptions } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { countingStore } from "../counting-store";
import { lastCharChanged, TestClock, tempDir } from "../helpers";

const PATH = "/keys/revoke";

function setup(options: Partial<RevocationEndpointOptions> = {}, mount?: (app: express.Express) => void) {
  const clock = new TestClock();
  const events: KeywardEvent[] = [];
  const counted = countingStore(new MemoryStore());
  const keys = new KeyManager({ store: counted.store, prefix: "sk", modes: ["live", "test"], cache: false, clock: clock.now, onEvent: (e) => events.push(e) });
  const app = express();
  app.set("trust proxy", "loopback");
  mount?.(app);
  app.post(PATH, revocationEndpoint({ keys, ip: (req) => (req as { ip?: string }).ip, ...options }));
  const post = (body: unknown, from = "203.0.113.7") =>
    request(app)
      .post(PATH)
      .set("X-Forwarded-For", from)
      .set("Content-Type", "application/json")
      .send(typeof body === "string" ? body : JSON.stringify(body));
  /** Store calls that change keys. */
  const writes = () => counted.count("revoke") + counted.count("update") + counted.count("insert") + counted.count("rotate");
  return { app, keys, clock, events, counted, post, writes };
}

/** The parts of an answer a client can observe, minus the per-connection ones. */
function observable(res: request.Response) {
  const { date: _date, connection: _connection, "keep-alive": _keepAlive, ...headers } = res.headers;
  return { status: res.status, headers, text: res.text };
}

const leaked = (events: KeywardEvent[]) => events.filter((e) => e.type === "key.leaked");

describe("revocationEndpoint()", () => {
  it("answers a live, an unknown, an already revoked and a malformed key byte for byte the same", async () => {
    const { keys, events, counted, post } = setup();
    const live = await keys.create({ name: "ci", mode: "live", ownerId: "user_1" });
    const gone = await keys.create({ name: "old", mode: "test" });
    await keys.revoke(gone.key.id);
    events.length = 0;
    const unknown = keys.format.generate("live");

    const answers = [];
    const reads: number[] = [];
    for (const credential of [live.secret, unknown, gone.secret, lastCharChanged(live.secret), "hunter2"]) {
      const before = counted.count("findByHash");
      answers.push(observable(await post({ credentials: [credential] })));
      reads.push(counted.count("findByHash") - before);
    }
    expect(answers[0]).toEqual({ status: 202, headers: expect.objectContaining({ "cache-control": "no-store" }), text: '{"received":1}' });
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    // Well-formed keys cost one lookup each, known or not; malformed ones none (format validity is public).
    expect(reads).toEqual([1, 1, 1, 0, 0]);

    expect((await keys.get(live.key.id))!.status).toBe("revoked");
    expect((await keys.verify(live.secret)).ok).toBe(false);
    expect(leaked(events)).toEqual([
      {
        type: "key.leaked",
        at: expect.any(Date),
        keyId: live.key.id,
        ownerId: "user_1",
        name: "ci",
        mode: "live",
        source: "public_revocation",
        action: "revoke",
      },
    ]);
    expect(events.filter((e) => e.type === "key.revoked").map((e) => (e as { keyId: string }).keyId)).toEqual([live.key.id]);
    expect(JSON.stringify(events)).not.toContain(live.secret);
  });

  it("is idempotent: a key submitted twice, in one request or two, is revoked and reported once", async () => {
    const { keys, events, post } = setup();
    const { secret, key } = await keys.create({ name: "ci" });
    const first = await post({ credentials: [secret, secret, secret] });
    const second = await post({ credentials: [secret, secret, secret] });
    expect(first.status).toBe(202);
    expect(first.text).toBe('{"received":3}');
    expect(observable(second)).toEqual(observable(first));
    expect((await keys.get(key.id))!.status).toBe("revoked");
    expect(leaked(events)).toHaveLength(1);
  });

  it("revokes up to 1,000 keys per request and refuses 1,001 without revoking any", async () => {
    const { keys, events, post, writes } = setup({ rateLimit: { limit: 100, window: "1h" } });
    const created = await Promise.all(Array.from({ length: 3 }, (_, i) => keys.create({ name: `k${i}` })));
    const filler = Array.from({ length: 998 }, () => keys.format.generate("test"));
    const before = writes();

    const tooMany = await post({ credentials: [...created.map((c) => c.secret), ...filler] });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error).toEqual({
      code: "validation_failed",
      message: expect.stringContaining("at most 1000 credentials per request (got 1001)"),
      details: [{ path: "credentials", message: "at most 1000 credentials per request (got 1001)" }],
    });
    expect(writes()).toBe(before);
    expect(leaked(events)).toHaveLength(0);
    for (const { key } of created) expect((await keys.get(key.id))!.status).toBe("active");

    const ok = await post({ credentials: [...created.map((c) => c.secret), ...filler.slice(1)] });
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ received: 1000 });
    for (const { key } of created) expect((await keys.get(key.id))!.status).toBe("revoked");
    expect(leaked(events)).toHaveLength(3);
  });

  it.each([
    ["bad JSON", '{"credentials": ["sk_', 400, "invalid_request"],
    ["a JSON array", "[]", 422, "validation_failed"],
    ["a bare string", '"sk_live_x"', 400, "invalid_request"],
    ["no credentials field", "{}", 422, "validation_failed"],
    ["credentials not an array", { credentials: "sk_live_x" }, 422, "validation_failed"],
    ["an empty list", { credentials: [] }, 422, "validation_failed"],
    ["non-strings", { credentials: [1, null, true, {}, ["nested"]] }, 422, "validation_failed"],
    ["an empty string", { credentials: [""] }, 422, "validation_failed"],
    ["a huge string", { credentials: ["k".repeat(100_000)] }, 422, "validation_failed"],
    ["an unknown field", { credentials: ["x"], ownerId: "user_1" }, 422, "validation_failed"],
    ["a prototype key", '{"credentials":["x"],"__proto__":{"credentials":["y"]}}', 422, "validation_failed"],
    ["deep nesting", `{"credentials":[${"[".repeat(5000)}${"]".repeat(5000)}]}`, 422, "validation_failed"],
    ["a body over 128 KiB", { credentials: ["k".repeat(140_000)] }, 413, "payload_too_large"],
  ])("refuses %s and revokes nothing", async (_what, body, status, code) => {
    const { keys, events, counted, post, writes } = setup();
    const { secret, key } = await keys.create({ name: "ci" });
    const payload =
      typeof body === "string" ? body.replace(/"x"/g, JSON.stringify(secret)) : JSON.parse(JSON.stringify(body).replace(/"x"/g, JSON.stringify(secret)));
    const before = writes();
    const res = await post(payload);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.text).not.toContain(secret);
    expect(writes()).toBe(before);
    expect(counted.count("consume")).toBe(0);
    expect(leaked(events)).toHaveLength(0);
    expect((await keys.get(key.id))!.status).toBe("active");
  });

  it("names the first bad entries (at most ten) in a 422", async () => {
    const { post } = setup();
    const res = await post({ credentials: ["ok", 1, "ok", { a: 1 }, ...Array.from({ length: 20 }, () => null)] });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toHaveLength(10);
    expect(res.body.error.details.slice(0, 3)).toEqual([
      { path: "credentials.1", message: "must be a string" },
      { path: "credentials.3", message: "must be a string" },
      { path: "credentials.4", message: "must be a string" },
    ]);
  });

  it("refuses a body that is not JSON (415) without counting it, and passes other methods on", async () => {
    const { app, counted } = setup();
    const res = await request(app).post(PATH).set("Content-Type", "application/x-www-form-urlencoded").send("credentials=sk_live_x");
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
    expect(counted.count("consume")).toBe(0);
    expect((await request(app).get(PATH)).status).toBe(404);
  });

  it("works behind express.json() as well", async () => {
    const { keys, post } = setup({}, (app) => app.use(express.json()));
    const { secret, key } = await keys.create({ name: "ci" });
    expect((await post({ credentials: [secret] })).status).toBe(202);
    expect((await keys.get(key.id))!.status).toBe("revoked");
  });

  it("rate-limits per client address (429 with Retry-After); a refused request revokes nothing", async () => {
    const { keys, clock, events, post } = setup({ rateLimit: { limit: 3, window: "1h" } });
    const { secret, key } = await keys.create({ name: "ci" });
    for (let i = 0; i < 3; i++) expect((await post({ credentials: ["nope"] }, "198.51.100.1")).status).toBe(202);
    clock.advance(600_000);
    const limited = await post({ credentials: [secret] }, "198.51.100.1");
    expect(limited.status).toBe(429);
    expect(limited.body.error).toEqual({ code: "rate_limited", message: "At most 3 revocation requests per address in 1h; try again in 3000 s." });
    expect(limited.headers["retry-after"]).toBe("3000");
    expect((await keys.get(key.id))!.status).toBe("active");
    expect(leaked(events)).toHaveLength(0);
    // Refused bodies write nothing, not even a count.
    for (let i = 0; i < 4; i++) expect((await post("{", "198.51.100.2")).status).toBe(400);
    expect((await post({ credentials: ["nope"] }, "198.51.100.2")).status).toBe(202);
    // Another address has its own count; the window's end restores the first.
    expect((await post({ credentials: ["nope"] }, "198.51.100.3")).status).toBe(202);
    clock.advance(3_000_000);
    expect((await post({ credentials: [secret] }, "198.51.100.1")).status).toBe(202);
    expect((await keys.get(key.id))!.status).toBe("revoked");
  });

  it("counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4", async () => {
    const { post } = setup({ rateLimit: { limit: 2, window: "1m" } });
    const body = { credentials: ["nope"] };
    expect((await post(body, "2001:db8:1:2::1")).status).toBe(202);
    expect((await post(body, "2001:0db8:0001:0002:ffff::9")).status).toBe(202);
    expect((await post(body, "2001:db8:1:2:aaaa:bbbb:cccc:dddd")).status).toBe(429);
    expect((await post(body, "2001:db8:1:3::1")).status).toBe(202);
    expect((await post(body, "192.0.2.1")).status).toBe(202);
    expect((await post(body, "::ffff:192.0.2.1")).status).toBe(202);
    expect((await post(body, "192.0.2.1")).status).toBe(429);
  });

  it("keeps one exact count for two instances on one database", async () => {
    const tmp = tempDir();
    const clock = new TestClock();
    const managers = [0, 1].map(() => new KeyManager({ store: new SqliteStore(tmp.file("keys.db")), clock: clock.now, cache: false }));
    try {
      const apps = managers.map((keys) =>
        express()
          .set("trust proxy", "loopback")
          .post(PATH, revocationEndpoint({ keys, rateLimit: { limit: 5, window: "1h" }, ip: (req) => (req as { ip?: string }).ip })),
      );
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++)
        statuses.push(
          (
            await request(apps[i % 2]!)
              .post(PATH)
              .set("X-Forwarded-For", "203.0.113.9")
              .send({ credentials: ["nope"] })
          ).status,
        );
      expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
    } finally {
      await Promise.all(managers.map((m) => m.close()));
      tmp.cleanup();
    }
  });

  it("counts by the socket address when no ip function is given", async () => {
    const { keys } = setup();
    const app = express().post(PATH, revocationEndpoint({ keys, rateLimit: { limit: 1, window: "1m" } }));
    const send = (from: string) =>
      request(app)
        .post(PATH)
        .set("X-Forwarded-For", from)
        .send({ credentials: ["nope"] });
    expect((await send("198.51.100.1")).status).toBe(202);
    expect((await send("198.51.100.2")).status).toBe(429); // a spoofed X-Forwarded-For changes nothing
  });

  it("answers 503 when the store fails, and a retry completes the revocation", async () => {
    const { keys, counted, events, post } = setup();
    const { secret, key } = await keys.create({ name: "ci" });
    counted.fault("findByHash", "throw");
    const res = await post({ credentials: [secret] });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("store_unavailable");
    counted.fault("findByHash", null);
    counted.fault("consume", { reject: true });
    expect((await post({ credentials: [secret] })).status).toBe(503);
    expect((await keys.get(key.id))!.status).toBe("active");
    expect(leaked(events)).toHaveLength(0);
    counted.fault("consume", null);
    expect((await post({ credentials: [secret] })).status).toBe(202);
    expect((await keys.get(key.id))!.status).toBe("revoked");
  });

  it("checks its options at construction", () => {
    const { keys } = setup();
    expect(() => revocationEndpoint({ keys, rateLimit: { limit: 0, window: "1h" } })).toThrow(/rateLimit\.limit/);
    expect(() => revocationEndpoint({ keys, rateLimit: { limit: 5, window: "soon" } })).toThrow(/rateLimit\.window/);
    expect(() => revocationEndpoint({ keys, ip: "x-forwarded-for" as never })).toThrow(/ip: must be a function/);
    expect(() => revocationEndpoint({ keys: undefined as never })).toThrow(/keys: must be a KeyManager/);
  });
});
