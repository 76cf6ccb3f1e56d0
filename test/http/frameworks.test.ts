/**
 * The same middleware and guards on Express 5, Express 4 (devDependency alias
 * `express4`), plain Connect and plain node:http, with a synchronous and an asynchronous store.
 */
import connect from "connect";
import express5 from "express";
import express4 from "express4";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import request from "supertest";
import { KeyManager, MemoryStore, apiKeyAuth, requireScope, type Middleware } from "keyward";
import { FlakyStore } from "./flaky-store";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
type Server = Parameters<typeof request>[0];

/** Builds a server on one framework: `auth` on everything, then `/read` behind `guard`, then `/me`. */
type Mount = (auth: Middleware, guard: Middleware, me: Handler) => Server;

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
};

/** A tiny Connect-style chain over node:http: runs middlewares in order, 500 on next(err). */
function chain(...steps: Array<Middleware | Handler>): Handler {
  return (req, res) => {
    let i = 0;
    const next = (err?: unknown) => {
      if (err) return send(res, 500, { error: String(err) });
      const step = steps[i++];
      if (step) (step as Middleware)(req, res, next);
    };
    next();
  };
}

const frameworks: Array<[name: string, mount: Mount]> = [
  [
    "Express 5",
    (auth, guard, me) => {
      const app = express5();
      app.use(auth);
      app.get("/read", guard, (req, res) => {
        res.json({ name: req.apiKey!.name });
      });
      app.get("/me", me);
      return app;
    },
  ],
  [
    "Express 4",
    (auth, guard, me) => {
      const app = express4();
      app.use(auth);
      app.get("/read", guard, (req: express4.Request, res: express4.Response) => {
        res.json({ name: req.apiKey!.name });
      });
      app.get("/me", me);
      return app;
    },
  ],
  [
    "Connect",
    (auth, guard, me) => {
      const app = connect();
      app.use(auth);
      app.use("/read", guard);
      app.use("/read", (req: IncomingMessage, res: ServerResponse) => send(res, 200, { name: req.apiKey!.name }));
      app.use("/me", me);
      return createServer(app);
    },
  ],
  [
    "node:http",
    (auth, guard, me) => {
      const read = chain(auth, guard, (req: IncomingMessage, res: ServerResponse) => send(res, 200, { name: req.apiKey!.name }));
      const who = chain(auth, me);
      return createServer((req, res) => (req.url === "/read" ? read : who)(req, res));
    },
  ],
];

describe.each(frameworks)("%s", (_name, mount) => {
  describe.each(["sync", "async"] as const)("with a %s store", (storeMode) => {
    const keys = new KeyManager({ store: new FlakyStore(new MemoryStore(), storeMode), usage: false });
    let reader: string;
    let writer: string;
    let revoked: string;
    let server: Server;

    beforeAll(async () => {
      reader = (await keys.create({ name: "reader", scopes: ["notes:read"] })).secret;
      writer = (await keys.create({ name: "writer", scopes: ["notes:write"] })).secret;
      const r = await keys.create({ name: "revoked" });
      revoked = r.secret;
      await keys.revoke(r.key.id);
      server = mount(apiKeyAuth({ keys, formatError: (e) => ({ data: null, error: e.code }) }), requireScope("notes:read"), (req, res) =>
        send(res, 200, { apiKey: req.apiKey }),
      );
    });
    afterAll(() => keys.close());

    it("admits a valid key and sets req.apiKey", async () => {
      const res = await request(server).get("/me").set("Authorization", `bearer ${reader}`).expect(200);
      expect(res.body.apiKey).toMatchObject({ name: "reader", scopes: ["notes:read"], mode: "live" });
      expect(res.text).not.toContain(reader);
      await request(server).get("/read").set("Authorization", `Bearer ${reader}`).expect(200, { name: "reader" });
    });

    it("answers 401 with the challenge for a missing, unknown or revoked key", async () => {
      const missing = await request(server).get("/me").expect(401, { data: null, error: "missing_key" });
      expect(missing.headers["www-authenticate"]).toBe('Bearer realm="api"');
      const unknown = await request(server)
        .get("/me")
        .set("Authorization", `Bearer ${keys.format.generate()}`)
        .expect(401, { data: null, error: "invalid_key" });
      expect(unknown.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
      await request(server).get("/me").set("Authorization", `Bearer ${revoked}`).expect(401, { data: null, error: "key_revoked" });
    });

    it("answers 403 insufficient_scope from the guard and 400 for a malformed header", async () => {
      const res = await request(server).get("/read").set("Authorization", `Bearer ${writer}`).expect(403, { data: null, error: "insufficient_scope" });
      expect(res.headers["www-authenticate"]).toMatch(/scope="notes:read"/);
      await request(server).get("/me").set("Authorization", "Bearer a b").expect(400, { data: null, error: "invalid_request" });
    });

    it("answers 503 when the store fails", async () => {
      const store = new FlakyStore(new MemoryStore(), storeMode);
      const failing = new KeyManager({ store, usage: false, cache: false });
      const { secret } = await failing.create({ name: "k" });
      store.broken = true;
      const s = mount(apiKeyAuth({ keys: failing }), requireScope("notes:read"), (_req, res) => send(res, 200, {}));
      const res = await request(s).get("/me").set("Authorization", `Bearer ${secret}`).expect(503);
      expect(res.body.error.code).toBe("store_unavailable");
      await failing.close();
    });
  });
});

it("really runs two Express majors", () => {
  const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version.split(".")[0];
  expect([version("express"), version("express4")]).toEqual(["5", "4"]);
});
