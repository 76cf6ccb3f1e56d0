/** `npm run example:projects`: the projects API on :3000 (or $PORT) with a demo user in two projects and a read key. */
import { serve } from "../serve";
import { PROJECTS, createApp } from "./app";

const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "projects.db" });
const [shop, blog] = Object.keys(PROJECTS) as [string, string];

serve(app, {
  name: "projects",
  close: () => keys.close(),
  ready: async (base) => {
    const cookie = login("demo", [shop, blog]);
    const { secret } = await keys.create({ name: "cursor", ownerId: "demo", scopes: ["read"], expiresIn: "30d" });
    return [
      `projects example on ${base}; a user key with scope read, 30-day TTL (shown once): ${secret}`,
      `  curl -i ${base}/v1/applications -H "Authorization: Bearer ${secret}"                                  # default project`,
      `  curl -i ${base}/v1/applications -H "Authorization: Bearer ${secret}" -H "X-Nodion-Project: ${blog}"`,
      `  curl -i -X POST ${base}/v1/applications/shop-web/deployments -H "Authorization: Bearer ${secret}"     # 403 (needs deploy)`,
      `  curl -i ${base}/dashboard/keys -H "Cookie: ${cookie}"                                                  # last_used_at per key`,
      `  curl -i -X POST ${base}/dashboard/keys -H "Cookie: ${cookie}" -H "Content-Type: application/json" -d '{"name":"ci","kind":"project","project":"${shop}"}'`,
    ];
  },
});
