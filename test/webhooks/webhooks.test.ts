/** Webhook signing secrets per mode: sign/verify round trip and every refusal. */
import { createHmac } from "node:crypto";
import { createWebhookSecret, KeywardConfigError, KeywardError, signWebhook, verifyWebhook, webhookSecretMode } from "keyward";

const T = 1_795_000_000; // a fixed Unix time in seconds
const body = JSON.stringify({ type: "model.published", data: { id: "m_1", price: 1200 } });

/** The error `fn` throws, asserting it is a KeywardError with `code`. */
function refusal(fn: () => unknown, code: string): KeywardError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe(code);
    return error as KeywardError;
  }
  throw new Error(`expected a ${code} refusal`);
}

describe("createWebhookSecret", () => {
  it("makes whsec_test_ / whsec_live_ secrets with 32 random base62 characters (≈190 bits), all distinct", () => {
    const test = createWebhookSecret("test");
    const live = createWebhookSecret("live");
    expect(test).toMatch(/^whsec_test_[0-9A-Za-z]{32}$/);
    expect(live).toMatch(/^whsec_live_[0-9A-Za-z]{32}$/);
    expect(webhookSecretMode(test)).toBe("test");
    expect(webhookSecretMode(live)).toBe("live");
    expect(webhookSecretMode(createWebhookSecret())).toBeNull();
    const many = new Set(Array.from({ length: 200 }, () => createWebhookSecret("live")));
    expect(many.size).toBe(200);
    expect(() => createWebhookSecret("LIVE")).toThrow(KeywardConfigError);
    expect(() => webhookSecretMode("sk_live_abc")).toThrow(KeywardConfigError);
  });
});

describe("signWebhook / verifyWebhook", () => {
  const secret = createWebhookSecret("live");

  it('round-trips: the header is t=<unix>,v1=<hex HMAC-SHA-256 of "t.payload"> and verifies', () => {
    const header = signWebhook(body, secret, { timestamp: T });
    const expected = createHmac("sha256", secret).update(`${T}.${body}`).digest("hex");
    expect(header).toBe(`t=${T},v1=${expected}`);
    expect(verifyWebhook(body, header, secret, { now: T + 10 })).toEqual({ timestamp: T, mode: "live" });
    expect(verifyWebhook(Buffer.from(body), header, secret, { now: new Date((T - 5) * 1000), mode: "live" })).toEqual({ timestamp: T, mode: "live" });
    const fresh = signWebhook(body, secret);
    expect(verifyWebhook(body, fresh, secret).mode).toBe("live");
  });

  it.each([
    ["a changed field", body.replace("1200", "1")],
    ["an extra space", body + " "],
    ["an empty body", ""],
  ])("rejects a tampered payload (%s) with invalid_signature", (_label, tampered) => {
    const header = signWebhook(body, secret, { timestamp: T });
    refusal(() => verifyWebhook(tampered, header, secret, { now: T }), "invalid_signature");
  });

  it("rejects a header whose timestamp was changed (the signature covers it)", () => {
    const header = signWebhook(body, secret, { timestamp: T });
    refusal(() => verifyWebhook(body, header.replace(`t=${T}`, `t=${T + 60}`), secret, { now: T + 60 }), "invalid_signature");
  });

  it("rejects stale and future timestamps beyond the tolerance (default 300 s) with signature_expired", () => {
    const header = signWebhook(body, secret, { timestamp: T });
    expect(verifyWebhook(body, header, secret, { now: T + 300 }).timestamp).toBe(T);
    expect(refusal(() => verifyWebhook(body, header, secret, { now: T + 301 }), "signature_expired").message).toMatch(/301s ago/);
    refusal(() => verifyWebhook(body, header, secret, { now: T - 301 }), "signature_expired");
    expect(verifyWebhook(body, header, secret, { now: T + 3000, tolerance: 3600 }).timestamp).toBe(T);
    refusal(() => verifyWebhook(body, header, secret, { now: T + 2, tolerance: 1 }), "signature_expired");
  });

  it("refuses the other mode: a test-signed webhook does not verify with the live secret, and mode pins the secret", () => {
    const testSecret = createWebhookSecret("test");
    const testHeader = signWebhook(body, testSecret, { timestamp: T });
    refusal(() => verifyWebhook(body, testHeader, secret, { now: T }), "invalid_signature");
    refusal(() => verifyWebhook(body, testHeader, testSecret, { now: T, mode: "live" }), "mode_forbidden");
    expect(verifyWebhook(body, testHeader, testSecret, { now: T, mode: "test" }).mode).toBe("test");
  });

  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["no timestamp", "v1=" + "a".repeat(64)],
    ["no v1", `t=${T}`],
    ["only another scheme", `t=${T},v0=${"a".repeat(64)}`],
    ["a non-numeric timestamp", `t=soon,v1=${"a".repeat(64)}`],
    ["two timestamps", `t=${T},t=${T},v1=${"a".repeat(64)}`],
    ["a short signature", `t=${T},v1=abcd`],
    ["an upper-case signature", `t=${T},v1=${"A".repeat(64)}`],
    ["garbage", "hello world"],
    ["an oversized header", `t=${T},` + `v1=${"a".repeat(64)},`.repeat(100)],
  ])("rejects a malformed header (%s) with invalid_signature", (_label, header) => {
    refusal(() => verifyWebhook(body, header as string | undefined, secret, { now: T }), "invalid_signature");
  });

  it("accepts any of several secrets (secret rotation) and any of several v1 signatures", () => {
    const next = createWebhookSecret("live");
    const header = signWebhook(body, next, { timestamp: T });
    expect(verifyWebhook(body, header, [secret, next], { now: T }).timestamp).toBe(T);
    const both = `${signWebhook(body, secret, { timestamp: T })},v1=${header.split("v1=")[1]}`;
    expect(verifyWebhook(body, both, next, { now: T }).timestamp).toBe(T);
  });

  it("never puts the secret in an error message and refuses misuse at the call site", () => {
    const header = signWebhook(body, secret, { timestamp: T });
    for (const code of ["invalid_signature", "signature_expired"]) {
      const error = refusal(() => verifyWebhook(code === "invalid_signature" ? "x" : body, header, secret, { now: T + 9999 }), code);
      expect(error.message).not.toContain(secret);
    }
    expect(() => signWebhook(body, "not-a-secret")).toThrow(KeywardConfigError);
    expect(() => signWebhook({ parsed: true } as unknown as string, secret)).toThrow(/raw body/);
    expect(() => verifyWebhook(body, header, secret, { tolerance: -1 })).toThrow(KeywardConfigError);
    expect(() => verifyWebhook(body, header, [], { now: T })).toThrow(KeywardConfigError);
  });
});
