/**
 * SqliteStore counters with reserved batches (the hot-path optimisation): in one process the
 * counts and refunds match a store that writes every request through; across processes sharing
 * the file no limit is ever exceeded; unused reserved units go back to the file on close().
 */
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

const RESET = Date.UTC(2100, 0, 1);

describe("SqliteStore counters", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it("counts exactly like a write-through store in one process, refunds included", () => {
    const batched = new SqliteStore(tmp.file("a.db"));
    const through = new SqliteStore(tmp.file("b.db"), { counterBatch: 1 });
    const script = ["c", "c", "r", "c", "c", "c", "r", "r", "c"];
    for (const limit of [1, 3, 150, 10_000, 1e9]) {
      const name = `n${limit}`;
      const seen: Array<[number, number]> = [];
      for (let i = 0; i < 400; i++) {
        const step = script[i % script.length];
        if (step === "r") {
          batched.refund(name);
          through.refund(name);
          continue;
        }
        // One connection per file and nothing else writing: every call answers synchronously.
        seen.push([batched.consume(name, limit, RESET) as number, through.consume(name, limit, RESET) as number]);
      }
      for (const [a, b] of seen) expect(a).toBe(b);
    }
    batched.close();
    through.close();
  });

  it("never admits more than the limit across two stores on one file, and gives spare units back on close", () => {
    const file = tmp.file("shared.db");
    const a = new SqliteStore(file);
    const b = new SqliteStore(file);
    const limit = 20_000;
    let admitted = 0;
    for (let i = 0; i < 15_000; i++) {
      // Each call's transaction ends before the next one starts: neither store ever finds the file locked.
      if ((a.consume("q", limit, RESET) as number) > 0) admitted++;
      if ((b.consume("q", limit, RESET) as number) > 0) admitted++;
    }
    expect(admitted).toBeLessThanOrEqual(limit);
    expect(admitted).toBeGreaterThanOrEqual(limit - 2 * (limit / 100));
    b.close();
    const check = new SqliteStore(file);
    const stored = check.db.prepare("SELECT count FROM keyward_counters WHERE name = 'q'").pluck().get() as number;
    expect(stored).toBeLessThanOrEqual(limit);
    a.close();
    const after = check.db.prepare("SELECT count FROM keyward_counters WHERE name = 'q'").pluck().get() as number;
    expect(after).toBe(admitted);
    check.close();
  });

  it("writes most requests from the reserve: the file count runs ahead by at most the batch", () => {
    const store = new SqliteStore(tmp.file("c.db"));
    for (let i = 1; i <= 2500; i++) expect(store.consume("w", 1e9, RESET)).toBe(i);
    const stored = store.db.prepare("SELECT count FROM keyward_counters WHERE name = 'w'").pluck().get() as number;
    expect(stored).toBeGreaterThanOrEqual(2500);
    expect(stored).toBeLessThanOrEqual(2500 + 1000);
    store.close();
  });

  it("re-reserves under a new limit without losing units", () => {
    const store = new SqliteStore(tmp.file("d.db"));
    for (let i = 1; i <= 10; i++) expect(store.consume("l", 1e6, RESET)).toBe(i);
    expect(store.consume("l", 12, RESET)).toBe(11);
    expect(store.consume("l", 12, RESET)).toBe(12);
    expect(store.consume("l", 12, RESET)).toBe(-1);
    store.close();
  });
});
