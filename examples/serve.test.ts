/**
 * Every example server refuses to pretend: with its port taken it prints one message naming the
 * port and `PORT=`, exits non-zero and prints no URL, key or curl line; on a free port it prints
 * the banner once it is really listening. Each server runs as a real process: its server.ts bundled to
 * plain JavaScript on the built package (test/node-entry.ts), as `npm run example:…` runs it with tsx.
 */
import { execFile, spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeEntry } from "../test/node-entry";

const ROOT = join(__dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "keyward-serve-"));
let blocker: Server;
let taken = 0;

beforeAll(
  () =>
    new Promise<void>((ready) => {
      blocker = createServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother")).listen(0, "127.0.0.1", () => {
        taken = (blocker.address() as { port: number }).port;
        ready();
      });
    }),
);
afterAll(
  () =>
    new Promise<void>((done) =>
      blocker.close(() => {
        rmSync(dir, { recursive: true, force: true });
        done();
      }),
    ),
);

/** Runs an example's server.ts to completion with `env`. */
function run(example: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [nodeEntry(join(__dirname, example, "server.ts"))],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, KEYWARD_DB: join(dir, `${example}.db`), ...env } },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const EXAMPLES = ["quickstart", "scoped-envelope", "custom-header", "open-reads", "projects", "test-live", "lifecycle-webhook", "fastify", "hono"];

test.each(EXAMPLES)(
  "%s: a taken port is a clear error and a non-zero exit, with nothing printed as if listening",
  async (example) => {
    const { code, stdout, stderr } = await run(example, { PORT: String(taken) });
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${taken} on 127.0.0.1 is already in use`);
    expect(stderr).toContain("PORT=");
    expect(stdout).toBe("");
    expect(stderr).not.toMatch(/curl|_live_|_test_|nanda_|nodion_/);
  },
  60_000,
);

test("a PORT that is not a number is refused by name", async () => {
  const { code, stderr, stdout } = await run("quickstart", { PORT: "three-thousand" });
  expect(code).toBe(1);
  expect(stderr).toBe('quickstart: PORT="three-thousand" is not a port number; use e.g. PORT=3001.\n');
  expect(stdout).toBe("");
}, 60_000);

test("on a free port the banner comes after listen, names the real URL, and that URL answers", async () => {
  const child = spawn(process.execPath, [nodeEntry(join(__dirname, "quickstart", "server.ts"))], {
    cwd: ROOT,
    env: { ...process.env, KEYWARD_DB: join(dir, "free.db"), PORT: "0" },
  });
  try {
    const base = await new Promise<string>((found, failed) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
        if (match) found(match[1]!);
      });
      child.on("exit", (code) => failed(new Error(`exited ${code} before listening`)));
    });
    expect(base).not.toBe("http://127.0.0.1:0");
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ ok: true });
  } finally {
    const exited = new Promise((done) => child.on("exit", done));
    child.kill("SIGTERM");
    await exited;
  }
}, 60_000);
