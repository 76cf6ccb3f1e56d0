/**
 * The revocation bound's vouching rules, in one process on a test clock, through the interface the
 * Redis and Postgres channels use (`keys.invalidation.attach`): an entry older than maxStaleness is
 * served only while this instance and every peer it heard were heard within ⅔ of the bound; a
 * silent peer or a dropped connection ends the vouch; the vouch beginning again drops the cache;
 * a goodbye forgets a peer. Also: the message format stays readable by older instances.
 */
import { KeyManager, MemoryStore, type KeywardEvent } from "keyward";
import { formatInvalidation, parseInvalidation } from "../../src/core/invalidation";
import { countingStore } from "../counting-store";
import { TestClock } from "../helpers";

function setup() {
  const counted = countingStore(new MemoryStore());
  const clock = new TestClock();
  const events: KeywardEvent[] = [];
  const keys = new KeyManager({
    store: counted.store,
    clock: clock.now,
    usage: false,
    cache: { ttl: "60s" },
    maxStaleness: "3s",
    onEvent: (e) => events.push(e),
  });
  let beats = 0;
  const link = keys.invalidation.attach({ origin: "self", heartbeat: () => beats++ });
  return { keys, clock, events, link, reads: () => counted.count("findByHash"), beats: () => beats };
}

describe("revocation bound: when a channel vouches for the cache", () => {
  it("serves entries older than maxStaleness only while the channel is heard, re-reads them when it is silent, and reports both", async () => {
    const { keys, clock, events, link, reads, beats } = setup();
    expect(beats()).toBe(1); // the first heartbeat goes out on attach
    const { secret } = await keys.create({ name: "k" });
    link.heard("self", Date.now()); // our own heartbeat came back: the channel vouches
    expect(keys.stats().channel.state).toBe("healthy");
    await keys.verify(secret);
    expect(reads()).toBe(1);
    for (let i = 0; i < 5; i++) {
      clock.advance(1500); // 7.5 s in all, past the 3 s bound, heard every 1.5 s
      link.heard("self", Date.now());
      expect((await keys.verify(secret)).ok).toBe(true);
    }
    expect(reads()).toBe(1); // vouched: served from the cache all along

    clock.advance(2001); // silent for more than ⅔ of the bound
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(reads()).toBe(2); // re-read from the store
    expect(keys.stats().channel.state).toBe("silent");
    link.lost(); // the tracker notices on its next tick or at once on a dropped connection
    expect(events.map((e) => e.type)).toContain("cache.channel_silent");

    clock.advance(500);
    link.heard("self", Date.now());
    expect(events.at(-1)).toMatchObject({ type: "cache.channel_restored", silentMs: 500 });
    expect(keys.cacheSize.keys).toBe(0); // dropped: invalidations may have been lost meanwhile
    link.close();
    await keys.close();
  });

  it("a peer that goes silent ends the vouch even while this instance hears itself; its goodbye does not", async () => {
    const { keys, clock, link, reads } = setup();
    const { secret } = await keys.create({ name: "k" });
    link.heard("self", Date.now());
    link.heard("peer", Date.now());
    await keys.verify(secret);
    clock.advance(1900);
    link.heard("self", Date.now()); // the peer's publishes fail: only we are heard
    clock.advance(1900);
    link.heard("self", Date.now());
    expect((await keys.verify(secret)).ok).toBe(true);
    expect(reads()).toBe(2); // the entry was 3.8 s old and the peer silent for 3.8 s: re-read
    link.heard("peer", Date.now());
    link.left("peer"); // a clean shutdown
    clock.advance(10_000);
    link.heard("self", Date.now());
    await keys.verify(secret);
    expect(reads()).toBe(3); // the vouch restarted when the peer was heard (cache dropped), then holds
    clock.advance(1000);
    link.heard("self", Date.now());
    await keys.verify(secret);
    expect(reads()).toBe(3);
    link.close();
    await keys.close();
  });

  it("channel messages carry the sender's time and stay readable by instances that predate it", () => {
    const message = formatInvalidation("abc123", "key_0LmQ7x2a9fKq3ZrT1bN0cD", 1_764_590_400_000);
    expect(parseInvalidation(message)).toEqual({ origin: "abc123", id: "key_0LmQ7x2a9fKq3ZrT1bN0cD", sentAt: 1_764_590_400_000 });
    expect(parseInvalidation("abc123|key_0LmQ7x2a9fKq3ZrT1bN0cD")).toEqual({ origin: "abc123", id: "key_0LmQ7x2a9fKq3ZrT1bN0cD", sentAt: null });
    // An older instance splits at the first "|": it still gets the key id, and an origin that is not its own.
    expect(message.slice(message.indexOf("|") + 1)).toBe("key_0LmQ7x2a9fKq3ZrT1bN0cD");
    expect(parseInvalidation("@5|x")).toBeNull();
    expect(parseInvalidation("a@soon|x")).toBeNull();
  });
});
