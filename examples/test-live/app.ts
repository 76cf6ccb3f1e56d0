/**
 * NodeData-style API (seed 004): `nd_test_`/`nd_live_` keys whose data never crosses modes, a
 * webhook signing secret per mode (`whsec_test_`/`whsec_live_`) used to sign deliveries, restricted
 * keys with `models:read`/`models:upload`/…, and keys managed (created, rotated, revoked) from a
 * dashboard session or the `keyward` CLI.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, createWebhookSecret, keysRouter, requireScope, signWebhook } from "keyward";
import { SqliteStore } from "keyward/sqlite";

export const SCOPES = [
  "models:read", "models:upload", "datasets:read", "datasets:upload", "listings:read", "listings:write",
  "payouts:read", "deploy:write", "webhooks:write",
];

export interface AppOptions {
  /** SQLite file holding the keys (the CLI's `--db`). */
  db: string;
  clock?: () => number;
}

interface Account { models: Array<{ id: string; name: string }>; webhookSecret: string; endpoints: string[] }

export function createApp({ db, clock }: AppOptions) {
  const keys = new KeyManager({ store: new SqliteStore(db), prefix: "nd", modes: ["test", "live"], scopes: SCOPES, clock });

  // Demo dashboard session (`Cookie: session=<token>` → user id).
  const sessions = new Map<string, string>();
  const login = (user: string) => { const token = randomUUID(); sessions.set(token, user); return `session=${token}`; };
  const userOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  // Everything an account has exists once per mode: a test key only ever reaches the test side.
  const accounts = new Map<string, Account>();
  const side = (owner: string, mode: string) => {
    const name = `${owner}:${mode}`;
    if (!accounts.has(name)) accounts.set(name, { models: [], webhookSecret: createWebhookSecret(mode), endpoints: [] });
    return accounts.get(name)!;
  };
  const mine = (req: express.Request) => side(req.apiKey!.ownerId ?? "", req.apiKey!.mode!);
  const deliver = async (account: Account, type: string, data: unknown) => {
    const payload = JSON.stringify({ id: `evt_${randomUUID()}`, type, data });
    const signature = signWebhook(payload, account.webhookSecret);
    await Promise.all(account.endpoints.map((url) =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json", "nodedata-signature": signature }, body: payload }).catch(() => undefined)));
  };

  const app = express();
  app.use("/dashboard/api-keys", keysRouter({ keys, owner: userOf }));
  app.use("/v1", apiKeyAuth({ keys }), express.json());
  app.get("/v1/me", (req, res) => { res.json({ account: req.apiKey!.ownerId, mode: req.apiKey!.mode, key: req.apiKey!.name, scopes: req.apiKey!.scopes }); });
  app.get("/v1/models", requireScope("models:read"), (req, res) => { res.json({ models: mine(req).models }); });
  app.get("/v1/models/:id", requireScope("models:read"), (req, res) => {
    const model = mine(req).models.find((m) => m.id === req.params.id);
    if (model) res.json(model);
    else res.status(404).json({ error: { code: "not_found", message: "No such model." } });
  });
  app.post("/v1/models", requireScope("models:upload"), async (req, res) => {
    const model = { id: `mdl_${randomUUID()}`, name: String(req.body?.name ?? "untitled") };
    mine(req).models.push(model);
    await deliver(mine(req), "model.created", model);
    res.status(201).json(model);
  });
  app.get("/v1/datasets", requireScope("datasets:read"), (_req, res) => { res.json({ datasets: [] }); });
  app.post("/v1/datasets", requireScope("datasets:upload"), (_req, res) => { res.status(201).json({ id: `ds_${randomUUID()}` }); });
  app.get("/v1/listings", requireScope("listings:read"), (_req, res) => { res.json({ listings: [] }); });
  app.post("/v1/listings", requireScope("listings:write"), (_req, res) => { res.status(201).json({ id: `lst_${randomUUID()}` }); });
  app.get("/v1/payouts", requireScope("payouts:read"), (req, res) => { res.json({ mode: req.apiKey!.mode, balance: 0 }); });
  app.post("/v1/deployments", requireScope("deploy:write"), (_req, res) => { res.status(201).json({ id: `dep_${randomUUID()}` }); });
  app.post("/v1/webhook_endpoints", requireScope("webhooks:write"), (req, res) => {
    const url = req.body?.url;
    if (typeof url !== "string" || !/^https?:\/\//.test(url)) return void res.status(422).json({ error: { code: "validation_failed", message: "url must be an http(s) URL" } });
    mine(req).endpoints.push(url);
    res.status(201).json({ url, mode: req.apiKey!.mode, secret: mine(req).webhookSecret });
  });
  return { app, keys, login };
}
