/** `npm run example:open-reads` (TRANSITION=1 for the transition period): the open-reads registry on :3000 (or $PORT). */
import { serve } from "../serve";
import { createApp } from "./app";

const { app, keys, login } = createApp({ db: process.env.KEYWARD_DB || "open-reads.db" });

serve(app, {
  name: "open-reads",
  close: () => keys.close(),
  ready: (base) => {
    const cookie = login("demo", "free");
    return [
      `open-reads example on ${base} (transition mode ${process.env.TRANSITION === "1" ? "on" : "off"}); a demo Free account's session: ${cookie}`,
      `  curl -i ${base}/list                                                             # 200, open`,
      `  curl -i -X POST ${base}/api/developers/keys -H "Cookie: ${cookie}" -H "Content-Type: application/json" -d '{"name": "my-agent-key"}'`,
      `  curl -i -X POST ${base}/register -H "Authorization: Bearer nanda_…" -H "Content-Type: application/json" -d '{"agent_id": "my-agent", "agent_url": "https://my-agent.example.com"}'`,
    ];
  },
});
