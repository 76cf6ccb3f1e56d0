/**
 * Property-based tests (fast-check): the key parser never throws, round-trips generate→parse and
 * rejects every single-character mutation; the Bearer credential reader and the scope matcher agree
 * with simple reference models; durations parse exactly as specified or not at all.
 */
import { trackSecret } from "./leak-guard";
import type { IncomingMessage, ServerResponse } from "node:http";
import fc from "fast-check";
import { KeyFormat, KeyManager, KeywardError, MemoryStore, ScopeSet, apiKeyAuth, durationMs, parseDuration, requiredScope, scopeError } from "keyward";

const name = fc.stringMatching(/^[a-z0-9]{1,16}$/);
const formatArb = fc.record({ prefix: name, modes: fc.uniqueArray(name, { maxLength: 4 }) });
const anyChar = fc.oneof(
  fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-. "),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);

describe("key format", () => {
  it("parse and check never throw, whatever the input", () => {
    const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const parsed = format.parse(value);
        expect(parsed === null || typeof parsed === "object").toBe(true);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (text) => {
        expect(format.check(text)).toBeUndefined(); // a random string is never a key
      }),
      { numRuns: 1000 },
    );
  });

  it("generate → parse round-trips for any prefix and set of modes", () => {
    fc.assert(
      fc.property(formatArb, fc.nat(), ({ prefix, modes }, pick) => {
        const format = new KeyFormat({ prefix, modes });
        const mode = modes.length ? modes[pick % modes.length]! : null;
        const secret = format.generate(mode);
        const parsed = format.parse(secret);
        expect(parsed).toEqual({ prefix, mode, body: expect.stringMatching(/^[0-9A-Za-z]{38}$/) });
        expect(mode === null ? `${prefix}_${parsed!.body}` : `${prefix}_${mode}_${parsed!.body}`).toBe(secret);
        expect(format.pattern().test(secret)).toBe(true);
        expect(secret.startsWith(format.start(secret))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("rejects every single-character substitution, at every position", () => {
    fc.assert(
      fc.property(formatArb, fc.nat(), anyChar, ({ prefix, modes }, pick, replacement) => {
        const format = new KeyFormat({ prefix, modes });
        const secret = format.generate(modes.length ? modes[pick % modes.length]! : null);
        for (let i = 0; i < secret.length; i++) {
          if (secret[i] === replacement) continue;
          expect(format.check(secret.slice(0, i) + replacement + secret.slice(i + 1))).toBeUndefined();
        }
      }),
      { numRuns: 80 },
    );
  });

  it("rejects every single-character deletion, insertion and adjacent swap", () => {
    const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
    fc.assert(
      fc.property(anyChar, fc.constantFrom("live", "test"), (inserted, mode) => {
        const secret = format.generate(mode);
        for (let i = 0; i <= secret.length; i++) {
          if (i < secret.length) expect(format.check(secret.slice(0, i) + secret.slice(i + 1))).toBeUndefined();
          expect(format.check(secret.slice(0, i) + inserted + secret.slice(i))).toBeUndefined();
          if (i + 1 < secret.length && secret[i] !== secret[i + 1]) {
            expect(format.check(secret.slice(0, i) + secret[i + 1] + secret[i] + secret.slice(i + 2))).toBeUndefined();
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe("Bearer credential reader against a reference model", () => {
  /** RFC 6750 §2.1: `Bearer` (any case), 1*SP, b64token; keyward caps the header at 1024 characters. */
  function model(value: string): "ok" | "missing_key" | "invalid_request" | "invalid_key" {
    if (value.length > 1024) return "invalid_request";
    const match = /^([^ \t]*)([ \t]*)(.*)$/s.exec(value)!;
    if (match[1]!.toLowerCase() !== "bearer") return "missing_key";
    if (match[2]!.includes("\t")) return "invalid_request";
    if (match[3] === "") return "invalid_request";
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(match[3]!)) return "invalid_request";
    return match[3] === secret ? "ok" : "invalid_key";
  }

  let secret = "";
  const keys = new KeyManager({ store: new MemoryStore(), usage: false });
  const middleware = apiKeyAuth({ keys, forwardErrors: true });
  beforeAll(async () => {
    secret = (await keys.create({ name: "model" })).secret;
  });
  afterAll(() => keys.close());

  /** Runs the middleware synchronously on a request carrying `value` and returns what it decided. */
  function run(value: string): string {
    const req = { headers: { authorization: value }, rawHeaders: ["Authorization", value], method: "GET", url: "/", socket: {} } as unknown as IncomingMessage;
    let outcome = "no answer";
    middleware(req, {} as ServerResponse, (err?: unknown) => {
      outcome = err === undefined ? "ok" : err instanceof KeywardError ? err.code : `threw ${String(err)}`;
    });
    return outcome;
  }

  const token = fc.oneof(fc.constant("SECRET"), fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,60}=*$/), fc.string({ unit: "binary", maxLength: 60 }));
  const header = fc.oneof(
    fc.string({ unit: "binary", maxLength: 80 }),
    fc
      .tuple(
        fc.constantFrom("Bearer", "bearer", "BEARER", "BeArEr", "Basic", "Bearerx", "", "Token"),
        fc.constantFrom("", " ", "  ", "\t", " \t", "\t "),
        token,
        fc.constantFrom("", " x", "=", "==", ",", '"', "a".repeat(1100)),
      )
      .map(([scheme, sep, t, tail]) => `${scheme}${sep}${t}${tail}`),
  );

  it("classifies every header value exactly like the model, synchronously, never throwing", () => {
    fc.assert(
      fc.property(header, (raw) => {
        const value = raw.replace("SECRET", secret);
        if (value.includes(secret)) trackSecret(value);
        expect(run(value)).toBe(model(value));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("scope matcher against a reference model", () => {
  const resource = fc.constantFrom("users", "usersx", "user", "nodes", "a", "constructor");
  const action = fc.constantFrom("read", "write", "delete", "*");
  const scope = fc.oneof(
    { weight: 1, arbitrary: fc.constant("*") },
    { weight: 3, arbitrary: resource },
    { weight: 8, arbitrary: fc.tuple(resource, action).map(([r, a]) => `${r}:${a}`) },
  );
  const concrete = fc.oneof(
    resource,
    fc.tuple(resource, fc.constantFrom("read", "write", "delete")).map(([r, a]) => `${r}:${a}`),
  );

  /** Holds: `*`, the exact scope, or `resource:*` for a scope with an action. */
  const holds = (set: ReadonlySet<string>, s: string) => set.has("*") || set.has(s) || (s.includes(":") && set.has(`${s.split(":")[0]}:*`));
  /** Implications applied until nothing changes, the naive way. */
  function closure(granted: string[], implies: Record<string, string[]>): Set<string> {
    const set = new Set(granted);
    for (let changed = true; changed; ) {
      changed = false;
      for (const [from, to] of Object.entries(implies)) {
        if (!holds(set, from)) continue;
        for (const t of to)
          if (!set.has(t)) {
            set.add(t);
            changed = true;
          }
      }
    }
    return set;
  }

  it("grants exactly what the model grants, with and without implications", () => {
    const implies = fc.dictionary(scope, fc.array(scope, { maxLength: 3 }), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(scope, { maxLength: 6 }), implies, fc.array(concrete, { minLength: 1, maxLength: 8 }), (granted, rules, required) => {
        const set = ScopeSet.compile(granted, rules);
        const model = closure(granted, rules);
        const disagree = required.filter((r) => set.has(requiredScope(r)) !== holds(model, r));
        expect(disagree).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it("scope validation never throws and accepts exactly the grammar", () => {
    const grammar = /^(?:\*|[a-z0-9][a-z0-9_.-]{0,63}(?::(?:[a-z0-9][a-z0-9_.-]{0,63}|\*))?)$/;
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 140 }), fc.stringMatching(/^[a-z0-9_.:*-]{0,20}$/), fc.anything()), (value) => {
        const error = scopeError(value);
        return (error === null) === (typeof value === "string" && value.length <= 129 && grammar.test(value));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("duration parsing", () => {
  const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  const MAX = 100 * 365 * 86_400_000;

  it("a number with a unit is exactly that many milliseconds, or refused beyond 100 years", () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(1_000), fc.nat(999_999_999_999)), fc.constantFrom(...Object.keys(UNIT)), fc.constantFrom("", " ", "\t"), (n, unit, pad) => {
        const expected = n * UNIT[unit]! <= MAX ? n * UNIT[unit]! : null;
        return durationMs(`${pad}${n}${unit}${pad}`) === expected;
      }),
      { numRuns: 1000 },
    );
  });

  it("a number is seconds; negative, NaN and infinite numbers are refused", () => {
    fc.assert(
      fc.property(fc.double(), (n) => {
        const expected = Number.isFinite(n) && n >= 0 && Math.round(n * 1000) <= MAX ? Math.round(n * 1000) : null;
        return durationMs(n) === expected;
      }),
      { numRuns: 1000 },
    );
  });

  it("anything else is refused; parseDuration throws validation_failed exactly when durationMs is null", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.anything()), (value) => {
        const ms = durationMs(value);
        if (typeof value === "string" && /^\s*\d{1,12}(ms|s|m|h|d|w)\s*$/.test(value)) expect(ms === null || ms >= 0).toBe(true);
        else if (typeof value !== "number") expect(ms).toBeNull();
        let thrown: unknown = null;
        try {
          expect(parseDuration(value, "ttl")).toBe(ms);
        } catch (e) {
          thrown = e;
        }
        if (ms === null) expect(thrown).toMatchObject({ code: "validation_failed", message: expect.stringContaining("ttl") });
        else expect(thrown).toBeNull();
      }),
      { numRuns: 500 },
    );
  });
});
