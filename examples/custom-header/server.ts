/** `npm run example:custom-header`: the custom-header API on :3000 (or $PORT) with a demo dashboard session and a default key. */
import { serve } from "../serve";
import { createApp } from "./app";

const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "custom-header.db" });

serve(app, {
  name: "custom-header",
  close: () => keys.close(),
  ready: async (base) => {
    const cookie = login("acct_demo", "starter");
    const { secret } = await keys.create({ name: "zapier", ownerId: "acct_demo" });
    return [
      `custom-header example on ${base}; a niq_live_ key with the default read-only scopes (shown once): ${secret}`,
      `  curl -i ${base}/v1/alerts -H "X-NearIQ-Key: ${secret}"                   # 200`,
      `  curl -i -X POST ${base}/v1/content/drafts -H "X-NearIQ-Key: ${secret}"   # 403 insufficient_scope`,
      `  curl -i ${base}/v1/alerts -H "X-NearIQ-Key: not a key"                   # 401 invalid_key`,
      `  curl -i ${base}/settings/api/keys -H "X-NearIQ-Key: ${secret}"           # 403: management is session-only`,
      `  curl -i ${base}/settings/api/keys -H "Cookie: ${cookie}"                 # 200 your keys`,
    ];
  },
});
