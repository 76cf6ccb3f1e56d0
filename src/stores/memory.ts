/**
 * MemoryStore: keys, counters and usage in this process's memory. For tests, examples and
 * single-process apps that can lose their keys on restart. Every method is synchronous.
 */
import { copyKey, holdsPlace, keyStatus, pageSize } from "../core/status.js";
import type { CounterTake, KeyFilter, KeyFormatRecord, KeyPatch, KeyStore, RotationChange, ScopeUseTotal, StoredKey, UsageDelta } from "../core/types.js";
import { concealInternals } from "../core/conceal.js";
import { MemoryCounters } from "../core/memory-counters.js";

/**
 * An in-memory {@link KeyStore}.
 *
 * @example
 * const keys = new KeyManager({ store: new MemoryStore() });
 */
export class MemoryStore implements KeyStore {
  private readonly byId = new Map<string, StoredKey>();
  private readonly idByHash = new Map<string, string>();
  /** Rate-limit, quota and credit counters (the CounterStore methods below delegate to them). */
  private readonly counters = new MemoryCounters();
  private readonly daily = new Map<string, Map<number, number>>();
  /** Scope uses by key id, then `<day>:<scope>`. */
  private readonly scopeDaily = new Map<string, Map<string, ScopeUseTotal & { day: number }>>();
  private format: KeyFormatRecord | null = null;
  private readonly notices = new Set<string>();

  keyFormat(): KeyFormatRecord | null {
    return this.format === null ? null : { prefix: this.format.prefix, modes: [...this.format.modes] };
  }

  claimKeyFormat(format: KeyFormatRecord): KeyFormatRecord {
    if (this.format === null) this.format = { prefix: format.prefix, modes: [...format.modes] };
    return this.keyFormat()!;
  }

  /** Records a lifecycle notice once: true for the first claim of these four values. */
  claimNotice(keyId: string, kind: string, threshold: string, period: string): boolean {
    const id = JSON.stringify([keyId, kind, threshold, period]);
    if (this.notices.has(id)) return false;
    this.notices.add(id);
    return true;
  }

  insert(key: StoredKey, cap?: { max: number; now: number }): boolean {
    if (this.byId.has(key.id) || this.idByHash.has(key.hash)) throw new Error("duplicate key id or hash");
    if (cap) {
      let active = 0;
      for (const k of this.byId.values()) if (k.ownerId === key.ownerId && holdsPlace(k, cap.now) && !this.hasActiveSuccessor(k, cap.now)) active++;
      if (active >= cap.max) return false;
    }
    this.byId.set(key.id, copyKey(key));
    this.idByHash.set(key.hash, key.id);
    return true;
  }

  /** A key in its rotation overlap counts through its successor: one lineage, one key. */
  private hasActiveSuccessor(key: StoredKey, now: number): boolean {
    const successor = key.rotatedTo === null ? undefined : this.byId.get(key.rotatedTo);
    return successor !== undefined && holdsPlace(successor, now);
  }

  findByHash(hash: string): StoredKey | null {
    const id = this.idByHash.get(hash);
    return id === undefined ? null : this.findById(id);
  }

  findById(id: string): StoredKey | null {
    const key = this.byId.get(id);
    return key ? copyKey(key) : null;
  }

  list(filter: KeyFilter): StoredKey[] {
    const now = filter.now ?? Date.now();
    const out: StoredKey[] = [];
    const ids = [...this.byId.keys()].sort().reverse();
    const limit = pageSize(filter.limit);
    for (const id of ids) {
      if (filter.before !== undefined && !(id < filter.before)) continue;
      const k = this.byId.get(id)!;
      if (filter.ownerId !== undefined && k.ownerId !== filter.ownerId) continue;
      if (filter.mode !== undefined && k.mode !== filter.mode) continue;
      if (filter.kind !== undefined && k.kind !== filter.kind) continue;
      if (filter.projectId !== undefined && !matchesProject(k, filter.projectId)) continue;
      if (filter.status !== undefined && keyStatus(k, now) !== filter.status) continue;
      out.push(copyKey(k));
      if (out.length >= limit) break;
    }
    return out;
  }

  update(id: string, patch: KeyPatch): StoredKey | null {
    const key = this.byId.get(id);
    if (!key) return null;
    if (patch.name !== undefined) key.name = patch.name;
    if (patch.scopes !== undefined) key.scopes = [...patch.scopes];
    if (patch.metadata !== undefined) key.metadata = structuredClone(patch.metadata);
    if (patch.expiresAt !== undefined) key.expiresAt = patch.expiresAt;
    if (patch.allowedIps !== undefined) key.allowedIps = [...patch.allowedIps];
    if (patch.disabledAt !== undefined) key.disabledAt = patch.disabledAt;
    if (patch.credits !== undefined) key.credits = patch.credits && structuredClone(patch.credits);
    return copyKey(key);
  }

  revoke(id: string, at: number): StoredKey | null {
    const key = this.byId.get(id);
    if (!key) return null;
    if (key.revokedAt === null) key.revokedAt = at;
    return copyKey(key);
  }

  rotate(oldId: string, successor: StoredKey, change: RotationChange): boolean {
    const old = this.byId.get(oldId);
    if (!old || old.revokedAt !== null || old.rotatedTo !== null) return false;
    this.insert(successor);
    old.rotatedTo = successor.id;
    if (change.expiresAt !== undefined) old.expiresAt = old.expiresAt === null ? change.expiresAt : Math.min(old.expiresAt, change.expiresAt);
    if (change.revokedAt !== undefined) old.revokedAt = change.revokedAt;
    const predecessor = old.rotatedFrom === null ? undefined : this.byId.get(old.rotatedFrom);
    if (change.endPredecessorAt !== undefined && predecessor !== undefined && predecessor.revokedAt === null) {
      const at = change.endPredecessorAt;
      if (predecessor.expiresAt === null || predecessor.expiresAt > at) predecessor.expiresAt = at;
    }
    return true;
  }

  recordUsage(batch: UsageDelta[]): void {
    for (const delta of batch) {
      const key = this.byId.get(delta.id);
      if (!key) continue;
      key.requestCount += delta.count;
      if (key.lastUsedAt === null || delta.lastUsedAt > key.lastUsedAt) key.lastUsedAt = delta.lastUsedAt;
      let days = this.daily.get(delta.id);
      if (!days) this.daily.set(delta.id, (days = new Map()));
      for (const [day, count] of delta.days) days.set(day, (days.get(day) ?? 0) + count);
      if (delta.scopes?.length) this.addScopeUse(delta.id, delta.scopes);
    }
  }

  private addScopeUse(id: string, rows: NonNullable<UsageDelta["scopes"]>): void {
    let uses = this.scopeDaily.get(id);
    if (!uses) this.scopeDaily.set(id, (uses = new Map()));
    for (const { scope, day, count, lastUsedAt } of rows) {
      const at = `${day}:${scope}`;
      const entry = uses.get(at);
      if (entry === undefined) uses.set(at, { scope, day, count, lastUsedAt });
      else {
        entry.count += count;
        if (lastUsedAt > entry.lastUsedAt) entry.lastUsedAt = lastUsedAt;
      }
    }
  }

  scopeUsage(id: string, fromDay: number, toDay: number): ScopeUseTotal[] {
    const totals = new Map<string, ScopeUseTotal>();
    for (const entry of this.scopeDaily.get(id)?.values() ?? []) {
      if (entry.day < fromDay || entry.day > toDay) continue;
      const total = totals.get(entry.scope);
      if (total === undefined) totals.set(entry.scope, { scope: entry.scope, count: entry.count, lastUsedAt: entry.lastUsedAt });
      else {
        total.count += entry.count;
        if (entry.lastUsedAt > total.lastUsedAt) total.lastUsedAt = entry.lastUsedAt;
      }
    }
    return [...totals.values()].sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
  }

  usage(id: string, fromDay: number, toDay: number): Array<[number, number]> {
    const days = this.daily.get(id);
    if (!days) return [];
    return [...days].filter(([day]) => day >= fromDay && day <= toDay).sort((a, b) => a[0] - b[0]);
  }

  consume(counter: string, limit: number, resetAt: number): number {
    return this.counters.consume(counter, limit, resetAt);
  }

  refund(counter: string): void {
    this.counters.refund(counter);
  }

  /** Takes every `takes[i].units` when all stay within their limits, else nothing (see {@link CounterStore.consumeAll}). */
  consumeAll(takes: readonly CounterTake[]): number[] {
    return this.counters.consumeAll(takes);
  }

  /** Gives back `takes[i].units` of each counter (never below zero). */
  refundAll(takes: readonly CounterTake[]): void {
    this.counters.refundAll(takes);
  }

  /** The counter's count now (0 when absent). */
  count(counter: string): number {
    return this.counters.count(counter);
  }

  /** Drops counters whose window has ended (the KeyManager calls this once a minute with its clock). */
  prune(now: number): void {
    this.counters.prune(now);
  }
}

/** Whether key `k` may act on `projectId` (bound to it, allow-lists it, or has an empty allow-list). */
export function matchesProject(k: Pick<StoredKey, "kind" | "projectId" | "projects">, projectId: string): boolean {
  if (k.kind === "project") return k.projectId === projectId;
  return k.projects.length === 0 || k.projects.includes(projectId);
}

concealInternals(MemoryStore, (store) => ({ keys: store["byId"].size }));
