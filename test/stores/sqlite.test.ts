/** SqliteStore (a temp file per test) against the shared store conformance suite. */
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { describeStoreConformance } from "./store-conformance";

describeStoreConformance("SqliteStore", async () => {
  const tmp = tempDir();
  const store = new SqliteStore(tmp.file("keys.db"));
  return {
    store,
    cleanup: async () => {
      store.close();
      tmp.cleanup();
    },
  };
});
