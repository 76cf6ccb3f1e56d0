/**
 * Reads a JSON request body for the management router without a framework, the way Express's
 * `express.json({ limit })` does: a body the app already parsed is kept; only `application/json` is
 * read; gzip, deflate and br bodies are inflated; the charset must be a UTF one; at most `limit`
 * bytes (after inflating) are read; only an object or an array parses (an empty body is `{}`).
 * Failures carry body-parser's `type` and `status` (`entity.too.large` 413, `entity.parse.failed`
 * 400, `encoding.unsupported` / `charset.unsupported` 415), and the rest of the request is drained
 * first so the connection can answer.
 */
import type { IncomingMessage } from "node:http";
import type { Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

/** A request as body parsers leave it. */
interface BodyRequest extends IncomingMessage {
  body?: unknown;
}

/** A body-reading failure, shaped like body-parser's errors. */
function failure(message: string, status: number, type: string): Error & { status: number; type: string } {
  return Object.assign(new Error(message), { status, type });
}

/** Whether the request stream was already read (by the app's own body parser) or cannot be read. */
function finished(req: IncomingMessage): boolean {
  const socket = req.socket as IncomingMessage["socket"] | null;
  return Boolean(!socket?.readable || (req.complete && !req.readable) || req.readableEnded);
}

/** The media type without parameters, lower-cased. */
function essence(type: string): string {
  const semicolon = type.indexOf(";");
  return (semicolon < 0 ? type : type.slice(0, semicolon)).trim().toLowerCase();
}

/** The `charset` parameter of a Content-Type, lower-cased, or null. */
function charsetOf(type: string): string | null {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(type);
  return match ? (match[1] ?? match[2] ?? "").toLowerCase() : null;
}

/** Reads the rest of `req` and drops it, then calls `done`. */
function drain(req: IncomingMessage, done: () => void): void {
  if (finished(req)) return done();
  req.on("end", done);
  req.on("close", done);
  req.resume();
}

/**
 * Parses `req`'s JSON body into `req.body`; resolves when done (or when there is nothing to read),
 * rejects with a body-parser-shaped error.
 *
 * @example
 * await readJsonBody(req, 16 * 1024); // req.body is the parsed object
 */
export function readJsonBody(req: BodyRequest, limit: number): Promise<void> {
  if (finished(req)) return Promise.resolve();
  if (!("body" in req)) req.body = undefined;
  const length = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || (length !== undefined && !Number.isNaN(Number.parseInt(length, 10)));
  const type = req.headers["content-type"];
  if (!hasBody || type === undefined || essence(type) !== "application/json") return Promise.resolve();

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error, stream?: Readable) => {
      if (settled) return;
      settled = true;
      if (stream && stream !== req) {
        req.unpipe(stream as unknown as NodeJS.WritableStream);
        stream.destroy();
      }
      drain(req, () => reject(error));
    };

    const charset = charsetOf(type) ?? "utf-8";
    let decoder: InstanceType<typeof TextDecoder>;
    try {
      if (!charset.startsWith("utf-")) throw new RangeError(charset);
      decoder = new TextDecoder(charset);
    } catch {
      return fail(failure(`unsupported charset "${charset.toUpperCase()}"`, 415, "charset.unsupported"));
    }

    const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
    let stream: Readable;
    if (encoding === "identity") stream = req;
    else if (encoding === "gzip") stream = createGunzip();
    else if (encoding === "deflate") stream = createInflate();
    else if (encoding === "br") stream = createBrotliDecompress();
    else return fail(failure(`unsupported content encoding "${encoding}"`, 415, "encoding.unsupported"));

    if (stream === req && length !== undefined && Number(length) > limit) return fail(failure("request entity too large", 413, "entity.too.large"));

    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        stream.off("data", onData);
        return fail(failure("request entity too large", 413, "entity.too.large"), stream);
      }
      chunks.push(chunk);
    };
    stream.on("data", onData);
    stream.once("error", (error: Error) => fail(failure(error.message, 400, "entity.verify.failed"), stream));
    req.once("aborted", () => fail(failure("request aborted", 400, "request.aborted"), stream));
    stream.once("end", () => {
      if (settled) return;
      settled = true;
      if (stream !== req) req.resume();
      const text = decoder.decode(Buffer.concat(chunks));
      try {
        req.body = parseStrict(text);
        resolve();
      } catch (error) {
        reject(failure((error as Error).message, 400, "entity.parse.failed"));
      }
    });
    if (stream !== req) req.pipe(stream as unknown as NodeJS.WritableStream);
  });
}

/** JSON.parse of an object or array only; an empty body is `{}`. */
function parseStrict(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/.exec(text)?.[1];
  if (first !== "{" && first !== "[")
    throw new SyntaxError(`Unexpected token ${first === undefined ? "end of input" : JSON.stringify(first)} in JSON: only an object or an array is accepted`);
  return JSON.parse(text);
}
