/**
 * Freshness: the revocation bound. A cache entry older than `maxStaleness` is served only while an
 * invalidation channel vouches for the cache: this instance has heard, within ⅔ of the bound, a
 * message (heartbeat or invalidation) sent by itself and by every instance it has heard on the
 * channel (send times from the senders' timestamps, so clocks must agree to well within the bound;
 * a sender whose clock lags looks silent, which is safe). Each instance publishes a heartbeat every `maxStaleness / 3` on one ordered queue, so a
 * heartbeat heard means every invalidation its sender published before it was heard too. While
 * nothing vouches, such entries are re-read from the store (fail to the store, never open). The
 * vouch is one number the cache compares (`VerifyCache.vouchedUntil`); when it begins again after
 * a silence, the whole cache is dropped, since invalidations may have been lost meanwhile. It also
 * measures propagation lag from the senders' timestamps.
 */
import type { ChannelLink, ChannelPeer } from "../core/invalidation.js";
import type { KeywardEvent } from "./events.js";
import type { ChannelStats } from "./results.js";
import type { VerifyCache } from "./verify-cache.js";

/** Peers remembered per channel at most (a flood of made-up origins cannot grow memory). */
const MAX_PEERS = 1024;
/** Lag samples kept for the percentiles. */
const LAG_SAMPLES = 512;

/** One attached channel: when it last heard each origin (its own included), by the manager's clock. */
interface Link {
  readonly peer: ChannelPeer;
  readonly heardAt: Map<string, number>;
  connected: boolean;
  /** Heartbeats pause until then (after a failed publish). */
  quietUntil: number;
}

/** The channel-health tracker of one KeyManager. */
export class Freshness {
  private readonly links = new Set<Link>();
  private timer: NodeJS.Timeout | null = null;
  private state: "none" | "healthy" | "silent" = "none";
  private silentSince = 0;
  private readonly lags = new Float64Array(LAG_SAMPLES);
  private lagCount = 0;
  private lastLag: number | null = null;
  /** A peer silent this long (ms) is forgotten (it crashed without saying goodbye). */
  private readonly forgetMs: number;
  /** Silence longer than this (ms) ends the vouch: ⅔ of the bound, a third left for the message to travel. */
  private readonly silentAfterMs: number;
  private readonly heartbeatMs: number;

  constructor(
    private readonly cache: Pick<VerifyCache<never>, "vouchedUntil" | "clear">,
    private readonly maxStalenessMs: number,
    private readonly clock: () => number,
    private readonly emit: (event: KeywardEvent) => void,
  ) {
    this.heartbeatMs = Math.max(5, Math.floor(maxStalenessMs / 3));
    this.silentAfterMs = maxStalenessMs - this.heartbeatMs;
    this.forgetMs = Math.max(60_000, 10 * maxStalenessMs);
  }

  /** Attaches a channel; its heartbeats start at once. */
  attach(peer: ChannelPeer): ChannelLink {
    const link: Link = { peer, heardAt: new Map([[peer.origin, -Infinity]]), connected: true, quietUntil: 0 };
    this.links.add(link);
    this.recompute(this.clock());
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.heartbeatMs);
      this.timer.unref();
    }
    this.beat(link, this.clock());
    return {
      heard: (origin, sentAt) => this.heard(link, origin, sentAt),
      left: (origin) => {
        if (origin !== peer.origin && link.heardAt.delete(origin)) this.recompute(this.clock());
      },
      lost: () => {
        link.connected = false;
        this.recompute(this.clock());
      },
      publishFailed: () => {
        link.quietUntil = this.clock() + this.maxStalenessMs;
      },
      close: () => {
        if (!this.links.delete(link)) return;
        if (this.links.size === 0 && this.timer !== null) {
          clearInterval(this.timer);
          this.timer = null;
        }
        if (this.links.size === 0) this.state = "none"; // closing the last channel is no silence
        this.recompute(this.clock());
      },
    };
  }

  /** Channel health and measured lag. */
  stats(): ChannelStats {
    const n = Math.min(this.lagCount, LAG_SAMPLES);
    const sorted = Array.from(this.lags.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => (n === 0 ? null : sorted[Math.min(n - 1, Math.floor(q * n))]!);
    const vouchedUntil = this.cache.vouchedUntil;
    return {
      state: this.links.size === 0 ? "none" : this.clock() < vouchedUntil ? "healthy" : "silent",
      maxStalenessMs: this.maxStalenessMs,
      vouchedUntil: Number.isFinite(vouchedUntil) ? new Date(vouchedUntil) : null,
      lagMs: { last: this.lastLag, p50: at(0.5), p99: at(0.99), max: n === 0 ? null : sorted[n - 1]!, samples: this.lagCount },
    };
  }

  private heard(link: Link, origin: string, sentAt: number | null): void {
    if (sentAt === null || !this.links.has(link)) return; // an older sender without heartbeats vouches for nothing
    const lag = Date.now() - sentAt;
    this.lastLag = lag;
    this.lags[this.lagCount++ % LAG_SAMPLES] = lag;
    if (!link.heardAt.has(origin) && link.heardAt.size >= MAX_PEERS) return;
    // When it was sent, on our clock (the sender's clock ahead of ours counts as sent on arrival): a
    // heartbeat held up in a queue vouches from when it left, not from when it arrived.
    const now = this.clock();
    link.heardAt.set(origin, now - Math.max(0, lag));
    link.connected = true;
    this.recompute(now);
  }

  /** Sets the cache's vouch: the earliest silence deadline over every link and origin. */
  private recompute(now: number): void {
    let until = this.links.size === 0 ? -Infinity : Infinity;
    for (const link of this.links) {
      if (!link.connected) until = -Infinity;
      for (const [origin, at] of link.heardAt) {
        if (origin !== link.peer.origin && now - at > this.forgetMs) link.heardAt.delete(origin);
        else until = Math.min(until, at + this.silentAfterMs);
      }
    }
    const before = this.cache.vouchedUntil;
    if (now >= before && now < until) {
      // The vouch begins (again): what was published while nothing vouched may be lost.
      this.cache.clear();
      if (this.state === "silent") this.emit({ type: "cache.channel_restored", at: new Date(now), silentMs: now - this.silentSince });
      this.state = "healthy";
    }
    this.cache.vouchedUntil = until;
    if (now >= until) this.goSilent(now);
  }

  private goSilent(now: number): void {
    if (this.state !== "healthy") return;
    this.state = "silent";
    this.silentSince = now;
    this.emit({ type: "cache.channel_silent", at: new Date(now), maxStalenessMs: this.maxStalenessMs });
  }

  private tick(): void {
    const now = this.clock();
    for (const link of this.links) this.beat(link, now);
    if (now >= this.cache.vouchedUntil) this.recompute(now); // forgets crashed peers, reports the silence
  }

  private beat(link: Link, now: number): void {
    if (now < link.quietUntil) return;
    try {
      link.peer.heartbeat();
    } catch {
      link.quietUntil = now + this.maxStalenessMs;
    }
  }
}
