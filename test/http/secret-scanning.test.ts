/**
 * `secretScanning()`, GitHub's secret scanning partner endpoint, over real HTTP with a generated
 * P-256 key pair: signed reports revoke real keys and label look-alikes false positives without a
 * store read; bad or missing signatures are 401, bodies over 1 MB are 413; a replay acts once;
 * `key.leaked` carries the report's url and source and never the token; `notify` and a function
 * action leave the key active.
 */
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import express from "express";
import request from "supertest";
import { KeyManager, MemoryStore, secretScanning, type GitHubPublicKey, type KeywardEvent, type SecretScanningOptions } from "keyward";
import { countingStore } from "../counting-store";

const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");

const github = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
const publicKeys: GitHubPublicKey[] = [
  { key_identifier: "old", key: other.publicKey.export({ type: "spki", format: "pem" }) as string, is_current: false },
  { key_identifier: "current", key: github.publicKey.export({ type: "spki", format: "pem" }) as string, is_current: true },
];

function signed(body: string, privateKey = github.privateKey): string {
  return sign("sha256", Buffer.from(body), privateKey).toString("base64");
}

async function setup(action?: SecretScanningOptions["action"]) {
  const events: KeywardEvent[] = [];
  const store = countingStore(new MemoryStore());
  const keys = new KeyManager({ store: store.store, prefix: "sk", modes: ["live", "test"], cache: false, onEvent: (e) => events.push(e) });
  const app = express().post("/github/secret-scanning", secretScanning({ keys, publicKeys, ...(action ? { action } : {}) }));
  const post = (body: string, headers: Record<string, string> = { "Github-Public-Key-Identifier": "current", "Github-Public-Key-Signature": signed(body) }) =>
    request(app).post("/github/secret-scanning").set("Content-Type", "application/json").set(headers).send(body);
  return { keys, store, events, post };
}

describe("secretScanning()", () => {
  it("revokes reported keys, labels look-alikes false positives without a store read, and emits key.leaked", async () => {
    const { keys, store, events, post } = await setup();
    const { secret, key } = await keys.create({ name: "ci", mode: "live" });
    const unknown = keys.format.generate("test"); // well-formed, not in the store
    const body = JSON.stringify([
      { token: secret, type: "acme_api_key", url: "https://github.com/o/r/blob/abc/config.ts#L2", source: "content" },
      { token: `${secret.slice(0, -1)}${secret.endsWith("a") ? "b" : "a"}`, type: "acme_api_key", url: "https://x", source: "commit" },
      { token: "pk_live_notours", type: "acme_api_key" },
      { token: unknown, type: "acme_api_key", source: "gist_content" },
    ]);
    const reads = store.count("findByHash");
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain(secret.slice(-20)); // the answer names tokens by their SHA-256 only
    expect(res.body).toEqual([
      { token_hash: sha256(secret), token_type: "acme_api_key", label: "true_positive" },
      { token_hash: expect.stringMatching(/^[0-9a-f]{64}$/), token_type: "acme_api_key", label: "false_positive" },
      { token_hash: sha256("pk_live_notours"), token_type: "acme_api_key", label: "false_positive" },
      { token_hash: sha256(unknown), token_type: "acme_api_key", label: "false_positive" },
    ]);
    expect(store.count("findByHash") - reads).toBe(2); // the real key and the well-formed unknown one only
    expect((await keys.get(key.id))!.status).toBe("revoked");
    expect((await keys.verify(secret)).ok).toBe(false);
    const leaked = events.filter((e) => e.type === "key.leaked");
    expect(leaked).toEqual([
      expect.objectContaining({
        type: "key.leaked",
        keyId: key.id,
        name: "ci",
        mode: "live",
        url: "https://github.com/o/r/blob/abc/config.ts#L2",
        source: "content",
        action: "revoke",
      }),
    ]);
    expect(JSON.stringify(events)).not.toContain(secret);

    // A retry (re-signed: ECDSA signatures differ each time) and an exact replay: the same answer, no second event.
    const again = await post(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    const headers = { "Github-Public-Key-Identifier": "current", "Github-Public-Key-Signature": signed(body) };
    expect((await post(body, headers)).body).toEqual(res.body);
    expect((await post(body, headers)).body).toEqual(res.body);
    expect(events.filter((e) => e.type === "key.leaked")).toHaveLength(1);
  });

  it("refuses a missing, malformed or wrong signature and an unknown key id (401)", async () => {
    const { keys, post } = await setup();
    const { secret, key } = await keys.create({ name: "ci" });
    const body = JSON.stringify([{ token: secret, type: "t" }]);
    expect((await post(body, {})).status).toBe(401);
    expect((await post(body, { "Github-Public-Key-Identifier": "current" })).status).toBe(401);
    expect((await post(body, { "Github-Public-Key-Identifier": "current", "Github-Public-Key-Signature": "bm90IGEgc2lnbmF0dXJl" })).status).toBe(401);
    expect((await post(body, { "Github-Public-Key-Identifier": "current", "Github-Public-Key-Signature": signed(body, other.privateKey) })).status).toBe(401);
    expect((await post(body, { "Github-Public-Key-Identifier": "nope", "Github-Public-Key-Signature": signed(body) })).status).toBe(401);
    expect((await post(`${body} `, { "Github-Public-Key-Identifier": "current", "Github-Public-Key-Signature": signed(body) })).status).toBe(401);
    // An older key still verifies.
    expect((await post(body, { "Github-Public-Key-Identifier": "old", "Github-Public-Key-Signature": signed(body, other.privateKey) })).status).toBe(200);
    expect((await keys.get(key.id))!.status).toBe("revoked");
  });

  it("refuses bodies over 1 MB (413) and a body that is not a report (400)", async () => {
    const { post } = await setup();
    const big = JSON.stringify([{ token: "x".repeat(1024 * 1024), type: "t" }]);
    expect((await post(big)).status).toBe(413);
    expect((await post('{"token":"x"}')).status).toBe(400);
  });

  it("notify and a function action report the key and leave it active", async () => {
    const seen: string[] = [];
    for (const action of [
      "notify",
      (key: { id: string }) => {
        seen.push(key.id);
      },
    ] as const) {
      const { keys, events, post } = await setup(action);
      const { secret, key } = await keys.create({ name: "ci" });
      const res = await post(JSON.stringify([{ token: secret, type: "t", url: "https://gist.github.com/x", source: "gist_content" }]));
      expect(res.body[0].label).toBe("true_positive");
      expect((await keys.get(key.id))!.status).toBe("active");
      expect(events.find((e) => e.type === "key.leaked")).toMatchObject({
        keyId: key.id,
        action: typeof action === "string" ? "notify" : "function",
        source: "gist_content",
      });
    }
    expect(seen).toHaveLength(1);
  });
});
