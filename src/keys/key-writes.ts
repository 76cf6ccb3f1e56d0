/**
 * KeyWrites: the write side of key management. Each write (create, revoke, rotate, and the
 * patches behind update, disable and enable) goes to the store in one atomic step, then drops the
 * changed keys from this process's cache, announces them to the invalidation channels and emits
 * its `key.*` event; it answers the public view of the result.
 */
import { KeywardError } from "../core/errors.js";
import type { KeyFormat } from "../core/key-format.js";
import { keyLimitReached, notFound } from "../core/refusals.js";
import type { ApiKey, KeyPatch, StoredKey } from "../core/types.js";
import { tierFor } from "./authenticator.js";
import type { EventSink } from "./event-sink.js";
import type { KeyEvent } from "./events.js";
import type { CreateKeyInput } from "./inputs.js";
import type { InvalidationHub } from "./invalidation-hub.js";
import { newKey, planRotation } from "./new-key.js";
import type { ManagerConfig } from "./options.js";
import type { CreatedKey, RotatedKey, RotateOptions } from "./results.js";
import type { StoreCalls } from "./store-calls.js";

/** One KeyManager's writes. */
export class KeyWrites {
  constructor(
    private readonly config: ManagerConfig,
    private readonly format: KeyFormat,
    private readonly store: StoreCalls,
    private readonly invalidation: InvalidationHub,
    private readonly events: EventSink,
    private readonly view: (record: StoredKey) => Promise<ApiKey>,
  ) {}

  /** A new key within the owner's `maxActiveKeys` (403 `key_limit_reached` beyond it). */
  async create(input: CreateKeyInput): Promise<CreatedKey> {
    await this.store.init();
    const now = this.config.clock();
    const { secret, record } = newKey(this.config, this.format, this.config.hash, input, now);
    const max = (await this.store.call(() => tierFor(this.config, record)))?.maxActiveKeys ?? null;
    if (!(await this.store.call(() => this.config.store.insert(record, max === null ? undefined : { max, now })))) throw keyLimitReached(max!);
    this.invalidation.changed(record, false);
    this.emitKey("key.created", record);
    return { secret, key: await this.view(record) };
  }

  /** Revokes the key with this id or secret (idempotent: the event only the first time). */
  async revoke(idOrSecret: string): Promise<ApiKey> {
    await this.store.init();
    const now = this.config.clock();
    const id = await this.store.idOf(idOrSecret, this.format, this.config.hash);
    const before = await this.store.mustFind(id);
    const revoked = await this.store.call(() => this.config.store.revoke(id, now));
    if (!revoked) throw notFound();
    this.invalidation.changed(revoked);
    if (before.revokedAt === null) this.emitKey("key.revoked", revoked);
    return await this.view(revoked);
  }

  /** Issues a successor (see `planRotation`); the old key, its predecessor and the successor leave every cache. */
  async rotate(id: string, options: RotateOptions): Promise<RotatedKey> {
    await this.store.init();
    const now = this.config.clock();
    const old = await this.store.mustFind(id);
    const { secret, successor, change, revokesNow } = planRotation(this.config, this.format, this.config.hash, old, options, now);
    const rotated = await this.store.call(() => this.config.store.rotate(old.id, successor, change));
    if (!rotated) throw new KeywardError("conflict", "This key has already been rotated or revoked.");
    this.invalidation.changed(successor, false);
    this.invalidation.changed(old);
    if (old.rotatedFrom !== null) this.invalidation.changed({ id: old.rotatedFrom, hash: null });
    const previous = await this.store.mustFind(old.id);
    this.events.emit({
      type: "key.rotated",
      at: new Date(now),
      keyId: old.id,
      ownerId: old.ownerId,
      name: old.name,
      mode: old.mode,
      successorId: successor.id,
    });
    if (revokesNow) this.emitKey("key.revoked", previous);
    return { secret, key: await this.view(successor), previous: await this.view(previous) };
  }

  /** Applies `plan(existing)` (null: nothing to change) and emits `type`. */
  async change(id: string, type: KeyEvent["type"], plan: (existing: StoredKey) => KeyPatch | null): Promise<ApiKey> {
    await this.store.init();
    const existing = await this.store.mustFind(id);
    const patch = plan(existing);
    if (patch === null) return await this.view(existing);
    const updated = await this.store.call(() => this.config.store.update(id, patch));
    if (!updated) throw notFound();
    this.invalidation.changed(updated);
    this.emitKey(type, updated);
    return await this.view(updated);
  }

  private emitKey(type: KeyEvent["type"], record: StoredKey): void {
    this.events.emit({ type, at: new Date(this.config.clock()), keyId: record.id, ownerId: record.ownerId, name: record.name, mode: record.mode });
  }
}
