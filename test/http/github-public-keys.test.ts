/**
 * `secretScanning()` without `publicKeys`: GitHub's key list is fetched over real HTTP from a local
 * server serving generated P-256 keys in GitHub's `{ public_keys: [...] }` shape. The list is
 * fetched once and cached; an unknown key identifier refetches it at most once per interval
 * (rotation works, forged identifiers cannot make us hammer the server); an old list is refreshed
 * after its maximum age; no list at all (server down, 500, not a key list) refuses with 503.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import request from "supertest";
import { KeywardConfigError, secretScanning, type GitHubPublicKey, type SecretScanningOptions } from "keyward";
import { makeKeys } from "../helpers";

const pair = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const k1 = pair();
const k2 = pair();
const entry = (id: string, key: { publicKey: KeyObject }, current = true): GitHubPublicKey => ({
  key_identifier: id,
  key: key.publicKey.export({ type: "spki", format: "pem" }) as string,
  is_current: current,
});

/** A local stand-in for GitHub's meta endpoint: what it serves can change between requests. */
class KeyServer {
  keys: GitHubPublicKey[] = [entry("k1", k1)];
  mode: "ok" | "error" | "not-a-list" = "ok";
  hits: Array<{ url: string | undefined; authorization: string | undefined }> = [];
  private server: Server | null = null;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.hits.push({ url: req.url, authorization: req.headers.authorization });
      res.setHeader("Content-Type", "application/json");
      if (this.mode === "error") {
        res.statusCode = 500;
        res.end('{"message":"oops"}');
      } else res.end(this.mode === "not-a-list" ? '{"public_keys":"none"}' : JSON.stringify({ public_keys: this.keys }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server!.close(() => resolve()));
  }
}

/** A URL nothing listens on (a server is started, its port noted, and closed). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/meta/public_keys/secret_scanning`;
}

const servers: KeyServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(options: Partial<SecretScanningOptions> = {}) {
  const server = await new KeyServer().start();
  servers.push(server);
  const { keys, clock, events } = makeKeys({ cache: false });
  const app = express().post("/github/secret-scanning", secretScanning({ keys, publicKeysUrl: server.url, ...options }));
  /** A report of `tokens`, signed with `key` and naming `id`. */
  const report = (tokens: string[], id = "k1", key = k1.privateKey) => {
    const body = JSON.stringify(tokens.map((token) => ({ token, type: "acme_api_key", source: "content" })));
    return request(app)
      .post("/github/secret-scanning")
      .set("Content-Type", "application/json")
      .set("Github-Public-Key-Identifier", id)
      .set("Github-Public-Key-Signature", sign("sha256", Buffer.from(body), key).toString("base64"))
      .send(body);
  };
  return { server, keys, clock, events, report };
}

describe("secretScanning() fetching GitHub's public keys", () => {
  it("fetches the key list once and verifies later reports from the cache", async () => {
    const { server, keys, events, report } = await setup();
    const created = await Promise.all([keys.create({ name: "a" }), keys.create({ name: "b" }), keys.create({ name: "c" })]);
    for (const { secret } of created) {
      const res = await report([secret]);
      expect(res.status).toBe(200);
      expect(res.body[0].label).toBe("true_positive");
    }
    expect(server.hits).toEqual([{ url: "/meta/public_keys/secret_scanning", authorization: undefined }]);
    for (const { key } of created) expect((await keys.get(key.id))!.status).toBe("revoked");
    expect(events.filter((e) => e.type === "key.leaked")).toHaveLength(3);
  });

  it("shares one fetch between reports that arrive together", async () => {
    const { server, report } = await setup();
    const answers = await Promise.all(Array.from({ length: 6 }, () => report(["sk_live_notakey"])));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(server.hits).toHaveLength(1);
  });

  it("refetches once for an unknown key identifier, then at most once per interval", async () => {
    const { server, clock, keys, events, report } = await setup();
    const { secret, key } = await keys.create({ name: "ci" });
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    expect(server.hits).toHaveLength(1);

    // A forged identifier: the list is refetched after the interval, then the answer is 401.
    clock.advance(5 * 60_000);
    const forged = await report([secret], "forged", k2.privateKey);
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe("invalid_signature");
    expect(server.hits).toHaveLength(2);
    // More forged identifiers within the interval: no fetch at all.
    for (const id of ["forged", "forged-2", "forged-3"]) expect((await report([secret], id, k2.privateKey)).status).toBe(401);
    clock.advance(5 * 60_000 - 1);
    expect((await report([secret], "forged-4", k2.privateKey)).status).toBe(401);
    expect(server.hits).toHaveLength(2);
    clock.advance(1);
    expect((await report([secret], "forged-5", k2.privateKey)).status).toBe(401);
    expect(server.hits).toHaveLength(3);

    expect((await keys.get(key.id))!.status).toBe("active");
    expect(events.filter((e) => e.type === "key.leaked")).toHaveLength(0);
  });

  it("follows a key rotation: a report signed with a newly published key verifies after one refetch", async () => {
    const { server, clock, keys, report } = await setup({ publicKeysRefetchInterval: "1m" });
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    server.keys = [entry("k1", k1, false), entry("k2", k2)];
    clock.advance(60_000);
    const { secret, key } = await keys.create({ name: "ci" });
    const res = await report([secret], "k2", k2.privateKey);
    expect(res.status).toBe(200);
    expect(res.body[0].label).toBe("true_positive");
    expect((await keys.get(key.id))!.status).toBe("revoked");
    expect(server.hits).toHaveLength(2);
    // Both keys are cached now: no further fetch.
    expect((await report(["sk_live_notakey"], "k1")).status).toBe(200);
    expect((await report(["sk_live_notakey"], "k2", k2.privateKey)).status).toBe(200);
    expect(server.hits).toHaveLength(2);
  });

  it("refreshes a list older than publicKeysMaxAge, so a withdrawn key stops verifying", async () => {
    const { server, clock, report } = await setup({ publicKeysMaxAge: "1h" });
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    server.keys = [entry("k2", k2)];
    clock.advance(3_600_000 - 1);
    expect((await report(["sk_live_notakey"])).status).toBe(200); // still fresh: k1 from the cache
    expect(server.hits).toHaveLength(1);
    clock.advance(1);
    const res = await report(["sk_live_notakey"]);
    expect(res.status).toBe(401);
    expect(server.hits).toHaveLength(2);
  });

  it("keeps an old list when its refresh fails (every key in it was published by GitHub)", async () => {
    const { server, clock, report } = await setup({ publicKeysMaxAge: "1h" });
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    server.mode = "error";
    clock.advance(3_600_000);
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    expect(server.hits).toHaveLength(2);
  });

  it.each([
    ["answers 500", "error"],
    ["serves something that is not a key list", "not-a-list"],
  ] as const)("refuses every report with 503 when the key server %s, and recovers after the interval", async (_what, mode) => {
    const { server, clock, keys, events, report } = await setup();
    server.mode = mode;
    const { secret, key } = await keys.create({ name: "ci" });
    const res = await report([secret]);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("public_keys_unavailable");
    expect(res.headers["retry-after"]).toBe("300");
    clock.advance(120_000);
    const again = await report([secret]);
    expect(again.status).toBe(503);
    expect(again.headers["retry-after"]).toBe("180");
    expect(server.hits).toHaveLength(1); // failures are throttled too
    expect((await keys.get(key.id))!.status).toBe("active");
    expect(events.filter((e) => e.type === "key.leaked")).toHaveLength(0);

    server.mode = "ok";
    clock.advance(180_000);
    expect((await report([secret])).body[0].label).toBe("true_positive");
    expect((await keys.get(key.id))!.status).toBe("revoked");
  });

  it("refuses with 503 when nothing answers at the key URL", async () => {
    const { keys } = makeKeys();
    const app = express().post("/hook", secretScanning({ keys, publicKeysUrl: await deadUrl() }));
    const { secret, key } = await keys.create({ name: "ci" });
    const body = JSON.stringify([{ token: secret, type: "t" }]);
    const res = await request(app)
      .post("/hook")
      .set("Content-Type", "application/json")
      .set("Github-Public-Key-Identifier", "k1")
      .set("Github-Public-Key-Signature", sign("sha256", Buffer.from(body), k1.privateKey).toString("base64"))
      .send(body);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("public_keys_unavailable");
    expect((await keys.get(key.id))!.status).toBe("active");
  });

  it("uses the injected fetch (e.g. to send a GitHub token) and skips unusable entries", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const { server, report } = await setup({
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, Authorization: "Bearer test-token" } }),
    });
    server.keys = [
      { key_identifier: "rsa", key: rsa.publicKey.export({ type: "spki", format: "pem" }) as string, is_current: false },
      { key_identifier: "broken", key: "not a key", is_current: false },
      entry("k1", k1),
    ];
    expect((await report(["sk_live_notakey"])).status).toBe(200);
    expect((await report(["sk_live_notakey"], "rsa", rsa.privateKey)).status).toBe(401);
    expect(server.hits.map((h) => h.authorization)).toEqual(["Bearer test-token"]);
  });

  it("refuses with 503 when a publicKeys function fails", async () => {
    const { keys } = makeKeys();
    const app = express().post(
      "/hook",
      secretScanning({
        keys,
        publicKeys: async () => {
          throw new Error("key store down");
        },
      }),
    );
    const res = await request(app).post("/hook").set("Github-Public-Key-Identifier", "k1").set("Github-Public-Key-Signature", "c2ln").send("[]");
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("public_keys_unavailable");
    expect(res.headers["retry-after"]).toBe("60");
  });

  it("checks its options at construction", () => {
    const { keys } = makeKeys();
    expect(() => secretScanning({ keys, publicKeysUrl: "ftp://example.com/keys" })).toThrow(KeywardConfigError);
    expect(() => secretScanning({ keys, publicKeysUrl: "not a url" })).toThrow(/publicKeysUrl: must be an http\(s\) URL/);
    expect(() => secretScanning({ keys, publicKeysRefetchInterval: "soon" })).toThrow(/publicKeysRefetchInterval/);
    expect(() => secretScanning({ keys, action: "delete" as never })).toThrow(/action/);
    expect(() => secretScanning({ keys, publicKeys: [{ key_identifier: 1 }] as never })).toThrow(/publicKeys/);
    expect(() => secretScanning({ keys: {} as never })).toThrow(/keys: must be a KeyManager/);
  });
});
