/**
 * A KeyManager whose store cannot start (database down at boot) answers 503 and retries the
 * store's `init` on the next call, instead of crashing the process or failing forever.
 */
import { KeyManager, KeywardError, MemoryStore } from "keyward";

/** A MemoryStore whose async init fails `failures` times before it succeeds. */
class FlakyStartStore extends MemoryStore {
  calls = 0;
  constructor(private failures: number) {
    super();
  }
  async init(): Promise<void> {
    this.calls++;
    if (this.failures-- > 0) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
  }
}

describe("store start-up failures", () => {
  it("answers store_unavailable while init fails, then works once the store starts", async () => {
    const store = new FlakyStartStore(2);
    const keys = new KeyManager({ store });
    await expect(keys.create({ name: "a" })).rejects.toMatchObject({ code: "store_unavailable", status: 503 });
    await expect(keys.list()).rejects.toMatchObject({ code: "store_unavailable" }); // retried, failed again
    const { secret } = await keys.create({ name: "b" }); // retried, the store is up now
    expect(store.calls).toBe(3);
    expect((await keys.verify(secret)).ok).toBe(true);
    await keys.close();
  });

  it("fails a request closed with 503 while the store is down at boot", async () => {
    const up = new KeyManager({ store: new MemoryStore() });
    const { secret } = await up.create({ name: "k" });
    const keys = new KeyManager({ store: new FlakyStartStore(1) });
    const first = await keys.pipeline.authenticate(secret);
    expect(first).toBeInstanceOf(KeywardError);
    expect((first as KeywardError).code).toBe("store_unavailable");
    await up.close();
    await keys.close();
  });
});
