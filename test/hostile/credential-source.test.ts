/**
 * Where apiKeyAuth reads the key from: the header as the client sent it (`req.rawHeaders`), sent
 * twice being a 400; when the client sent none, whatever the app put into `req.headers` before
 * apiKeyAuth (a key moved there from a legacy header). Plain node:http and Express, real sockets.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import express from "express";
import { apiKeyAuth, requireScope, type KeyManager } from "keyward";
import { makeKeys } from "../helpers";
import { listen, rawRequest } from "./support";

type Prepare = (req: IncomingMessage) => void;

/** A plain node:http server: `prepare(req)` first (the app's own code), then apiKeyAuth and a scope guard. */
function plainServer(keys: KeyManager, prepare: Prepare, options: { header?: string } = {}) {
  const auth = apiKeyAuth({ keys, ...options });
  const guard = requireScope("nodes:read");
  return listen((req: IncomingMessage, res: ServerResponse) => {
    prepare(req);
    auth(req, res, (err) => {
      if (err) {
        res.statusCode = 500;
        res.end();
        return;
      }
      guard(req, res, () => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ id: req.apiKey?.id }));
      });
    });
  });
}

/** The same on Express, with `prepare` as a middleware before apiKeyAuth. */
function expressServer(keys: KeyManager, prepare: Prepare, options: { header?: string } = {}) {
  const app = express();
  app.use((req, _res, next) => {
    prepare(req);
    next();
  });
  app.use(apiKeyAuth({ keys, ...options }));
  app.get("/", requireScope("nodes:read"), (req, res) => {
    res.json({ id: req.apiKey?.id });
  });
  return listen(app);
}

const untouched: Prepare = () => undefined;

describe.each([
  ["plain node:http", plainServer],
  ["Express", expressServer],
] as const)("the key's source on %s", (_name, serve) => {
  let keys: KeyManager;
  let close: () => Promise<void>;
  let secret: string;
  let id: string;

  beforeAll(async () => {
    const made = makeKeys();
    keys = made.keys;
    close = made.close;
    const created = await keys.create({ name: "reader", scopes: ["nodes:read"] });
    secret = created.secret;
    id = created.key.id;
  });
  afterAll(() => close());

  async function ask(prepare: Prepare, lines: string[], options: { header?: string } = {}) {
    const server = await serve(keys, prepare, options);
    try {
      const res = await rawRequest(server.port, "/", lines);
      return { status: res.status, body: res.body };
    } finally {
      await server.close();
    }
  }

  it("accepts the Bearer key", async () => {
    const res = await ask(untouched, [`Authorization: Bearer ${secret}`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ id });
  });

  it("refuses two Authorization lines with 400, whatever their case", async () => {
    const res = await ask(untouched, [`Authorization: Bearer ${secret}`, `authorization: Bearer ${secret}`]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: "invalid_request" } });
  });

  it("uses a key the app moved into req.headers before apiKeyAuth (e.g. from a legacy header)", async () => {
    const fromLegacy: Prepare = (req) => {
      const legacy = req.headers["x-legacy-key"];
      if (typeof legacy === "string") req.headers.authorization = `Bearer ${legacy}`;
    };
    const res = await ask(fromLegacy, [`X-Legacy-Key: ${secret}`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ id });
  });

  it("reads the key the client sent even when the app changed req.headers.authorization", async () => {
    const overwrite: Prepare = (req) => {
      req.headers.authorization = "Bearer sk_live_not_the_clients_key";
    };
    const res = await ask(overwrite, [`Authorization: Bearer ${secret}`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ id });
  });

  it("reads a custom header in any case and refuses it sent twice (401 by default for a custom header)", async () => {
    const once = await ask(untouched, [`X-API-KEY: ${secret}`], { header: "x-api-key" });
    expect(once.status).toBe(200);
    expect(JSON.parse(once.body)).toEqual({ id });
    const twice = await ask(untouched, [`x-api-key: ${secret}`, `X-Api-Key: ${secret}`], { header: "x-api-key" });
    expect(twice.status).toBe(401);
    expect(JSON.parse(twice.body)).toMatchObject({ error: { code: "invalid_key", message: "The x-api-key header was sent more than once." } });
  });
});
