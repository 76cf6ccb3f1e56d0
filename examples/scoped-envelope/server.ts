/** `npm run example:scoped-envelope`: the scoped-envelope API on :3000 (or $PORT) with demo sessions per role and a test key. */
import { serve } from "../serve";
import { createApp } from "./app";

const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "scoped-envelope.db" });

serve(app, {
  name: "scoped-envelope",
  close: () => keys.close(),
  ready: async (base) => {
    const admin = login("org_demo", "admin");
    const viewer = login("org_demo", "viewer");
    const { secret } = await keys.create({ name: "n8n-production", ownerId: "org_demo", mode: "test", scopes: ["nodes:read"] });
    return [
      `scoped-envelope example on ${base}; a sk_test_ key with nodes:read (shown once): ${secret}`,
      `  curl -i ${base}/api/v1/nodes -H "Authorization: Bearer ${secret}"                      # 200 { data, error: null }`,
      `  curl -i -X POST ${base}/api/v1/batches -H "Authorization: Bearer ${secret}"            # 403 { data: null, error }`,
      `  curl -i ${base}/api/v1/nodes -H "Authorization: Bearer"                                # 401 (malformed counts as invalid)`,
      `  curl -i ${base}/dashboard/api-keys -H "Cookie: ${admin}"   # listing with lastUsedAt and requestCount`,
      `  curl -i -X POST ${base}/dashboard/api-keys -H "Cookie: ${viewer}" -H "Content-Type: application/json" -d '{"name":"ro"}'   # a viewer's key: the viewer's scopes`,
    ];
  },
});
