/** `npm run example:test-live`: the test-live API on :3000 (or $PORT) with a demo session and one key per mode. */
import { serve } from "../serve";
import { cliPreset, createApp } from "./app";

const db = process.env.KEYWARD_DB || "test-live.db";
const { app, keys, login } = createApp({ db });

serve(app, {
  name: "test-live",
  close: () => keys.close(),
  ready: async (base) => {
    const cookie = login(cliPreset().owner!);
    const test = await keys.create({ name: "sandbox", ownerId: "demo", mode: "test" });
    const live = await keys.create({ name: "ci-deploys", ownerId: "demo", mode: "live", scopes: ["models:read", "models:upload"], expiresIn: "90d" });
    return [
      `test-live example on ${base}; keys shown once: test ${test.secret}  live (models:read, models:upload) ${live.secret}`,
      `  curl -i ${base}/v1/me -H "Authorization: Bearer ${test.secret}"`,
      `  curl -i ${base}/v1/payouts -H "Authorization: Bearer ${live.secret}"    # 403: restricted key`,
      `  curl -i ${base}/dashboard/api-keys -H "Cookie: ${cookie}"`,
      `  KEYWARD_DB=${db} npx tsx examples/test-live/node-data.ts keys create --name "ci-deploys" --mode live --scope "models:read" --scope "models:upload" --expires 90d`,
      `  KEYWARD_DB=${db} npx tsx examples/test-live/node-data.ts keys revoke ${live.secret.slice(0, 12)}…   # revoke by the key string`,
    ];
  },
});
