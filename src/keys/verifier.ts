/**
 * The one verification pipeline: authenticate (cache, format, store, status) → mode → project →
 * membership → client address (the key's IP allow-list) → the caller's own check (scopes, key
 * kind) → charge (rate limit, quota) → record use (and the scopes the check admitted) → events. Every caller (the middleware, the management router's key caller, `keys.verify()`)
 * is a thin translation around it, described by a {@link VerifyPolicy} built once. It answers the
 * caller's admission value or the refusal, synchronously whenever the stores answer synchronously,
 * and emits `auth.failed` / `auth.succeeded` with the same fields for every caller. A route whose
 * `onStoreError` is "open" or "local" charges through the CounterFallback; `keyward/otel` sets an
 * observer (one null check per verification when none is set).
 */
import { KeywardError } from "../core/errors.js";
import { IP_FORBIDDEN, PROJECT_FORBIDDEN } from "../core/refusals.js";
import type { RequiredScope } from "../core/scopes.js";
import type { AuthenticatedKey, KeyStore, MaybePromise } from "../core/types.js";
import type { Authenticator, VerifiedKey } from "./authenticator.js";
import type { Charge, Charger } from "./charger.js";
import { type ChargeStep, CounterFallback, type RouteFallback } from "./counter-fallback.js";
import type { EventSink } from "./event-sink.js";
import type { RequestInfo } from "./events.js";
import type { ManagerConfig } from "./options.js";
import { resolveProject } from "./projects.js";
import type { UsageRecorder } from "./usage-recorder.js";

/**
 * How one caller wants its requests checked, and what an admitted request becomes for it.
 * Internal to keyward (not exported from the package entry).
 */
export interface VerifyPolicy<R, A> {
  /** Accept only keys of these modes (null: all), refused with `modeError`. */
  readonly modes: readonly string[] | null;
  /** The 403 `mode_forbidden` for `modes`, made once. */
  readonly modeError: KeywardError | null;
  /** The project a user key's request names: an id, null for none, or a 400 refusal. Null: no projects. */
  readonly project: ((request: R, key: VerifiedKey) => string | null | KeywardError) | null;
  /** Whether the key's owner may act on the resolved project (user keys only). */
  readonly memberOf: ((ownerId: string | null, project: string, request: R) => boolean | Promise<boolean>) | null;
  /** The client address of a request (checked only for keys with `allowedIps`); null: unknown, so such keys are refused. */
  readonly ip: ((request: R) => string | null | undefined) | null;
  /** The caller's own rule before the charge (scopes, key kind): null lets the key through. */
  readonly check: ((key: VerifiedKey, request: R) => KeywardError | null) | null;
  /** The scopes `check` admitted an admitted request for, counted as the key's scope use (null: the check names none). */
  readonly scopesUsed: ((request: R) => readonly RequiredScope[] | null) | null;
  /** For a token refused as `invalid_key`: the malformed-credential refusal when its syntax is bad, else null. */
  readonly malformed: ((request: R, token: string) => KeywardError | null) | null;
  /** When the counter store fails: null refuses 503 (fail closed), "open" admits uncounted, "local" counts in this process. */
  readonly onStoreError: RouteFallback;
  /** Credits a request takes from a key with credits, in the same step as its other limits (1 unless the route costs more). */
  readonly cost: number;
  /** Request details for audit events (called only when someone listens). */
  readonly describe: (request: R) => RequestInfo;
  /** What an admitted request gives the caller (`now`: the request's one clock reading). */
  readonly admit: (request: R, key: VerifiedKey, principal: AuthenticatedKey, charge: Charge, now: number) => A;
}

/**
 * Watches verifications: set by `keyward/otel`'s `instrument()`, null otherwise.
 * Internal to keyward (not exported from the package entry).
 */
export interface VerifyObserver {
  /** Runs one verification (through `verifier.run`) and records it. */
  verify<R, A>(verifier: Verifier, token: string, request: R, policy: VerifyPolicy<R, A>, now: number): MaybePromise<A | KeywardError>;
  /** A refusal: of a verification under way, by a guard after one, or before one (no key, a malformed header). */
  refused(request: unknown, error: KeywardError, keyId: string | undefined): void;
  /** The key store the request path reads, wrapped (e.g. timed). */
  keyStore(store: KeyStore): KeyStore;
  /** The charge step, wrapped (e.g. timed). */
  chargeStep(charger: ChargeStep): ChargeStep;
}

/** Runs the pipeline for one KeyManager. */
export class Verifier {
  /** Set only while `keyward/otel` instruments this manager. */
  private observer: VerifyObserver | null = null;
  /** The charge step (the charger, or a wrapper of it while observed). */
  private charger: ChargeStep;
  /** The charger and key store as given; route costs in credits (`chargeCredits`) go straight to this charger: fail closed, not observed. */
  private readonly unobserved: { charger: Charger; keyStore: KeyStore };

  /** What routes do when the counter store fails (and their default mode). */
  readonly fallback: CounterFallback;
  private readonly clock: () => number;

  constructor(
    private readonly authenticator: Authenticator,
    charger: Charger,
    private readonly recorder: UsageRecorder | null,
    private readonly events: EventSink,
    config: Pick<ManagerConfig, "clock" | "onStoreError" | "storeTimeoutMs">,
    isClosed: () => boolean,
  ) {
    this.clock = config.clock;
    this.charger = charger;
    this.unobserved = { charger, keyStore: authenticator.store.store };
    this.fallback = new CounterFallback(config.onStoreError, events, config.clock, isClosed, config.storeTimeoutMs);
  }

  /** Sets (or, with null, removes) the observer, and wraps (or unwraps) the key store and the charge step. */
  observe(observer: VerifyObserver | null): void {
    const { charger, keyStore } = this.unobserved;
    this.charger = observer === null ? charger : observer.chargeStep(charger);
    this.authenticator.store.store = observer === null ? keyStore : observer.keyStore(keyStore);
    this.observer = observer;
  }

  /** Verification-cache lookups that missed so far (an observer reads it around a verification). */
  get cacheMisses(): number {
    return this.authenticator.misses;
  }

  /** Whether an observer is set. */
  get observed(): boolean {
    return this.observer !== null;
  }

  /** Step 1 alone: the key for `secret` at `now`, or the refusal (as a value). */
  authenticate(secret: string, now = this.clock()): MaybePromise<VerifiedKey | KeywardError> {
    return this.authenticator.authenticate(secret, now);
  }

  /** The charge step alone: the key's units for one request at `now`, or the 429/503 refusal. */
  charge(key: VerifiedKey, now = this.clock()): MaybePromise<Charge | KeywardError> {
    return this.charger.charge(key, now);
  }

  /**
   * Gives back what a charge took (a check after the pipeline, e.g. a scope guard, refused the
   * request). A promise when the counter store answers asynchronously: answer the refusal once it
   * settles, so the key's balance is whole again when the client reads it.
   */
  refund(charge: Charge): MaybePromise<void> {
    if (this.fallback.refund(charge)) return;
    return this.charger.refund(charge);
  }

  /**
   * Counts one use of each of `scopes` by `key` at `now`: a guard after apiKeyAuth admitted a
   * request because the key holds them (buffered with the usage; nothing when usage is not tracked).
   */
  recordScopes(key: VerifiedKey, scopes: readonly RequiredScope[], now = this.clock()): void {
    const recorder = this.recorder;
    if (recorder === null) return;
    for (let i = 0; i < scopes.length; i++) recorder.recordScope(key.scopeTally, scopes[i]!.scope, now);
  }

  /** Takes `units` more credits from a key with credits (a route's cost), or the 429 `credits_exhausted`. */
  chargeCredits(key: VerifiedKey, units: number, now = this.clock()): MaybePromise<Charge | KeywardError> {
    return this.unobserved.charger.chargeCredits(key, units, now);
  }

  /** Gives back only the credits a charge took (e.g. the handler answered 5xx); a promise as with {@link refund}. */
  refundCredits(charge: Charge): MaybePromise<void> {
    return this.unobserved.charger.refundCredits(charge);
  }

  /** The record step alone: counts one use of the key at `now` (buffered, flushed in the background). */
  recordUse(key: VerifiedKey, now = this.clock()): void {
    this.recorder?.record(key.id, now);
  }

  /**
   * Verifies `token` for `request` at `now` (the request's one clock reading: cache TTL, expiry,
   * limits and usage). Answers the policy's admission or the refusal; never throws for a refusal.
   */
  verify<R, A>(token: string, request: R, policy: VerifyPolicy<R, A>, now: number): MaybePromise<A | KeywardError> {
    if (this.observer !== null) return this.observer.verify(this, token, request, policy, now);
    return this.run(token, request, policy, now);
  }

  /** {@link Verifier.verify} without the observer (the observer calls this). */
  run<R, A>(token: string, request: R, policy: VerifyPolicy<R, A>, now: number): MaybePromise<A | KeywardError> {
    const found = this.authenticator.authenticate(token, now);
    // `instanceof Promise`, not a `then` lookup: a miss on the frozen key object costs more.
    if (found instanceof Promise) return found.then((f) => this.authorize(token, request, policy, f, now));
    return this.authorize(token, request, policy, found, now);
  }

  /** Emits `auth.failed` for `error` and returns it (also for refusals made before verification). */
  refuse<R>(request: R, policy: Pick<VerifyPolicy<R, unknown>, "describe">, error: KeywardError, keyId?: string): KeywardError {
    if (this.observer !== null) this.observer.refused(request, error, keyId);
    if (this.events.active) this.events.authFailed(error, keyId, policy.describe(request));
    return error;
  }

  /** `req.apiKey` for a request acting on `project` (the shared frozen object when it is the key's own). */
  principalFor(key: VerifiedKey, project: string | null): AuthenticatedKey {
    if (project === key.principal.project) return key.principal;
    return Object.freeze({ ...key.principal, project });
  }

  private authorize<R, A>(
    token: string,
    request: R,
    policy: VerifyPolicy<R, A>,
    found: VerifiedKey | KeywardError,
    now: number,
  ): MaybePromise<A | KeywardError> {
    if (found instanceof KeywardError) {
      // A token that is not even well-formed for its source is a malformed request, not a wrong key.
      const malformed = found.code === "invalid_key" && policy.malformed !== null ? policy.malformed(request, token) : null;
      return this.refuse(request, policy, malformed ?? found);
    }
    if (policy.modes !== null && !policy.modes.includes(found.mode as string)) return this.refuse(request, policy, policy.modeError!, found.id);
    let project: string | null = null;
    if (policy.project !== null) {
      const requested = found.kind === "project" ? null : policy.project(request, found);
      if (requested instanceof KeywardError) return this.refuse(request, policy, requested, found.id);
      const resolved = resolveProject(found, requested);
      if (resolved === false) return this.refuse(request, policy, PROJECT_FORBIDDEN, found.id);
      project = resolved;
    } else if (found.kind === "project") project = found.projectId;
    if (policy.memberOf !== null && found.kind === "user" && project !== null) {
      const member = policy.memberOf(found.ownerId, project, request);
      if (member instanceof Promise)
        return member.then((ok) =>
          ok === true ? this.checkAndCharge(request, policy, found, project, now) : this.refuse(request, policy, PROJECT_FORBIDDEN, found.id),
        );
      if (member !== true) return this.refuse(request, policy, PROJECT_FORBIDDEN, found.id);
    }
    return this.checkAndCharge(request, policy, found, project, now);
  }

  private checkAndCharge<R, A>(request: R, policy: VerifyPolicy<R, A>, key: VerifiedKey, project: string | null, now: number): MaybePromise<A | KeywardError> {
    // Before the charge, so a refused address consumes no rate-limit or quota unit.
    if (key.ipAllow !== null && !key.ipAllow.matches(policy.ip === null ? null : policy.ip(request))) return this.refuse(request, policy, IP_FORBIDDEN, key.id);
    const refusal = policy.check === null ? null : policy.check(key, request);
    if (refusal !== null) return this.refuse(request, policy, refusal, key.id);
    const charge =
      policy.onStoreError === null
        ? this.charger.charge(key, now, policy.cost)
        : this.fallback.charge(this.charger, key, now, policy.onStoreError, policy.cost);
    if (charge instanceof Promise) return charge.then((c) => this.settle(request, policy, key, project, c, now));
    return this.settle(request, policy, key, project, charge, now);
  }

  private settle<R, A>(
    request: R,
    policy: VerifyPolicy<R, A>,
    key: VerifiedKey,
    project: string | null,
    charge: Charge | KeywardError,
    now: number,
  ): A | KeywardError {
    if (charge instanceof KeywardError) {
      if (charge.code === "store_unavailable" && policy.onStoreError === null) this.fallback.report("closed", key.id);
      return this.refuse(request, policy, charge, key.id);
    }
    this.recorder?.record(key.id, now);
    if (policy.scopesUsed !== null) {
      const used = policy.scopesUsed(request);
      if (used !== null) this.recordScopes(key, used, now);
    }
    if (this.events.active && this.events.sampleSuccess()) this.events.authSucceeded(key, now, policy.describe(request));
    return policy.admit(request, key, this.principalFor(key, project), charge, now);
  }
}
