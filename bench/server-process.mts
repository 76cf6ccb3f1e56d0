/**
 * Starting one benchmark server (server.mjs) in a child process and waiting until it listens:
 * shared by the load benchmark and the instruction counts (which start it under valgrind).
 */
import { fork, type ChildProcess, type ForkOptions } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** What a server says once it listens. */
export interface Ready {
  port: number;
  headers: Record<string, string>;
  notes: string;
}

/**
 * Forks server.mjs for setup `name` and resolves once it listens; rejects (and kills it) if it
 * reports an error, exits, or does not listen within `timeoutMs`.
 *
 * @example
 * const { child, ready } = forkServer("http", {}, 60_000);
 * const { port } = await ready;
 */
export function forkServer(
  name: string,
  options: Pick<ForkOptions, "execPath" | "execArgv" | "cwd">,
  timeoutMs: number,
): { child: ChildProcess; ready: Promise<Ready> } {
  const child = fork(join(here, "server.mjs"), [name], { execArgv: [], ...options, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const ready = new Promise<Ready>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.removeListener("exit", onExit);
      child.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    const onExit = (code: number | null) => fail(new Error(`exited with code ${code}: ${stderr.trim().split("\n").slice(-3).join(" ")}`));
    const onMessage = (m: { type: string; message?: string } & Ready) => {
      if (m.type === "error") return fail(new Error(m.message));
      if (m.type !== "ready") return;
      clearTimeout(timer);
      child.off("message", onMessage);
      child.removeListener("exit", onExit);
      resolve({ port: m.port, headers: m.headers, notes: m.notes });
    };
    child.once("exit", onExit);
    child.on("message", onMessage);
  });
  return { child, ready };
}
