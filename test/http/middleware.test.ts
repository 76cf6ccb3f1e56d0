/**
 * The middleware. Bearer and custom-header credentials, optional auth, the
 * guards, every refusal code with its status, `WWW-Authenticate` and body, `formatError`,
 * `forwardErrors`, and failing closed (503) when the store throws.
 */
import express from "express";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import request from "supertest";
import {
  KeyManager,
  KeywardError,
  MemoryStore,
  apiKeyAuth,
  requireAnyScope,
  requireMode,
  requireScope,
  type ApiKeyAuthOptions,
  type KeywardEvent,
} from "keyward";
import { TestClock, lastCharChanged } from "../helpers";
import { FlakyStore } from "./flaky-store";

const clock = new TestClock();
const events: KeywardEvent[] = [];
const keys = new KeyManager({
  store: new MemoryStore(),
  clock: clock.now,
  onEvent: (e) => events.push(e),
  usage: false,
  scopes: ["nodes:read", "nodes:write", "batches:write", "analytics:read", "reports:read"],
});
const secrets = {} as Record<"reader" | "writer" | "test" | "revoked" | "expired" | "limited" | "restricted" | "unknown", string>;

beforeAll(async () => {
  secrets.reader = (await keys.create({ name: "reader", scopes: ["nodes:read", "analytics:read"] })).secret;
  secrets.writer = (await keys.create({ name: "writer", scopes: ["nodes:*"] })).secret;
  secrets.test = (await keys.create({ name: "test", mode: "test", scopes: ["nodes:read"] })).secret;
  const revoked = await keys.create({ name: "revoked" });
  secrets.revoked = revoked.secret;
  await keys.revoke(revoked.key.id);
  secrets.expired = (await keys.create({ name: "expired", expiresIn: "1s" })).secret;
  secrets.limited = (await keys.create({ name: "limited", rateLimit: { limit: 1, window: "1m" } })).secret;
  secrets.restricted = (await keys.create({ name: "restricted", projects: ["p1"] })).secret;
  secrets.unknown = keys.format.generate("live"); // well-formed, never stored
  clock.advance(2000);
});
afterAll(() => keys.close());

/** Asserts that no secret made in this file shows up in `text`. */
function expectNoSecret(text: string) {
  for (const s of Object.values(secrets)) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(s.slice(8, 30));
  }
}

function makeApp(options: ApiKeyAuthOptions = {}) {
  const app = express();
  app.use(apiKeyAuth({ keys, ...options }));
  app.get("/whoami", (req, res) => {
    res.json({ apiKey: req.apiKey ?? null });
  });
  app.get("/nodes", requireScope("nodes:read"), (_req, res) => {
    res.json({ ok: true });
  });
  app.post("/nodes", requireScope("nodes:write", "batches:write"), (_req, res) => {
    res.status(201).json({ ok: true });
  });
  app.get("/report", requireAnyScope("analytics:read", "reports:read"), (_req, res) => {
    res.json({ ok: true });
  });
  app.post("/payouts", requireMode("live"), (_req, res) => {
    res.status(201).json({ ok: true });
  });
  return app;
}
const app = makeApp();
const bearer = (s: string) => `Bearer ${s}`;

describe("Bearer credentials", () => {
  it.each(["Bearer", "bearer", "BEARER", "bEaReR"])("accepts the scheme spelled %s", async (scheme) => {
    const res = await request(app).get("/whoami").set("Authorization", `${scheme} ${secrets.reader}`).expect(200);
    expect(res.body.apiKey.name).toBe("reader");
  });

  it("accepts several spaces between scheme and token", async () => {
    await request(app).get("/whoami").set("Authorization", `Bearer    ${secrets.reader}`).expect(200);
  });

  it("sets a frozen req.apiKey without the secret or the hash", async () => {
    const seen: unknown[] = [];
    const a = express();
    a.use(apiKeyAuth({ keys }));
    a.get("/", (req, res) => {
      seen.push(req.apiKey, Object.isFrozen(req.apiKey), Object.keys(req));
      res.json(req.apiKey);
    });
    const res = await request(a).get("/").set("Authorization", bearer(secrets.reader)).expect(200);
    expect(Object.keys(res.body).sort()).toEqual(["expiresAt", "id", "kind", "metadata", "mode", "name", "ownerId", "project", "projects", "scopes", "tier"]);
    expect(seen[1]).toBe(true);
    const json = JSON.stringify(seen[0]);
    expectNoSecret(json);
    expect(json).not.toMatch(/hash|secret/i);
    expect(json).not.toMatch(/[0-9a-f]{64}/);
  });

  it("never reads the key from the query string", async () => {
    const res = await request(app).get(`/whoami?api_key=${secrets.reader}&access_token=${secrets.reader}`).expect(401);
    expect(res.body.error.code).toBe("missing_key");
    // The audit event records the path without the query string, so the key leaks nowhere.
    expect(events[events.length - 1]).toMatchObject({ type: "auth.failed", code: "missing_key", path: "/whoami" });
    expectNoSecret(JSON.stringify(events) + res.text);
  });
});

describe("custom header", () => {
  const custom = makeApp({ header: "X-Acme-Key" });
  it("reads the key from the configured header (any case)", async () => {
    await request(custom).get("/whoami").set("x-acme-key", secrets.reader).expect(200);
    await request(custom).get("/whoami").set("X-ACME-KEY", secrets.reader).expect(200);
  });
  it("ignores Authorization unless bearer: true", async () => {
    const res = await request(custom).get("/whoami").set("Authorization", bearer(secrets.reader)).expect(401);
    expect(res.body.error.code).toBe("missing_key");
    expect(res.body.error.message).toContain("x-acme-key");
    expect(res.headers["www-authenticate"]).toBe('ApiKey realm="api"');
  });
  it("with bearer: true accepts either, and refuses both at once with 400", async () => {
    const both = makeApp({ header: "x-acme-key", bearer: true });
    await request(both).get("/whoami").set("x-acme-key", secrets.reader).expect(200);
    await request(both).get("/whoami").set("Authorization", bearer(secrets.reader)).expect(200);
    const res = await request(both).get("/whoami").set("x-acme-key", secrets.reader).set("Authorization", bearer(secrets.writer)).expect(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.headers["www-authenticate"]).toMatch(/^ApiKey realm="api", error="invalid_request"/);
  });
  it("refuses an empty, repeated or malformed header value with 401 (a custom header's default malformedStatus)", async () => {
    for (const value of ["", "two words", `${secrets.reader};x`]) {
      const res = await request(custom).get("/whoami").set("x-acme-key", value).expect(401);
      expect(res.body.error.code).toBe("invalid_key");
      expectNoSecret(JSON.stringify(res.body) + JSON.stringify(res.headers));
    }
    await request(custom)
      .get("/whoami")
      .set("x-acme-key", [secrets.reader, secrets.reader] as never)
      .expect(401);
  });
});

describe("optional auth (required: false)", () => {
  const optional = makeApp({ required: false });
  it("lets a request without a key through as anonymous", async () => {
    expect((await request(optional).get("/whoami").expect(200)).body).toEqual({ apiKey: null });
  });
  it("still refuses a bad, revoked or malformed key", async () => {
    expect((await request(optional).get("/whoami").set("Authorization", bearer(secrets.unknown)).expect(401)).body.error.code).toBe("invalid_key");
    expect((await request(optional).get("/whoami").set("Authorization", bearer(secrets.revoked)).expect(401)).body.error.code).toBe("key_revoked");
    expect((await request(optional).get("/whoami").set("Authorization", "Bearer a b").expect(400)).body.error.code).toBe("invalid_request");
  });
  it("treats another Authorization scheme (e.g. Basic) as no key", async () => {
    const basic = `Basic ${Buffer.from("user:pass").toString("base64")}`;
    expect((await request(optional).get("/whoami").set("Authorization", basic).expect(200)).body).toEqual({ apiKey: null });
    expect((await request(optional).get("/nodes").set("Authorization", basic).expect(401)).body.error.code).toBe("missing_key");
  });
  it("authenticates a good key, and guards still refuse anonymous requests with 401", async () => {
    expect((await request(optional).get("/whoami").set("Authorization", bearer(secrets.reader)).expect(200)).body.apiKey.name).toBe("reader");
    const res = await request(optional).get("/nodes").expect(401);
    expect(res.body.error.code).toBe("missing_key");
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="api"');
  });
});

describe("guards", () => {
  it("requireScope needs every scope and names the ones missing", async () => {
    await request(app).get("/nodes").set("Authorization", bearer(secrets.reader)).expect(200);
    const res = await request(app).post("/nodes").set("Authorization", bearer(secrets.writer)).expect(403);
    expect(res.body.error).toEqual({ code: "insufficient_scope", message: "This key lacks the required scope: batches:write." });
    expect(res.headers["www-authenticate"]).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="This key lacks the required scope: batches:write.", scope="batches:write"',
    );
    const none = await request(app).post("/nodes").set("Authorization", bearer(secrets.reader)).expect(403);
    expect(none.body.error.message).toBe("This key lacks the required scopes: nodes:write, batches:write.");
    expect(none.headers["www-authenticate"]).toContain('scope="nodes:write batches:write"');
  });
  it("requireAnyScope needs one of the scopes", async () => {
    await request(app).get("/report").set("Authorization", bearer(secrets.reader)).expect(200);
    const res = await request(app).get("/report").set("Authorization", bearer(secrets.writer)).expect(403);
    expect(res.body.error).toEqual({ code: "insufficient_scope", message: "This key needs one of the scopes: analytics:read, reports:read." });
  });
  it("requireMode refuses other modes", async () => {
    await request(app).post("/payouts").set("Authorization", bearer(secrets.reader)).expect(201);
    expect((await request(app).post("/payouts").set("Authorization", bearer(secrets.test)).expect(403)).body.error.code).toBe("mode_forbidden");
  });
  it("a guard without apiKeyAuth before it refuses with 401 missing_key", async () => {
    const bare = express();
    bare.get("/", requireScope("nodes:read"), (_req, res) => {
      res.json({});
    });
    const res = await request(bare).get("/").set("Authorization", bearer(secrets.reader)).expect(401);
    expect(res.body.error.code).toBe("missing_key");
  });
});

describe("refusals", () => {
  const only = makeApp({ modes: ["live"], projectHeader: "x-project" });

  type Row = [code: string, status: number, send: () => request.Test, challenge: RegExp | null];
  const rows: Row[] = [
    ["missing_key", 401, () => request(only).get("/whoami"), /^Bearer realm="api"$/],
    [
      "missing_key (other scheme)",
      401,
      () =>
        request(only)
          .get("/whoami")
          .set("Authorization", `Basic ${Buffer.from("a:b").toString("base64")}`),
      /^Bearer realm="api"$/,
    ],
    [
      "invalid_request (two tokens)",
      400,
      () => request(only).get("/whoami").set("Authorization", "Bearer a b"),
      /^Bearer realm="api", error="invalid_request", error_description="[^"]+"$/,
    ],
    ["invalid_request (empty token)", 400, () => request(only).get("/whoami").set("Authorization", "Bearer "), /error="invalid_request"/],
    [
      "invalid_request (10 kB header)",
      400,
      () =>
        request(only)
          .get("/whoami")
          .set("Authorization", `Bearer ${"a".repeat(10_240)}`),
      /error="invalid_request", error_description="The credential is too long."/,
    ],
    [
      "invalid_request (two Authorization headers)",
      400,
      () =>
        request(only)
          .get("/whoami")
          .set("Authorization", [bearer(secrets.reader), bearer(secrets.reader)] as never),
      /error="invalid_request"/,
    ],
    [
      "invalid_request (bad project header)",
      400,
      () => request(only).get("/whoami").set("Authorization", bearer(secrets.reader)).set("x-project", "a b"),
      /error="invalid_request"/,
    ],
    [
      "invalid_key (typo)",
      401,
      () =>
        request(only)
          .get("/whoami")
          .set("Authorization", bearer(lastCharChanged(secrets.reader))),
      /^Bearer realm="api", error="invalid_token", error_description="The API key is invalid."$/,
    ],
    ["invalid_key (unknown)", 401, () => request(only).get("/whoami").set("Authorization", bearer(secrets.unknown)), /error="invalid_token"/],
    [
      "key_revoked",
      401,
      () => request(only).get("/whoami").set("Authorization", bearer(secrets.revoked)),
      /error="invalid_token", error_description="The API key has been revoked."/,
    ],
    [
      "key_expired",
      401,
      () => request(only).get("/whoami").set("Authorization", bearer(secrets.expired)),
      /error="invalid_token", error_description="The API key has expired."/,
    ],
    [
      "insufficient_scope",
      403,
      () => request(only).post("/nodes").set("Authorization", bearer(secrets.reader)),
      /error="insufficient_scope", .*scope="nodes:write batches:write"$/,
    ],
    ["mode_forbidden", 403, () => request(only).get("/whoami").set("Authorization", bearer(secrets.test)), null],
    ["project_forbidden", 403, () => request(only).get("/whoami").set("Authorization", bearer(secrets.restricted)).set("x-project", "p2"), null],
    ["rate_limited", 429, () => request(only).get("/whoami").set("Authorization", bearer(secrets.limited)), null],
  ];

  beforeAll(async () => {
    await request(only).get("/whoami").set("Authorization", bearer(secrets.limited)).expect(200); // uses up the limit of 1
  });

  it.each(rows)("%s → %i with its challenge and body", async (label, status, send, challenge) => {
    const code = label.split(" ")[0]!;
    const before = events.length;
    const res = await send().expect(status);
    const sent = (res as unknown as { req: { method: string; path: string } }).req;
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    if (challenge) expect(res.headers["www-authenticate"]).toMatch(challenge);
    else expect(res.headers["www-authenticate"]).toBeUndefined();
    if (status === 401) expect(res.headers["cache-control"]).toBe("no-store");
    if (status === 429) expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    const failed = events.slice(before).filter((e) => e.type === "auth.failed");
    expect(failed).toEqual([expect.objectContaining({ type: "auth.failed", code, method: sent.method, path: sent.path.split("?")[0] })]);
    expectNoSecret(res.text + JSON.stringify(res.headers) + JSON.stringify(events));
  });

  it("honours a custom realm", async () => {
    const res = await request(makeApp({ realm: "acme" }))
      .get("/whoami")
      .expect(401);
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="acme"');
  });
});

describe("formatError and forwardErrors", () => {
  it("formatError shapes the body: a { data, error } envelope in one line", async () => {
    const enveloped = makeApp({ formatError: (e) => ({ data: null, error: e.message }) });
    const res = await request(enveloped).get("/nodes").expect(401);
    expect(res.body).toEqual({ data: null, error: "An API key is required: send `Authorization: Bearer <key>`." });
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="api"');
    const scope = await request(enveloped).post("/nodes").set("Authorization", bearer(secrets.reader)).expect(403);
    expect(scope.body).toEqual({ data: null, error: "This key lacks the required scopes: nodes:write, batches:write." });
  });

  it("a formatError that throws goes to next(err)", async () => {
    const a = makeApp({
      formatError: () => {
        throw new Error("formatter broke");
      },
    });
    a.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handled: err.message });
    });
    await request(a).get("/whoami").expect(500, { handled: "formatter broke" });
  });

  it("forwardErrors passes a fresh KeywardError with status, code and headers to next(err)", async () => {
    const got: unknown[] = [];
    const a = makeApp({ forwardErrors: true });
    a.use((err: KeywardError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      got.push(err);
      res.status(err.status).set(err.headers).json({ mine: err.code });
    });
    const res = await request(a).get("/whoami").set("Authorization", bearer(secrets.revoked)).expect(401, { mine: "key_revoked" });
    expect(res.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
    await request(a).post("/nodes").set("Authorization", bearer(secrets.reader)).expect(403, { mine: "insufficient_scope" });
    await request(a).get("/whoami").set("Authorization", bearer(secrets.revoked)).expect(401);
    expect(got).toHaveLength(3);
    const [first, second, third] = got as KeywardError[];
    expect(first).toBeInstanceOf(KeywardError);
    expect(first).toMatchObject({
      status: 401,
      code: "key_revoked",
      headers: { "WWW-Authenticate": expect.stringMatching(/^Bearer realm="api", error="invalid_token"/), "Cache-Control": "no-store" },
    });
    expect(second).toMatchObject({
      status: 403,
      code: "insufficient_scope",
      headers: { "WWW-Authenticate": expect.stringContaining('error="insufficient_scope"') },
    });
    expect(third).not.toBe(first); // not a shared instance a handler could mutate
  });

  it("with forwardErrors, Express's own final handler answers with the status and challenge", async () => {
    const a = makeApp({ forwardErrors: true });
    const res = await request(a).get("/whoami").set("Authorization", bearer(secrets.unknown)).expect(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="api", error="invalid_token"/);
    expectNoSecret(res.text);
  });
});

describe("store failures fail closed", () => {
  it.each(["sync", "async"] as const)("answers 503 store_unavailable when a %s store throws", async (mode) => {
    const store = new FlakyStore(new MemoryStore(), mode);
    const failing = new KeyManager({ store, usage: false, cache: false });
    const { secret } = await failing.create({ name: "k", scopes: ["nodes:read"] });
    const a = express();
    a.use(apiKeyAuth({ keys: failing, required: false }));
    a.get("/", requireScope("nodes:read"), (_req, res) => {
      res.json({ ok: true });
    });
    await request(a).get("/").set("Authorization", bearer(secret)).expect(200);
    store.broken = true;
    const res = await request(a).get("/").set("Authorization", bearer(secret)).expect(503);
    expect(res.body).toEqual({ error: { code: "store_unavailable", message: "The key store is unavailable; try again shortly." } });
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.text).not.toContain("hunter2");
    expect(res.text).not.toContain(secret);
    // Management calls throw the same error rather than a raw driver error.
    await expect(failing.list()).rejects.toMatchObject({ code: "store_unavailable", status: 503 });
    await expect(failing.create({ name: "x" })).rejects.toMatchObject({ code: "store_unavailable" });
    store.broken = false;
    await request(a).get("/").set("Authorization", bearer(secret)).expect(200);
    await failing.close();
  });

  it("503 also passes through forwardErrors with Retry-After in err.headers", async () => {
    const store = new FlakyStore(new MemoryStore());
    const failing = new KeyManager({ store, usage: false, cache: false });
    const { secret } = await failing.create({ name: "k" });
    store.broken = true;
    const got: KeywardError[] = [];
    const a = express();
    a.use(apiKeyAuth({ keys: failing, forwardErrors: true }));
    a.use((err: KeywardError, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      got.push(err);
      res.status(err.status).end();
    });
    await request(a).get("/").set("Authorization", bearer(secret)).expect(503);
    expect(got[0]).toMatchObject({ code: "store_unavailable", status: 503, headers: { "Retry-After": "1" } });
    expect((got[0]!.cause as Error).message).toContain("ECONNREFUSED"); // for the app's logs only
    await failing.close();
  });
});

describe("the hot path", () => {
  it("calls next() synchronously when the store is synchronous (cold and cached)", () => {
    const auth = apiKeyAuth({ keys });
    const guard = requireScope("nodes:read");
    for (let i = 0; i < 2; i++) {
      const req = new IncomingMessage(new Socket());
      req.headers.authorization = bearer(secrets.reader);
      req.rawHeaders = ["Authorization", req.headers.authorization];
      const res = new ServerResponse(req);
      const calls: unknown[] = [];
      auth(req, res, (err) => calls.push(err ?? "auth"));
      guard(req, res, (err) => calls.push(err ?? "guard"));
      expect(calls).toEqual(["auth", "guard"]);
      expect(req.apiKey?.name).toBe("reader");
    }
  });
});

describe("req.apiKey", () => {
  /** A request as node:http makes it (prototype untouched) carrying `secret`. */
  function plainRequest(secret: string): IncomingMessage {
    const req = new IncomingMessage(new Socket());
    req.headers.authorization = bearer(secret);
    req.rawHeaders = ["Authorization", req.headers.authorization];
    return req;
  }
  const run = (req: IncomingMessage, options: ApiKeyAuthOptions = {}) => {
    const calls: unknown[] = [];
    apiKeyAuth({ keys, ...options })(req, new ServerResponse(req), (err) => calls.push(err ?? "next"));
    return calls;
  };

  it("is undefined on a request apiKeyAuth never saw, and for an anonymous one", () => {
    expect(new IncomingMessage(new Socket()).apiKey).toBeUndefined();
    const anonymous = new IncomingMessage(new Socket());
    anonymous.rawHeaders = [];
    expect(run(anonymous, { required: false })).toEqual(["next"]);
    expect(anonymous.apiKey).toBeUndefined();
  });

  it("shows the key on a plain node:http request and on one whose prototype was swapped (as Express does)", () => {
    const plain = plainRequest(secrets.reader);
    const swapped = plainRequest(secrets.writer);
    Object.setPrototypeOf(swapped, Object.create(IncomingMessage.prototype));
    expect(run(plain)).toEqual(["next"]);
    expect(run(swapped)).toEqual(["next"]);
    expect(plain.apiKey?.name).toBe("reader");
    expect(swapped.apiKey?.name).toBe("writer");
    // The record kept for the guards never shows in serialisation.
    expect(JSON.stringify(plain.apiKey)).not.toContain(secrets.reader.slice(8));
    expect(
      Object.getOwnPropertySymbols(plain)
        .map((s) => String(s))
        .join(),
    ).not.toContain(secrets.reader.slice(8));
  });

  it("keeps each swapped-prototype request's key apart, even when two requests share one rawHeaders array", () => {
    const swap = (req: IncomingMessage) => Object.setPrototypeOf(req, Object.create(IncomingMessage.prototype)) as IncomingMessage;
    // Requests built by hand (a test, a proxy) may share one header list; the keys here come from
    // req.headers because the shared list carries none.
    const shared = ["Host", "api.example.com"];
    const reader = swap(plainRequest(secrets.reader));
    const writer = swap(plainRequest(secrets.writer));
    reader.rawHeaders = shared;
    writer.rawHeaders = shared;
    expect(run(reader)).toEqual(["next"]);
    expect(run(writer)).toEqual(["next"]);
    expect([reader.apiKey?.name, writer.apiKey?.name]).toEqual(["reader", "writer"]);
    // The guard finds each request's own record: the reader key lacks nodes:write, the writer key holds it.
    const verdicts = [reader, writer].map((req) => {
      const res = new ServerResponse(req);
      const calls: unknown[] = [];
      requireScope("nodes:write")(req, res, (err) => calls.push(err ?? "next"));
      return calls[0] ?? res.statusCode; // a refusal is answered, not passed on
    });
    expect(verdicts).toEqual([403, "next"]);
    // Assigning on one request never changes the other's.
    (writer as { apiKey?: unknown }).apiKey = undefined;
    expect(reader.apiKey?.name).toBe("reader");
    expect(writer.apiKey).toBeUndefined();
  });

  it("replaces an apiKey the app (or another library) set before apiKeyAuth", () => {
    const req = plainRequest(secrets.reader);
    (req as { apiKey?: unknown }).apiKey = { name: "forged", scopes: ["*"] };
    expect(run(req)).toEqual(["next"]);
    expect(req.apiKey?.name).toBe("reader");
    expect(req.apiKey?.scopes).toEqual(["nodes:read", "analytics:read"]);
  });

  it("can still be assigned by the app after apiKeyAuth", () => {
    const req = plainRequest(secrets.reader);
    run(req);
    const replacement = { ...req.apiKey!, name: "impersonated" };
    req.apiKey = replacement;
    expect(req.apiKey).toBe(replacement);
  });

  it("over real HTTP under Express, two requests in flight each see their own key", async () => {
    const slow = express();
    slow.use(apiKeyAuth({ keys }));
    slow.get("/me", (req, res) => {
      setTimeout(() => res.json({ name: req.apiKey?.name }), 20);
    });
    const [a, b] = await Promise.all([
      request(slow).get("/me").set("Authorization", bearer(secrets.reader)),
      request(slow).get("/me").set("Authorization", bearer(secrets.writer)),
    ]);
    expect([a.body.name, b.body.name]).toEqual(["reader", "writer"]);
  });
});
