/**
 * KeyManager: the service every adapter (middleware, router, CLI) uses. Creates, lists, updates,
 * revokes and rotates keys, and verifies secrets on the hot path: format check, hash, cache, store,
 * status, limits and usage, synchronously whenever the store answers synchronously.
 */
import { concealInternals } from "../core/conceal.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import type { SecretHasher } from "../core/hash.js";
import { isKeyId, newKeyId } from "../core/ids.js";
import { KeyFormat, MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";
import { cloneMetadata } from "../core/metadata.js";
import { normalizeScopes, requiredScopes, ScopeSet, type RequiredScope, type ScopeRequirement } from "../core/scopes.js";
import { keyStatus, pageSize } from "../core/status.js";
import type { ApiKey, AuthenticatedKey, DailyUsage, KeyFilter, KeyStatus, MaybePromise, StoredKey } from "../core/types.js";
import type { KeywardEvent, RequestInfo } from "./events.js";
import { claimStoreFormat } from "./format-claim.js";
import { createSchema, rotateSchema, updateSchema, validateInput, type CreateKeyInput, type UpdateKeyInput } from "./inputs.js";
import { secondsUntil, withUnitReturned, type LimitState, type ResolvedTier } from "./limits.js";
import { KeyMeter, type PlannedCounter } from "./meter.js";
import { resolveManagerOptions, type KeyManagerOptions, type ManagerConfig } from "./options.js";
import { resolveProject } from "./projects.js";
import { DAY_MS, UsageRecorder } from "./usage-recorder.js";
import { UNKNOWN, VerifyCache } from "./verify-cache.js";

/**
 * A verified key as held in the cache: the record, its compiled scopes and resolved limits.
 *
 * @example
 * const found = await keys.authenticate(secret); // VerifiedKey | KeywardError
 * if (!(found instanceof KeywardError) && found.grant.has(requiredScope("nodes:read"))) {
 *   console.log(found.id, found.mode, found.principal.scopes);
 * }
 */
export interface VerifiedKey {
  /** The key's id. */
  readonly id: string;
  /** `user` or `project`. */
  readonly kind: StoredKey["kind"];
  /** The project a project key is bound to, else `null`. */
  readonly projectId: string | null;
  /** A user key's project allow-list. */
  readonly projects: readonly string[];
  /** The key's mode, or `null`. */
  readonly mode: string | null;
  /** The key's owner, or `null`. */
  readonly ownerId: string | null;
  /** Expiry (ms since the epoch), or `null`. */
  readonly expiresAt: number | null;
  /** Revocation time (ms since the epoch), or `null`. */
  readonly revokedAt: number | null;
  /** The key's scopes, compiled (implications applied). */
  readonly grant: ScopeSet;
  /** What `req.apiKey` shows for this key. */
  readonly principal: AuthenticatedKey;
  /** The rate limit that applies (key's, tier's or the manager's), or `null`. */
  readonly rate: ResolvedTier["rateLimit"];
  /** The monthly quota that applies, or `null`. */
  readonly monthly: number | null;
  /**
   * The counters of the key's current windows (rebuilt when a window turns over); null without limits.
   *
   * @internal
   */
  readonly meter: KeyMeter | null;
  /** The refusal for this key once revoked, made once per cache fill, not per request. */
  readonly revokedError: KeywardError | null;
  /** The refusal for this key once expired, made once per cache fill, not per request. */
  readonly expiredError: KeywardError | null;
}

/**
 * The outcome of charging a request against its key's limits.
 *
 * @example
 * const charge = await keys.charge(found); // Charge | KeywardError (429 when a limit is reached)
 * if (!(charge instanceof KeywardError)) {
 *   console.log(charge.limits); // [{ policy: "window", limit: 100, remaining: 99, windowSeconds: 60, resetSeconds: 42 }]
 *   keys.refund(charge);        // a later check refused the request: give the units back
 * }
 */
export interface Charge {
  /** The limits that applied, for the `RateLimit` headers. */
  readonly limits: readonly LimitState[];
  /** Counters taken, so a later refusal can give them back. */
  readonly counters: readonly string[];
  /** The `RateLimit-Policy` field value (IETF draft) for `limits`: the same string for every request in a window. */
  readonly policy: string;
}

/**
 * What `verify` answers.
 *
 * @example
 * import type { VerifyResult } from "keyward";
 * const result: VerifyResult = await keys.verify(secret, { modes: ["live"] });
 * if (result.ok) console.log(result.key.id, result.limits);
 * else console.log(result.error.status, result.error.code); // e.g. 401 "invalid_key"
 */
export type VerifyResult =
  | {
      /** The key passed. */ ok: true;
      /** The key, as `req.apiKey` would show it. */ key: AuthenticatedKey;
      /** The limits that applied. */ limits: readonly LimitState[];
    }
  | {
      /** The key was refused. */ ok: false;
      /** Why: `invalid_key`, `key_revoked`, `insufficient_scope`, … */ error: KeywardError;
    };

/**
 * One page of `list`.
 *
 * @example
 * import type { ApiKey, KeyPage } from "keyward";
 * const all: ApiKey[] = [];
 * let page: KeyPage = await keys.list({ ownerId: "user_1" });
 * all.push(...page.keys);
 * while (page.next) {
 *   page = await keys.list({ ownerId: "user_1", before: page.next });
 *   all.push(...page.keys);
 * }
 */
export interface KeyPage {
  /** The keys on this page, newest first. */
  keys: ApiKey[];
  /** Pass as `before` to get the next page; null on the last page. */
  next: string | null;
}

const NO_CHARGE: Charge = Object.freeze({ limits: Object.freeze([]), counters: Object.freeze([]), policy: "" });
const INVALID = new KeywardError("invalid_key", "The API key is invalid.");
const EXPIRED_MESSAGE = "The API key has expired.";
const REVOKED_MESSAGE = "The API key has been revoked.";
/** verify()'s shared refusal for a project outside the allow-list (refusals allocate nothing). */
const PROJECT_FORBIDDEN = projectForbidden();
const STORE_DOWN = "The key store is unavailable; try again shortly.";
const CLOSED = new KeywardError("store_unavailable", "This KeyManager has been closed.", { headers: { "Retry-After": "1" } });

/** How often ended counter windows are deleted. */
const PRUNE_INTERVAL_MS = 60_000;

const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> => typeof (v as Promise<T> | null)?.then === "function";

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
  private readonly config: ManagerConfig;
  private readonly hash: SecretHasher;
  private readonly cache: VerifyCache<VerifiedKey>;
  private readonly recorder: UsageRecorder | null;
  private readonly pruneTimer: NodeJS.Timeout | null = null;
  private readonly invalidationListeners = new Set<(id: string) => void>();
  private ready: Promise<void> | null = null;
  private initialized = false;
  /** Set when the store records another key format: every later call fails with it (no retry). */
  private formatError: KeywardConfigError | null = null;
  private closed = false;
  /** Asynchronous charges not yet settled, which `close()` waits for. */
  private pendingCharges = 0;
  private drained: (() => void) | null = null;

  constructor(options: KeyManagerOptions) {
    this.config = resolveManagerOptions(options);
    this.format = new KeyFormat({ prefix: this.config.prefix, modes: this.config.modes });
    // First, before any timer starts: a synchronous store that records another key format throws here.
    this.startInit(this.initStore());
    this.hash = this.config.hash;
    // Cache TTLs run on the manager's clock: a request reads it once, for the cache, expiry, limits and usage.
    this.cache = new VerifyCache(this.config.cache);
    this.recorder = this.config.flushIntervalMs === null ? null : new UsageRecorder(this.config.store, this.config.flushIntervalMs, (error) => this.emit({ type: "usage.flush_failed", at: new Date(this.now()), message: errorMessage(error) }));
    if (this.config.counters.prune) {
      this.pruneTimer = setInterval(() => void this.pruneCounters().catch(() => undefined), PRUNE_INTERVAL_MS);
      this.pruneTimer.unref();
    }
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

  // ---------------------------------------------------------------- management

  /**
   * Creates a key. The secret is returned here once and stored nowhere.
   *
   * @example
   * const { secret, key } = await keys.create({ name: "ci-deploys", mode: "live", scopes: ["models:read"], expiresIn: "90d" });
   */
  async create(input: CreateKeyInput): Promise<{
    /** The key itself, shown this once;
    only its hash is stored. */ secret: string;
    /** The new key's record. */ key: ApiKey;
  }> {
    await this.init();
    const v = validateInput(createSchema, input, "create input");
    const now = this.now();
    const kind = v.kind ?? "user";
    const details: Array<{ path: string; message: string }> = [];
    if (kind === "project" && v.project === undefined) details.push({ path: "project", message: "a project key needs the project it is bound to" });
    if (kind === "project" && v.projects !== undefined && v.projects.length > 0) details.push({ path: "projects", message: "a project key is bound to one project; use project, not projects" });
    if (kind === "user" && v.project !== undefined) details.push({ path: "project", message: "only project keys are bound to a project; use projects for a user key's allow-list" });
    if (kind === "project" && v.scopes !== undefined && v.scopes.length > 0) details.push({ path: "scopes", message: "project keys are not scope-gated; leave scopes out" });
    if (v.mode !== undefined && !this.format.modes.includes(v.mode)) {
      details.push({ path: "mode", message: this.format.modes.length ? `must be one of ${this.format.modes.join(", ")}` : "this key format has no modes" });
    }
    if (v.tier !== undefined && !this.config.tiers.has(v.tier)) details.push({ path: "tier", message: `unknown tier; use one of ${this.tierNames.join(", ") || "(no tiers configured)"}` });
    if (details.length) throw new KeywardError("validation_failed", details.map((d) => `${d.path}: ${d.message}`).join("; "), { details });
    const scopes = kind === "project" ? [] : v.scopes === undefined ? [...this.config.defaultScopes] : normalizeScopes(v.scopes, this.policy());
    const expiresAt = this.expiryFor(v.expiresIn, v.expiresAt, now);
    const secret = this.format.generate(v.mode ?? null);
    const record: StoredKey = {
      id: newKeyId(now), hash: this.hash(secret), start: this.format.start(secret), name: v.name,
      ownerId: v.ownerId ?? null, kind, projectId: kind === "project" ? v.project! : null,
      projects: kind === "user" ? [...new Set(v.projects ?? [])] : [], mode: this.format.modes.length ? (v.mode ?? this.format.modes[0]!) : null,
      scopes, tier: v.tier ?? null, rateLimit: v.rateLimit ?? null, metadata: v.metadata ? cloneMetadata(v.metadata) : {},
      createdAt: now, expiresAt, revokedAt: null, lastUsedAt: null, requestCount: 0, rotatedFrom: null, rotatedTo: null,
    };
    const tier = await this.storeCall(() => this.tierFor(record));
    const max = tier?.maxActiveKeys ?? null;
    const inserted = await this.storeCall(() => this.config.store.insert(record, max === null ? undefined : { max, now }));
    if (!inserted) throw new KeywardError("key_limit_reached", `This owner already has the maximum of ${max} active keys for the tier; revoke one first.`);
    this.cache.invalidateHash(record.hash);
    this.emitKey("key.created", record);
    return { secret, key: this.view(record) };
  }

  /**
   * A key by id (with usage not yet flushed included), or null.
   *
   * @example
   * const key = await keys.get("key_0LmQ7x2a9fKq3ZrT1bN0cD");
   */
  async get(id: string): Promise<ApiKey | null> {
    if (!isKeyId(id)) return null;
    await this.init();
    const record = await this.storeCall(() => this.config.store.findById(id));
    return record ? this.view(record) : null;
  }

  /**
   * Keys matching `filter`, newest first, one page at a time.
   *
   * @example
   * const { keys: page, next } = await keys.list({ ownerId: "user_1", status: "active", limit: 50 });
   */
  async list(filter: Omit<KeyFilter, "now"> = {}): Promise<KeyPage> {
    if (filter.mode != null && !this.format.modes.includes(filter.mode)) {
      const message = this.format.modes.length ? `must be one of ${this.format.modes.join(", ")}` : "this key format has no modes";
      throw new KeywardError("validation_failed", `mode: ${message}`, { details: [{ path: "mode", message }] });
    }
    await this.init();
    const limit = pageSize(filter.limit);
    const records = await this.storeCall(() => this.config.store.list({ ...filter, limit, now: this.now() }));
    return { keys: records.map((r) => this.view(r)), next: records.length === limit ? records[records.length - 1]!.id : null };
  }

  /**
   * Renames a key, replaces its scopes or metadata. The cached entry is dropped at once.
   *
   * @example
   * await keys.update(id, { scopes: ["nodes:read"] });
   */
  async update(id: string, patch: UpdateKeyInput): Promise<ApiKey> {
    await this.init();
    const v = validateInput(updateSchema, patch, "update");
    const scopes = v.scopes === undefined ? undefined : normalizeScopes(v.scopes, this.policy());
    const existing = await this.mustFind(id);
    if (existing.kind === "project" && scopes !== undefined) throw new KeywardError("validation_failed", "scopes: project keys are not scope-gated", { details: [{ path: "scopes", message: "project keys are not scope-gated" }] });
    const updated = await this.storeCall(() => this.config.store.update(id, { name: v.name, scopes, metadata: v.metadata && cloneMetadata(v.metadata) }));
    if (!updated) throw notFound();
    this.cache.invalidateHash(updated.hash);
    this.announceInvalidation(id);
    this.emitKey("key.updated", updated);
    return this.view(updated);
  }

  /**
   * Revokes a key now and for good; revoking again changes nothing. Requests in this process are
   * refused as soon as this resolves; other processes within the cache TTL. Takes the key's id or
   * the secret itself (recognised by its format and checksum, looked up by hash; never logged or
   * put in an error), so a leaked key can be killed without first finding its id.
   *
   * @example
   * await keys.revoke(id);
   * await keys.revoke("sk_live_…"); // the secret, e.g. the old key after an overlap rotation
   */
  async revoke(idOrSecret: string): Promise<ApiKey> {
    await this.init();
    const now = this.now();
    let id = idOrSecret;
    if (typeof idOrSecret === "string" && idOrSecret.length <= MAX_CREDENTIAL_LENGTH && this.format.check(idOrSecret) !== undefined) {
      const hash = this.hash(idOrSecret);
      const found = await this.storeCall(() => this.config.store.findByHash(hash));
      if (!found) throw notFound();
      id = found.id;
    }
    const before = await this.mustFind(id);
    const revoked = await this.storeCall(() => this.config.store.revoke(id, now));
    if (!revoked) throw notFound();
    this.cache.invalidateHash(revoked.hash);
    this.announceInvalidation(id);
    if (before.revokedAt === null) this.emitKey("key.revoked", revoked);
    return this.view(revoked);
  }

  /**
   * Issues a successor with the same name, scopes, projects, mode and metadata; the old key keeps
   * working until the overlap ends (`overlap: 0` revokes it now). Defaults to a 24h overlap. The
   * successor keeps the old key's lifetime length unless `expiresIn` says otherwise.
   *
   * @example
   * const { secret, key, previous } = await keys.rotate(id, { overlap: "24h" });
   */
  async rotate(id: string, options: { overlap?: string | number; expiresIn?: string | number | null } = {}): Promise<{
    /** The successor's secret, shown this once. */ secret: string;
    /** The successor. */ key: ApiKey;
    /** The old key, now in its overlap (or revoked with `overlap: 0`). */ previous: ApiKey;
  }> {
    await this.init();
    const v = validateInput(rotateSchema, options, "rotate options");
    const overlapMs = this.overlapFor(v.overlap);
    const now = this.now();
    const old = await this.mustFind(id);
    const status = keyStatus(old, now);
    if (status !== "active") throw new KeywardError("conflict", `Only an active key can be rotated; this one is ${status}.`);
    if (old.rotatedTo !== null) throw new KeywardError("conflict", "This key has already been rotated.");
    const lifetime = old.expiresAt === null ? null : old.expiresAt - old.createdAt;
    const expiresAt = v.expiresIn !== undefined ? this.expiryFor(v.expiresIn, undefined, now) : lifetime === null ? null : now + lifetime;
    const secret = this.format.generate(old.mode);
    const successor: StoredKey = {
      ...old, id: newKeyId(now), hash: this.hash(secret), start: this.format.start(secret), createdAt: now, expiresAt,
      revokedAt: null, lastUsedAt: null, requestCount: 0, rotatedFrom: old.id, rotatedTo: null,
    };
    // Rotating a successor ends its predecessor's overlap now: one lineage, at most two usable keys.
    const change = overlapMs === 0 ? { revokedAt: now, endPredecessorAt: now } : { expiresAt: now + overlapMs, endPredecessorAt: now };
    const rotated = await this.storeCall(() => this.config.store.rotate(old.id, successor, change));
    if (!rotated) throw new KeywardError("conflict", "This key has already been rotated or revoked.");
    this.cache.invalidateHash(old.hash);
    this.cache.invalidateHash(successor.hash);
    this.announceInvalidation(old.id);
    if (old.rotatedFrom !== null) {
      this.cache.invalidateId(old.rotatedFrom);
      this.announceInvalidation(old.rotatedFrom);
    }
    const previous = await this.mustFind(old.id);
    this.emit({ type: "key.rotated", at: new Date(now), keyId: old.id, ownerId: old.ownerId, name: old.name, mode: old.mode, successorId: successor.id });
    if (overlapMs === 0) this.emitKey("key.revoked", previous);
    return { secret, key: this.view(successor), previous: this.view(previous) };
  }

  /** The overlap a rotation asked for (default: a day, or the maximum when that is shorter), checked against `maxRotationOverlap`. */
  private overlapFor(overlap: string | number | undefined): number {
    const max = this.config.maxRotationOverlapMs;
    if (overlap === undefined) return Math.min(DAY_MS, max);
    const ms = parseDuration(overlap, "overlap");
    if (ms > max) {
      const message = `must be at most ${formatDuration(max)} (maxRotationOverlap): the rotated-away key keeps working that long`;
      throw new KeywardError("validation_failed", `overlap: ${message}`, { details: [{ path: "overlap", message }] });
    }
    return ms;
  }

  /**
   * Requests per UTC day for the last `days` days (oldest first, zero-filled), including usage
   * not yet flushed.
   *
   * @example
   * const days = await keys.usage(id, 30); // [{ date: "2026-10-25", count: 0 }, …]
   */
  async usage(id: string, days = 30): Promise<DailyUsage[]> {
    await this.init();
    const span = Math.min(90, Math.max(1, Math.floor(days)));
    await this.mustFind(id);
    const today = Math.floor(this.now() / DAY_MS);
    const from = today - span + 1;
    const rows = await this.storeCall(() => this.config.store.usage(id, from, today));
    const counts = new Map<number, number>(rows);
    if (this.recorder) for (const [day, n] of this.recorder.pending(id).days) counts.set(day, (counts.get(day) ?? 0) + n);
    const out: DailyUsage[] = [];
    for (let day = from; day <= today; day++) out.push({ date: new Date(day * DAY_MS).toISOString().slice(0, 10), count: counts.get(day) ?? 0 });
    return out;
  }

  /**
   * Verifies a secret: format, hash lookup, revocation, expiry, mode, project, limits; counts the
   * use. Never throws for a refusal: `{ ok: false, error }` carries the code.
   *
   * `scope` is a scope string, a {@link requiredScope}, or a list of them (the key needs all). A
   * malformed `scope` is a programming error: the promise rejects with a `KeywardConfigError`.
   *
   * @example
   * const result = await keys.verify(secret, { project: "proj_1", scope: "nodes:read" });
   * if (!result.ok) console.log(result.error.code); // e.g. "key_revoked" or "insufficient_scope"
   * await keys.verify(secret, { scope: ["nodes:read", "nodes:write"] }); // all of them
   */
  async verify(secret: string, context: { project?: string | null; modes?: readonly string[]; scope?: ScopeRequirement; request?: RequestInfo } = {}): Promise<VerifyResult> {
    const required = context.scope === undefined ? null : this.compileRequirement(context.scope);
    const now = this.now();
    const found = await this.authenticate(secret, now);
    if (found instanceof KeywardError) return { ok: false, error: found };
    if (context.modes && !context.modes.includes(found.mode as string)) return { ok: false, error: modeForbidden(context.modes) };
    const project = resolveProject(found, context.project ?? null);
    if (project === false) return { ok: false, error: PROJECT_FORBIDDEN };
    if (required !== null) {
      const missing = required.filter((r) => !found.grant.has(r));
      if (missing.length > 0) return { ok: false, error: insufficientScope(missing) };
    }
    const charge = await this.charge(found, now);
    if (charge instanceof KeywardError) return { ok: false, error: charge };
    this.recordUse(found, now);
    return { ok: true, key: this.principalFor(found, project), limits: charge.limits };
  }

  /** Compiled scope strings verify() was given, so a repeated requirement is parsed once (bounded). */
  private readonly requirementCache = new Map<string, readonly RequiredScope[]>();

  private compileRequirement(scope: ScopeRequirement): readonly RequiredScope[] {
    if (typeof scope !== "string") return requiredScopes(scope);
    let compiled = this.requirementCache.get(scope);
    if (compiled === undefined) {
      compiled = requiredScopes(scope);
      if (this.requirementCache.size >= 1024) this.requirementCache.clear();
      this.requirementCache.set(scope, compiled);
    }
    return compiled;
  }

  // ---------------------------------------------------------------- hot path (used by adapters)

  /**
   * Finds the key for a secret: the cache first (by hash), then on a miss the format and checksum
   * (no store read for a malformed key), then the store. Synchronous when the cache or store answers synchronously.
   * Returns the refusal as a value, never throws. `now` is the request's time (the manager's clock
   * by default): a caller that also charges the key passes the same reading to {@link charge}.
   */
  authenticate(secret: string, now = this.now()): MaybePromise<VerifiedKey | KeywardError> {
    if (typeof secret !== "string" || secret.length > MAX_CREDENTIAL_LENGTH) return INVALID;
    const hash = this.hash(secret);
    const cached = this.cache.get(hash, now);
    // Only well-formed keys ever enter the cache, so a hit needs no format check.
    if (cached !== undefined) return cached === UNKNOWN ? INVALID : this.checkStatus(cached, now);
    // A database holding another key format fails closed for every key, not 401 for the database's own.
    if (this.formatError !== null) return storeUnavailable(this.formatError);
    if (this.format.check(secret) === undefined) return INVALID;
    if (!this.initialized) return this.whenReady().then(() => this.lookup(hash, now), (e: unknown) => asStoreUnavailable(e));
    return this.lookup(hash, now);
  }

  /**
   * Takes one unit from the key's rate-limit window, then from its monthly quota, or refuses with
   * 429. Each take is one atomic store operation; when the quota refuses, the window unit is given
   * back, so a refused request costs nothing. `now` is the request's time (the manager's clock by
   * default): a caller that also calls {@link recordUse} reads the clock once for both.
   */
  charge(key: VerifiedKey, now = this.now()): MaybePromise<Charge | KeywardError> {
    if (key.meter === null) return NO_CHARGE;
    const result = this.takeCharge(key, now);
    if (!isPromise(result)) return result;
    this.pendingCharges++;
    return result.finally(() => {
      if (--this.pendingCharges === 0) this.drained?.();
    });
  }

  private takeCharge(key: VerifiedKey, now: number): MaybePromise<Charge | KeywardError> {
    const meter = key.meter!;
    // Captured together: a concurrent charge in the next window may rebuild the meter's plan.
    const plan = meter.at(now);
    const counters = meter.counters;
    const policy = meter.policy;
    const counts = this.consumeInOrder(plan, 0, new Array<number>(plan.length));
    if (isPromise(counts)) return counts.then((c) => (c instanceof KeywardError ? c : settleCharge(plan, counters, policy, c, now)));
    return counts instanceof KeywardError ? counts : settleCharge(plan, counters, policy, counts, now);
  }

  /** Gives back what `charge` took (the request was refused later, e.g. by a scope guard). */
  refund(charge: Charge): void {
    this.refundCounters(charge.counters);
  }

  /** Gives one unit back to each named counter (best effort). */
  private refundCounters(names: readonly string[]): void {
    for (const name of names) this.refundCounter(name);
  }

  /** Gives one unit back to `name` (best effort). */
  private refundCounter(name: string): void {
    try {
      const r = this.config.counters.refund(name);
      if (isPromise(r)) r.catch(() => undefined);
    } catch {
      /* a refund is best effort: the counter expires with its window */
    }
  }

  /** Counts one use of the key at `now` (default: the clock); buffered, flushed in the background. */
  recordUse(key: VerifiedKey, now = this.now()): void {
    this.recorder?.record(key.id, now);
  }

  /** `req.apiKey` for a request acting on `project` (the shared frozen object when it is the key's own). */
  principalFor(key: VerifiedKey, project: string | null): AuthenticatedKey {
    if (project === key.principal.project) return key.principal;
    return Object.freeze({ ...key.principal, project });
  }

  /** Sends an event to `onEvent` (never throws). */
  emit(event: KeywardEvent): void {
    const sink = this.config.onEvent;
    if (!sink) return;
    try {
      sink(event);
    } catch {
      /* an audit sink must not break requests */
    }
  }

  /** Whether `auth.succeeded` should be emitted for this request (sampling). */
  sampleSuccess(): boolean {
    const rate = this.config.sampleAuthSucceeded;
    return rate > 0 && (rate >= 1 || Math.random() < rate);
  }

  /** Whether anyone listens to events. */
  get hasEventSink(): boolean {
    return this.config.onEvent !== undefined;
  }

  /** Drops cached entries for a key id (used by cross-instance invalidation channels). */
  invalidate(id?: string): void {
    if (id === undefined) this.cache.clear();
    else this.cache.invalidateId(id);
  }

  /**
   * Calls `listener` with the key id each time this manager updates, revokes or rotates a key (after
   * the store write, once this process's cache is clean), so a channel can tell other instances to
   * call {@link KeyManager.invalidate}. Returns a function that removes the listener.
   *
   * @example
   * const stop = keys.onInvalidate((id) => redis.publish("keyward:invalidate", id));
   */
  onInvalidate(listener: (id: string) => void): () => void {
    this.invalidationListeners.add(listener);
    return () => {
      this.invalidationListeners.delete(listener);
    };
  }

  private announceInvalidation(id: string): void {
    for (const listener of this.invalidationListeners) {
      try {
        listener(id);
      } catch {
        /* a channel failure must not fail the management call; the cache TTL still bounds staleness */
      }
    }
  }

  /** Cache occupancy, for monitoring and tests. */
  get cacheSize(): {
    /** Verified keys cached. */ keys: number;
    /** Unknown hashes cached. */ unknown: number;
  } {
    return this.cache.size;
  }

  /**
   * Deletes rate-limit and quota counters whose window has ended (by this manager's clock). Runs on
   * its own about once a minute when the counter store supports it.
   *
   * @example
   * await keys.pruneCounters();
   */
  async pruneCounters(): Promise<void> {
    if (this.closed) return;
    await this.init();
    await this.config.counters.prune?.(this.now());
  }

  /** Writes buffered usage to the store now. */
  async flushUsage(): Promise<void> {
    await this.recorder?.flush();
  }

  /**
   * Stops admitting (verification answers 503 `store_unavailable` from here on), lets requests
   * already past verification finish, flushes usage and closes the store. After K admitted
   * requests and `close()`, stored counts equal K.
   *
   * @example
   * process.on("SIGTERM", () => keys.close().then(() => process.exit(0)));
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // from now on verification answers 503, so nothing new is admitted
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    // Requests already past verification finish first: pending asynchronous charges settle (each is
    // bounded by storeTimeout; a take that timed out is awaited one more storeTimeout, so its unit is
    // given back before the store closes), then one macrotask turn lets their continuations record their use.
    while (this.pendingCharges > 0) await new Promise<void>((resolve) => { this.drained = resolve; });
    this.drained = null;
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      await this.recorder?.close();
    } finally {
      await this.config.store.close?.();
    }
  }

  // ---------------------------------------------------------------- internals

  /**
   * The store read for a cache miss. Concurrent misses for one hash share one asynchronous read
   * (the cache's in-flight map, emptied by every invalidation); each caller checks status at its own `now`.
   */
  private lookup(hash: string, now: number): MaybePromise<VerifiedKey | KeywardError> {
    const shared = this.cache.inflight<VerifiedKey | KeywardError>(hash);
    if (shared !== undefined) return shared.then((found) => this.admit(found, now));
    const found = this.read(hash, now);
    if (!isPromise(found)) return this.admit(found, now);
    this.cache.share(hash, found);
    return found.then((f) => this.admit(f, now));
  }

  /** Reads `hash` from the store and caches the answer (unless invalidated meanwhile); no status check. */
  private read(hash: string, now: number): MaybePromise<VerifiedKey | KeywardError> {
    const epoch = this.cache.epoch();
    return this.after(this.storeRead(() => this.config.store.findByHash(hash)), (record) => {
      if (record instanceof KeywardError) return record;
      if (record === null) {
        this.cache.setUnknown(hash, epoch, now);
        return INVALID;
      }
      return this.after(this.compile(record), (entry) => {
        if (entry instanceof KeywardError) return entry;
        this.cache.set(hash, entry, epoch, now);
        return entry;
      });
    });
  }

  private admit(found: VerifiedKey | KeywardError, now: number): VerifiedKey | KeywardError {
    return found instanceof KeywardError ? found : this.checkStatus(found, now);
  }

  private checkStatus(entry: VerifiedKey, now: number): VerifiedKey | KeywardError {
    if (this.closed) return CLOSED;
    if (entry.revokedError !== null) return entry.revokedError;
    if (entry.expiredError !== null && entry.expiresAt! <= now) return entry.expiredError;
    return entry;
  }

  private compile(record: StoredKey): MaybePromise<VerifiedKey | KeywardError> {
    let tier: MaybePromise<ResolvedTier | null>;
    try {
      tier = this.tierFor(record);
    } catch (error) {
      return storeUnavailable(error); // tierOf threw: fail closed, like a store failure
    }
    const build = (t: ResolvedTier | null): VerifiedKey => {
      const rate = record.rateLimit ?? t?.rateLimit ?? this.config.rateLimit;
      const monthly = t?.monthlyRequests ?? null;
      const principal: AuthenticatedKey = Object.freeze({
        id: record.id, name: record.name, ownerId: record.ownerId, kind: record.kind, mode: record.mode,
        scopes: Object.freeze([...record.scopes]),
        projects: Object.freeze(record.kind === "project" ? [record.projectId!] : [...record.projects]),
        project: record.kind === "project" ? record.projectId : null,
        tier: record.tier, metadata: Object.freeze(record.metadata),
        expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
      });
      return Object.freeze({
        id: record.id, kind: record.kind, projectId: record.projectId, projects: principal.projects, mode: record.mode,
        ownerId: record.ownerId, expiresAt: record.expiresAt, revokedAt: record.revokedAt,
        revokedError: record.revokedAt === null ? null : new KeywardError("key_revoked", REVOKED_MESSAGE, { keyId: record.id }),
        expiredError: record.expiresAt === null ? null : new KeywardError("key_expired", EXPIRED_MESSAGE, { keyId: record.id }),
        grant: record.kind === "project" ? ScopeSet.compile(["*"]) : ScopeSet.compile(record.scopes, this.config.implies),
        principal,
        rate,
        monthly,
        meter: rate === null && monthly === null ? null : new KeyMeter(record.id, rate, monthly),
      });
    };
    if (!isPromise(tier)) return build(tier);
    return this.withTimeout(tier).then(build, (e: unknown) => storeUnavailable(e));
  }

  private tierFor(record: Pick<StoredKey, "ownerId" | "tier">): MaybePromise<ResolvedTier | null> {
    const pick = (name: string | null | undefined): ResolvedTier | null => {
      const chosen = name ?? record.tier ?? this.config.defaultTier;
      if (chosen === null) return null;
      // An unknown name (e.g. a plan tierOf returns that has no tier) falls back to the default tier.
      const tier = this.config.tiers.get(chosen);
      if (tier !== undefined) return tier;
      return this.config.defaultTier === null ? null : (this.config.tiers.get(this.config.defaultTier) ?? null);
    };
    if (record.tier !== null || !this.config.tierOf) return pick(null);
    const resolved = this.config.tierOf({ ownerId: record.ownerId, tier: record.tier });
    return isPromise(resolved) ? resolved.then(pick) : pick(resolved);
  }

  private storeRead<T>(call: () => MaybePromise<T>): MaybePromise<T | KeywardError> {
    let result: MaybePromise<T>;
    try {
      result = call();
    } catch (error) {
      return storeUnavailable(error);
    }
    return isPromise(result) ? this.withTimeout(result).catch(storeUnavailable) : result;
  }

  /**
   * Consumes `plan[i…]` one by one; on a refusal (or failure) gives back the ones taken before.
   * A loop while the counter store answers synchronously (no closures), a promise chain otherwise.
   */
  private consumeInOrder(plan: readonly PlannedCounter[], i: number, counts: number[]): MaybePromise<number[] | KeywardError> {
    for (; i < plan.length; i++) {
      const p = plan[i]!;
      const n = this.consumeCounter(p.counter, p.limit, p.resetAt);
      if (isPromise(n)) {
        const at = i;
        return n.then((v) => this.consumed(plan, at, counts, v) ?? this.consumeInOrder(plan, at + 1, counts));
      }
      const done = this.consumed(plan, i, counts, n);
      if (done !== null) return done;
    }
    return counts;
  }

  /** Records one counter's answer: the final result on a refusal or failure, null to go on. */
  private consumed(plan: readonly PlannedCounter[], i: number, counts: number[], n: number | KeywardError): number[] | KeywardError | null {
    if (n instanceof KeywardError || n < 0) {
      if (i > 0) this.refundCounters(plan.slice(0, i).map((q) => q.counter));
      if (n instanceof KeywardError) return n;
    }
    counts[i] = n;
    if (n >= 0) return null;
    counts.length = i + 1;
    return counts;
  }

  /**
   * One counter take, bounded by storeTimeout. A take that answers after the timeout (the request
   * was already refused with 503) is still watched: if it took a unit, the unit is given back, so a
   * refused request never consumes quota, whenever the store gets round to the take.
   */
  private consumeCounter(counter: string, limit: number, resetAt: number): MaybePromise<number | KeywardError> {
    let result: MaybePromise<number>;
    try {
      result = this.config.counters.consume(counter, limit, resetAt);
    } catch (error) {
      return storeUnavailable(error);
    }
    if (!isPromise(result)) return result;
    const taken = result;
    const ms = this.config.storeTimeoutMs;
    return new Promise<number | KeywardError>((resolve) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        // close() waits for the late answer, for one more storeTimeout at most, before closing the store.
        let held = true;
        this.pendingCharges++;
        const unhold = () => {
          if (!held) return;
          held = false;
          clearTimeout(release);
          if (--this.pendingCharges === 0) this.drained?.();
        };
        const release = setTimeout(unhold, ms);
        taken.then((n) => {
          if (n >= 0 && (held || !this.closed)) this.refundCounter(counter);
          unhold();
        }, unhold);
        resolve(storeUnavailable(new Error(`store call timed out after ${ms} ms`)));
      }, ms);
      taken.then(
        (n) => { if (!late) { clearTimeout(timer); resolve(n); } },
        (error: unknown) => { if (!late) { clearTimeout(timer); resolve(storeUnavailable(error)); } },
      );
    });
  }

  private after<T, U>(value: MaybePromise<T>, next: (v: T) => MaybePromise<U>): MaybePromise<U> {
    return isPromise(value) ? value.then(next) : next(value);
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    const ms = this.config.storeTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`store call timed out after ${ms} ms`)), ms);
      promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
    });
  }

  /** A management-path store call: failures become `store_unavailable` errors (thrown). */
  private async storeCall<T>(call: () => MaybePromise<T>): Promise<T> {
    const result = await this.storeRead(call);
    if (result instanceof KeywardError && result.code === "store_unavailable") throw result;
    return result as T;
  }

  private async mustFind(id: string): Promise<StoredKey> {
    if (!isKeyId(id)) throw notFound();
    const record = await this.storeCall(() => this.config.store.findById(id));
    if (!record) throw notFound();
    return record;
  }

  private init(): Promise<void> | void {
    if (this.closed) throw new KeywardError("store_unavailable", "This KeyManager has been closed.");
    if (!this.initialized) return this.whenReady().catch((e: unknown) => { throw e instanceof KeywardConfigError ? e : asStoreUnavailable(e); });
  }

  /**
   * The store's `init()`, then the key format: recorded in the database on first use, compared on
   * every later start (a mismatch is a KeywardConfigError naming both formats). Sync for sync stores.
   */
  private initStore(): MaybePromise<void> {
    const store = this.config.store;
    const claim = () => claimStoreFormat(store, { prefix: this.format.prefix, modes: [...this.format.modes] });
    const init = store.init?.();
    return isPromise(init) ? init.then(claim) : claim();
  }

  /**
   * Tracks an asynchronous `store.init()`. A failure is observed here (no unhandled rejection) and
   * forgotten, so the next call retries: a store that was down at start-up is picked up when it is back.
   */
  private startInit(init: MaybePromise<void> | undefined): void {
    if (!isPromise(init)) {
      this.initialized = true;
      return;
    }
    const attempt: Promise<void> = init.then(
      () => { this.initialized = true; },
      (error: unknown) => {
        if (error instanceof KeywardConfigError && this.formatError === null) {
          // Not retried: verification answers 503 with this as its cause, management calls throw it.
          this.formatError = error;
          if (typeof process !== "undefined") process.emitWarning?.(error.message, { code: "KEYWARD_KEY_FORMAT" });
        }
        if (this.ready === attempt) this.ready = null;
        throw error;
      },
    );
    attempt.catch(() => undefined);
    this.ready = attempt;
  }

  /** Resolves once the store is initialized, starting a new attempt after a failed one; bounded by storeTimeout. */
  private whenReady(): Promise<void> {
    if (this.initialized) return Promise.resolve();
    if (this.formatError !== null) return Promise.reject(this.formatError);
    if (this.ready === null) {
      try {
        this.startInit(this.initStore());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const attempt = this.ready;
    if (attempt === null) return Promise.resolve();
    return this.withTimeout(attempt).catch((error: unknown) => {
      if (this.ready === attempt) this.ready = null; // a hung attempt is abandoned; the next call starts afresh
      throw error;
    });
  }

  private policy() {
    return { catalogue: this.config.catalogue, implies: this.config.implies };
  }

  private expiryFor(expiresIn: string | number | null | undefined, expiresAt: Date | number | string | null | undefined, now: number): number | null {
    const fail = (path: string, message: string): never => {
      throw new KeywardError("validation_failed", `${path}: ${message}`, { details: [{ path, message }] });
    };
    if (expiresIn !== undefined && expiresAt !== undefined) fail("expiresIn", "give expiresIn or expiresAt, not both");
    const allowed = this.config.allowedTtls;
    if (expiresAt !== undefined && expiresAt !== null) {
      if (allowed) fail("expiresAt", "this server only accepts expiresIn, with one of the allowed lifetimes");
      const at = expiresAt instanceof Date ? expiresAt.getTime() : typeof expiresAt === "number" ? expiresAt : Date.parse(expiresAt);
      if (!Number.isFinite(at)) fail("expiresAt", "is not a date");
      if (at <= now) fail("expiresAt", "is in the past");
      if (at - now > 100 * 365 * DAY_MS) fail("expiresAt", "is more than 100 years away");
      return at;
    }
    if (expiresAt === null && expiresIn === undefined) expiresIn = null;
    let ttl: number | null;
    if (expiresIn === undefined) ttl = this.config.defaultTtlMs;
    else if (expiresIn === null) ttl = null;
    else {
      ttl = parseDuration(expiresIn, "expiresIn");
      if (ttl <= 0) fail("expiresIn", "must be longer than zero");
    }
    if (allowed && !allowed.includes(ttl)) {
      const shown = allowed.map((ms) => (ms === null ? "none" : formatDuration(ms))).join(", ");
      fail("expiresIn", `must be one of the allowed lifetimes: ${shown}`);
    }
    return ttl === null ? null : now + ttl;
  }

  private view(record: StoredKey): ApiKey {
    const pending = this.recorder?.pending(record.id);
    const lastUsed = pending?.lastUsedAt != null && (record.lastUsedAt === null || pending.lastUsedAt > record.lastUsedAt) ? pending.lastUsedAt : record.lastUsedAt;
    const status: KeyStatus = keyStatus(record, this.now());
    return {
      id: record.id, name: record.name, start: record.start, ownerId: record.ownerId, kind: record.kind,
      projectId: record.projectId, projects: record.projects, mode: record.mode, scopes: record.scopes, tier: record.tier,
      rateLimit: record.rateLimit, metadata: record.metadata, status,
      createdAt: new Date(record.createdAt), expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
      revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt), lastUsedAt: lastUsed === null ? null : new Date(lastUsed),
      requestCount: record.requestCount + (pending?.count ?? 0), rotatedFrom: record.rotatedFrom, rotatedTo: record.rotatedTo,
    };
  }

  private emitKey(type: "key.created" | "key.updated" | "key.revoked", record: StoredKey): void {
    this.emit({ type, at: new Date(this.now()), keyId: record.id, ownerId: record.ownerId, name: record.name, mode: record.mode });
  }
}

concealInternals(KeyManager, (keys) => ({
  prefix: keys.format.prefix, modes: keys.format.modes, store: keys["config"].store.constructor.name, closed: keys["closed"],
}));

/**
 * Turns the counts `consume` returned (in plan order, stopping at the first -1) into the charge, or
 * into the 429 for the refused policy. Units taken before a refusal were given back, so their
 * `remaining` is shown as it stands without this request.
 */
function settleCharge(plan: readonly PlannedCounter[], counters: readonly string[], policy: string, counts: readonly number[], now: number): Charge | KeywardError {
  const limits = new Array<LimitState>(Math.min(counts.length, plan.length));
  for (let i = 0; i < limits.length; i++) {
    const p = plan[i]!;
    const n = counts[i]!;
    const resetSeconds = secondsUntil(p.resetAt, now);
    if (n < 0) {
      limits.length = i;
      for (let j = 0; j < limits.length; j++) limits[j] = withUnitReturned(limits[j]!);
      limits.push({ policy: p.policy, limit: p.limit, remaining: 0, windowSeconds: p.windowSeconds, resetSeconds });
      const message = p.policy === "window"
        ? `Rate limit of ${p.limit} requests per ${p.windowSeconds}s exceeded; retry in ${resetSeconds}s.`
        : `Monthly quota of ${p.limit} requests used up; it resets on the 1st (UTC).`;
      return new KeywardError(p.policy === "window" ? "rate_limited" : "quota_exceeded", message, { headers: { "Retry-After": String(resetSeconds) }, limits });
    }
    limits[i] = { policy: p.policy, limit: p.limit, remaining: Math.max(0, p.limit - n), windowSeconds: p.windowSeconds, resetSeconds };
  }
  return { limits, counters, policy };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asStoreUnavailable(error: unknown): KeywardError {
  return error instanceof KeywardError && error.code === "store_unavailable" ? error : storeUnavailable(error);
}

function storeUnavailable(error: unknown): KeywardError {
  return new KeywardError("store_unavailable", STORE_DOWN, { cause: error, headers: { "Retry-After": "1" } });
}

function notFound(): KeywardError {
  return new KeywardError("not_found", "No such API key.");
}

/**
 * The 403 for a key without a scope a route requires.
 *
 * @example
 * import { insufficientScope, requiredScope } from "keyward";
 * const error = insufficientScope(requiredScope("nodes:write")); // 403 "insufficient_scope", error.scope === "nodes:write"
 * insufficientScope([requiredScope("reports:read"), requiredScope("analytics:read")], true); // "This key needs one of the scopes: …"
 * if (!req.apiKey?.scopes.includes("nodes:write")) return next(error);
 */
export function insufficientScope(required: RequiredScope | readonly RequiredScope[], any = false): KeywardError {
  const list = Array.isArray(required) ? (required as readonly RequiredScope[]) : [required as RequiredScope];
  const names = list.map((r) => r.scope);
  const message = any ? `This key needs one of the scopes: ${names.join(", ")}.` : `This key lacks the required scope${names.length > 1 ? "s" : ""}: ${names.join(", ")}.`;
  return new KeywardError("insufficient_scope", message, { scope: names.join(" ") });
}

/**
 * The 403 for a key used outside its project allow-list.
 *
 * @example
 * import { projectForbidden } from "keyward";
 * const error = projectForbidden(); // 403 "project_forbidden"
 * if (req.apiKey?.project !== req.params.projectId) return next(error);
 */
export function projectForbidden(): KeywardError {
  return new KeywardError("project_forbidden", "This key may not act on the requested project.");
}

/**
 * The 403 for a key of a mode the route does not accept.
 *
 * @example
 * import { modeForbidden } from "keyward";
 * const error = modeForbidden(["live"]); // 403 "mode_forbidden": "This route accepts only live keys."
 * if (req.apiKey?.mode !== "live") return next(error);
 */
export function modeForbidden(modes: readonly string[]): KeywardError {
  return new KeywardError("mode_forbidden", `This route accepts only ${modes.join(" or ")} keys.`);
}
