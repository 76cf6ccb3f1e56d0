/**
 * Header abuse (RFC 6750 §2.1/§3, RFC 9110 §11): every malformed credential is answered with its
 * documented status and code without a single store call; a well-formed wrong key costs at most one
 * read. Requests are written by hand over a socket so headers really repeat and carry raw bytes.
 */
import { allEvents, trackSecret } from "./leak-guard";
import express from "express";
import { KeyFormat, MemoryStore, apiKeyAuth, type KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { makeKeys, tempDir } from "../helpers";
import { countingStore, type CountingStore } from "../counting-store";
import { listen, rawRequest, type RawResponse } from "./support";

type Expect = { status: number; code: string | null };
const OK: Expect = { status: 200, code: null };
const MISSING: Expect = { status: 401, code: "missing_key" };
const MALFORMED: Expect = { status: 400, code: "invalid_request" };
const INVALID: Expect = { status: 401, code: "invalid_key" };
/** A malformed custom header: 401 by default (RFC 6750's 400 governs only `Authorization: Bearer`). */
const MALFORMED_401: Expect = INVALID;

function codeOf(res: RawResponse): string | null {
  if (res.status === 200) return null;
  try {
    return (JSON.parse(res.body) as { error: { code: string } }).error.code;
  } catch {
    return `unparsed:${res.body.slice(0, 40)}`;
  }
}

/** `secret` with the character at `index` replaced by `ch` (a look-alike). */
const swapAt = (secret: string, index: number, ch: string) => secret.slice(0, index) + ch + secret.slice(index + 1);
/** A header line whose value is raw UTF-8 bytes, as a client that does not validate would send it. */
const utf8Line = (text: string) => Buffer.from(text, "utf8");

describe.each(["memory", "sqlite"] as const)("header abuse against a %s store", (kind) => {
  const tmp = tempDir();
  let counting: CountingStore<MemoryStore | SqliteStore>;
  let keys: KeyManager;
  let close: () => Promise<void>;
  let port: number;
  let S: string; // a valid, active key
  let U: string; // well-formed (valid checksum) but unknown
  let closeKeys: () => Promise<void>;

  beforeAll(async () => {
    counting = countingStore(kind === "memory" ? new MemoryStore() : new SqliteStore(tmp.file("keys.db")));
    const made = makeKeys({ store: counting.store });
    keys = made.keys;
    closeKeys = made.close;
    S = (await keys.create({ name: "valid" })).secret;
    U = new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("live");
    trackSecret(U);
    const app = express();
    app.use("/bearer", apiKeyAuth({ keys }));
    app.use("/custom", apiKeyAuth({ keys, header: "x-api-key" }));
    app.use("/either", apiKeyAuth({ keys, header: "x-api-key", bearer: true }));
    app.use("/bearer401", apiKeyAuth({ keys, malformedStatus: 401 }));
    app.use("/custom400", apiKeyAuth({ keys, header: "x-api-key", malformedStatus: 400 }));
    app.use("/either401", apiKeyAuth({ keys, header: "x-api-key", bearer: true, malformedStatus: 401 }));
    app.get(["/bearer", "/custom", "/either", "/bearer401", "/custom400", "/either401"], (req, res) => {
      res.json({ id: req.apiKey!.id });
    });
    const server = await listen(app);
    port = server.port;
    close = server.close;
  });
  afterAll(async () => {
    await close();
    await closeKeys();
    tmp.cleanup();
  });

  async function expectAnswer(path: string, lines: Array<string | Buffer>, want: Expect, maxStoreCalls = 0) {
    counting.reset();
    const res = await rawRequest(port, path, lines);
    expect({ status: res.status, code: codeOf(res) }).toEqual(want);
    expect(counting.calls.findByHash ?? 0).toBeLessThanOrEqual(maxStoreCalls);
    if (maxStoreCalls === 0) expect(counting.reads()).toBe(0); // no lookup, no counter, nothing
    if (want.status === 400 || want.status === 401) {
      expect(res.headers["cache-control"]).toBe(want.status === 401 ? "no-store" : undefined);
    }
    // The presented key never comes back: not in the body, not in WWW-Authenticate.
    expect(res.raw).not.toContain(S.slice(12));
    expect(res.raw).not.toContain(U.slice(12));
    return res;
  }

  // Lazily built lines: S and U only exist after beforeAll.
  const bearerCases: Array<[string, () => Array<string | Buffer>, Expect]> = [
    ["no Authorization header", () => [], MISSING],
    ["the Basic scheme", () => ["Authorization: Basic dXNlcjpwYXNz"], MISSING],
    ["another scheme carrying the key", () => [`Authorization: Token ${S}`], MISSING],
    ["the scheme glued to the key", () => [`Authorization: Bearer${S}`], MISSING],
    ["an empty Authorization header", () => ["Authorization:"], MISSING],
    ["a lowercase scheme", () => [`Authorization: bearer ${S}`], OK],
    ["an uppercase scheme", () => [`Authorization: BEARER ${S}`], OK],
    ["several spaces after the scheme (1*SP)", () => [`Authorization: Bearer    ${S}`], OK],
    ["trailing whitespace (trimmed by HTTP)", () => [`Authorization: Bearer ${S}  `], OK],
    ["a tab after the scheme", () => [`Authorization: Bearer\t${S}`], MALFORMED],
    ["a space then a tab", () => [`Authorization: Bearer \t${S}`], MALFORMED],
    ["the scheme alone", () => ["Authorization: Bearer"], MALFORMED],
    ["the scheme and spaces only", () => ["Authorization: Bearer    "], MALFORMED],
    ["the key followed by another word", () => [`Authorization: Bearer ${S} extra`], MALFORMED],
    ["the key in double quotes", () => [`Authorization: Bearer "${S}"`], MALFORMED],
    ["the key in single quotes", () => [`Authorization: Bearer '${S}'`], MALFORMED],
    ["the key and a comma", () => [`Authorization: Bearer ${S},`], MALFORMED],
    ["an auth-param instead of a token", () => [`Authorization: Bearer token="${S}"`], MALFORMED],
    ["two Authorization lines with the same key", () => [`Authorization: Bearer ${S}`, `Authorization: Bearer ${S}`], MALFORMED],
    ["two Authorization lines, valid key first", () => [`Authorization: Bearer ${S}`, `Authorization: Bearer ${U}`], MALFORMED],
    ["Basic then Bearer", () => ["Authorization: Basic dXNlcjpwYXNz", `Authorization: Bearer ${S}`], MALFORMED],
    ["two lines differing in name case", () => [`authorization: Bearer ${S}`, `AUTHORIZATION: Bearer ${S}`], MALFORMED],
    ["a Cyrillic 'а' in place of a letter", () => [utf8Line(`Authorization: Bearer ${swapAt(S, 20, "а")}`)], MALFORMED],
    ["a fullwidth digit in place of a character", () => [utf8Line(`Authorization: Bearer ${swapAt(S, 20, "１")}`)], MALFORMED],
    ["a fullwidth scheme", () => [utf8Line(`Authorization: Ｂearer ${S}`)], MISSING],
    ["a non-breaking space after the scheme", () => [utf8Line(`Authorization: Bearer\u00a0${S}`)], MISSING],
    ["a zero-width space inside the key", () => [utf8Line(`Authorization: Bearer ${swapAt(S, 20, "\u200b")}`)], MALFORMED],
    ["a 1025-character token", () => [`Authorization: Bearer ${"A".repeat(1025)}`], MALFORMED],
    ["a 16 KiB - 1 KiB value", () => [`Authorization: Bearer ${S}${"A".repeat(15 * 1024)}`], MALFORMED],
    ["a well-formed unknown key", () => [`Authorization: Bearer ${U}`], INVALID],
    ["a b64token that is not a key", () => ["Authorization: Bearer abc.def-ghi_jkl~mno+pqr/stu=="], INVALID],
    ["the key with a trailing =", () => [`Authorization: Bearer ${S}=`], INVALID],
    ["the key cut short by one character", () => [`Authorization: Bearer ${S.slice(0, -1)}`], INVALID],
    ["the key with the checksum off by one", () => [`Authorization: Bearer ${swapAt(S, S.length - 1, S.endsWith("0") ? "1" : "0")}`], INVALID],
  ];

  it.each(bearerCases)("Bearer route: %s", async (_name, lines, want) => {
    const l = lines();
    await expectAnswer("/bearer", l, want, want === OK || (want === INVALID && l.join("").includes(U)) ? 1 : 0);
  });

  it("a well-formed unknown key reads the store once, then the negative cache answers", async () => {
    const fresh = new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).generate("test");
    trackSecret(fresh);
    await expectAnswer("/bearer", [`Authorization: Bearer ${fresh}`], INVALID, 1);
    await expectAnswer("/bearer", [`Authorization: Bearer ${fresh}`], INVALID, 0);
  });

  it("answers RFC 6750 challenges: none for a missing key, invalid_request / invalid_token otherwise", async () => {
    const missing = await expectAnswer("/bearer", [], MISSING);
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="api"');
    const malformed = await expectAnswer("/bearer", [`Authorization: Bearer ${S} x`], MALFORMED);
    expect(malformed.headers["www-authenticate"]).toMatch(/^Bearer realm="api", error="invalid_request", error_description="[^"]+"$/);
    const wrong = await expectAnswer("/bearer", [`Authorization: Bearer ${U}`], INVALID, 1);
    expect(wrong.headers["www-authenticate"]).toMatch(/^Bearer realm="api", error="invalid_token"/);
  });

  it("a header larger than Node's limit is refused by Node itself (431) before keyward or the store", async () => {
    counting.reset();
    const res = await rawRequest(port, "/bearer", [`Authorization: Bearer ${"A".repeat(64 * 1024)}`]);
    expect(res.status).toBe(431);
    expect(counting.calls).toEqual({});
  });

  it("a 64 KiB value on a server that admits big headers gets keyward's 400 without a store call", async () => {
    const big = await listen(
      express()
        .use(apiKeyAuth({ keys }))
        .use((_req, res) => {
          res.end("ok");
        }),
      { maxHeaderSize: 256 * 1024 },
    );
    try {
      counting.reset();
      const res = await rawRequest(big.port, "/", [`Authorization: Bearer ${S}${"A".repeat(64 * 1024)}`]);
      expect({ status: res.status, code: codeOf(res) }).toEqual(MALFORMED);
      expect(res.body.length).toBeLessThan(300);
      expect(counting.calls).toEqual({});
    } finally {
      await big.close();
    }
  });

  it("control characters are refused by Node's parser (400) before keyward or the store", async () => {
    counting.reset();
    const res = await rawRequest(port, "/bearer", [`Authorization: Bearer ${S}\x01`]);
    expect(res.status).toBe(400);
    expect(counting.calls).toEqual({});
  });

  const customCases: Array<[string, string, () => Array<string | Buffer>, Expect]> = [
    ["/custom", "the key in the custom header", () => [`X-API-Key: ${S}`], OK],
    ["/custom", "the header name in odd case", () => [`x-ApI-kEy: ${S}`], OK],
    ["/custom", "the custom header twice, same key", () => [`X-API-Key: ${S}`, `X-API-Key: ${S}`], MALFORMED_401],
    ["/custom", "the custom header twice, different case", () => [`x-api-key: ${S}`, `X-API-KEY: ${U}`], MALFORMED_401],
    ["/custom", "an empty custom header", () => ["X-API-Key:"], MALFORMED_401],
    ["/custom", "a scheme inside the custom header", () => [`X-API-Key: Bearer ${S}`], MALFORMED_401],
    ["/custom", "two keys separated by a comma", () => [`X-API-Key: ${S}, ${U}`], MALFORMED_401],
    ["/custom", "a look-alike character", () => [utf8Line(`X-API-Key: ${swapAt(S, 20, "а")}`)], MALFORMED_401],
    ["/custom", "a 2 KiB custom header", () => [`X-API-Key: ${"A".repeat(2048)}`], MALFORMED_401],
    ["/custom", "Bearer only, when the route reads the custom header", () => [`Authorization: Bearer ${S}`], MISSING],
    ["/custom", "an unknown well-formed key", () => [`X-API-Key: ${U}`], INVALID],
    ["/either", "Bearer alone", () => [`Authorization: Bearer ${S}`], OK],
    ["/either", "the custom header alone", () => [`X-API-Key: ${S}`], OK],
    ["/either", "Bearer and the custom header, same key", () => [`Authorization: Bearer ${S}`, `X-API-Key: ${S}`], MALFORMED],
    ["/either", "Bearer and the custom header, different keys", () => [`Authorization: Bearer ${U}`, `X-API-Key: ${S}`], MALFORMED],
    ["/either", "a malformed Bearer and a good custom header", () => [`Authorization: Bearer ${S} x`, `X-API-Key: ${S}`], MALFORMED],
    ["/either", "a Basic header next to the custom header", () => ["Authorization: Basic dXNlcjpwYXNz", `X-API-Key: ${S}`], OK],
    [
      "/either",
      "two Authorization lines next to the custom header",
      () => [`Authorization: Bearer ${S}`, `Authorization: Bearer ${S}`, `X-API-Key: ${S}`],
      MALFORMED,
    ],
  ];

  it.each(customCases)("%s: %s", async (path, _name, lines, want) => {
    const l = lines();
    await expectAnswer(path, l, want, want === OK || (want === INVALID && l.join("").includes(U)) ? 1 : 0);
  });

  // malformedStatus: the app picks 400 (RFC 6750) or 401 (docs that promise 401 for any bad key).
  const statusCases: Array<[string, string, () => Array<string | Buffer>, Expect]> = [
    ["/bearer401", "an empty Bearer", () => ["Authorization: Bearer"], INVALID],
    ["/bearer401", "two tokens", () => [`Authorization: Bearer ${S} extra`], INVALID],
    ["/bearer401", "illegal characters", () => [`Authorization: Bearer "${S}"`], INVALID],
    ["/bearer401", "a look-alike character", () => [utf8Line(`Authorization: Bearer ${swapAt(S, 20, "а")}`)], INVALID],
    ["/bearer401", "two Authorization lines", () => [`Authorization: Bearer ${S}`, `Authorization: Bearer ${S}`], INVALID],
    ["/bearer401", "a 1025-character token", () => [`Authorization: Bearer ${"A".repeat(1025)}`], INVALID],
    ["/bearer401", "no Authorization header (still missing_key)", () => [], MISSING],
    ["/bearer401", "a good key", () => [`Authorization: Bearer ${S}`], OK],
    ["/custom400", "an empty custom header", () => ["X-API-Key:"], MALFORMED],
    ["/custom400", "two keys separated by a comma", () => [`X-API-Key: ${S}, ${S}`], MALFORMED],
    ["/custom400", "the custom header twice", () => [`X-API-Key: ${S}`, `X-API-Key: ${S}`], MALFORMED],
    ["/either", "a malformed Bearer next to nothing else (Bearer default 400)", () => ["Authorization: Bearer"], MALFORMED],
    ["/either", "an empty custom header (custom default 401)", () => ["X-API-Key:"], INVALID],
    ["/either401", "both sources at once", () => [`Authorization: Bearer ${S}`, `X-API-Key: ${S}`], INVALID],
  ];

  it.each(statusCases)("malformedStatus, %s: %s", async (path, _name, lines, want) => {
    const res = await expectAnswer(path, lines(), want, want === OK ? 1 : 0);
    if (want === INVALID) expect(res.headers["www-authenticate"]).toMatch(/^(Bearer|ApiKey) realm="api", error="invalid_token", error_description="[^"]+"$/);
    if (want === MALFORMED) expect(res.headers["www-authenticate"]).toMatch(/error="invalid_request"/);
  });

  it("never reads a key from the query string, never echoes it, never puts it in an event", async () => {
    const before = allEvents.length;
    for (const param of ["api_key", "apikey", "key", "access_token", "token", "x-api-key"]) {
      const res = await expectAnswer(`/bearer?${param}=${S}`, [], MISSING);
      expect(res.body).not.toContain(S.slice(8));
    }
    const alongside = await expectAnswer(`/custom?access_token=${U}`, [`X-API-Key: ${S}`], OK);
    expect(alongside.body).not.toContain(U.slice(8));
    const fresh = allEvents.slice(before);
    expect(fresh.length).toBeGreaterThanOrEqual(6);
    for (const event of fresh) {
      expect(JSON.stringify(event)).not.toContain(S.slice(8));
      if ("path" in event) expect(event.path).not.toContain("?");
    }
  });
});

describe("the malformedStatus option", () => {
  const made = makeKeys();
  afterAll(() => made.close());
  it.each([402, "401", null, 500])("refuses %p at start-up, naming the option", (value) => {
    expect(() => apiKeyAuth({ keys: made.keys, malformedStatus: value as never })).toThrow(/apiKeyAuth\.malformedStatus: must be 400 or 401/);
  });
});
