/**
 * Store wrappers for the core tests: one that counts calls per method (to prove a store was or
 * was not read), one that throws on demand (to prove the middleware fails closed).
 */
import type { KeyStore } from "keyward";

const METHODS = ["init", "insert", "findByHash", "findById", "list", "update", "revoke", "rotate", "recordUsage", "usage", "consume", "refund", "close"] as const;
type Method = (typeof METHODS)[number];

/** Forwards every call to `inner`, counting calls per method name in `calls`. */
export class CountingStore implements KeyStore {
  calls: Partial<Record<Method, number>> = {};
  constructor(private readonly inner: KeyStore) {
    for (const m of METHODS) {
      const original = (inner as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[m];
      if (typeof original !== "function") continue;
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
        this.calls[m] = (this.calls[m] ?? 0) + 1;
        return original.apply(inner, args);
      };
    }
  }
  reset(): void {
    this.calls = {};
  }
  declare insert: KeyStore["insert"];
  declare findByHash: KeyStore["findByHash"];
  declare findById: KeyStore["findById"];
  declare list: KeyStore["list"];
  declare update: KeyStore["update"];
  declare revoke: KeyStore["revoke"];
  declare rotate: KeyStore["rotate"];
  declare recordUsage: KeyStore["recordUsage"];
  declare usage: KeyStore["usage"];
  declare consume: KeyStore["consume"];
  declare refund: KeyStore["refund"];
}

/** Forwards to `inner` until `broken` is set; then every call throws (or rejects, when `async`). */
export class FlakyStore extends CountingStore {
  broken = false;
  constructor(inner: KeyStore, readonly mode: "sync" | "async" = "sync") {
    super(inner);
    for (const m of METHODS) {
      const forward = (this as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[m];
      if (typeof forward !== "function") continue;
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
        if (this.broken) {
          const error = new Error("ECONNREFUSED 10.0.0.5:5432 (db password=hunter2)");
          if (this.mode === "async") return Promise.reject(error);
          throw error;
        }
        const out = forward(...args);
        return this.mode === "async" ? Promise.resolve(out) : out;
      };
    }
  }
}
