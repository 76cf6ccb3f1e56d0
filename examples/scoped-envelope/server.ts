/** `npm run example:scoped-envelope`: the seed-000 API on :3000 with a demo org session and a test key. */
import { createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "scoped-envelope.db" });

async function main() {
  const cookie = login("org_demo");
  const { secret } = await keys.create({ name: "n8n-production", ownerId: "org_demo", mode: "test", scopes: ["nodes:read"] });
  const base = `http://127.0.0.1:${port}`;
  const server = app.listen(port, "127.0.0.1", () => {
    console.log([
      `seed 000 example on ${base}; a sk_test_ key with nodes:read (shown once): ${secret}`,
      `  curl -i ${base}/api/v1/nodes -H "Authorization: Bearer ${secret}"                      # 200 { data, error: null }`,
      `  curl -i -X POST ${base}/api/v1/batches -H "Authorization: Bearer ${secret}"            # 403 { data: null, error }`,
      `  curl -i ${base}/dashboard/api-keys -H "Cookie: ${cookie}"   # listing with lastUsedAt and requestCount`,
    ].join("\n"));
  });
  const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
