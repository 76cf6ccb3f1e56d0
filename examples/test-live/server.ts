/** `npm run example:test-live`: the seed-004 API on :3000 with a demo session and one key per mode. */
import { createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const db = process.env.KEYWARD_DB || "test-live.db";
const { app, keys, login } = createApp({ db });

async function main() {
  const cookie = login("demo");
  const test = await keys.create({ name: "sandbox", ownerId: "demo", mode: "test" });
  const live = await keys.create({ name: "ci-deploys", ownerId: "demo", mode: "live", scopes: ["models:read", "models:upload"], expiresIn: "90d" });
  const base = `http://127.0.0.1:${port}`;
  const server = app.listen(port, "127.0.0.1", () => {
    console.log([
      `seed 004 example on ${base}; keys shown once: test ${test.secret}  live (models:read, models:upload) ${live.secret}`,
      `  curl -i ${base}/v1/me -H "Authorization: Bearer ${test.secret}"`,
      `  curl -i ${base}/v1/payouts -H "Authorization: Bearer ${live.secret}"    # 403: restricted key`,
      `  curl -i ${base}/dashboard/api-keys -H "Cookie: ${cookie}"`,
      `  npx keyward keys create --db ${db} --prefix nd --name "ci-deploys" --mode live --scope "models:read" --scope "models:upload" --expires 90d`,
    ].join("\n"));
  });
  const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
