/** KeyManager.onInvalidate: the hook cross-instance channels use to hear this instance's changes. */
import { KeyManager, MemoryStore } from "keyward";

describe("KeyManager.onInvalidate", () => {
  it("announces the id of each key updated, revoked or rotated, after the store write, but not created ones", async () => {
    const store = new MemoryStore();
    const keys = new KeyManager({ store });
    const heard: Array<[string, string | null]> = [];
    keys.onInvalidate((id) => heard.push([id, store.findById(id)?.revokedAt != null ? "revoked" : null]));
    const { key } = await keys.create({ name: "a" });
    expect(heard).toEqual([]);
    await keys.update(key.id, { name: "b" });
    const { key: successor } = await keys.rotate(key.id, { overlap: "1h" });
    await keys.revoke(successor.id);
    expect(heard).toEqual([
      [key.id, null],
      [key.id, null],
      [successor.id, "revoked"],
    ]);
    await keys.close();
  });

  it("stops announcing after unsubscribe, and a throwing listener does not fail the change", async () => {
    const keys = new KeyManager({ store: new MemoryStore() });
    const heard: string[] = [];
    const stop = keys.onInvalidate((id) => heard.push(id));
    keys.onInvalidate(() => {
      throw new Error("channel down");
    });
    const { key } = await keys.create({ name: "a" });
    await keys.update(key.id, { name: "b" });
    stop();
    const revoked = await keys.revoke(key.id);
    expect(revoked.status).toBe("revoked");
    expect(heard).toEqual([key.id]);
    await keys.close();
  });
});
