/**
 * The shared hostile table (`adapter-table.ts`) against every adapter, one runner each: Express,
 * Connect and a bare node:http server (`apiKeyAuth`), and Fastify (`keyward/fastify`), each over a
 * real socket so headers really repeat; Fetch (`fetchAuth` with `new Request(...)`) and Hono
 * (`app.request(...)`). Each case must get the table's status and code from each adapter, and every
 * other adapter's answer must carry the same `WWW-Authenticate`, `Cache-Control`, `Retry-After`,
 * `Content-Type` and body as Express's. Real stores; the failing one is a MemoryStore whose
 * `findByHash` throws.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import connect from "connect";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { KeyFormat, MemoryStore, apiKeyAuth, requireScope, type KeyManager, type Middleware } from "keyward";
import { fetchAuth } from "keyward/fetch";
import { keyward, type FastifyApiKeyAuthOptions } from "keyward/fastify";
import { apiKeyAuth as honoAuth, requireScope as honoScope, type ApiKeyEnv } from "keyward/hono";
import { makeKeys } from "../helpers";
import { ADAPTER_CASES, type AdapterAnswer, type TableKeys, type TableRoute } from "./adapter-table";
import { countingStore } from "../counting-store";
import { listen, rawRequest } from "./support";

type Answer = AdapterAnswer & { body: string };
type Runner = (route: TableRoute, headers: Array<[string, string]>) => Promise<Answer>;
type Adapter = "express" | "connect" | "http" | "fastify" | "fetch" | "hono";

const COMPARED = ["www-authenticate", "cache-control", "retry-after", "content-type"];

function answer(status: number, body: string, headers: (name: string) => string | null | undefined): Answer {
  let code: string | null = null;
  if (status !== 200) code = (JSON.parse(body) as { error: { code: string } }).error.code;
  const picked: Record<string, string> = {};
  for (const name of COMPARED) {
    const value = headers(name);
    if (value != null) picked[name] = value;
  }
  return { status, code, headers: picked, body };
}

const honoRoute = (c: { get: (k: "apiKey") => { id: string } | undefined; json: (v: unknown) => Response }) => c.json({ id: c.get("apiKey")?.id });

describe("one hostile table, every adapter", () => {
  let keys: KeyManager;
  let downKeys: KeyManager;
  let closeAll: () => Promise<void>;
  const k = {} as TableKeys;
  const runners: Record<Adapter, Runner> = {} as never;
  const servers: Array<{ close: () => Promise<void> }> = [];
  /** A runner sending raw header lines to `port` (repeated names stay repeated). */
  const overSocket =
    (port: number): Runner =>
    async (route, headers) => {
      const res = await rawRequest(
        port,
        route,
        headers.map(([n, v]) => `${n}: ${v}`),
      );
      return answer(res.status, res.body, (name) => res.headers[name]);
    };

  beforeAll(async () => {
    const made = makeKeys();
    keys = made.keys;
    const down = countingStore(new MemoryStore());
    const madeDown = makeKeys({ store: down.store });
    downKeys = madeDown.keys;
    down.fault("findByHash", "throw");
    k.valid = (await keys.create({ name: "reader", scopes: ["nodes:read"] })).secret;
    const revoked = await keys.create({ name: "gone" });
    await keys.revoke(revoked.key.id);
    k.revoked = revoked.secret;
    const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
    k.unknown = format.generate("live");
    k.fresh = format.generate("live");

    // The apiKeyAuth chain each route mounts (Express, Connect and node:http alike).
    const chains: Record<TableRoute, Middleware[]> = {
      "/bearer": [apiKeyAuth({ keys })],
      "/custom": [apiKeyAuth({ keys, header: "x-api-key" })],
      "/either": [apiKeyAuth({ keys, header: "x-api-key", bearer: true })],
      "/scoped": [apiKeyAuth({ keys }), requireScope("nodes:write")],
      "/down": [apiKeyAuth({ keys: downKeys })],
    };
    const echo = (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.end(JSON.stringify({ id: req.apiKey?.id }));
    };

    // Express.
    const app = express();
    for (const [route, chain] of Object.entries(chains)) app.use(route, ...chain);
    app.use((req, res) => {
      res.json({ id: req.apiKey?.id });
    });
    // Connect.
    const connected = connect();
    for (const [route, chain] of Object.entries(chains)) for (const middleware of chain) connected.use(route, middleware);
    connected.use(echo);
    // node:http: apiKeyAuth and the guard called by hand on a bare server.
    const bare = (req: IncomingMessage, res: ServerResponse) => {
      const chain = chains[req.url as TableRoute] ?? [];
      const step = (i: number) => (err?: unknown) => {
        if (err) {
          res.statusCode = 500;
          return void res.end();
        }
        if (i === chain.length) return echo(req, res);
        chain[i]!(req, res, step(i + 1));
      };
      step(0)();
    };
    // Fastify: one encapsulated scope per route, each registering the plugin with its options.
    const fastify = Fastify();
    const fastifyOptions: Record<TableRoute, [FastifyApiKeyAuthOptions, string[] | undefined]> = {
      "/bearer": [{ keys }, undefined],
      "/custom": [{ keys, header: "x-api-key" }, undefined],
      "/either": [{ keys, header: "x-api-key", bearer: true }, undefined],
      "/scoped": [{ keys }, ["nodes:write"]],
      "/down": [{ keys: downKeys }, undefined],
    };
    for (const [route, [options, scopes]] of Object.entries(fastifyOptions)) {
      await fastify.register(async (scope) => {
        await scope.register(keyward, options);
        scope.get(route, { config: scopes ? { scopes } : {} }, async (request) => ({ id: request.apiKey?.id }));
      });
    }
    await fastify.ready();

    for (const [name, listener] of [
      ["express", app],
      ["connect", connected],
      ["http", bare],
      ["fastify", fastify.routing],
    ] as const) {
      const server = await listen(listener);
      servers.push(server);
      runners[name] = overSocket(server.port);
    }

    // Fetch: one fetchAuth per route, Web Request in, Web Response out.
    const auths: Record<TableRoute, ReturnType<typeof fetchAuth>> = {
      "/bearer": fetchAuth({ keys }),
      "/custom": fetchAuth({ keys, header: "x-api-key" }),
      "/either": fetchAuth({ keys, header: "x-api-key", bearer: true }),
      "/scoped": fetchAuth({ keys, scopes: ["nodes:write"] }),
      "/down": fetchAuth({ keys: downKeys }),
    };
    runners.fetch = async (route, headers) => {
      const result = await auths[route](new Request(`http://localhost${route}`, { headers }));
      const res = result.ok ? Response.json({ id: result.key?.id }, { headers: result.headers }) : result.response;
      return answer(res.status, await res.text(), (name) => res.headers.get(name));
    };

    // Hono.
    const hono = new Hono<ApiKeyEnv>();
    hono.use("/bearer", honoAuth({ keys }));
    hono.use("/custom", honoAuth({ keys, header: "x-api-key" }));
    hono.use("/either", honoAuth({ keys, header: "x-api-key", bearer: true }));
    hono.use("/scoped", honoAuth({ keys }), honoScope("nodes:write"));
    hono.use("/down", honoAuth({ keys: downKeys }));
    hono.get("*", honoRoute);
    runners.hono = async (route, headers) => {
      const res = await hono.request(route, { headers });
      return answer(res.status, await res.text(), (name) => res.headers.get(name));
    };

    closeAll = async () => {
      for (const server of servers) await server.close();
      await fastify.close();
      await made.close();
      await madeDown.close();
    };
  });
  afterAll(() => closeAll());

  it.each(ADAPTER_CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const headers = c.headers(k);
    const got: Record<string, Answer> = {};
    for (const [name, run] of Object.entries(runners)) {
      got[name] = await run(c.route, headers);
      expect({ adapter: name, status: got[name]!.status, code: got[name]!.code }).toEqual({ adapter: name, status: c.status, code: c.code });
    }
    // On success the app's handler writes the body (and its content type); on a refusal, keyward does.
    const content = (a: Answer) => (a.status === 200 ? { body: JSON.parse(a.body) as unknown } : { headers: a.headers, body: JSON.parse(a.body) as unknown });
    // Where Fetch's Headers join values (`joined`), only the wording of the message may differ.
    const comparable = (a: Answer) => (c.joined ? { status: a.status, code: a.code, challenge: a.headers["www-authenticate"]?.split(",")[0] } : content(a));
    for (const name of ["connect", "http", "fastify"] as const)
      expect({ adapter: name, ...content(got[name]!) }).toEqual({ adapter: name, ...content(got.express!) });
    expect(comparable(got.fetch!)).toEqual(comparable(got.express!));
    expect(comparable(got.hono!)).toEqual(comparable(got.express!));
  });
});

describe("a bad credit cost, every adapter: refused at start-up, naming the option", () => {
  const made = makeKeys();
  afterAll(() => made.close());
  const keys = made.keys;
  const k0 = "sk_live_0000000000000000000000000000000000000";
  const BAD: Array<[unknown, RegExp]> = [
    [-1, /must not be negative/],
    [2.5, /must be a whole number of credits/],
    [1e13, /must be at most 1000000000000/],
    ["10", /must be a number of credits/],
    [Number.NaN, /must be a number of credits/],
    [Number.POSITIVE_INFINITY, /must be/],
    [null, /must be a number of credits/],
    [{ valueOf: () => 5 }, /must be a number of credits/],
  ];

  it.each(BAD)("cost %p", async (cost, reason) => {
    const named = (option: string) => new RegExp(`${option.replace(/[./]/g, "\\$&")}: ${reason.source}`);
    expect(() => apiKeyAuth({ keys, cost: cost as never })).toThrow(named("apiKeyAuth.cost"));
    expect(() => fetchAuth({ keys, cost: cost as never })).toThrow(named("fetchAuth.cost"));
    expect(() => honoAuth({ keys, cost: cost as never })).toThrow(named("fetchAuth.cost"));
    await expect(keys.verify(k0, { cost: cost as never })).rejects.toThrow(named("verify.cost"));
    const plugin = Fastify();
    await expect(plugin.register(keyward, { keys, cost: cost as never }).ready()).rejects.toThrow(named("keyward/fastify.cost"));
    await plugin.close();
    const routed = Fastify();
    await routed.register(keyward, { keys });
    expect(() => routed.get("/r", { config: { cost: cost as never } }, async () => "ok")).toThrow(named("GET /r config.cost"));
    await routed.close();
  });
});
