/** `npm run example:custom-header`: the seed-001 API on :3000 with a demo dashboard session and a default key. */
import { createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "custom-header.db" });

async function main() {
  const cookie = login("acct_demo", "starter");
  const { secret } = await keys.create({ name: "zapier", ownerId: "acct_demo" });
  const base = `http://127.0.0.1:${port}`;
  const server = app.listen(port, "127.0.0.1", () => {
    console.log([
      `seed 001 example on ${base}; a niq_live_ key with the default read-only scopes (shown once): ${secret}`,
      `  curl -i ${base}/v1/alerts -H "X-NearIQ-Key: ${secret}"                   # 200`,
      `  curl -i -X POST ${base}/v1/content/drafts -H "X-NearIQ-Key: ${secret}"   # 403 insufficient_scope`,
      `  curl -i ${base}/settings/api/keys -H "X-NearIQ-Key: ${secret}"           # 403: management is session-only`,
      `  curl -i ${base}/settings/api/keys -H "Cookie: ${cookie}"                 # 200 your keys`,
    ].join("\n"));
  });
  const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
