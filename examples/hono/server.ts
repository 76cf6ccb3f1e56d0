/**
 * `npm run example:hono`: the notes API on Hono, served on Node by @hono/node-server's request
 * listener, on ./keyward.db (or $KEYWARD_DB). Once listening it mints a test key with `notes:read`
 * and prints curl lines that get a 200, a 401 and a 403. A taken port is an error (exit 1), never a banner.
 */
import { getRequestListener } from "@hono/node-server";
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { serve } from "../serve";
import { createApp } from "./app";

const keys = new KeyManager({ store: new SqliteStore(process.env.KEYWARD_DB || "keyward.db") });

serve(getRequestListener(createApp(keys).fetch), {
  name: "hono",
  close: () => keys.close(),
  ready: async (base) => {
    const { secret } = await keys.create({ name: "hono example", mode: "test", scopes: ["notes:read"], expiresIn: "1d" });
    return [
      `keyward on Hono at ${base}`,
      `A test key with scope notes:read was created (shown once, valid 1 day):`,
      `  ${secret}`,
      ``,
      `  curl -i ${base}/v1/notes -H "Authorization: Bearer ${secret}"                  # 200`,
      `  curl -i ${base}/v1/notes                                                      # 401 missing_key`,
      `  curl -i -X POST ${base}/v1/notes -H "Authorization: Bearer ${secret}" \\`,
      `       -H "Content-Type: application/json" -d '{"text":"hi"}'                   # 403 insufficient_scope`,
    ];
  },
});
