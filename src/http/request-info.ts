/** Request details for audit events: id, client IP, method and path (never the query string); the socket's address for IP allow-lists. */
import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../keys/events.js";

/** The request's id (`req.id` or `X-Request-Id`), IP, method and path without query. */
export function requestInfo(req: IncomingMessage): RequestInfo {
  const r = req as IncomingMessage & { id?: unknown; ip?: string; originalUrl?: string };
  const header = req.headers["x-request-id"];
  const id = typeof r.id === "string" || typeof r.id === "number" ? String(r.id) : typeof header === "string" ? header.slice(0, 128) : undefined;
  const url = r.originalUrl ?? req.url ?? "";
  const q = url.indexOf("?");
  const info: RequestInfo = { method: req.method, path: q < 0 ? url : url.slice(0, q) };
  const ip = r.ip ?? req.socket?.remoteAddress;
  if (ip) info.ip = ip;
  if (id !== undefined) info.requestId = id;
  return info;
}

/** The peer address of the request's socket (the default client address for IP allow-lists). */
export function socketAddress(req: IncomingMessage): string | undefined {
  return req.socket?.remoteAddress;
}
