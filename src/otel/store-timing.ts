/**
 * Timed stores for `keyward/otel`: the key store the request path reads (every method, by name)
 * and the charge step (one or two counter-store round trips), each call recorded in the
 * `keyward.store.duration` histogram with its outcome. Used only while instrumented.
 */
import type { Histogram } from "@opentelemetry/api";
import { KeywardError } from "../core/errors.js";
import type { KeyStore, MaybePromise } from "../core/types.js";
import type { ChargeStep } from "../keys/counter-fallback.js";
import { isPromise } from "../keys/store-calls.js";
import { ATTR } from "./names.js";

/** Records `value`'s duration since `start` (ms, `performance.now()`) once it settles; returns it unchanged. */
function timed<T>(histogram: Histogram, start: number, store: string, operation: string, value: MaybePromise<T>, failed: (v: T) => boolean): MaybePromise<T> {
  const record = (outcome: "ok" | "error") =>
    histogram.record((performance.now() - start) / 1000, { [ATTR.store]: store, [ATTR.storeOperation]: operation, [ATTR.storeOutcome]: outcome });
  if (!isPromise(value)) {
    record(failed(value) ? "error" : "ok");
    return value;
  }
  return value.then(
    (v) => {
      record(failed(v) ? "error" : "ok");
      return v;
    },
    (error: unknown) => {
      record("error");
      throw error;
    },
  );
}

/** `store` with every method call timed (a Proxy: methods a store adds later are timed too). */
export function timedKeyStore(store: KeyStore, histogram: Histogram): KeyStore {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== "function" || typeof name !== "string") return value;
      let wrapper = wrappers.get(name);
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => MaybePromise<unknown>;
        wrapper = (...args: unknown[]) => {
          const start = performance.now();
          let result: MaybePromise<unknown>;
          try {
            result = method.apply(target, args);
          } catch (error) {
            histogram.record((performance.now() - start) / 1000, { [ATTR.store]: "keys", [ATTR.storeOperation]: name, [ATTR.storeOutcome]: "error" });
            throw error;
          }
          return timed(histogram, start, "keys", name, result, () => false);
        };
        wrappers.set(name, wrapper);
      }
      return wrapper;
    },
  });
}

/** The charge step with each charge of a metered key timed as a `counters` `charge` (a 503 is an error, a 429 an answer). */
export function timedChargeStep(charger: ChargeStep, histogram: Histogram): ChargeStep {
  const failed = (v: unknown) => v instanceof KeywardError && v.code === "store_unavailable";
  return {
    charge: (key, now, cost) => {
      if (key.meter === null) return charger.charge(key, now, cost); // no counter is touched
      return timed(histogram, performance.now(), "counters", "charge", charger.charge(key, now, cost), failed);
    },
    refund: (charge) => charger.refund(charge),
  };
}
