/** `npm run example:projects`: the seed-003 API on :3000 with a demo user in two projects and a read key. */
import { PROJECTS, createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "projects.db" });
const [shop, blog] = Object.keys(PROJECTS) as [string, string];

async function main() {
  const cookie = login("demo", [shop, blog]);
  const { secret } = await keys.create({ name: "cursor", ownerId: "demo", scopes: ["read"], expiresIn: "30d" });
  const base = `http://127.0.0.1:${port}`;
  const server = app.listen(port, "127.0.0.1", () => {
    console.log([
      `seed 003 example on ${base}; a user key with scope read, 30-day TTL (shown once): ${secret}`,
      `  curl -i ${base}/v1/applications -H "Authorization: Bearer ${secret}"                                  # default project`,
      `  curl -i ${base}/v1/applications -H "Authorization: Bearer ${secret}" -H "X-Nodion-Project: ${blog}"`,
      `  curl -i -X POST ${base}/v1/applications/shop-web/deployments -H "Authorization: Bearer ${secret}"     # 403 (needs deploy)`,
      `  curl -i -X POST ${base}/dashboard/keys -H "Cookie: ${cookie}" -H "Content-Type: application/json" -d '{"name":"ci","kind":"project","project":"${shop}"}'`,
    ].join("\n"));
  });
  const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
