/**
 * `npm start`: opens ./keyward.db (or $KEYWARD_DB), and once listening mints a test key with
 * `notes:read` and prints curl lines that get a 200, a 401 and a 403 from the quickstart API. Every
 * key event and refusal is written to stderr as one JSON line: an audit log (events never hold a
 * secret or a hash). A taken port is an error (exit 1), never a banner.
 */
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { serve } from "../serve";
import { createApp } from "./app";

const keys = new KeyManager({
  store: new SqliteStore(process.env.KEYWARD_DB || "keyward.db"),
  onEvent: (event) => process.stderr.write(JSON.stringify(event) + "\n"), // audit log: `npm start 2>>audit.jsonl`
});

serve(createApp(keys), {
  name: "quickstart",
  close: () => keys.close(),
  ready: async (base) => {
    const { secret } = await keys.create({ name: "quickstart", ownerId: "demo", mode: "test", scopes: ["notes:read"], expiresIn: "1d" });
    return [
      `keyward quickstart on ${base}`,
      `A test key with scope notes:read was created (shown once, valid 1 day):`,
      `  ${secret}`,
      ``,
      `  curl -i ${base}/v1/whoami -H "Authorization: Bearer ${secret}"          # 200`,
      `  curl -i ${base}/v1/whoami                                              # 401 missing_key`,
      `  curl -i -X POST ${base}/v1/notes -H "Authorization: Bearer ${secret}"  # 403 insufficient_scope`,
      ``,
      `Manage keys in the browser (demo login): ${base}/login`,
    ];
  },
});
