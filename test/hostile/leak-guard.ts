/**
 * Leak guard, imported first by every hostile test file: records every secret and hash keyward
 * issues (and every key a test presents), captures all console and stdout/stderr output and every
 * event any KeyManager emits, and after the file's tests asserts that none of them contains a
 * secret or a hash, whole or in part.
 */
import { format } from "node:util";
import { KeyManager, type KeywardEvent } from "keyward";
import { EventSink } from "keyward/keys/event-sink";

const secrets = new Set<string>();
const hashes = new Set<string>();
const captured: string[] = [];
/** Every event emitted by any KeyManager while this file ran. */
export const allEvents: KeywardEvent[] = [];

/** Registers a secret (issued or presented) that must never appear in output or events. */
export function trackSecret(secret: string): void {
  secrets.add(secret);
}

/** Registers a stored hash that must never appear in output or events. */
export function trackHash(hash: string): void {
  hashes.add(hash);
}

/** Captured output and event text, for assertions inside a test. */
export function capturedText(): string {
  return captured.join("\n");
}

type Proto = {
  create: KeyManager["create"];
  rotate: KeyManager["rotate"];
};
const proto = KeyManager.prototype as unknown as Proto;
const hashOf = (manager: KeyManager, secret: string): string => (manager as unknown as { config: { hash: (s: string) => string } }).config.hash(secret);

const originalCreate = proto.create;
proto.create = async function (this: KeyManager, ...args: Parameters<KeyManager["create"]>) {
  const result = await originalCreate.apply(this, args);
  secrets.add(result.secret);
  hashes.add(hashOf(this, result.secret));
  return result;
};
const originalRotate = proto.rotate;
proto.rotate = async function (this: KeyManager, ...args: Parameters<KeyManager["rotate"]>) {
  const result = await originalRotate.apply(this, args);
  secrets.add(result.secret);
  hashes.add(hashOf(this, result.secret));
  return result;
};
// Every event of every manager (management, auth.* from the pipeline, flush failures) passes EventSink.emit.
const sinkProto = EventSink.prototype as unknown as { emit: EventSink["emit"] };
const originalEmit = sinkProto.emit;
sinkProto.emit = function (this: EventSink, event: KeywardEvent) {
  allEvents.push(event);
  captured.push(JSON.stringify(event), format("%o", event));
  return originalEmit.call(this, event);
};

for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  (stream as unknown as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) => {
    captured.push(typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("utf8") : String(chunk));
    return write(chunk, ...rest);
  };
}
for (const level of ["log", "info", "warn", "error", "debug", "trace"] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    captured.push(format(...args));
    if (process.env.HOSTILE_VERBOSE) original(...args); // recorded, not printed: refusals are expected here
  };
}

/** Fragments of a secret's random body (after the 4 characters `start` shows) and of a hash. */
function fragments(value: string, isHash: boolean): string[] {
  const size = isHash ? 16 : 12;
  const from = isHash ? 0 : value.lastIndexOf("_") + 1 + 4;
  if (value.length < size) return [];
  const out = [value];
  for (let i = from; i + size <= value.length; i += size) out.push(value.slice(i, i + size));
  return out;
}

/** Returns every secret or hash fragment found in the captured text (empty when nothing leaked). */
export function findLeaks(text = capturedText()): string[] {
  const found: string[] = [];
  for (const s of secrets) for (const f of fragments(s, false)) if (text.includes(f)) found.push(`secret fragment ${f}`);
  for (const h of hashes) for (const f of fragments(h, true)) if (text.includes(f)) found.push(`hash fragment ${f}`);
  return found;
}

afterAll(() => {
  expect(secrets.size).toBeGreaterThan(0);
  expect(findLeaks()).toEqual([]);
});
