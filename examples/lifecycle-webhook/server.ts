/**
 * `npm run example:lifecycle-webhook`: listens on 127.0.0.1:$PORT as the webhook receiver, then
 * creates a test key that expires in two days, sweeps once, and prints each delivery it received
 * (signature checked). Keys live in ./lifecycle-webhook.db (or
 * $KEYWARD_DB). A taken port is an error (exit 1), never a banner.
 */
import { createWebhookSecret } from "keyward";
import { serve } from "../serve";
import { createKeys, createReceiver, type Delivery } from "./app";

const secrets = { test: createWebhookSecret("test"), live: createWebhookSecret("live") };
const received: Delivery[] = [];
const receiver = createReceiver(secrets, (delivery, mode) => {
  received.push(delivery);
  process.stderr.write(`received ${mode} ${delivery.type} for ${String(delivery.data.keyId)} (signature verified)\n`);
});
let close = async () => {};

serve(receiver, {
  name: "lifecycle-webhook",
  close: () => close(),
  ready: async (base) => {
    const { keys, webhook } = createKeys({ db: process.env.KEYWARD_DB || "lifecycle-webhook.db", webhookUrl: `${base}/webhooks`, secrets });
    close = () => keys.close();
    await keys.create({ name: "expires-soon", mode: "test", expiresIn: "2d" });
    const { notices } = await keys.sweep();
    await webhook.delivered();
    return [
      `keyward lifecycle-webhook receiver on ${base}`,
      `Swept the keys: ${notices.length} notice(s) sent, ${received.length} delivery(ies) received and verified.`,
      `The KeyManager sweeps again every hour; each notice is sent once (recorded in the database).`,
    ];
  },
});
