/**
 * Shared tools for the hostile suite: a store proxy that counts (and can break or slow down) calls,
 * raw HTTP requests over a socket (duplicate headers, raw bytes), and a listening test server.
 */
import { createServer, type RequestListener, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import type { KeyStore } from "keyward";

type Method = keyof KeyStore & string;

/** How a wrapped store method misbehaves: throw, hang forever, or answer after a delay (read at call time). */
export type Fault = "throw" | "hang" | { delayMs: number } | { reject: true } | null;

/** A store wrapped so every call is counted and any method can be made to fail, hang or lag. */
export interface CountingStore<S extends KeyStore> {
  store: S;
  /** Calls per method name since the last reset. */
  calls: Record<string, number>;
  /** Total calls of the methods a request can reach (findByHash, consume, refund, recordUsage). */
  reads(): number;
  reset(): void;
  /** Makes `method` misbehave until cleared with `null`. */
  fault(method: Method, fault: Fault): void;
}

/** Wraps `inner` in a Proxy that counts and can sabotage calls; everything else passes through. */
export function countingStore<S extends KeyStore>(inner: S): CountingStore<S> {
  const calls: Record<string, number> = {};
  const faults = new Map<string, Fault>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        const fault = faults.get(prop) ?? null;
        if (fault === "throw") throw new Error(`injected ${prop} failure`);
        if (fault === "hang") return new Promise(() => undefined);
        if (fault && "reject" in fault) return Promise.reject(new Error(`injected ${prop} rejection`));
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (fault && "delayMs" in fault) return new Promise((resolve) => setTimeout(() => resolve(result), fault.delayMs));
        return result;
      };
    },
  });
  return {
    store, calls,
    reads: () => (calls.findByHash ?? 0) + (calls.findById ?? 0) + (calls.consume ?? 0) + (calls.list ?? 0),
    reset: () => { for (const k of Object.keys(calls)) delete calls[k]; },
    fault: (method, fault) => { if (fault === null) faults.delete(method); else faults.set(method, fault); },
  };
}

/** An HTTP server on a random local port, closed by `close()`. */
export async function listen(handler: RequestListener, options: { maxHeaderSize?: number } = {}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer({ maxHeaderSize: options.maxHeaderSize }, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, port, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
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
