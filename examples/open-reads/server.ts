/** `npm run example:open-reads` (TRANSITION=1 for the transition period): the seed-002 registry on :3000. */
import { createApp } from "./app";

const port = Number(process.env.PORT ?? 3000);
const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "open-reads.db" });

const cookie = login("demo", "free");
const base = `http://127.0.0.1:${port}`;
const server = app.listen(port, "127.0.0.1", () => {
  console.log([
    `seed 002 example on ${base} (transition mode ${process.env.TRANSITION === "1" ? "on" : "off"}); a demo Free account's session: ${cookie}`,
    `  curl -i ${base}/list                                                             # 200, open`,
    `  curl -i -X POST ${base}/api/developers/keys -H "Cookie: ${cookie}" -H "Content-Type: application/json" -d '{"name": "my-agent-key"}'`,
    `  curl -i -X POST ${base}/register -H "Authorization: Bearer nanda_…" -H "Content-Type: application/json" -d '{"agent_id": "my-agent", "agent_url": "https://my-agent.example.com"}'`,
  ].join("\n"));
});
const stop = () => server.close(() => void keys.close().then(() => process.exit(0)));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
