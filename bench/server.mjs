/**
 * One benchmark server process: builds the setup named in argv, listens on 127.0.0.1 at a free
 * port, and answers the runner over the IPC channel. Its CPU time (`process.cpuUsage()`) and the
 * number of requests it served are read over IPC, so no measuring request is ever counted.
 */
import { listen, SETUPS } from "./setups.mjs";

const send = (message) => process.send?.(message);

async function main() {
  const name = process.argv[2];
  const setup = SETUPS.find((s) => s.name === name);
  if (!setup) throw new Error(`unknown setup "${name}"`);
  const built = await setup.build();
  let count = 0;
  const inner = built.listener;
  built.listener = (req, res) => {
    count++;
    inner(req, res);
  };
  const server = await listen(built);
  process.on("message", (message) => {
    if (message.type === "stats") send({ type: "stats", cpu: process.cpuUsage(), count, rss: process.memoryUsage.rss() });
    if (message.type === "stop") {
      void Promise.resolve()
        .then(() => server.close())
        .then(() => built.close?.())
        .finally(() => process.exit(0));
    }
  });
  send({ type: "ready", port: server.port, headers: built.headers, notes: built.notes ?? "", node: process.version });
}

main().catch((error) => {
  send({ type: "error", message: error instanceof Error ? `${error.message}` : String(error) });
  setTimeout(() => process.exit(1), 50);
});
