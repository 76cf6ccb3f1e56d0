/** keyward/postgres: the PostgreSQL store and its LISTEN/NOTIFY invalidation channel (pg, an optional peer). */
export { PostgresStore, POSTGRES_SCHEMA_VERSION } from "./stores/postgres.js";
export type { PostgresStoreOptions, PgPoolLike, PgClientLike, PgResultLike } from "./stores/postgres.js";
export { postgresInvalidation } from "./stores/postgres-invalidation.js";
export type { PostgresInvalidationOptions } from "./stores/postgres-invalidation.js";
export type { ChannelLink, ChannelPeer, InvalidationChannel, InvalidationTarget } from "./core/invalidation.js";
