/**
 * GitHub's secret scanning public keys, fetched from the documented meta URL and cached: a report
 * signed with a key identifier the cache does not hold triggers one refetch (key rotation), at most
 * one per refetch interval whoever asks (so forged identifiers cannot make us hammer GitHub), and
 * concurrent misses share one fetch. A list older than its maximum age is refreshed on the next
 * report; if that refresh fails the old list is kept (every key in it is one GitHub published). With
 * no list at all the source answers `"unavailable"`, and the endpoint refuses (fails closed).
 */
import { createPublicKey, type KeyObject } from "node:crypto";

/** Where GitHub publishes its secret scanning public keys (`{ public_keys: [{ key_identifier, key, is_current }] }`). */
export const GITHUB_PUBLIC_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";

/** How long one fetch of the key list may take. */
const FETCH_TIMEOUT_MS = 10_000;
/** Longest key identifier or PEM key accepted from the list. */
const MAX_FIELD_LENGTH = 4096;

/**
 * The fetch function `secretScanning()` uses to get GitHub's public keys: the global `fetch`
 * fits, and so does a wrapper adding an `Authorization` header (GitHub's meta API allows more
 * requests to authenticated callers).
 *
 * @example
 * const fetchWithToken: PublicKeysFetch = (url, init) =>
 *   fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${process.env.GITHUB_TOKEN}` } });
 */
export type PublicKeysFetch = (
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
) => Promise<{
  /** Whether the status is 2xx. */ ok: boolean;
  /** The HTTP status. */ status: number;
  /** The parsed JSON body. */ json(): Promise<unknown>;
}>;

/** One cached key list and when it was fetched (by the KeyManager's clock). */
interface KeyList {
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly fetchedAt: number;
}

/** A cached, self-refreshing copy of GitHub's key list for one `secretScanning()` endpoint. */
export class GitHubKeySource {
  private list: KeyList | null = null;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly fetchFn: PublicKeysFetch,
    private readonly refetchMs: number,
    private readonly maxAgeMs: number,
    private readonly clock: () => number,
  ) {}

  /**
   * The key named `identifier`; null when the list (refetched first if allowed) does not have it;
   * `"unavailable"` when no list could be fetched.
   */
  async find(identifier: string): Promise<KeyObject | null | "unavailable"> {
    const now = this.clock();
    let key = this.list?.keys.get(identifier);
    const stale = this.list === null || now - this.list.fetchedAt >= this.maxAgeMs;
    if ((key === undefined || stale) && (this.inflight !== null || now - this.attemptedAt >= this.refetchMs)) {
      await this.refresh(now);
      key = this.list?.keys.get(identifier);
    }
    if (this.list === null) return "unavailable";
    return key ?? null;
  }

  /** Seconds until the next fetch may start (for `Retry-After`), at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.attemptedAt + this.refetchMs - this.clock()) / 1000));
  }

  /** One fetch at a time; a failure keeps the previous list (or none). */
  private refresh(now: number): Promise<void> {
    if (this.inflight === null) {
      this.attemptedAt = now;
      this.inflight = this.load()
        .then(
          (keys) => {
            this.list = { keys, fetchedAt: this.clock() };
          },
          () => undefined,
        )
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  private async load(): Promise<ReadonlyMap<string, KeyObject>> {
    const response = await this.fetchFn(this.url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GitHub's public keys answered ${response.status}`);
    return parseKeyList(await response.json());
  }
}

/**
 * The usable P-256 keys of a `{ public_keys: [...] }` document by identifier; entries that are not
 * P-256 public keys are skipped; a document that is not a key list, or has no usable key, throws.
 */
export function parseKeyList(document: unknown): ReadonlyMap<string, KeyObject> {
  const entries = (document as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(entries)) throw new Error("not a { public_keys: [...] } document");
  const keys = new Map<string, KeyObject>();
  for (const entry of entries) {
    const { key_identifier: id, key } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== "string" || typeof key !== "string" || id.length === 0 || id.length > MAX_FIELD_LENGTH || key.length > MAX_FIELD_LENGTH) continue;
    const parsed = p256Key(key);
    if (parsed) keys.set(id, parsed);
  }
  if (keys.size === 0) throw new Error("no usable public key in the list");
  return keys;
}

function p256Key(pem: string): KeyObject | null {
  try {
    const key = createPublicKey(pem);
    return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1" ? key : null;
  } catch {
    return null;
  }
}
