/**
 * `npm run example:fastify`: the notes API on Fastify, on ./keyward.db (or $KEYWARD_DB). Once
 * listening it mints a test key with `notes:read` and prints curl lines that get a 200, a 401 and
 * a 403. A taken port is an error (exit 1), never a banner.
 */
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { serve } from "../serve";
import { createApp } from "./app";

const keys = new KeyManager({ store: new SqliteStore(process.env.KEYWARD_DB || "keyward.db") });

createApp(keys).then(
  (app) =>
    serve(app.routing, {
      name: "fastify",
      close: () => app.close().then(() => keys.close()),
      ready: async (base) => {
        const { secret } = await keys.create({ name: "fastify example", mode: "test", scopes: ["notes:read"], expiresIn: "1d" });
        return [
          `keyward on Fastify at ${base}`,
          `A test key with scope notes:read was created (shown once, valid 1 day):`,
          `  ${secret}`,
          ``,
          `  curl -i ${base}/v1/notes -H "Authorization: Bearer ${secret}"                  # 200`,
          `  curl -i ${base}/v1/notes                                                      # 401 missing_key`,
          `  curl -i -X POST ${base}/v1/notes -H "Authorization: Bearer ${secret}" \\`,
          `       -H "Content-Type: application/json" -d '{"text":"hi"}'                   # 403 insufficient_scope`,
        ];
      },
    }),
  (error: unknown) => {
    process.stderr.write(`fastify: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
