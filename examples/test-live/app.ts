/**
 * The test-live API: `nd_test_`/`nd_live_` keys whose data never crosses modes, a webhook signing
 * secret per mode (`whsec_test_`/`whsec_live_`) used to sign deliveries, restricted keys with
 * `models:read`/`models:upload`/… guarding every operation, and keys managed (created, rotated,
 * revoked) from a dashboard session or the app's own `node-data` command (`cliPreset`).
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, createWebhookSecret, keysRouter, requireScope, signWebhook, type CliPreset } from "keyward";
import { SqliteStore } from "keyward/sqlite";

export const SCOPES = [
  "models:read",
  "models:upload",
  "datasets:read",
  "datasets:upload",
  "listings:read",
  "listings:write",
  "payouts:read",
  "deploy:write",
  "webhooks:write",
];

/** The key format, shared by the server and the `node-data` command. */
export const KEY_FORMAT = { prefix: "nd", modes: ["test", "live"] };

/**
 * What `node-data` (this app's own command, `node-data.ts`) presets on keyward's CLI: its name,
 * key format, database and the account keys are made for.
 *
 * @example
 * runCli(["keys", "create", "--name", "ci-deploys", "--mode", "live", "--expires", "90d"], undefined, cliPreset());
 */
export function cliPreset(env: NodeJS.ProcessEnv = process.env): CliPreset {
  return { name: "node-data", ...KEY_FORMAT, db: env.KEYWARD_DB || "test-live.db", owner: env.NODE_DATA_ACCOUNT || "demo" };
}

type Method = "get" | "post" | "patch" | "delete";
/** Every operation and the scope it needs (the doc's scope list). `:id` is an object made by POSTing to the path before it. */
export const ENDPOINTS: ReadonlyArray<readonly [method: Method, path: string, scope: string]> = [
  ["get", "/v1/models", "models:read"],
  ["get", "/v1/models/:id", "models:read"],
  ["get", "/v1/models/:id/download", "models:read"],
  ["post", "/v1/models", "models:upload"],
  ["patch", "/v1/models/:id", "models:upload"],
  ["get", "/v1/datasets", "datasets:read"],
  ["get", "/v1/datasets/:id", "datasets:read"],
  ["post", "/v1/datasets", "datasets:upload"],
  ["patch", "/v1/datasets/:id", "datasets:upload"],
  ["get", "/v1/listings", "listings:read"],
  ["get", "/v1/listings/:id", "listings:read"],
  ["post", "/v1/listings", "listings:write"],
  ["patch", "/v1/listings/:id", "listings:write"],
  ["delete", "/v1/listings/:id", "listings:write"],
  ["get", "/v1/payouts", "payouts:read"],
  ["get", "/v1/balance", "payouts:read"],
  ["post", "/v1/deployments", "deploy:write"],
  ["patch", "/v1/deployments/:id", "deploy:write"],
  ["get", "/v1/webhook_endpoints", "webhooks:write"],
  ["post", "/v1/webhook_endpoints", "webhooks:write"],
  ["delete", "/v1/webhook_endpoints/:id", "webhooks:write"],
];

export interface AppOptions {
  /** SQLite file holding the keys (the CLI's `--db`). */
  db: string;
  clock?: () => number;
}

type Item = { id: string; name: string; [field: string]: unknown };
interface Account {
  models: Item[];
  datasets: Item[];
  listings: Item[];
  deployments: Item[];
  webhookSecret: string;
  endpoints: Array<{ id: string; url: string; mode: string }>;
}

export function createApp({ db, clock }: AppOptions) {
  const keys = new KeyManager({ store: new SqliteStore(db), ...KEY_FORMAT, scopes: SCOPES, clock });

  // Demo dashboard session (`Cookie: session=<token>` → user id).
  const sessions = new Map<string, string>();
  const login = (user: string) => {
    const token = randomUUID();
    sessions.set(token, user);
    return `session=${token}`;
  };
  const userOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  // Everything an account has exists once per mode: a test key only ever reaches the test side.
  const accounts = new Map<string, Account>();
  const side = (owner: string, mode: string) => {
    const name = `${owner}:${mode}`;
    if (!accounts.has(name))
      accounts.set(name, { models: [], datasets: [], listings: [], deployments: [], webhookSecret: createWebhookSecret(mode), endpoints: [] });
    return accounts.get(name)!;
  };
  const mine = (req: express.Request) => side(req.apiKey!.ownerId ?? "", req.apiKey!.mode!);
  const deliver = async (account: Account, type: string, data: unknown) => {
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, type, data });
    const signature = signWebhook(payload, account.webhookSecret);
    await Promise.all(
      account.endpoints.map(({ url }) =>
        fetch(url, { method: "POST", headers: { "content-type": "application/json", "nodedata-signature": signature }, body: payload }).catch(() => undefined),
      ),
    );
  };

  const app = express();
  app.use("/dashboard/api-keys", keysRouter({ keys, owner: userOf }));
  app.use("/v1", apiKeyAuth({ keys }), express.json());
  app.get("/v1/me", (req, res) => {
    res.json({ account: req.apiKey!.ownerId, mode: req.apiKey!.mode, key: req.apiKey!.name, scopes: req.apiKey!.scopes });
  });
  const notFound = (res: express.Response, what: string) => res.status(404).json({ error: { code: "not_found", message: `No such ${what}.` } });
  const nameOf = (req: express.Request) => String(req.body?.name ?? "untitled");
  // Models, datasets, listings and deployments: list, get, create and update within the key's own mode.
  for (const [kind, read, write, prefix] of [
    ["models", "models:read", "models:upload", "mdl"],
    ["datasets", "datasets:read", "datasets:upload", "ds"],
    ["listings", "listings:read", "listings:write", "lst"],
    ["deployments", null, "deploy:write", "dep"],
  ] as const) {
    const one = (req: express.Request, res: express.Response) => {
      const item = mine(req)[kind].find((i) => i.id === req.params.id);
      if (!item) notFound(res, kind.slice(0, -1));
      return item;
    };
    if (read) {
      app.get(`/v1/${kind}`, requireScope(read), (req, res) => {
        res.json({ [kind]: mine(req)[kind] });
      });
      app.get(`/v1/${kind}/:id`, requireScope(read), (req, res) => {
        const item = one(req, res);
        if (item) res.json(item);
      });
    }
    app.post(`/v1/${kind}`, requireScope(write), async (req, res) => {
      const item: Item = { id: `${prefix}_${randomUUID()}`, name: nameOf(req) };
      mine(req)[kind].push(item);
      if (kind === "models") await deliver(mine(req), "model.created", item);
      res.status(201).json(item);
    });
    app.patch(`/v1/${kind}/:id`, requireScope(write), (req, res) => {
      const item = one(req, res);
      if (item) res.json(Object.assign(item, { name: nameOf(req) }));
    });
    if (kind === "listings") {
      app.delete("/v1/listings/:id", requireScope(write), (req, res) => {
        const item = one(req, res);
        if (!item) return;
        mine(req).listings.splice(mine(req).listings.indexOf(item), 1);
        res.json({ id: item.id, deleted: true });
      });
    }
  }
  app.get("/v1/models/:id/download", requireScope("models:read"), (req, res) => {
    const model = mine(req).models.find((m) => m.id === req.params.id);
    if (!model) return void notFound(res, "model");
    res.json({ id: model.id, url: `https://files.example/${req.apiKey!.mode}/${model.id}.bin`, expiresIn: 300 });
  });
  app.get("/v1/payouts", requireScope("payouts:read"), (req, res) => {
    res.json({ mode: req.apiKey!.mode, payouts: [] });
  });
  app.get("/v1/balance", requireScope("payouts:read"), (req, res) => {
    res.json({ mode: req.apiKey!.mode, available: 0, pending: 0 });
  });
  app.get("/v1/webhook_endpoints", requireScope("webhooks:write"), (req, res) => {
    res.json({ endpoints: mine(req).endpoints });
  });
  app.post("/v1/webhook_endpoints", requireScope("webhooks:write"), (req, res) => {
    const url = req.body?.url;
    if (typeof url !== "string" || !/^https?:\/\//.test(url))
      return void res.status(422).json({ error: { code: "validation_failed", message: "url must be an http(s) URL" } });
    const endpoint = { id: `we_${randomUUID()}`, url, mode: req.apiKey!.mode! };
    mine(req).endpoints.push(endpoint);
    res.status(201).json({ ...endpoint, secret: mine(req).webhookSecret });
  });
  app.delete("/v1/webhook_endpoints/:id", requireScope("webhooks:write"), (req, res) => {
    const list = mine(req).endpoints;
    const at = list.findIndex((e) => e.id === req.params.id);
    if (at < 0) return void notFound(res, "webhook endpoint");
    res.json({ ...list.splice(at, 1)[0], deleted: true });
  });
  return { app, keys, login };
}
