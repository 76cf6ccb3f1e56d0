/**
 * VerifyTelemetry: the pipeline observer `keyward/otel` installs. Each verification gets a span
 * (`keyward.verify`, a child of the active context, carrying the key id once known: never the
 * secret or its hash) and its outcome, duration, cache result and limiter decisions are recorded
 * as metrics. The key id reaches the span through the caller's policy (its `admit` wrapped once per
 * policy) or the pipeline's refusal hook; requests are matched to their verification by identity.
 */
import { context, type Counter, type Histogram, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import { KeywardError } from "../core/errors.js";
import { MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";
import type { KeyStore, MaybePromise } from "../core/types.js";
import type { LimitState } from "../keys/limits.js";
import type { ChargeStep } from "../keys/counter-fallback.js";
import type { Verifier, VerifyObserver, VerifyPolicy } from "../keys/verifier.js";
import { ATTR, SPAN_NAME } from "./names.js";
import { timedChargeStep, timedKeyStore } from "./store-timing.js";

/** The instruments the observer records into. */
export interface TelemetryInstruments {
  readonly verifications: Counter;
  readonly verifyDuration: Histogram;
  readonly cacheLookups: Counter;
  readonly limiterDecisions: Counter;
  readonly guardRefusals: Counter;
  readonly storeDuration: Histogram;
}

/** One verification under way. */
interface Verification {
  readonly span: Span | null;
  readonly start: number;
  keyId: string | undefined;
  keyMode: string | null | undefined;
  limits: readonly LimitState[] | null;
  ended: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: policies of every request and admission type share one cache
type AnyPolicy = VerifyPolicy<any, any>;

/** The observer for one KeyManager. */
export class VerifyTelemetry implements VerifyObserver {
  private readonly verifications = new WeakMap<object, Verification>();
  private readonly policies = new WeakMap<AnyPolicy, AnyPolicy>();

  constructor(
    private readonly tracer: Tracer | null,
    private readonly metrics: TelemetryInstruments,
  ) {}

  verify<R, A>(verifier: Verifier, token: string, request: R, policy: VerifyPolicy<R, A>, now: number): MaybePromise<A | KeywardError> {
    const span = this.tracer === null ? null : this.tracer.startSpan(SPAN_NAME, { kind: SpanKind.INTERNAL });
    const v: Verification = { span, start: performance.now(), keyId: undefined, keyMode: undefined, limits: null, ended: false };
    if (typeof request === "object" && request !== null) this.verifications.set(request, v);
    const misses = verifier.cacheMisses;
    let result: MaybePromise<A | KeywardError>;
    try {
      const run = () => verifier.run(token, request, this.wrap(policy), now);
      result = span === null ? run() : context.with(trace.setSpan(context.active(), span), run);
    } catch (error) {
      this.end(v, error);
      throw error;
    }
    // The cache is asked synchronously, before any store read: a miss has been counted by now.
    if (typeof token === "string" && token.length <= MAX_CREDENTIAL_LENGTH) {
      const hit = verifier.cacheMisses === misses;
      this.metrics.cacheLookups.add(1, { [ATTR.cacheResult]: hit ? "hit" : "miss" });
      span?.setAttribute("keyward.cache.hit", hit);
    }
    if (!(result instanceof Promise)) {
      this.end(v, result);
      return result;
    }
    return result.then(
      (r) => {
        this.end(v, r);
        return r;
      },
      (error: unknown) => {
        this.end(v, error);
        throw error;
      },
    );
  }

  refused(request: unknown, error: KeywardError, keyId: string | undefined): void {
    const v = typeof request === "object" && request !== null ? this.verifications.get(request) : undefined;
    if (v === undefined) {
      // Refused before any verification: no key, or a malformed credential.
      this.metrics.verifications.add(1, { [ATTR.outcome]: "refused", [ATTR.code]: error.code });
      return;
    }
    if (v.ended) {
      this.metrics.guardRefusals.add(1, { [ATTR.code]: error.code });
      return;
    }
    v.keyId = keyId ?? error.keyId ?? v.keyId;
  }

  keyStore(store: KeyStore): KeyStore {
    return timedKeyStore(store, this.metrics.storeDuration);
  }

  chargeStep(charger: ChargeStep): ChargeStep {
    return timedChargeStep(charger, this.metrics.storeDuration);
  }

  /** `policy` with an `admit` that notes the key on its verification (made once per policy). */
  private wrap<R, A>(policy: VerifyPolicy<R, A>): VerifyPolicy<R, A> {
    let wrapped = this.policies.get(policy);
    if (wrapped === undefined) {
      const admit = policy.admit;
      wrapped = Object.freeze({
        ...policy,
        admit: (request: R, key: Parameters<typeof admit>[1], principal: Parameters<typeof admit>[2], charge: Parameters<typeof admit>[3], now: number) => {
          const v = typeof request === "object" && request !== null ? this.verifications.get(request) : undefined;
          if (v !== undefined) {
            v.keyId = key.id;
            v.keyMode = key.mode;
            v.limits = charge.limits;
          }
          return admit(request, key, principal, charge, now);
        },
      });
      this.policies.set(policy, wrapped);
    }
    return wrapped as VerifyPolicy<R, A>;
  }

  /** Records a finished verification: its result, or what it threw. */
  private end(v: Verification, result: unknown): void {
    if (v.ended) return;
    v.ended = true;
    const seconds = (performance.now() - v.start) / 1000;
    const refusal = result instanceof KeywardError ? result : null;
    const thrown = refusal === null && result instanceof Error;
    const outcome = refusal !== null ? "refused" : thrown ? "error" : "admitted";
    const attributes = refusal === null ? { [ATTR.outcome]: outcome } : { [ATTR.outcome]: outcome, [ATTR.code]: refusal.code };
    this.metrics.verifications.add(1, attributes);
    this.metrics.verifyDuration.record(seconds, { [ATTR.outcome]: outcome });
    if (v.limits !== null) for (const l of v.limits) this.metrics.limiterDecisions.add(1, { [ATTR.limitPolicy]: l.policy, [ATTR.limitDecision]: "admitted" });
    if (refusal !== null && (refusal.code === "rate_limited" || refusal.code === "quota_exceeded"))
      this.metrics.limiterDecisions.add(1, {
        [ATTR.limitPolicy]: refusal.limits?.at(-1)?.policy ?? (refusal.code === "rate_limited" ? "window" : "monthly"),
        [ATTR.limitDecision]: "refused",
      });
    const span = v.span;
    if (span === null) return;
    span.setAttributes(attributes);
    if (v.keyId !== undefined) span.setAttribute(ATTR.keyId, v.keyId);
    if (typeof v.keyMode === "string") span.setAttribute(ATTR.keyMode, v.keyMode);
    if (thrown || refusal?.code === "store_unavailable")
      span.setStatus({ code: SpanStatusCode.ERROR, message: thrown ? "verification threw" : "store unavailable" });
    span.end();
  }
}
