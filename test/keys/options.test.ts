/**
 * Options are validated at construction. Every misconfiguration throws a
 * KeywardConfigError naming the option (and saying how to fix it) when the middleware, guard or
 * KeyManager is built, never on the first request.
 */
import { KeyManager, KeywardConfigError, MemoryStore, apiKeyAuth, requireAnyScope, requireMode, requireScope } from "keyward";
import { PostgresStore } from "keyward/postgres";
import { RedisCounters } from "keyward/redis";
import { SqliteStore } from "keyward/sqlite";

const keys = new KeyManager({ store: new MemoryStore(), usage: false });
afterAll(() => keys.close());

/** Runs `build` and returns the KeywardConfigError it threw (failing when it threw nothing else). */
function configError(build: () => unknown): KeywardConfigError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(KeywardConfigError);
    const err = e as KeywardConfigError;
    expect(err.name).toBe("KeywardConfigError");
    expect(err.code).toBe("invalid_config");
    expect(err.message.startsWith(`${err.option}: `)).toBe(true);
    return err;
  }
  throw new Error("expected a KeywardConfigError, but nothing was thrown");
}

describe("KeyManager options", () => {
  it.each<[string, unknown, string, RegExp]>([
    ["no options", undefined, "KeyManager", /options are required/],
    ["a missing store", {}, "KeyManager.store", /a store is required: pass new SqliteStore/],
    ["a store that is not one", { store: { get: () => null } }, "KeyManager.store", /a store is required/],
    ["an unknown option", { store: new MemoryStore(), prefx: "sk" }, "KeyManager", /unknown option "prefx"/],
    ["an empty prefix", { store: new MemoryStore(), prefix: "" }, "KeyManager.prefix", /1-16 characters from \[a-z0-9\]/],
    ["an uppercase prefix", { store: new MemoryStore(), prefix: "SK" }, "KeyManager.prefix", /1-16 characters from \[a-z0-9\]/],
    ["a prefix with an underscore", { store: new MemoryStore(), prefix: "s_k" }, "KeyManager.prefix", /\[a-z0-9\]/],
    ["a bad mode", { store: new MemoryStore(), modes: ["Live"] }, "KeyManager.modes.0", /each mode is 1-16 characters/],
    ["repeated modes", { store: new MemoryStore(), modes: ["live", "live"] }, "KeyManager.modes", /must not repeat/],
    ["a short pepper", { store: new MemoryStore(), pepper: "short" }, "KeyManager.pepper", /at least 16 characters/],
    [
      "counters without refund()",
      { store: new MemoryStore(), counters: { consume: () => 1 } },
      "KeyManager.counters",
      /must implement consume\(\) and refund\(\)/,
    ],
    ["a bad default scope", { store: new MemoryStore(), defaultScopes: ["*:*:*"] }, "KeyManager.defaultScopes.0", /not a valid scope/],
    ["an empty catalogue scope", { store: new MemoryStore(), scopes: [""] }, "KeyManager.scopes.0", /must not be empty/],
    ["a bad implication", { store: new MemoryStore(), implies: { "nodes:write": ["__proto__"] } }, "KeyManager.implies.nodes:write.0", /not a valid scope/],
    [
      "a default scope outside the catalogue",
      { store: new MemoryStore(), scopes: ["nodes:read"], defaultScopes: ["nodes:read", "users:read"] },
      "KeyManager.defaultScopes.1",
      /unknown scope "users:read"/,
    ],
    [
      "a default wildcard that covers nothing in the catalogue",
      { store: new MemoryStore(), scopes: ["nodes:read"], defaultScopes: ["billing:*"] },
      "KeyManager.defaultScopes.0",
      /unknown scope "billing:\*"/,
    ],
    ["a bad duration", { store: new MemoryStore(), defaultTtl: "soon" }, "KeyManager.defaultTtl", /not a duration/],
    [
      "an unknown default tier",
      { store: new MemoryStore(), tiers: { free: {} }, defaultTier: "gold" },
      "KeyManager.defaultTier",
      /not one of the tiers \(free\)/,
    ],
    ["a non-function clock", { store: new MemoryStore(), clock: 5 }, "KeyManager.clock", /must be a function/],
  ])("refuses %s", (_label, options, option, message) => {
    const err = configError(() => new KeyManager(options as never));
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });
});

describe("apiKeyAuth options", () => {
  it.each<[string, unknown, string, RegExp]>([
    ["an unknown option", { keys, requried: false }, "apiKeyAuth", /unknown option "requried"; check the spelling/],
    ["keys that are not a KeyManager", { keys: {} }, "apiKeyAuth.keys", /must be a KeyManager/],
    ["an unknown mode", { keys, modes: ["prod"] }, "apiKeyAuth.modes", /unknown mode "prod": must be one of live, test/],
    ["an empty mode list", { keys, modes: [] }, "apiKeyAuth.modes", /list at least one mode/],
    ["a header name with a space", { keys, header: "x api key" }, "apiKeyAuth.header", /HTTP header name/],
    ["a project header with a colon", { keys, projectHeader: "x-project:" }, "apiKeyAuth.projectHeader", /HTTP header name/],
    ["a non-boolean required", { keys, required: "no" }, "apiKeyAuth.required", /boolean/],
    ["a realm with a quote", { keys, realm: 'a"b' }, "apiKeyAuth.realm", /quotes/],
    ["a formatError that is not a function", { keys, formatError: "json" }, "apiKeyAuth.formatError", /must be a function/],
    ["a bad default project", { keys, defaultProject: "a b" }, "apiKeyAuth.defaultProject", /project id|function/],
    ["an unknown rate-limit header style", { keys, rateLimitHeaders: "ietf" }, "apiKeyAuth.rateLimitHeaders", /./],
  ])("refuses %s", (_label, options, option, message) => {
    const err = configError(() => apiKeyAuth(options as never));
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });

  it("accepts a full, valid configuration", () => {
    expect(
      typeof apiKeyAuth({
        keys,
        header: "X-Acme-Key",
        bearer: true,
        required: false,
        modes: ["live"],
        projectHeader: "x-acme-project",
        defaultProject: "p1",
        realm: "acme",
        formatError: (e) => e.message,
        forwardErrors: false,
        rateLimitHeaders: "both",
      }),
    ).toBe("function");
  });
});

describe("guard arguments", () => {
  it.each<[string, () => unknown, string, RegExp]>([
    ['requireScope("")', () => requireScope(""), "requireScope[0]", /must not be empty/],
    ['requireScope("nodes:*")', () => requireScope("nodes:*"), "requireScope[0]", /wildcard; a route must require a concrete scope such as "nodes:read"/],
    ['requireScope("*")', () => requireScope("*"), "requireScope[0]", /wildcard/],
    ["requireScope()", () => requireScope(), "requireScope", /name at least one scope/],
    ['requireScope("ok:read", "Bad")', () => requireScope("ok:read", "Bad"), "requireScope[1]", /not a valid scope/],
    ["requireScope(42)", () => requireScope(42 as never), "requireScope[0]", /must be a string/],
    ['requireAnyScope("a:read", "")', () => requireAnyScope("a:read", ""), "requireAnyScope[1]", /must not be empty/],
    ["requireMode()", () => requireMode(), "requireMode", /name at least one mode/],
    ['requireMode("LIVE")', () => requireMode("LIVE"), "requireMode[0]", /not a mode name/],
  ])("%s throws at construction", (_label, build, option, message) => {
    const err = configError(build);
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });
});

describe("store options are checked at construction like every other option", () => {
  it.each([
    ["SqliteStore", () => new SqliteStore(":memory:", { counterBatch: 0 }), "SqliteStore.counterBatch"],
    ["SqliteStore", () => new SqliteStore(":memory:", { busyTimeoutMs: "5s" as never }), "SqliteStore.busyTimeoutMs"],
    ["SqliteStore", () => new SqliteStore(":memory:", { counterBach: 10 } as never), "SqliteStore"],
    ["PostgresStore", () => new PostgresStore("postgres://app@127.0.0.1/app", { poolSize: -1 }), "PostgresStore.poolSize"],
    ["PostgresStore", () => new PostgresStore("postgres://app@127.0.0.1/app", { schema: "Public Schema" }), "PostgresStore.schema"],
    ["RedisCounters", () => new RedisCounters({ evalsha: () => 0, eval: () => 0 } as never, { prefix: "" }), "RedisCounters.prefix"],
  ])("%s refuses a bad option with a KeywardConfigError naming it", (_name, make, option) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeywardConfigError);
    expect((error as KeywardConfigError).option).toBe(option);
  });
});
