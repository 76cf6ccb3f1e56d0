/**
 * Per-key IP allow-lists: validation at creation and update (422 naming the entry, nothing
 * written), canonical storage, matching tables for IPv4, IPv6 and IPv4-mapped IPv6 at the edges
 * of each prefix, and the pipeline step: 403 `ip_forbidden` before the charge (no quota unit
 * consumed), over real HTTP with the default socket address and with an `ip` option.
 */
import request from "supertest";
import { KeywardError, type KeyStore } from "keyward";
import { makeApp, makeKeys } from "../helpers";
import { routerApp, snapshot } from "../http/router-app";

const U1 = { "x-user": "user_1" };

async function refusal(promise: Promise<unknown>): Promise<KeywardError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeywardError);
  return error as KeywardError;
}

describe("IP allow-list validation", () => {
  const malformed: Array<[string, unknown, RegExp]> = [
    ["a prefix past /32", "10.0.0.0/33", /"10\.0\.0\.0\/33".*out of range for IPv4 \(0-32\)/],
    ["a prefix past /128", "2001:db8::/129", /out of range for IPv6 \(0-128\)/],
    ["three octets", "1.2.3", /"1\.2\.3" is not an IPv4 or IPv6 address/],
    ["a non-hex group", "::g", /"::g" is not an IPv4 or IPv6 address/],
    ["two slashes", "10.0.0.1/8/8", /"10\.0\.0\.1\/8\/8".*prefix length/],
    ["an empty string", "", /must not be empty/],
    ["a number", 167772160, /must be a string/],
    ["null inside the list", null, /must be a string/],
    ["an object", { cidr: "10.0.0.0/8" }, /must be a string/],
    ["an octet over 255", "256.1.1.1", /is not an IPv4 or IPv6 address/],
    ["a leading zero (octal-looking)", "010.0.0.1", /is not an IPv4 or IPv6 address/],
    ["two ::", "2001::db8::1", /is not an IPv4 or IPv6 address/],
    ["nine groups", "1:2:3:4:5:6:7:8:9", /is not an IPv4 or IPv6 address/],
    ["a zone index", "fe80::1%eth0", /zone indexes/],
    ["host bits below the prefix", "10.0.0.1/8", /host bits set below \/8; did you mean 10\.0\.0\.0\/8\?/],
    ["IPv6 host bits below the prefix", "2001:db8::1/32", /did you mean 2001:db8::\/32\?/],
    ["a negative prefix", "10.0.0.0/-1", /prefix length/],
    ["a hostname", "example.com", /is not an IPv4 or IPv6 address/],
    ["an over-long entry", "1".repeat(5000), /too long/],
  ];

  it.each(malformed)("keys.create refuses %s with 422 naming the entry by index and value, and writes nothing", async (_what, entry, message) => {
    const { keys, store, close } = makeKeys({ storeKind: "sqlite" });
    const error = await refusal(keys.create({ name: "k", allowedIps: ["192.0.2.1", entry as string] }));
    expect(error.code).toBe("validation_failed");
    expect(error.status).toBe(422);
    expect(error.details).toEqual([{ path: "allowedIps.1", message: expect.stringMatching(message) }]);
    expect(await store.list({})).toEqual([]);
    await close();
  });

  it("refuses 10,000 entries with one message (no per-entry parse), and a list that is not an array", async () => {
    const { keys, store, close } = makeKeys();
    const many = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    const error = await refusal(keys.create({ name: "k", allowedIps: many }));
    expect(error.details).toEqual([{ path: "allowedIps", message: "at most 64 entries (got 10000); use wider CIDR ranges" }]);
    const notArray = await refusal(keys.create({ name: "k", allowedIps: "10.0.0.0/8" as never }));
    expect(notArray.details).toEqual([{ path: "allowedIps", message: expect.stringMatching(/must be an array/) }]);
    expect(await (store as KeyStore).list({})).toEqual([]);
    await close();
  });

  it("reports at most 10 bad entries of a list of 64 garbage strings", async () => {
    const { keys, close } = makeKeys();
    const error = await refusal(keys.create({ name: "k", allowedIps: Array.from({ length: 64 }, (_, i) => `bad-${i}`) }));
    expect(error.details).toHaveLength(10);
    expect(error.details![9]).toEqual({ path: "allowedIps.9", message: '"bad-9" is not an IPv4 or IPv6 address' });
    await close();
  });

  it("accepts 64 entries and stores them canonically: lowercase, compressed, deduplicated, mapped IPv6 as IPv4, /32 and /128 as the address", async () => {
    const { keys, close } = makeKeys({ storeKind: "sqlite" });
    const { key } = await keys.create({
      name: "k",
      allowedIps: ["203.0.113.0/24", "2001:DB8:0:0::/32", "198.51.100.7/32", "::ffff:203.0.113.0/120", "2001:db8:0:0:1:0:0:1/128", "::1", "0.0.0.0/0"],
    });
    expect(key.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "2001:db8::1:0:0:1", "::1", "0.0.0.0/0"]);
    expect((await keys.get(key.id))!.allowedIps).toEqual(key.allowedIps);
    const full = await keys.create({ name: "full", allowedIps: Array.from({ length: 64 }, (_, i) => `10.0.${i}.0/24`) });
    expect(full.key.allowedIps).toHaveLength(64);
    await close();
  });

  it("update replaces the list, null or [] means any address again, and a bad entry changes nothing", async () => {
    const { keys, close } = makeKeys({ storeKind: "sqlite" });
    const { secret, key } = await keys.create({ name: "k", allowedIps: ["203.0.113.0/24"] });
    expect((await keys.verify(secret, { ip: "198.51.100.7" })).ok).toBe(false);
    expect((await keys.update(key.id, { allowedIps: ["198.51.100.7"] })).allowedIps).toEqual(["198.51.100.7"]);
    expect((await keys.verify(secret, { ip: "198.51.100.7" })).ok).toBe(true); // the warm cache entry was dropped
    const error = await refusal(keys.update(key.id, { allowedIps: ["198.51.100.7", "10.0.0.0/33"] }));
    expect(error.details).toEqual([{ path: "allowedIps.1", message: expect.stringContaining('"10.0.0.0/33"') }]);
    expect((await keys.get(key.id))!.allowedIps).toEqual(["198.51.100.7"]);
    expect((await keys.update(key.id, { allowedIps: null })).allowedIps).toEqual([]);
    expect((await keys.verify(secret, { ip: "192.0.2.1" })).ok).toBe(true);
    await keys.update(key.id, { allowedIps: ["192.0.2.1"] });
    expect((await keys.update(key.id, { allowedIps: [] })).allowedIps).toEqual([]);
    await close();
  });

  it("rotation carries the allow-list to the successor", async () => {
    const { keys, close } = makeKeys();
    const { key } = await keys.create({ name: "k", allowedIps: ["203.0.113.0/24"] });
    const rotated = await keys.rotate(key.id);
    expect(rotated.key.allowedIps).toEqual(["203.0.113.0/24"]);
    expect((await keys.verify(rotated.secret, { ip: "198.51.100.1" })).ok).toBe(false);
    await close();
  });
});

describe("IP allow-list matching (keys.verify with ip)", () => {
  const table: Array<[entry: string, inside: string[], outside: string[]]> = [
    [
      "203.0.113.0/24",
      ["203.0.113.0", "203.0.113.255", "203.0.113.9", "::ffff:203.0.113.9", "::FFFF:203.0.113.255", "::ffff:cb00:7109", "0:0:0:0:0:ffff:203.0.113.1"],
      ["203.0.112.255", "203.0.114.0", "::203.0.113.9", "2001:db8::1", "203.0.113", ""],
    ],
    ["198.51.100.7", ["198.51.100.7", "::ffff:198.51.100.7"], ["198.51.100.6", "198.51.100.8"]],
    ["10.0.0.0/8", ["10.0.0.0", "10.255.255.255"], ["9.255.255.255", "11.0.0.0"]],
    ["192.0.2.128/25", ["192.0.2.128", "192.0.2.255"], ["192.0.2.127", "192.0.3.0"]],
    ["192.0.2.4/31", ["192.0.2.4", "192.0.2.5"], ["192.0.2.3", "192.0.2.6"]],
    ["0.0.0.0/0", ["0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4"], ["::1", "2001:db8::1"]],
    [
      "2001:db8::/32",
      ["2001:db8::", "2001:db8::1", "2001:DB8:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "2001:0db8:0000::1"],
      ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "203.0.113.9"],
    ],
    ["2001:db8:0:1::/64", ["2001:db8:0:1::", "2001:db8:0:1:ffff:ffff:ffff:ffff"], ["2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8:0:2::"]],
    ["2001:db8::8000:0/97", ["2001:db8::8000:0", "2001:db8::ffff:ffff"], ["2001:db8::7fff:ffff", "2001:db8::1:0:0"]],
    ["2001:db8::1", ["2001:db8::1", "2001:db8:0:0:0:0:0:1", "fe80::1%eth0".replace("fe80::1", "2001:db8::1")], ["2001:db8::2", "2001:db8::"]],
    ["::/0", ["::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::1", "203.0.113.9"], ["not-an-ip", "1.2.3.4.5"]],
    ["::ffff:203.0.113.0/120", ["203.0.113.77", "::ffff:203.0.113.77"], ["203.0.114.1"]],
  ];

  it.each(table)("%s admits its edges and refuses its neighbours", async (entry, inside, outside) => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "k", allowedIps: [entry] });
    for (const ip of inside) expect([ip, (await keys.verify(secret, { ip })).ok]).toEqual([ip, true]);
    for (const ip of outside) {
      const result = await keys.verify(secret, { ip });
      expect([ip, !result.ok && result.error.code]).toEqual([ip, "ip_forbidden"]);
    }
    await close();
  });

  it("a key with several entries admits an address inside any of them", async () => {
    const { keys, close } = makeKeys();
    const { secret } = await keys.create({ name: "k", allowedIps: ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"] });
    for (const ip of ["203.0.113.1", "2001:db8::5", "198.51.100.7", "::ffff:198.51.100.7"]) expect((await keys.verify(secret, { ip })).ok).toBe(true);
    expect((await keys.verify(secret, { ip: "198.51.100.8" })).ok).toBe(false);
    await close();
  });

  it("fails closed: a key with a list is refused when no address is known; a key without one never asks", async () => {
    const { keys, events, close } = makeKeys();
    const listed = await keys.create({ name: "listed", allowedIps: ["203.0.113.0/24"] });
    const open = await keys.create({ name: "open" });
    const result = await keys.verify(listed.secret);
    expect(!result.ok && result.error).toMatchObject({ code: "ip_forbidden", status: 403, message: "This key may not be used from this address." });
    expect(events.at(-1)).toMatchObject({ type: "auth.failed", code: "ip_forbidden", keyId: listed.key.id });
    expect((await keys.verify(open.secret)).ok).toBe(true);
    // request.ip (for events) is the fallback address
    expect((await keys.verify(listed.secret, { request: { ip: "203.0.113.5" } })).ok).toBe(true);
    await close();
  });
});

describe("IP allow-list over HTTP (apiKeyAuth)", () => {
  it("uses the socket's address by default (supertest connects from loopback, seen as 127.0.0.1 or ::ffff:127.0.0.1)", async () => {
    const { keys, close } = makeKeys();
    const local = await keys.create({ name: "local", allowedIps: ["127.0.0.0/8", "::1"] });
    const remote = await keys.create({ name: "remote", allowedIps: ["203.0.113.0/24"] });
    const app = makeApp(keys);
    await request(app).get("/whoami").set("Authorization", `Bearer ${local.secret}`).expect(200);
    const res = await request(app).get("/whoami").set("Authorization", `Bearer ${remote.secret}`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { code: "ip_forbidden", message: "This key may not be used from this address." } });
    await close();
  });

  it("refuses a request from outside with 403 ip_forbidden before the charge: no rate-limit unit is consumed", async () => {
    const { keys, close } = makeKeys({ storeKind: "sqlite" });
    const { secret } = await keys.create({ name: "k", allowedIps: ["203.0.113.0/24"], rateLimit: { limit: 1, window: "1h" } });
    // The client address as a trusted proxy would report it (here: a test header).
    const app = makeApp(keys, { ip: (req) => req.headers["x-test-ip"] as string | undefined });
    const auth = { Authorization: `Bearer ${secret}` };
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get("/whoami").set(auth).set("x-test-ip", "198.51.100.1");
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("ip_forbidden");
      expect(res.headers["ratelimit"]).toBeUndefined();
    }
    const inside = await request(app).get("/whoami").set(auth).set("x-test-ip", "::ffff:203.0.113.20");
    expect(inside.status).toBe(200); // the one unit of the window is still there
    expect((await request(app).get("/whoami").set(auth).set("x-test-ip", "203.0.113.20")).status).toBe(429);
    await close();
  });

  it("the ip option is validated at construction", () => {
    const { keys } = makeKeys();
    expect(() => makeApp(keys, { ip: "req.ip" as never })).toThrow(/ip/);
  });
});

describe("IP allow-list in keysRouter", () => {
  it("creates and patches allowedIps, shows them in the key JSON, and answers 422 naming the entry with nothing written", async () => {
    const { keys, store, close } = makeKeys({ storeKind: "sqlite" });
    const app = routerApp(keys);
    const created = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "k", allowedIps: ["203.0.113.0/24", "2001:DB8::/32"] })
      .expect(201);
    expect(created.body.key.allowedIps).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    const id = created.body.key.id as string;
    const before = await snapshot(store);
    for (const bad of [["10.0.0.0/33"], ["1.2.3"], ["::g"], ["10.0.0.1/8/8"], [""], [42], "10.0.0.0/8"]) {
      const res = await request(app).post("/api/keys").set(U1).send({ name: "bad", allowedIps: bad });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("validation_failed");
      expect(res.body.error.details[0].path).toBe(Array.isArray(bad) ? "allowedIps.0" : "allowedIps");
      if (Array.isArray(bad) && typeof bad[0] === "string" && bad[0] !== "") expect(res.body.error.details[0].message).toContain(JSON.stringify(bad[0]));
      const patched = await request(app).patch(`/api/keys/${id}`).set(U1).send({ allowedIps: bad });
      expect(patched.status).toBe(422);
    }
    // 10k entries exceed the router's 16 KiB body limit; 1,000 short ones fit in it and hit the 64-entry cap.
    const huge = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "bad", allowedIps: Array.from({ length: 10_000 }, () => "10.0.0.1") });
    expect([huge.status, huge.body.error.code]).toEqual([413, "payload_too_large"]);
    const many = await request(app)
      .post("/api/keys")
      .set(U1)
      .send({ name: "bad", allowedIps: Array.from({ length: 1000 }, () => "::1") });
    expect(many.status).toBe(422);
    expect(many.body.error.details).toEqual([{ path: "allowedIps", message: "at most 64 entries (got 1000); use wider CIDR ranges" }]);
    expect(await snapshot(store)).toBe(before);
    const patched = await request(app).patch(`/api/keys/${id}`).set(U1).send({ allowedIps: null }).expect(200);
    expect(patched.body.key.allowedIps).toEqual([]);
    await close();
  });
});
