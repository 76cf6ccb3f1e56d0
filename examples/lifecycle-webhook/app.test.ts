/**
 * Lifecycle notices as webhooks, end to end: a real receiver listening on 127.0.0.1, keys in a
 * SQLite file on a test clock, a sweep, and each notice arriving once as a POST whose signature
 * the receiver verified with the secret of the key's mode; forged and cross-mode posts are refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWebhookSecret, signWebhook, verifyWebhook } from "keyward";
import { createKeys, createReceiver, type Delivery } from "./app";

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), "keyward-lifecycle-"));
const secrets = { test: createWebhookSecret("test"), live: createWebhookSecret("live") };
const received: Array<{ delivery: Delivery; mode: string }> = [];
let server: Server;
let base = "";

beforeAll(
  () =>
    new Promise<void>((ready) => {
      server = createServer(createReceiver(secrets, (delivery, mode) => received.push({ delivery, mode }))).listen(0, "127.0.0.1", () => {
        base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        ready();
      });
    }),
);
afterAll(
  () =>
    new Promise<void>((done) =>
      server.close(() => {
        rmSync(dir, { recursive: true, force: true });
        done();
      }),
    ),
);
beforeEach(() => {
  received.length = 0;
});

test("each notice arrives once, signed with its mode's secret, and the receiver verified it", async () => {
  let now = Date.UTC(2026, 10, 2, 9, 0, 0);
  const { keys, webhook } = createKeys({ db: join(dir, "keys.db"), webhookUrl: `${base}/webhooks`, secrets, clock: () => now });
  const { key: expiring } = await keys.create({ name: "ci-deploys", mode: "live", ownerId: "acct_1", expiresIn: "20d" });
  const { key: metered, secret } = await keys.create({ name: "metered", mode: "test", ownerId: "acct_2", tier: "free" });
  for (let i = 0; i < 800; i++) expect((await keys.verify(secret)).ok).toBe(true);

  now += 7 * DAY;
  const { notices } = await keys.sweep();
  await webhook.delivered();
  expect(webhook.failures).toEqual([]);
  expect(notices.map((n) => n.type).sort()).toEqual(["key.expiring", "quota.threshold"]);
  const byType = Object.fromEntries(received.map((r) => [r.delivery.type, r]));
  expect(byType["key.expiring"]).toMatchObject({
    mode: "live",
    delivery: { type: "key.expiring", data: { keyId: expiring.id, ownerId: "acct_1", threshold: "14d", expiresAt: expiring.expiresAt!.toISOString() } },
  });
  expect(byType["quota.threshold"]).toMatchObject({
    mode: "test",
    delivery: { type: "quota.threshold", data: { keyId: metered.id, threshold: 80, used: 800, limit: 1000, month: "2026-11" } },
  });
  expect(received).toHaveLength(2);
  expect(JSON.stringify(received)).not.toContain(secret);

  await keys.sweep(); // nothing new: each notice is sent once
  await webhook.delivered();
  expect(received).toHaveLength(2);

  now += 30 * DAY; // December: the live key has expired; the test key has not been used for 37 days
  await keys.sweep();
  await webhook.delivered();
  expect(received.slice(2).map((r) => `${r.mode} ${r.delivery.type} ${r.delivery.data.keyId}`)).toEqual([`test key.idle ${metered.id}`]);
  await keys.close();
});

test("the receiver refuses a forged signature, another mode's secret and an unsigned post", async () => {
  const body = JSON.stringify({ id: "evt_1", type: "key.idle", data: { keyId: "key_x" } });
  const post = (mode: string, signature?: string) =>
    fetch(`${base}/webhooks/${mode}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(signature ? { "keyward-signature": signature } : {}) },
      body,
    });
  expect((await post("live", signWebhook(body, createWebhookSecret("live")))).status).toBe(400);
  expect((await post("live", signWebhook(body, secrets.test))).status).toBe(400);
  expect((await post("live")).status).toBe(400);
  expect(received).toEqual([]);
  const good = await post("live", signWebhook(body, secrets.live));
  expect(good.status).toBe(204);
  expect(received).toEqual([{ mode: "live", delivery: JSON.parse(body) }]);
  expect(() => verifyWebhook(body, signWebhook(body, secrets.live), secrets.live, { mode: "live" })).not.toThrow();
});
