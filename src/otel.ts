/**
 * keyward/otel: OpenTelemetry metrics and traces for a KeyManager. `instrument(keys)` installs an
 * observer on its verification pipeline (a span per verification carrying the key id, never the
 * secret or its hash; outcomes by code; cache hits and misses; limiter decisions; store latency;
 * counter-store failures) and observable gauges (revocation lag from `keys.stats()`, cache size).
 * `@opentelemetry/api` is an optional peer loaded only by this entry point: `import "keyward"`
 * never loads it, and an uninstrumented manager pays one null check per verification.
 */
import { type Attributes, type MeterProvider, metrics, type ObservableResult, type TracerProvider, trace } from "@opentelemetry/api";
import { KeywardConfigError } from "./core/errors.js";
import type { KeyManager } from "./keys/key-manager.js";
import { ATTR, METRIC } from "./otel/names.js";
import { VerifyTelemetry } from "./otel/observer.js";

export { ATTR, METRIC, SPAN_NAME } from "./otel/names.js";

/** The instrumentation scope name keyward's meter and tracer use. */
const SCOPE = "keyward";

/** Bucket bounds (seconds) for the duration histograms: 10 µs to 5 s. */
const SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Options for {@link instrument}.
 *
 * @example
 * const options: InstrumentOptions = { meterProvider, tracerProvider, traces: false };
 * instrument(keys, options);
 */
export interface InstrumentOptions {
  /** Where metrics go. Defaults to the global provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Where spans go. Defaults to the global provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** `false`: record metrics only, no span per verification. Defaults to true. */
  traces?: boolean;
}

/**
 * Instruments `keys` with OpenTelemetry; returns a function that removes the instrumentation.
 * Every request adapter (`apiKeyAuth`, `fetchAuth`, Hono, the management router) and
 * `keys.verify()` are covered, since they share one pipeline. Instrumenting a manager twice throws.
 *
 * @example
 * import { instrument } from "keyward/otel";
 * const stop = instrument(keys); // the global MeterProvider and TracerProvider
 * // … later, e.g. in tests:
 * stop();
 */
export function instrument(keys: KeyManager, options: InstrumentOptions = {}): () => void {
  const pipeline = keys?.pipeline;
  if (pipeline === undefined) throw new KeywardConfigError("instrument", "pass a KeyManager: instrument(keys)");
  if (pipeline.observed) throw new KeywardConfigError("instrument", "this KeyManager is already instrumented: call the function instrument() returned first");
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const tracer = options.traces === false ? null : (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const seconds = { unit: "s", advice: { explicitBucketBoundaries: SECONDS } };
  const telemetry = new VerifyTelemetry(tracer, {
    verifications: meter.createCounter(METRIC.verifications, { description: "API-key verifications, by outcome and refusal code", unit: "{verification}" }),
    verifyDuration: meter.createHistogram(METRIC.verifyDuration, { description: "Time to verify an API key", ...seconds }),
    cacheLookups: meter.createCounter(METRIC.cacheLookups, { description: "Verification-cache lookups, by hit or miss", unit: "{lookup}" }),
    limiterDecisions: meter.createCounter(METRIC.limiterDecisions, { description: "Rate-limit and quota decisions", unit: "{decision}" }),
    guardRefusals: meter.createCounter(METRIC.guardRefusals, { description: "Refusals by a guard after verification", unit: "{refusal}" }),
    storeDuration: meter.createHistogram(METRIC.storeDuration, { description: "Store calls on the request path", ...seconds }),
  });
  const unavailable = meter.createCounter(METRIC.countersUnavailable, {
    description: "Requests that met a failed counter store, by the route's onStoreError mode",
    unit: "{request}",
  });
  const lag = meter.createObservableGauge(METRIC.revocationLag, { description: "Invalidation propagation lag between instances", unit: "ms" });
  const cacheSize = meter.createObservableGauge(METRIC.cacheSize, { description: "Verification-cache entries", unit: "{entry}" });
  const observeLag = (result: ObservableResult<Attributes>) => {
    const { lagMs } = keys.stats().channel;
    for (const statistic of ["last", "p50", "p99", "max"] as const) {
      const value = lagMs[statistic];
      if (value !== null) result.observe(value, { [ATTR.statistic]: statistic });
    }
  };
  const observeCache = (result: ObservableResult<Attributes>) => {
    const size = keys.cacheSize;
    result.observe(size.keys, { [ATTR.cacheKind]: "keys" });
    result.observe(size.unknown, { [ATTR.cacheKind]: "unknown" });
  };
  lag.addCallback(observeLag);
  cacheSize.addCallback(observeCache);
  pipeline.fallback.onUnavailable = (mode) => unavailable.add(1, { [ATTR.storeErrorMode]: mode });
  pipeline.observe(telemetry);
  return () => {
    pipeline.observe(null);
    pipeline.fallback.onUnavailable = null;
    lag.removeCallback(observeLag);
    cacheSize.removeCallback(observeCache);
  };
}
