/**
 * Cross-instance cache invalidation over Redis pub/sub: when a KeyManager updates, revokes or
 * rotates a key, the key id (never a secret or hash) is published; every other instance drops
 * its cached entry at once. After the subscriber reconnects, the whole cache is dropped, since
 * messages sent meanwhile were lost. Every instance also publishes a timestamped heartbeat every
 * third of the KeyManager's `maxStaleness`; hearing them (its own included) is what lets it serve
 * cache entries older than that bound (see `keys/freshness.ts`).
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

/**
 * The publishing side: any ioredis client.
 *
 * @example
 * import Redis from "ioredis";
 * import { redisInvalidation, type RedisPublisher } from "keyward/redis";
 * const publisher: RedisPublisher = new Redis(url); // may also serve the app's other commands
 * await redisInvalidation(keys, { publisher, subscriber: new Redis(url) });
 */
export interface RedisPublisher {
  /** Publishes `message` on `channel`. */
  publish(channel: string, message: string): Promise<unknown>;
}

/**
 * The subscribing side: an ioredis client used for nothing else (subscriber mode).
 *
 * @example
 * import Redis from "ioredis";
 * import { redisInvalidation, type RedisSubscriber } from "keyward/redis";
 * const subscriber: RedisSubscriber = new Redis(url); // a connection of its own: subscribed, it can only listen
 * await redisInvalidation(keys, { publisher: new Redis(url), subscriber });
 */
export interface RedisSubscriber {
  /** Subscribes to `channel`. */
  subscribe(channel: string): Promise<unknown>;
  /** Unsubscribes from `channel`. */
  unsubscribe(channel: string): Promise<unknown>;
  /** Adds an event listener (`message`, `error`, `ready`, …). */
  // biome-ignore lint/suspicious/noExplicitAny: ioredis declares its listeners with any[]; unknown[] would refuse its clients
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Removes an event listener. */
  // biome-ignore lint/suspicious/noExplicitAny: as for `on`
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Options for {@link redisInvalidation}.
 *
 * @example
 * import Redis from "ioredis";
 * import { redisInvalidation, type RedisInvalidationOptions } from "keyward/redis";
 * const options: RedisInvalidationOptions = {
 *   publisher: new Redis(url),
 *   subscriber: new Redis(url),
 *   channel: "myapp:keyward:invalidate",
 *   onError: (error) => console.warn("keyward invalidation", error),
 * };
 * const channel = await redisInvalidation(keys, options);
 */
export interface RedisInvalidationOptions {
  /** Publishes this instance's changes. */
  publisher: RedisPublisher;
  /** A separate connection that listens (Redis reserves a subscribed connection for messages). */
  subscriber: RedisSubscriber;
  /** The pub/sub channel. Defaults to `"keyward:invalidate"`. */
  channel?: string;
  /** Called when a publish fails (other instances then rely on the cache TTL). Defaults to none. */
  onError?: (error: unknown) => void;
}

/**
 * Connects a KeyManager to a Redis pub/sub channel; resolves once subscribed.
 *
 * @example
 * import Redis from "ioredis";
 * import { redisInvalidation } from "keyward/redis";
 * const channel = await redisInvalidation(keys, { publisher: new Redis(url), subscriber: new Redis(url) });
 * // a revoke in any instance now evicts the key from every instance's cache within milliseconds
 */
export async function redisInvalidation(keys: InvalidationTarget, options: RedisInvalidationOptions): Promise<InvalidationChannel> {
  const { publisher, subscriber, onError } = options;
  if (!publisher || typeof publisher.publish !== "function") throw new KeywardConfigError("redisInvalidation.publisher", "pass an ioredis client");
  if (!subscriber || typeof subscriber.subscribe !== "function")
    throw new KeywardConfigError("redisInvalidation.subscriber", "pass a second ioredis client, used only for subscribing");
  if (publisher === (subscriber as unknown))
    throw new KeywardConfigError("redisInvalidation.subscriber", "must be a different connection from publisher (a subscribed connection can only listen)");
  const channel = options.channel ?? "keyward:invalidate";
  const origin = randomBytes(8).toString("hex");
  let connected = false;
  let link: ChannelLink | null = null;
  const publish = (id: string) => {
    publisher.publish(channel, formatInvalidation(origin, id, Date.now())).catch((error: unknown) => {
      link?.publishFailed();
      onError?.(error);
    });
  };

  const onMessage = (from: string, message: string) => {
    if (from !== channel) return;
    const parsed = parseInvalidation(message);
    if (parsed === null) return;
    if (parsed.origin !== origin && parsed.id !== HEARTBEAT) {
      if (parsed.id === GOODBYE) link?.left(parsed.origin);
      else keys.invalidate(parsed.id);
    }
    link?.heard(parsed.origin, parsed.sentAt);
  };
  const onReady = () => {
    // A reconnect: anything published while we were away is lost, so forget everything cached.
    if (connected) keys.invalidate();
    connected = true;
  };
  // The connection dropped: nothing vouches for the cache until messages arrive again.
  const onClose = () => link?.lost();
  subscriber.on("message", onMessage);
  subscriber.on("ready", onReady);
  subscriber.on("close", onClose);
  await subscriber.subscribe(channel);
  connected = true;

  const stop = keys.onInvalidate(publish);
  link = keys.invalidation?.attach({ origin, heartbeat: () => publish(HEARTBEAT) }) ?? null;

  return {
    async close() {
      stop();
      link?.close();
      link = null;
      publish(GOODBYE);
      subscriber.removeListener("message", onMessage);
      subscriber.removeListener("ready", onReady);
      subscriber.removeListener("close", onClose);
      await subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}
