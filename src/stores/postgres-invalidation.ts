/**
 * Cross-instance cache invalidation over PostgreSQL LISTEN/NOTIFY, for apps that run the
 * PostgresStore and no Redis: a changed key's id (never a secret or hash) is sent with
 * `pg_notify`, and every other instance listening on one dedicated connection evicts it. When
 * that connection drops, the whole cache is dropped and the listener reconnects. Every instance
 * also sends a timestamped heartbeat every third of the KeyManager's `maxStaleness`, on the same
 * ordered queue as its invalidations; hearing them is what lets it serve cache entries older than
 * that bound (see `keys/freshness.ts`).
 */
import { randomBytes } from "node:crypto";
import { KeywardConfigError } from "../core/errors.js";
import {
  formatInvalidation,
  GOODBYE,
  HEARTBEAT,
  parseInvalidation,
  type ChannelLink,
  type InvalidationChannel,
  type InvalidationTarget,
} from "../core/invalidation.js";
import type { PgClientLike, PgPoolLike } from "./postgres.js";
import { PostgresStore } from "./postgres.js";

/** A pooled connection that can receive notifications (a `pg.PoolClient`). */
interface ListeningClient extends PgClientLike {
  on(event: "notification", listener: (msg: { channel: string; payload?: string }) => void): unknown;
  on(event: "error" | "end", listener: (error?: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/**
 * Options for {@link postgresInvalidation}.
 *
 * @example
 * import { postgresInvalidation, type PostgresInvalidationOptions } from "keyward/postgres";
 * const options: PostgresInvalidationOptions = {
 *   channel: "myapp_keys",
 *   reconnectDelayMs: 5000,
 *   onError: (error) => console.warn("keyward invalidation", error),
 * };
 * const channel = await postgresInvalidation(keys, store, options);
 */
export interface PostgresInvalidationOptions {
  /** The NOTIFY channel, an identifier of [a-z0-9_]. Defaults to `"keyward_invalidate"`. */
  channel?: string;
  /** Wait before reconnecting a dropped listener, in ms. Defaults to 1000. */
  reconnectDelayMs?: number;
  /** Called when notifying or listening fails (instances then rely on the cache TTL). Defaults to none. */
  onError?: (error: unknown) => void;
}

/**
 * Connects a KeyManager to a Postgres LISTEN/NOTIFY channel; resolves once listening. Holds one
 * connection of the pool for as long as it runs.
 *
 * @example
 * import { PostgresStore, postgresInvalidation } from "keyward/postgres";
 * const store = new PostgresStore(process.env.DATABASE_URL!);
 * const keys = new KeyManager({ store });
 * const channel = await postgresInvalidation(keys, store);
 */
export async function postgresInvalidation(
  keys: InvalidationTarget,
  source: PostgresStore | PgPoolLike,
  options: PostgresInvalidationOptions = {},
): Promise<InvalidationChannel> {
  const channel = options.channel ?? "keyward_invalidate";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel))
    throw new KeywardConfigError("postgresInvalidation.channel", "use 1-63 characters from [a-z0-9_], starting with a letter or _");
  const delay = Math.max(10, options.reconnectDelayMs ?? 1000);
  const pool = async (): Promise<PgPoolLike> => {
    if (source instanceof PostgresStore) {
      await source.init();
      return source.pool!;
    }
    return source;
  };
  const origin = randomBytes(8).toString("hex");
  let client: ListeningClient | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  /** A reconnect under way, which `close()` waits for (its connection must go back to the pool). */
  let reconnecting: Promise<void> | null = null;
  let link: ChannelLink | null = null;
  /** Notifies one after another, so a heartbeat is never delivered before an invalidation sent earlier. */
  let queue: Promise<unknown> = Promise.resolve();
  /** Heartbeats skipped while one is still queued (a slow database must not pile them up). */
  let beating = false;
  const notify = (id: string): Promise<unknown> => {
    queue = queue
      .then(() => pool())
      .then((p) => p.query("SELECT pg_notify($1, $2)", [channel, formatInvalidation(origin, id, Date.now())]))
      .catch((error: unknown) => {
        link?.publishFailed();
        options.onError?.(error);
      });
    return queue;
  };

  const onNotification = (msg: { channel: string; payload?: string }) => {
    if (msg.channel !== channel || !msg.payload) return;
    const parsed = parseInvalidation(msg.payload);
    if (parsed === null) return;
    if (parsed.origin !== origin && parsed.id !== HEARTBEAT) {
      if (parsed.id === GOODBYE) link?.left(parsed.origin);
      else keys.invalidate(parsed.id);
    }
    link?.heard(parsed.origin, parsed.sentAt);
  };

  const listen = async (): Promise<void> => {
    const c = (await (await pool()).connect()) as ListeningClient;
    c.on("notification", onNotification);
    const lost = (error?: Error) => {
      if (client !== c) return;
      client = null;
      c.removeAllListeners("notification");
      c.release(error ?? true);
      keys.invalidate(); // notifications sent while disconnected are lost
      link?.lost();
      if (error) options.onError?.(error);
      if (!closed) scheduleReconnect();
    };
    c.on("error", lost);
    c.on("end", lost);
    try {
      await c.query(`LISTEN ${channel}`);
    } catch (error) {
      c.removeAllListeners();
      c.release(true);
      throw error;
    }
    // Closed while connecting: hand the connection back instead of listening on after close().
    if (closed) return unlisten(c);
    client = c;
  };

  const unlisten = async (c: ListeningClient): Promise<void> => {
    c.removeAllListeners();
    await c.query(`UNLISTEN ${channel}`).catch(() => undefined);
    c.release();
  };

  const scheduleReconnect = () => {
    retry = setTimeout(() => {
      retry = null;
      if (closed) return;
      reconnecting = listen()
        .then(
          () => {
            if (!closed) keys.invalidate();
          },
          (error: unknown) => {
            if (closed) return;
            options.onError?.(error);
            scheduleReconnect();
          },
        )
        .finally(() => {
          reconnecting = null;
        });
    }, delay);
    retry.unref();
  };

  await listen();
  const stop = keys.onInvalidate((id) => void notify(id));
  link =
    keys.invalidation?.attach({
      origin,
      heartbeat: () => {
        if (beating) return;
        beating = true;
        void notify(HEARTBEAT).finally(() => (beating = false));
      },
    }) ?? null;

  return {
    async close() {
      closed = true;
      stop();
      link?.close();
      link = null;
      // Goodbye, so peers need not wait for this instance's heartbeats; not waiting long for a database that is down.
      await Promise.race([notify(GOODBYE), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      if (c) await unlisten(c);
      await reconnecting;
    },
  };
}
