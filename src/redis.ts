/** keyward/redis: Redis counters (rate limits, quotas) and a pub/sub cache-invalidation channel (ioredis, an optional peer). */
export { RedisCounters } from "./redis/counters.js";
export type { RedisCountersOptions, RedisScriptClient } from "./redis/counters.js";
export { redisInvalidation } from "./redis/invalidation.js";
export type { ChannelLink, ChannelPeer, InvalidationChannel, InvalidationTarget } from "./core/invalidation.js";
export type { RedisInvalidationOptions, RedisPublisher, RedisSubscriber } from "./redis/invalidation.js";
export { ReservingCounters } from "./redis/reserving-counters.js";
export type { ReservingCountersOptions } from "./redis/reserving-counters.js";
