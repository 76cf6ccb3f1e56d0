/**
 * A store that throws on demand, to prove the middleware fails closed. (The store that counts
 * calls is test/counting-store.ts.)
 */
import type { KeyStore } from "keyward";

const METHODS = [
  "init",
  "insert",
  "findByHash",
  "findById",
  "list",
  "update",
  "revoke",
  "rotate",
  "recordUsage",
  "usage",
  "consume",
  "refund",
  "close",
] as const;

/** Forwards to `inner` until `broken` is set; then every call throws (or rejects, when `async`). */
export class FlakyStore implements KeyStore {
  broken = false;
  constructor(
    inner: KeyStore,
    readonly mode: "sync" | "async" = "sync",
  ) {
    for (const m of METHODS) {
      const original = (inner as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[m];
      if (typeof original !== "function") continue;
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
        if (this.broken) {
          const error = new Error("ECONNREFUSED 10.0.0.5:5432 (db password=hunter2)");
          if (this.mode === "async") return Promise.reject(error);
          throw error;
        }
        const out = original.apply(inner, args);
        return this.mode === "async" ? Promise.resolve(out) : out;
      };
    }
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
