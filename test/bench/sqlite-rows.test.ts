/** SqliteStore reads rows back exactly as written (raw-mode reads, empty JSON fast paths). */
import type { StoredKey } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";

const base: StoredKey = {
  id: "key_0LmQ7x2a9fKq3ZrT1bN0cD",
  hash: "a".repeat(64),
  start: "sk_live_abcd",
  name: "full",
  ownerId: "user_1",
  kind: "user",
  projectId: null,
  projects: ["proj_a", "proj_b"],
  mode: "live",
  scopes: ["nodes:read", "users:*"],
  tier: "pro",
  rateLimit: { limit: 10, windowMs: 60_000 },
  metadata: { team: "ops", n: 3, nested: { ok: true } },
  createdAt: 1_700_000_000_000,
  expiresAt: 1_800_000_000_000,
  revokedAt: 1_750_000_000_000,
  lastUsedAt: 1_760_000_000_000,
  requestCount: 42,
  rotatedFrom: "key_0LmQ7x2a9fKq3ZrT1bN0cA",
  rotatedTo: "key_0LmQ7x2a9fKq3ZrT1bN0cB",
  disabledAt: 1_755_000_000_000,
  allowedIps: ["203.0.113.0/24", "2001:db8::/32"],
  credits: { remaining: 1000, refill: { amount: 500, interval: "1d" }, counter: "key_0LmQ7x2a9fKq3ZrT1bN0cD", since: 1_700_000_000_000 },
};
const bare: StoredKey = {
  ...base,
  id: "key_0LmQ7x2a9fKq3ZrT1bN0cE",
  hash: "b".repeat(64),
  name: "bare",
  ownerId: null,
  kind: "project",
  projectId: "proj_a",
  projects: [],
  mode: null,
  scopes: [],
  tier: null,
  rateLimit: null,
  metadata: {},
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  requestCount: 0,
  rotatedFrom: null,
  rotatedTo: null,
  disabledAt: null,
  allowedIps: [],
  credits: null,
};

it("round-trips every field by hash, by id and in listings, with fresh arrays and objects each read", () => {
  const tmp = tempDir();
  const store = new SqliteStore(tmp.file("rows.db"));
  try {
    for (const k of [base, bare]) {
      expect(store.insert(k)).toBe(true);
      expect(store.findByHash(k.hash)).toEqual(k);
      expect(store.findById(k.id)).toEqual(k);
    }
    expect(store.list({ limit: 10 })).toEqual([bare, base]);
    const a = store.findByHash(bare.hash)!;
    a.scopes.push("x");
    (a.metadata as Record<string, unknown>).y = 1;
    expect(store.findByHash(bare.hash)).toEqual(bare);
    expect(store.findByHash("c".repeat(64))).toBeNull();
  } finally {
    store.close();
    tmp.cleanup();
  }
});
