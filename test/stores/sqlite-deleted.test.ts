/**
 * A SQLite database file deleted (or replaced) while the app runs: the usage flush fails loudly with
 * an error naming the file, `usage.flush_failed` carries it, requests keep being answered from the
 * cache, and the counts stay in memory instead of going to a file that is gone.
 */
import { renameSync, rmSync } from "node:fs";
import { KeyManager, KeywardError, type KeywardEvent } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

/** A KeyManager on `file` whose usage is flushed only when the test asks. */
async function open(file: string) {
  const events: KeywardEvent[] = [];
  const keys = new KeyManager({ store: new SqliteStore(file), usage: { flushInterval: "1h" }, onEvent: (e) => events.push(e) });
  const { secret, key } = await keys.create({ name: "k" });
  const use = (n: number) => {
    for (let i = 0; i < n; i++) keys.pipeline.recordUse(keys.pipeline.authenticate(secret) as never);
  };
  return { keys, events, secret, id: key.id, use };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => "no error",
    (e: Error) => e.message,
  );
const flushFailures = (events: KeywardEvent[]) => events.flatMap((e) => (e.type === "usage.flush_failed" ? [e.message] : []));

describe("a SQLite database file removed while the app runs", () => {
  it("with its directory deleted: the flush fails naming the file, and the counts stay in memory", async () => {
    const tmp = tempDir();
    const file = tmp.file("gone.db");
    const { keys, events, secret, id, use } = await open(file);
    use(3);
    await keys.flushUsage();
    use(4);
    rmSync(tmp.dir, { recursive: true, force: true });

    const message = await failure(keys.flushUsage());
    expect(message).toContain(file);
    expect(message).toMatch(/no longer exists/);
    expect(flushFailures(events)).toEqual([message]);
    // Requests are still answered (the key is cached) and their use is counted, in memory.
    expect(keys.pipeline.authenticate(secret)).not.toBeInstanceOf(KeywardError);
    use(1);
    expect((await keys.get(id))!.requestCount).toBe(8);
    // Each later flush fails the same way; close() reports it instead of dropping the counts silently.
    expect(await failure(keys.close())).toContain(file);
    expect(flushFailures(events).length).toBeGreaterThan(1);
  });

  it("replaced by another file: the flush fails naming the file", async () => {
    const tmp = tempDir();
    const file = tmp.file("keys.db");
    const { keys, events, use } = await open(file);
    const other = new SqliteStore(tmp.file("other.db"));
    other.close();
    renameSync(tmp.file("other.db"), file);
    use(2);

    const message = await failure(keys.flushUsage());
    expect(message).toContain(file);
    expect(message).toMatch(/replaced/);
    expect(flushFailures(events)).toEqual([message]);
    await failure(keys.close());
    tmp.cleanup();
  });

  it("still in place: flushes as usual", async () => {
    const tmp = tempDir();
    const file = tmp.file("kept.db");
    const { keys, events, id, use } = await open(file);
    use(5);
    await keys.flushUsage();
    expect((await keys.get(id))!.requestCount).toBe(5);
    expect(flushFailures(events)).toEqual([]);
    await keys.close();
    tmp.cleanup();
  });
});
