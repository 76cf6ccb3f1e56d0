/**
 * KeyManager: the facade every adapter (middleware, router, CLI, page) uses. It holds the configuration and the public operations
 * (create, list, update, revoke, disable, rotate, usage, verify, sweep, close) and delegates the work: store access to `StoreCalls`,
 * reads to `KeyReads`, writes to `KeyWrites`, key lookup to `Authenticator`, limits to `Charger`, the request pipeline to `Verifier`, expiry rules to
 * `expiry`, views to `key-view`, usage buffering to `UsageRecorder`, events to `EventSink`, lifecycle notices to `Sweeper`.
 */
import { concealInternals } from "../core/conceal.js";
import { KeywardError } from "../core/errors.js";
import { KeyFormat } from "../core/key-format.js";
import type { ApiKey, DailyUsage, KeyFilter } from "../core/types.js";
import { Authenticator } from "./authenticator.js";
import { Charger, pruneTimer } from "./charger.js";
import { EventSink } from "./event-sink.js";
import type { KeywardEvent } from "./events.js";
import type { CreateKeyInput, UpdateKeyInput } from "./inputs.js";
import { InvalidationHub } from "./invalidation-hub.js";
import { KeyReads } from "./key-reads.js";
import { KeyWrites } from "./key-writes.js";
import { keyPatch } from "./new-key.js";
import { pausePatch } from "./pause.js";
import { resolveManagerOptions, type KeyManagerOptions, type ManagerConfig } from "./options.js";
import type { CacheSize, CreatedKey, KeyPage, KeywardStats, RotatedKey, RotateOptions, VerifyResult } from "./results.js";
import type { ScopeUsage } from "./scope-usage.js";
import { StoreCalls } from "./store-calls.js";
import { Sweeper, type SweepReport } from "./sweep.js";
import { UsageRecorder } from "./usage-recorder.js";
import { Verifier } from "./verifier.js";
import { VerifyCalls, type VerifyContext } from "./verify-call.js";

/**
 * Issues, stores and verifies API keys.
 *
 * @example
 * import { KeyManager } from "keyward";
 * import { SqliteStore } from "keyward/sqlite";
 * const keys = new KeyManager({ store: new SqliteStore("keys.db"), prefix: "sk", modes: ["live", "test"] });
 * const { secret, key } = await keys.create({ name: "ci", scopes: ["nodes:read"], expiresIn: "90d" });
 * const result = await keys.verify(secret); // { ok: true, key: { id, scopes, mode: "live", … } }
 */
export class KeyManager {
  /** The key format (prefix and modes). */
  readonly format: KeyFormat;
  /** @internal The verification pipeline every adapter runs requests through. */
  readonly pipeline: Verifier;
  private readonly config: ManagerConfig;
  private readonly store: StoreCalls;
  private readonly authenticator: Authenticator;
  private readonly charger: Charger;
  private readonly events: EventSink;
  private readonly recorder: UsageRecorder | null;
  private readonly pruneTimer: NodeJS.Timeout | null;
  /** @internal Cross-instance invalidation: channels attach here for the revocation bound (`maxStaleness`). */
  readonly invalidation: InvalidationHub;
  private readonly verifyCalls = new VerifyCalls();
  private readonly writes: KeyWrites;
  private readonly reads: KeyReads;
  private readonly sweeper: Sweeper;

  constructor(options: KeyManagerOptions) {
    this.config = resolveManagerOptions(options);
    this.format = new KeyFormat({ prefix: this.config.prefix, modes: this.config.modes });
    // First, before any timer starts: a synchronous store that records another key format throws here.
    this.store = new StoreCalls(this.config.store, { prefix: this.format.prefix, modes: [...this.format.modes] }, this.config.storeTimeoutMs);
    this.events = new EventSink(this.config.onEvent, this.config.sampleAuthSucceeded, this.config.clock);
    this.authenticator = new Authenticator(this.config, this.format, this.store);
    this.charger = new Charger(this.config.counters, this.config.storeTimeoutMs, () => this.store.closed);
    const onFlushError = (error: unknown) =>
      this.emit({ type: "usage.flush_failed", at: new Date(this.now()), message: error instanceof Error ? error.message : String(error) });
    this.recorder = this.config.flushIntervalMs === null ? null : new UsageRecorder(this.config.store, this.config.flushIntervalMs, onFlushError);
    this.invalidation = new InvalidationHub(this.authenticator.cache, this.config.cache.maxStalenessMs, this.config.clock, (e) => this.emit(e));
    this.reads = new KeyReads(this.config, this.format, this.store, this.recorder);
    this.writes = new KeyWrites(this.config, this.format, this.store, this.invalidation, this.events, async (record) => (await this.reads.view(record))[0]!);
    this.pipeline = new Verifier(this.authenticator, this.charger, this.recorder, this.events, this.config, () => this.store.closed);
    this.pruneTimer = pruneTimer(this.config.counters, () => this.pruneCounters());
    this.sweeper = new Sweeper(this.config, this.store, this.writes, this.events, this.recorder);
  }

  /** Current time from the configured clock (ms since the epoch). */
  now(): number {
    return this.config.clock();
  }

  /** The modes keys can have (empty for a format without modes). */
  get modes(): readonly string[] {
    return this.format.modes;
  }

  /** Known scopes (the catalogue), when one was configured. */
  get scopeCatalogue(): readonly string[] | undefined {
    return this.config.catalogue;
  }

  /** Scopes stored on a user key created without any (the `defaultScopes` option). */
  get defaultScopes(): readonly string[] {
    return this.config.defaultScopes;
  }

  /** Scope implications (the `implies` option), when configured. */
  get scopeImplications(): Readonly<Record<string, readonly string[]>> | undefined {
    return this.config.implies;
  }

  /** Names of the configured tiers. */
  get tierNames(): string[] {
    return [...this.config.tiers.keys()];
  }

  /**
   * Creates a key. The secret is returned here once and stored nowhere.
   *
   * @example
   * const { secret, key } = await keys.create({ name: "ci-deploys", mode: "live", scopes: ["models:read"], expiresIn: "90d" });
   */
  create(input: CreateKeyInput): Promise<CreatedKey> {
    return this.writes.create(input);
  }

  /**
   * A key by id (with usage not yet flushed included), or null.
   *
   * @example
   * const key = await keys.get("key_0LmQ7x2a9fKq3ZrT1bN0cD");
   */
  get(id: string): Promise<ApiKey | null> {
    return this.reads.get(id);
  }

  /**
   * The key a secret belongs to (looked up by hash; revoked and expired keys included), or null
   * when the secret is not of this format (no store read) or unknown. For leak reports: find the
   * key behind a token without verifying or charging it.
   *
   * @example
   * const key = await keys.findBySecret(token); // null for a look-alike
   */
  findBySecret(secret: string): Promise<ApiKey | null> {
    return this.reads.findBySecret(secret);
  }

  /**
   * Keys matching `filter`, newest first, one page at a time.
   *
   * @example
   * const { keys: page, next } = await keys.list({ ownerId: "user_1", status: "active", limit: 50 });
   */
  list(filter: Omit<KeyFilter, "now"> = {}): Promise<KeyPage> {
    return this.reads.list(filter);
  }

  /**
   * Renames a key, replaces its scopes or metadata. The cached entry is dropped at once.
   *
   * @example
   * await keys.update(id, { scopes: ["nodes:read"] });
   */
  update(id: string, patch: UpdateKeyInput): Promise<ApiKey> {
    return this.writes.change(id, "key.updated", (existing) => keyPatch(this.config, existing, patch));
  }

  /**
   * Pauses a key: refused with 401 `key_disabled` until {@link KeyManager.enable} (reversible, unlike revoke; a revoked key answers 409). Immediate
   * in this process, announced to the invalidation channels like a revocation. Disabling again changes nothing.
   *
   * @example
   * await keys.disable(id); // suspicious traffic: pause while you look
   */
  disable(id: string): Promise<ApiKey> {
    return this.writes.change(id, "key.disabled", (existing) => pausePatch(existing, true, this.now()));
  }

  /**
   * Resumes a key paused by {@link KeyManager.disable}. Enabling an enabled key changes nothing.
   *
   * @example
   * await keys.enable(id);
   */
  enable(id: string): Promise<ApiKey> {
    return this.writes.change(id, "key.enabled", (existing) => pausePatch(existing, false, this.now()));
  }

  /**
   * Revokes a key now and for good; revoking again changes nothing. Requests in this process are refused as soon as this resolves; other processes
   * within `maxStaleness`. Takes the key's id or the secret itself (recognised by its format and checksum, looked up by hash; never logged or put in
   * an error), so a leaked key can be killed without first finding its id.
   *
   * @example
   * await keys.revoke(id);
   * await keys.revoke("sk_live_…"); // the secret, e.g. the old key after an overlap rotation
   */
  revoke(idOrSecret: string): Promise<ApiKey> {
    return this.writes.revoke(idOrSecret);
  }

  /**
   * Issues a successor with the same name, scopes, projects, mode and metadata; the old key keeps working until the overlap ends (`overlap: 0`
   * revokes it now), at most `maxRotationOverlap`. Defaults to a 24h overlap. Rotating a successor ends its predecessor's overlap at once. The
   * successor keeps the old key's lifetime length unless `expiresIn` says otherwise.
   *
   * @example
   * const { secret, key, previous } = await keys.rotate(id, { overlap: "24h" });
   */
  rotate(id: string, options: RotateOptions = {}): Promise<RotatedKey> {
    return this.writes.rotate(id, options);
  }

  /**
   * Requests per UTC day for the last `days` days (oldest first, zero-filled), including usage not yet flushed.
   *
   * @example
   * const days = await keys.usage(id, 30); // [{ date: "2026-10-25", count: 0 }, …]
   */
  usage(id: string, days = 30): Promise<DailyUsage[]> {
    return this.reads.usage(id, days);
  }

  /**
   * Scopes the key's requests were admitted for in the last `days` UTC days (1-90, unflushed included) and its scopes none needed.
   *
   * @example
   * const { used, unused } = await keys.scopeUsage(id, 30); // narrow: keys.update(id, { scopes: used.map((u) => u.scope) })
   */
  scopeUsage(id: string, days = 30): Promise<ScopeUsage> {
    return this.reads.scopeUsage(id, days);
  }

  /**
   * Verifies a secret through the same pipeline as the middleware: format, hash lookup, revocation, expiry, mode, project, scopes, limits; counts the
   * use and emits the same `auth.*` events (with `request`'s details). Never throws for a refusal: `{ ok: false, error }` carries the code. `scope`
   * is a scope string, a `requiredScope()`, or a list of them (the key needs all); a malformed `scope` is a programming error: the promise rejects
   * with a `KeywardConfigError`.
   *
   * @example
   * const result = await keys.verify(secret, { project: "proj_1", scope: "nodes:read" });
   * if (!result.ok) console.log(result.error.code); // e.g. "key_revoked" or "insufficient_scope"
   * await keys.verify(secret, { scope: ["nodes:read", "nodes:write"] }); // all of them
   */
  async verify(secret: string, context: VerifyContext = {}): Promise<VerifyResult> {
    const result = await this.pipeline.verify(secret, this.verifyCalls.call(context), this.verifyCalls.policy(context, this.config.onStoreError), this.now());
    return result instanceof KeywardError ? { ok: false, error: result } : result;
  }

  /** Sends an event to `onEvent` (never throws). */
  emit(event: KeywardEvent): void {
    this.events.emit(event);
  }

  /** @internal One unit of a counter that is not a key's (e.g. per client address): the new count, or -1 at `limit`. */
  consumeCounter(counter: string, limit: number, resetAt: number): Promise<number> {
    return this.store.consume(this.config.counters, counter, limit, resetAt);
  }

  /** Whether anyone listens to events. */
  get hasEventSink(): boolean {
    return this.events.active;
  }

  /** Drops cached entries for a key id, or all of them (used by cross-instance invalidation channels). */
  invalidate(id?: string): void {
    this.invalidation.drop(id);
  }

  /**
   * Calls `listener` with the key id each time this manager updates, revokes, rotates, disables or enables a key (after
   * the store write, once this process's cache is clean), so a channel can tell other instances to
   * call {@link KeyManager.invalidate}. Returns a function that removes the listener.
   *
   * @example
   * const stop = keys.onInvalidate((id) => redis.publish("keyward:invalidate", id));
   */
  onInvalidate(listener: (id: string) => void): () => void {
    return this.invalidation.on(listener);
  }

  /** Cache occupancy, for monitoring and tests. */
  get cacheSize(): CacheSize {
    return this.authenticator.cache.size;
  }

  /**
   * Cache occupancy, the invalidation channel's health and its measured propagation lag.
   *
   * @example
   * const { channel } = keys.stats(); // { state: "healthy", lagMs: { last: 1, p50: 1, p99: 4, … }, … }
   */
  stats(): KeywardStats {
    return { cache: this.cacheSize, channel: this.invalidation.stats() };
  }

  /**
   * Deletes rate-limit and quota counters whose window has ended (by this manager's clock). Runs on
   * its own about once a minute when the counter store supports it.
   *
   * @example
   * await keys.pruneCounters();
   */
  async pruneCounters(): Promise<void> {
    if (this.store.closed) return;
    await this.store.init();
    await this.config.counters.prune?.(this.now());
  }

  /**
   * Emits `key.expiring`, `quota.threshold`, `key.idle` once per key and threshold across instances (claimed in the store);
   * expires keys idle for `idleExpiry`. Runs every `sweepInterval` when set.
   *
   * @example
   * const { notices, expired } = await keys.sweep(); // also delivered to onEvent
   */
  sweep(): Promise<SweepReport> {
    return this.sweeper.sweep();
  }

  /** Writes buffered usage to the store now. */
  async flushUsage(): Promise<void> {
    await this.recorder?.flush();
  }

  /**
   * Stops admitting (verification answers 503 `store_unavailable` from here on), lets requests already past verification finish, flushes usage and
   * closes the store. After K admitted requests and `close()`, stored counts equal K.
   *
   * @example
   * process.on("SIGTERM", () => keys.close().then(() => process.exit(0)));
   */
  async close(): Promise<void> {
    if (this.store.closed) return;
    this.store.closed = true; // from now on verification answers 503, so nothing new is admitted
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.sweeper.stop();
    // Charges in flight settle first (a timed-out take gets one more storeTimeout, to be given back), then one turn lets them record their use.
    await this.charger.drain();
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      await this.recorder?.close();
    } finally {
      await this.config.store.close?.();
    }
  }
}

concealInternals(KeyManager, (keys) => ({
  prefix: keys.format.prefix,
  modes: keys.format.modes,
  store: keys["config"].store.constructor.name,
  closed: keys["store"].closed,
}));
