/**
 * The shared hostile table (`adapter-table.ts`) against every adapter: Express (`apiKeyAuth` over a
 * real socket, so headers really repeat), Fetch (`fetchAuth` with `new Request(...)`) and Hono
 * (`app.request(...)`). Each case must get the table's status and code from each adapter, and the
 * Fetch and Hono answers must carry the same `WWW-Authenticate`, `Cache-Control`, `Retry-After`
 * and body as Express's. Real stores; the failing one is a MemoryStore whose `findByHash` throws.
 */
import express from "express";
import { Hono } from "hono";
import { KeyFormat, MemoryStore, apiKeyAuth, requireScope, type KeyManager } from "keyward";
import { fetchAuth } from "keyward/fetch";
import { apiKeyAuth as honoAuth, requireScope as honoScope, type ApiKeyEnv } from "keyward/hono";
import { makeKeys } from "../helpers";
import { ADAPTER_CASES, type AdapterAnswer, type TableKeys, type TableRoute } from "./adapter-table";
import { countingStore } from "../counting-store";
import { listen, rawRequest } from "./support";

type Answer = AdapterAnswer & { body: string };
type Runner = (route: TableRoute, headers: Array<[string, string]>) => Promise<Answer>;

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
  const runners: Record<"express" | "fetch" | "hono", Runner> = {} as never;

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

    // Express, over a real socket.
    const app = express();
    app.use("/bearer", apiKeyAuth({ keys }));
    app.use("/custom", apiKeyAuth({ keys, header: "x-api-key" }));
    app.use("/either", apiKeyAuth({ keys, header: "x-api-key", bearer: true }));
    app.use("/scoped", apiKeyAuth({ keys }), requireScope("nodes:write"));
    app.use("/down", apiKeyAuth({ keys: downKeys }));
    app.use((req, res) => {
      res.json({ id: req.apiKey?.id });
    });
    const server = await listen(app);
    runners.express = async (route, headers) => {
      const res = await rawRequest(
        server.port,
        route,
        headers.map(([n, v]) => `${n}: ${v}`),
      );
      return answer(res.status, res.body, (name) => res.headers[name]);
    };

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
      await server.close();
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
    expect(comparable(got.fetch!)).toEqual(comparable(got.express!));
    expect(comparable(got.hono!)).toEqual(comparable(got.express!));
  });
});
