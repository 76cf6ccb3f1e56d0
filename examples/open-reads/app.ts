/**
 * The open-reads registry: reads are open, writes take a `nanda_` Bearer key; keys are
 * managed at `/api/developers/keys` with a session cookie; each key has a monthly quota and each
 * account a maximum of active keys by plan (Free / Pro / Enterprise); `transition: true` accepts
 * keys on writes without requiring them.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** Requests per key per UTC month and active keys per account, by plan. */
export const TIERS = {
  free: { monthlyRequests: 1_000, maxActiveKeys: 5 },
  pro: { monthlyRequests: 10_000, maxActiveKeys: 25 },
  enterprise: { monthlyRequests: 100_000 },
};
export type Plan = keyof typeof TIERS;

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Transition period: write endpoints accept a key but do not require one. Defaults to `TRANSITION=1`. */
  transition?: boolean;
  clock?: () => number;
}

export function createApp({ db, transition = process.env.TRANSITION === "1", clock }: AppOptions) {
  // Demo accounts: `Cookie: access_token=<token>` → account, and each account's plan.
  const sessions = new Map<string, string>();
  const plans = new Map<string, Plan>();
  const login = (account: string, plan: Plan = "free") => {
    const token = randomUUID();
    sessions.set(token, account);
    plans.set(account, plan);
    return `access_token=${token}`;
  };
  const accountOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)access_token=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  const keys = new KeyManager({
    store: new SqliteStore(db),
    prefix: "nanda",
    modes: [],
    tiers: TIERS,
    defaultTier: "free",
    tierOf: ({ ownerId }) => plans.get(ownerId ?? ""),
    clock,
  });
  const agents = new Map<string, { agent_id: string; agent_url: string; facts: Record<string, unknown>; registeredBy: string | null }>();

  const app = express();
  app.use(
    "/api/developers/keys",
    keysRouter({
      keys,
      owner: accountOf,
      tiers: (req) => [plans.get(accountOf(req) ?? "") ?? "free"], // `tier` in a body may only name the account's plan
      // The doc's shapes: 201 { key: { …, raw_key } } and 200 { message, key } on revoke.
      formatBody: (data, req) => {
        const { secret, key, ...rest } = data as { secret?: string; key?: object };
        if (secret) return { ...rest, key: { ...key, raw_key: secret } };
        return req.method === "DELETE" ? { message: "API key revoked successfully", ...(data as object) } : data;
      },
    }),
  );

  const open = express.Router();
  open.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  open.get("/list", (_req, res) => {
    res.json({ agents: [...agents.values()] });
  });
  open.get("/search", (req, res) => {
    res.json({ agents: [...agents.values()].filter((a) => a.agent_id.includes(String(req.query.q ?? ""))) });
  });
  open.get(["/lookup/:id", "/agentfacts/:id"], (req, res) => {
    const agent = agents.get(req.params.id as string);
    if (agent) res.json(agent);
    else res.status(404).json({ error: { code: "not_found", message: "No such agent." } });
  });
  open.get("/stats", (_req, res) => {
    res.json({ agents: agents.size });
  });
  open.get("/reputation", (_req, res) => {
    res.json({ scores: {} });
  });
  app.use(open);

  const write = [apiKeyAuth({ keys, required: !transition }), express.json()];
  app.post("/register", write, (req: express.Request, res: express.Response) => {
    const { agent_id, agent_url } = req.body ?? {};
    if (typeof agent_id !== "string" || typeof agent_url !== "string")
      return void res.status(422).json({ error: { code: "validation_failed", message: "agent_id and agent_url are required strings" } });
    agents.set(agent_id, { agent_id, agent_url, facts: {}, registeredBy: req.apiKey?.id ?? null });
    res.status(201).json(agents.get(agent_id));
  });
  app.put("/agentfacts/:id", write, (req: express.Request, res: express.Response) => {
    const agent = agents.get(req.params.id as string);
    if (!agent) return void res.status(404).json({ error: { code: "not_found", message: "No such agent." } });
    agent.facts = req.body ?? {};
    res.json(agent);
  });
  app.delete("/agents/:id", write, (req: express.Request, res: express.Response) => {
    if (!agents.delete(req.params.id as string)) return void res.status(404).json({ error: { code: "not_found", message: "No such agent." } });
    res.json({ deleted: req.params.id });
  });
  return { app, keys, login, plans };
}
