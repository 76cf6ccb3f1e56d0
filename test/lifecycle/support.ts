/** Helpers for the lifecycle and limits tests: a store wrapper that counts calls, and secret checks. */
import { createHasher, type KeyStore } from "keyward";

/** Wraps a store and counts calls per method; `fail` makes the next calls of a method throw. */
export function countingStore<S extends KeyStore>(inner: S) {
  const calls: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        if (failures[prop]) {
          failures[prop]--;
          throw new Error(`${prop} failed (test)`);
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    store,
    calls,
    count: (method: string) => calls[method] ?? 0,
    /** The next `times` calls of `method` throw synchronously. */
    fail: (method: string, times = 1) => { failures[method] = times; },
  };
}

/** Every substring a leak could show: the secret, its body after the prefix, its hash. */
export function secretTraces(secret: string, pepper?: string): string[] {
  const body = secret.slice(secret.lastIndexOf("_") + 1);
  return [secret, body, body.slice(0, 16), body.slice(-16), createHasher(pepper)(secret)];
}

/** Asserts that no trace of any of `secrets` appears in `JSON.stringify(value)`. */
export function expectNoSecrets(value: unknown, secrets: string[]): void {
  const text = JSON.stringify(value);
  for (const secret of secrets) for (const trace of secretTraces(secret)) expect(text).not.toContain(trace);
}

export const DAY = 86_400_000;
