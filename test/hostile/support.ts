/**
 * Shared tools for the hostile suite: raw HTTP requests over a socket (duplicate headers, raw
 * bytes) and a listening test server. (The counting store is test/counting-store.ts.)
 */
import { createServer, type RequestListener, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";

/** An HTTP server on a random local port, closed by `close()`. */
export async function listen(
  handler: RequestListener,
  options: { maxHeaderSize?: number } = {},
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer({ maxHeaderSize: options.maxHeaderSize }, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A parsed raw HTTP response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, headers included. */
  raw: string;
}

/**
 * Sends a request written by hand over a TCP socket, so headers can repeat, carry raw bytes or be
 * huge, exactly as an attacker's client would send them. `headerLines` are written verbatim.
 */
export function rawRequest(port: number, path: string, headerLines: Array<string | Buffer>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("latin1");
      const split = raw.indexOf("\r\n\r\n");
      const head = split < 0 ? raw : raw.slice(0, split);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: split < 0 ? "" : raw.slice(split + 4), raw });
    });
    const parts: Buffer[] = [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`)];
    for (const line of headerLines) parts.push(typeof line === "string" ? Buffer.from(line, "latin1") : line, Buffer.from("\r\n"));
    parts.push(Buffer.from("\r\n"));
    socket.end(Buffer.concat(parts));
  });
}

/** Resolves after `ms` real milliseconds (only for fault tests that need a real store to lag). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
