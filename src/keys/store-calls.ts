/**
 * StoreCalls: how the KeyManager talks to its store. Start-up (the store's `init()` and the key
 * format claim, retried after a failure), every call bounded by `storeTimeout`, failures turned
 * into `store_unavailable` (fail closed), and the closed state after `close()`.
 */
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import type { SecretHasher } from "../core/hash.js";
import { isKeyId } from "../core/ids.js";
import { type KeyFormat, MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";
import { asStoreUnavailable, notFound, storeUnavailable } from "../core/refusals.js";
import type { CounterStore, KeyFormatRecord, KeyStore, MaybePromise, StoredKey } from "../core/types.js";
import { claimStoreFormat } from "./format-claim.js";

/** Whether `value` is a promise (stores answer synchronously or not). */
export const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> => typeof (v as Promise<T> | null)?.then === "function";

/** `next(value)`, after `value` settles when it is a promise. */
export function after<T, U>(value: MaybePromise<T>, next: (v: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** Store access for one KeyManager. */
export class StoreCalls {
  /** Set by `close()`: verification answers 503 and management calls throw from then on. */
  closed = false;
  /** Whether the store's start-up has finished. */
  initialized = false;
  /** Set when the store records another key format: every later call fails with it (no retry). */
  formatError: KeywardConfigError | null = null;
  private ready: Promise<void> | null = null;

  constructor(
    /** The store (replaced by a timed wrapper while `keyward/otel` instruments the manager). */
    public store: KeyStore,
    private readonly format: KeyFormatRecord,
    readonly timeoutMs: number,
  ) {
    // A synchronous store that records another key format throws here, at construction.
    this.startInit(this.initStore());
  }

  /** Throws once closed; resolves when the store is ready (management calls). */
  init(): Promise<void> | void {
    if (this.closed) throw new KeywardError("store_unavailable", "This KeyManager has been closed.");
    if (!this.initialized)
      return this.whenReady().catch((e: unknown) => {
        throw e instanceof KeywardConfigError ? e : asStoreUnavailable(e);
      });
  }

  /** Resolves once the store is initialized, starting a new attempt after a failed one; bounded by storeTimeout. */
  whenReady(): Promise<void> {
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

  /** A request-path store call: its answer, or `store_unavailable` as a value (never throws). */
  read<T>(call: () => MaybePromise<T>): MaybePromise<T | KeywardError> {
    let result: MaybePromise<T>;
    try {
      result = call();
    } catch (error) {
      return storeUnavailable(error);
    }
    return isPromise(result) ? this.withTimeout(result).catch(storeUnavailable) : result;
  }

  /**
   * The key id `idOrSecret` names: an id as given, or a secret (recognised by its format and
   * checksum) looked up by hash, 404 when no key has it. The secret is never logged or put in an error.
   */
  async idOf(idOrSecret: string, format: KeyFormat, hash: SecretHasher): Promise<string> {
    if (typeof idOrSecret !== "string" || idOrSecret.length > MAX_CREDENTIAL_LENGTH || format.check(idOrSecret) === undefined) return idOrSecret;
    const found = await this.call(() => this.store.findByHash(hash(idOrSecret)));
    if (!found) throw notFound();
    return found.id;
  }

  /** A management-path store call: failures become `store_unavailable` errors (thrown). */
  async call<T>(call: () => MaybePromise<T>): Promise<T> {
    const result = await this.read(call);
    if (result instanceof KeywardError && result.code === "store_unavailable") throw result;
    return result as T;
  }

  /** The record with `id`, or 404 `not_found` (management calls). */
  async mustFind(id: string): Promise<StoredKey> {
    if (!isKeyId(id)) throw notFound();
    const record = await this.call(() => this.store.findById(id));
    if (!record) throw notFound();
    return record;
  }

  /** The record a secret of `format` belongs to (by hash), or null: no store read for a secret of another format. */
  async findBySecret(secret: string, format: KeyFormat, hash: SecretHasher): Promise<StoredKey | null> {
    if (typeof secret !== "string" || secret.length > MAX_CREDENTIAL_LENGTH || format.check(secret) === undefined) return null;
    await this.init();
    return this.call(() => this.store.findByHash(hash(secret)));
  }

  /** One unit of `counter` in `counters` (the new count, or -1 at `limit`); failures are `store_unavailable` (thrown). */
  async consume(counters: CounterStore, counter: string, limit: number, resetAt: number): Promise<number> {
    await this.init();
    return this.call(() => counters.consume(counter, limit, resetAt));
  }

  /** `promise`, rejected after storeTimeout. */
  withTimeout<T>(promise: Promise<T>): Promise<T> {
    const ms = this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`store call timed out after ${ms} ms`)), ms);
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /**
   * The store's `init()`, then the key format: recorded in the database on first use, compared on
   * every later start (a mismatch is a KeywardConfigError naming both formats). Sync for sync stores.
   */
  private initStore(): MaybePromise<void> {
    const claim = () => claimStoreFormat(this.store, { prefix: this.format.prefix, modes: [...this.format.modes] });
    const init = this.store.init?.();
    return isPromise(init) ? init.then(claim) : claim();
  }

  /**
   * Tracks an asynchronous start-up. A failure is observed here (no unhandled rejection) and
   * forgotten, so the next call retries: a store that was down at start-up is picked up when it is back.
   */
  private startInit(init: MaybePromise<void> | undefined): void {
    if (!isPromise(init)) {
      this.initialized = true;
      return;
    }
    const attempt: Promise<void> = init.then(
      () => {
        this.initialized = true;
      },
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
}
