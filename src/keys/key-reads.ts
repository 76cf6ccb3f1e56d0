/**
 * KeyReads: the KeyManager's read operations (a key by id or by secret, a page of keys, daily
 * usage, scope usage), each answering public views with buffered usage and credits left folded in.
 */
import { isKeyId } from "../core/ids.js";
import type { KeyFormat } from "../core/key-format.js";
import { pageSize } from "../core/status.js";
import type { ApiKey, DailyUsage, KeyFilter, StoredKey } from "../core/types.js";
import { withCredits } from "./credits.js";
import { keyView, usageSeries } from "./key-view.js";
import { checkModeFilter } from "./new-key.js";
import type { ManagerConfig } from "./options.js";
import type { KeyPage } from "./results.js";
import { type ScopeUsage, scopeUsage } from "./scope-usage.js";
import type { StoreCalls } from "./store-calls.js";
import type { UsageRecorder } from "./usage-recorder.js";

/** Reads keys and their usage from the store, as views. */
export class KeyReads {
  constructor(
    private readonly config: ManagerConfig,
    private readonly format: KeyFormat,
    private readonly store: StoreCalls,
    private readonly recorder: UsageRecorder | null,
  ) {}

  /** A key by id, or null (a malformed id reads nothing). */
  async get(id: string): Promise<ApiKey | null> {
    if (!isKeyId(id)) return null;
    await this.store.init();
    const record = await this.store.call(() => this.config.store.findById(id));
    return record ? (await this.view(record))[0]! : null;
  }

  /** The key a secret belongs to, or null for a look-alike (no store read) or an unknown secret. */
  async findBySecret(secret: string): Promise<ApiKey | null> {
    const record = await this.store.findBySecret(secret, this.format, this.config.hash);
    return record ? (await this.view(record))[0]! : null;
  }

  /** One page of keys matching `filter`, newest first. */
  async list(filter: Omit<KeyFilter, "now">): Promise<KeyPage> {
    checkModeFilter(this.format, filter.mode);
    await this.store.init();
    const limit = pageSize(filter.limit);
    const records = await this.store.call(() => this.config.store.list({ ...filter, limit, now: this.config.clock() }));
    return { keys: await this.view(...records), next: records.length === limit ? records[records.length - 1]!.id : null };
  }

  /** Requests per UTC day for the last `days` days, unflushed usage included. */
  async usage(id: string, days: number): Promise<DailyUsage[]> {
    await this.store.init();
    await this.store.mustFind(id);
    const pending = this.recorder?.pending(id).days;
    return usageSeries((from, to) => this.store.call(() => this.config.store.usage(id, from, to)), pending, days, this.config.clock());
  }

  /** Used and never-used scopes of a key over the last `days` days. */
  scopeUsage(id: string, days: number): Promise<ScopeUsage> {
    return scopeUsage(this.store, this.recorder, this.config, id, days, this.config.clock());
  }

  /** The views of `records`, with the credits left now (read from the counter store for keys with credits). */
  view(...records: StoredKey[]): Promise<ApiKey[]> {
    const now = this.config.clock();
    return withCredits(
      records.map((r) => keyView(r, this.recorder, now)),
      records,
      this.config.counters,
      now,
    );
  }
}
