/** Expiry: expiresIn / expiresAt, the allowed-TTL policy, and the boundary to the ms over HTTP. */
import request from "supertest";
import { KeywardError } from "keyward";
import { makeApp, makeKeys } from "../helpers";
import { DAY } from "./support";

const HOUR = 3_600_000;

describe("expiresIn and expiresAt", () => {
  it("sets the expiry from a duration, a number of seconds or an absolute time", async () => {
    const { keys, clock, close } = makeKeys();
    const now = clock.ms;
    expect((await keys.create({ name: "a", expiresIn: "30d" })).key.expiresAt).toEqual(new Date(now + 30 * DAY));
    expect((await keys.create({ name: "b", expiresIn: "12h" })).key.expiresAt).toEqual(new Date(now + 12 * HOUR));
    expect((await keys.create({ name: "c", expiresIn: 3600 })).key.expiresAt).toEqual(new Date(now + HOUR));
    const at = new Date(now + 5 * DAY);
    expect((await keys.create({ name: "d", expiresAt: at })).key.expiresAt).toEqual(at);
    expect((await keys.create({ name: "e", expiresAt: at.toISOString() })).key.expiresAt).toEqual(at);
    expect((await keys.create({ name: "f" })).key.expiresAt).toBeNull();
    expect((await keys.create({ name: "g", expiresIn: null })).key.expiresAt).toBeNull();
    await close();
  });

  it.each([
    [{ expiresIn: "soon" }, "expiresIn"],
    [{ expiresIn: 0 }, "expiresIn"],
    [{ expiresIn: "30d", expiresAt: Date.now() + DAY }, "expiresIn"],
    [{ expiresAt: "not a date" }, "expiresAt"],
    [{ expiresAt: Date.UTC(2020, 0, 1) }, "expiresAt"],
  ])("refuses bad expiry input %o naming the field", async (input, field) => {
    const { keys, close } = makeKeys();
    const error = await keys.create({ name: "bad", ...input }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe("validation_failed");
    expect((error as KeywardError).status).toBe(422);
    expect((error as KeywardError).message).toContain(field);
    expect((await keys.list()).keys).toHaveLength(0);
    await close();
  });
});

describe("allowed TTL policy (30, 60 or 90 days, or none)", () => {
  const policy = { allowedTtls: ["30d", "60d", "90d", null] };

  it.each(["30d", "60d", "90d", null, 30 * 86_400])("accepts %p", async (ttl) => {
    const { keys, clock, close } = makeKeys(policy);
    const { key } = await keys.create({ name: "ok", expiresIn: ttl });
    expect(key.expiresAt).toEqual(ttl === null ? null : new Date(clock.ms + (typeof ttl === "number" ? ttl * 1000 : Number.parseInt(ttl, 10) * DAY)));
    await close();
  });

  it.each(["45d", "1d", "91d", "12h", 3600])("refuses %p with validation_failed listing the allowed lifetimes", async (ttl) => {
    const { keys, close } = makeKeys(policy);
    const error = (await keys.create({ name: "bad", expiresIn: ttl }).catch((e: unknown) => e)) as KeywardError;
    expect(error.code).toBe("validation_failed");
    expect(error.message).toBe("expiresIn: must be one of the allowed lifetimes: 30d, 60d, 90d, none");
    expect(error.details).toEqual([{ path: "expiresIn", message: "must be one of the allowed lifetimes: 30d, 60d, 90d, none" }]);
    await close();
  });

  it("refuses an absolute expiresAt and a missing lifetime when none is not allowed", async () => {
    const { keys, clock, close } = makeKeys({ allowedTtls: ["30d", "90d"] });
    await expect(keys.create({ name: "x", expiresAt: clock.ms + 30 * DAY })).rejects.toMatchObject({
      code: "validation_failed",
      message: expect.stringContaining("expiresAt"),
    });
    await expect(keys.create({ name: "x" })).rejects.toMatchObject({
      code: "validation_failed",
      message: "expiresIn: must be one of the allowed lifetimes: 30d, 90d",
    });
    await expect(keys.create({ name: "x", expiresIn: null })).rejects.toMatchObject({ code: "validation_failed" });
    await close();
  });

  it("uses defaultTtl when the create names no lifetime, and checks it against the policy at start-up", async () => {
    const { keys, clock, close } = makeKeys({ allowedTtls: ["30d", "90d"], defaultTtl: "90d" });
    expect((await keys.create({ name: "x" })).key.expiresAt).toEqual(new Date(clock.ms + 90 * DAY));
    await close();
    expect(() => makeKeys({ allowedTtls: ["30d"], defaultTtl: "90d" })).toThrow("KeyManager.defaultTtl: must be one of allowedTtls");
  });
});

describe.each(["memory", "sqlite"] as const)("expiry over HTTP with a controlled clock (%s)", (storeKind) => {
  it("accepts the key 1 ms before expiresAt and refuses it from expiresAt on with 401 key_expired", async () => {
    const { keys, clock, events, close } = makeKeys({ storeKind });
    const { secret, key } = await keys.create({ name: "short", expiresIn: "1h" });
    const expiresAt = key.expiresAt!.getTime();
    const app = makeApp(keys);
    const auth = { Authorization: `Bearer ${secret}` };

    clock.set(expiresAt - 1);
    await request(app).get("/whoami").set(auth).expect(200); // also warms the cache

    clock.set(expiresAt);
    const atExpiry = await request(app).get("/whoami").set(auth);
    expect(atExpiry.status).toBe(401);

    clock.set(expiresAt + 1);
    const after = await request(app).get("/whoami").set(auth);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: { code: "key_expired", message: "The API key has expired." } });
    expect(after.headers["www-authenticate"]).toBe('Bearer realm="api", error="invalid_token", error_description="The API key has expired."');
    expect(after.headers["cache-control"]).toBe("no-store");
    expect(events.filter((e) => e.type === "auth.failed")).toEqual([
      expect.objectContaining({ code: "key_expired", keyId: key.id }),
      expect.objectContaining({ code: "key_expired", keyId: key.id }),
    ]);
    expect((await keys.get(key.id))!.status).toBe("expired");
    expect((await keys.list({ status: "expired" })).keys.map((k) => k.id)).toEqual([key.id]);
    await close();
  });
});
