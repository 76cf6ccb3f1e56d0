/**
 * The lifecycle-webhook example: an app's KeyManager sweeps its keys (`sweepInterval`) and posts
 * each lifecycle notice (`key.expiring`, `quota.threshold`, `key.idle`) to a webhook, signed with
 * the signing secret of the key's mode (`whsec_test_…` / `whsec_live_…`); and the receiving end,
 * which checks each delivery's signature with its mode's secret before trusting it.
 */
import { randomUUID } from "node:crypto";
import express from "express";
import { KeyManager, signWebhook, verifyWebhook, type KeywardEvent, type LifecycleEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** A signing secret per mode, e.g. `{ test: createWebhookSecret("test"), live: createWebhookSecret("live") }`. */
export type ModeSecrets = Record<string, string>;

/** What the receiver gets: an id for de-duplication, the notice's type, the notice itself (dates as ISO strings). */
export interface Delivery {
  id: string;
  type: LifecycleEvent["type"];
  data: Record<string, unknown>;
}

/**
 * The sending side: an `onEvent` that posts each lifecycle notice to `${url}/${mode}` with a
 * `Keyward-Signature` header made with that mode's secret. `delivered()` resolves once every
 * post started so far was answered; `failures` keeps the ones that were not (a real app would
 * queue and retry them: each notice is emitted once).
 */
export function lifecycleWebhook(url: string, secrets: ModeSecrets) {
  const inFlight = new Set<Promise<void>>();
  const failures: string[] = [];
  const onEvent = (event: KeywardEvent) => {
    if (event.type !== "key.expiring" && event.type !== "quota.threshold" && event.type !== "key.idle") return;
    const mode = event.mode ?? "none";
    const secret = secrets[mode];
    if (secret === undefined) return void failures.push(`no signing secret for mode ${mode}`);
    const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: event.type, data: event });
    const post: Promise<void> = fetch(`${url}/${mode}`, {
      method: "POST",
      headers: { "content-type": "application/json", "keyward-signature": signWebhook(body, secret) },
      body,
    })
      .then((res) => {
        if (!res.ok) failures.push(`${event.type} for ${event.keyId}: the webhook answered ${res.status}`);
      })
      .catch((error: unknown) => void failures.push(`${event.type} for ${event.keyId}: ${String(error)}`))
      .finally(() => inFlight.delete(post));
    inFlight.add(post);
  };
  const delivered = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };
  return { onEvent, delivered, failures };
}

/** The app's keys: a monthly quota on the `free` tier, idle keys expired after 90 days, a sweep every hour. */
export function createKeys(options: { db: string; webhookUrl: string; secrets: ModeSecrets; clock?: () => number }) {
  const webhook = lifecycleWebhook(options.webhookUrl, options.secrets);
  const keys = new KeyManager({
    store: new SqliteStore(options.db),
    modes: ["test", "live"],
    tiers: { free: { monthlyRequests: 1000 } },
    idleExpiry: "90d",
    sweepInterval: "1h",
    ...(options.clock ? { clock: options.clock } : {}),
    onEvent: webhook.onEvent,
  });
  return { keys, webhook };
}

/**
 * The receiving side: `POST /webhooks/:mode` verifies the raw body against the `Keyward-Signature`
 * header with that mode's secret only (so a test secret can never vouch for a live notice), then
 * hands the delivery to `received`. A bad or missing signature is 400, nothing received.
 */
export function createReceiver(secrets: ModeSecrets, received: (delivery: Delivery, mode: string) => void) {
  const app = express();
  app.post("/webhooks/:mode", express.raw({ type: "application/json" }), (req, res) => {
    const mode = String(req.params.mode);
    const secret = secrets[mode];
    if (secret === undefined) return void res.status(404).json({ error: `no endpoint for mode ${mode}` });
    try {
      verifyWebhook(req.body as Buffer, req.get("keyward-signature"), secret, { mode });
    } catch (error) {
      return void res.status(400).json({ error: (error as { code?: string }).code ?? "invalid_signature" });
    }
    received(JSON.parse((req.body as Buffer).toString("utf8")) as Delivery, mode);
    res.sendStatus(204);
  });
  return app;
}
