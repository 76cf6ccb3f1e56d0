/**
 * `npm start`: opens ./keyward.db (or $KEYWARD_DB), mints a test key with `notes:read`, and prints
 * curl lines that get a 200, a 401 and a 403 from the quickstart API. Every key event and refusal
 * is written to stderr as one JSON line: an audit log (events never hold a secret or a hash).
 */
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const keys = new KeyManager({
  store: new SqliteStore(process.env.KEYWARD_DB || "keyward.db"),
  onEvent: (event) => process.stderr.write(JSON.stringify(event) + "\n"), // audit log: `npm start 2>>audit.jsonl`
});

async function main() {
  const { secret } = await keys.create({ name: "quickstart", ownerId: "demo", mode: "test", scopes: ["notes:read"], expiresIn: "1d" });
  const server = createApp(keys).listen(port, "127.0.0.1", () => {
    const base = `http://127.0.0.1:${port}`;
    process.stdout.write(
      [
        `keyward quickstart on ${base}`,
        `A test key with scope notes:read was created (shown once, valid 1 day):`,
        `  ${secret}`,
        ``,
        `  curl -i ${base}/v1/whoami -H "Authorization: Bearer ${secret}"          # 200`,
        `  curl -i ${base}/v1/whoami                                              # 401 missing_key`,
        `  curl -i -X POST ${base}/v1/notes -H "Authorization: Bearer ${secret}"  # 403 insufficient_scope`,
        ``,
        `Manage keys in the browser (demo login): ${base}/login`,
        ``,
      ].join("\n"),
    );
  });
  const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
