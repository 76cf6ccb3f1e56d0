/**
 * The one counting store double, used by every suite (core, keys, stores, hostile): wraps a real
 * store, counts calls per method and can make any method throw, hang, lag or reject (`fault`), or
 * throw for its next N calls (`fail`).
 */
import type { KeyStore } from "keyward";

type Method = keyof KeyStore & string;

/** How a wrapped store method misbehaves: throw, hang forever, or answer after a delay (read at call time). */
export type Fault = "throw" | "hang" | { delayMs: number } | { reject: true } | null;

/** A store wrapped so every call is counted and any method can be made to fail, hang or lag. */
export interface CountingStore<S extends KeyStore> {
  store: S;
  /** Calls per method name since the last reset. */
  calls: Record<string, number>;
  /** Calls of `method` since the last reset. */
  count(method: string): number;
  /** Total calls of the methods a request can reach (findByHash, findById, consume, list). */
  reads(): number;
  reset(): void;
  /** Makes `method` misbehave until cleared with `null`. */
  fault(method: Method, fault: Fault): void;
  /** The next `times` calls of `method` throw synchronously ("<method> failed (test)"). */
  fail(method: Method, times?: number): void;
}

/** Wraps `inner` in a Proxy that counts and can sabotage calls; everything else passes through. */
export function countingStore<S extends KeyStore>(inner: S): CountingStore<S> {
  const calls: Record<string, number> = {};
  const faults = new Map<string, Fault>();
  const failures = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        const left = failures.get(prop) ?? 0;
        if (left > 0) {
          failures.set(prop, left - 1);
          throw new Error(`${prop} failed (test)`);
        }
        const fault = faults.get(prop) ?? null;
        if (fault === "throw") throw new Error(`injected ${prop} failure`);
        if (fault === "hang") return new Promise(() => undefined);
        if (fault && "reject" in fault) return Promise.reject(new Error(`injected ${prop} rejection`));
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (fault && "delayMs" in fault) return new Promise((resolve) => setTimeout(() => resolve(result), fault.delayMs));
        return result;
      };
    },
  });
  return {
    store,
    calls,
    count: (method) => calls[method] ?? 0,
    reads: () => (calls.findByHash ?? 0) + (calls.findById ?? 0) + (calls.consume ?? 0) + (calls.list ?? 0),
    reset: () => {
      for (const k of Object.keys(calls)) delete calls[k];
    },
    fault: (method, fault) => {
      if (fault === null) faults.delete(method);
      else faults.set(method, fault);
    },
    fail: (method, times = 1) => {
      failures.set(method, times);
    },
  };
}
