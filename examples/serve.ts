/**
 * Shared by every example's `server.ts`: listens on 127.0.0.1:$PORT (default 3000) and prints the
 * URL, keys and curl lines only once the port is really ours. A taken port (or a bad `PORT`) is a
 * one-line error naming the port and `PORT=`, exit code 1, with nothing printed as if listening.
 */
import { createServer, type RequestListener, type Server } from "node:http";

export interface ServeOptions {
  /** What the example is called in messages, e.g. "quickstart". */
  name: string;
  /** Runs once listening (create demo keys here, never before): the lines to print. */
  ready: (base: string) => string[] | Promise<string[]>;
  /** Releases the example's resources (e.g. `keys.close()`) on exit. */
  close: () => Promise<void>;
}

/** The port from `$PORT` (default 3000), or null when it is not a port number. */
export function portFromEnv(value = process.env.PORT): number | null {
  if (value === undefined || value === "") return 3000;
  return /^\d{1,5}$/.test(value) && Number(value) <= 65535 ? Number(value) : null;
}

/** The command that started this process, to repeat with another PORT: `npm start`, `npm run example:…`, or `npx tsx <file>`. */
function again(): string {
  const script = process.env.npm_lifecycle_event;
  if (script === "start") return "npm start";
  if (script) return `npm run ${script}`;
  return `npx tsx ${process.argv[1] ?? "server.ts"}`;
}

/**
 * Serves `app` or exits non-zero with a clear message.
 *
 * @example
 * serve(app, { name: "quickstart", close: () => keys.close(), ready: async (base) => [`listening on ${base}`] });
 */
export function serve(app: RequestListener, { name, ready, close }: ServeOptions): Server | null {
  const fail = (message: string) => {
    process.stderr.write(`${name}: ${message}\n`);
    void close()
      .catch(() => undefined)
      .finally(() => process.exit(1));
  };
  const port = portFromEnv();
  if (port === null) {
    fail(`PORT=${JSON.stringify(process.env.PORT)} is not a port number; use e.g. PORT=3001.`);
    return null;
  }
  const server = createServer(app);
  server.once("error", (error: NodeJS.ErrnoException) => {
    fail(
      error.code === "EADDRINUSE"
        ? `port ${port} on 127.0.0.1 is already in use (another server is answering there). Stop it, or start this one on another port: PORT=${port + 1} ${again()}`
        : `cannot listen on 127.0.0.1:${port} (${error.code ?? error.message}); pick another port with PORT=…`,
    );
  });
  server.listen(port, "127.0.0.1", () => {
    const address = server.address();
    const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : port}`;
    Promise.resolve(ready(base)).then(
      (lines) => {
        process.stdout.write(lines.join("\n") + "\n");
      },
      (error: unknown) => {
        server.close();
        fail(`could not start: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  });
  const stop = () => server.close(() => void close().then(() => process.exit(0)));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  return server;
}
