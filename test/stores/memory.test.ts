/** MemoryStore against the shared store conformance suite. */
import { MemoryStore } from "keyward";
import { describeStoreConformance } from "./store-conformance";

describeStoreConformance("MemoryStore", async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
