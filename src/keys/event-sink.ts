/**
 * EventSink: delivers audit events to the app's `onEvent` (never throwing into a request), samples
 * `auth.succeeded`, and builds the `auth.*` events the same way for every caller.
 */
import type { KeywardError } from "../core/errors.js";
import type { KeywardEvent, RequestInfo } from "./events.js";

/** One KeyManager's event delivery. */
export class EventSink {
  constructor(
    private readonly sink: ((event: KeywardEvent) => void) | undefined,
    private readonly successRate: number,
    private readonly clock: () => number,
  ) {}

  /** Whether anyone listens. */
  get active(): boolean {
    return this.sink !== undefined;
  }

  /** Sends `event` (a failing sink is ignored: an audit sink must not break requests). */
  emit(event: KeywardEvent): void {
    const sink = this.sink;
    if (!sink) return;
    try {
      sink(event);
    } catch {
      /* ignored */
    }
  }

  /** Whether this request's `auth.succeeded` is reported (the `sampleAuthSucceeded` fraction). */
  sampleSuccess(): boolean {
    const rate = this.successRate;
    return rate > 0 && (rate >= 1 || Math.random() < rate);
  }

  /** `auth.failed` for a refusal, with the key when it was identified. */
  authFailed(error: KeywardError, keyId: string | undefined, info: RequestInfo): void {
    const id = keyId ?? error.keyId;
    this.emit({ type: "auth.failed", at: new Date(this.clock()), code: error.code, ...(id ? { keyId: id } : {}), ...info });
  }

  /** `auth.succeeded` for an admitted request at `now`. */
  authSucceeded(key: { readonly id: string; readonly ownerId: string | null; readonly mode: string | null }, now: number, info: RequestInfo): void {
    this.emit({ type: "auth.succeeded", at: new Date(now), keyId: key.id, ownerId: key.ownerId, mode: key.mode, ...info });
  }
}
