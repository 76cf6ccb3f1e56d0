/**
 * The `keyward` command line as a user meets it, in-process through `runCli`: a bare `keyward`
 * prints the help (stdout, exit 1, like git and npm), every usage error ends with the same hint
 * line, and data goes to stdout while diagnostics go to stderr.
 */
import { KeyManager, runCli } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { capture, cli, restoreCliEnv, saveCliEnv } from "./cli-io";

const tmp = tempDir();
const db = tmp.file("keyward.db");
const saved = saveCliEnv();
beforeAll(() => {
  delete process.env.KEYWARD_PREFIX;
  delete process.env.KEYWARD_MODES;
});
afterAll(() => {
  restoreCliEnv(saved);
  tmp.cleanup();
});

describe("a bare keyward", () => {
  it("prints the help on stdout and exits 1, as git and npm do; --help exits 0", async () => {
    const bare = await cli([]);
    expect(bare).toMatchObject({ code: 1, stderr: "" });
    expect(bare.stdout).toMatch(/^Usage: keyward keys <command>/);
    expect(bare.stdout).toContain("keys create");
    const keysOnly = await cli(["keys"]);
    expect(keysOnly).toMatchObject({ code: 1, stdout: bare.stdout, stderr: "" });
    expect(await cli(["--help"])).toMatchObject({ code: 0, stdout: bare.stdout, stderr: "" });
  });

  it("speaks under an app's own name when preset", async () => {
    const io = capture();
    expect(await runCli([], io, { name: "acme-keys", prefix: "xk", modes: ["test", "live"], db: tmp.file("xk.db") })).toBe(1);
    expect(io.stdout).toMatch(/^Usage: acme-keys keys <command>/);
  });
});

describe("usage errors", () => {
  it.each([
    [["keys", "create", "--nme", "x"], "create"],
    [["keys", "create"], "create"],
    [["keys", "create", "--name", "x", "--db", db, "--mode", "staging"], "create"],
    [["keys", "create", "--name", "x", "--db", db, "--scope", "Bad Scope"], "create"],
    [["keys", "list", "--status", "gone"], "list"],
    [["keys", "list", "--db", db, "--prefix", "NO!"], "list"],
    [["keys", "show"], "show"],
    [["keys", "rotate", "key_x", "--overlap", "soon"], "rotate"],
    [["keys", "revoke", "a", "b"], "revoke"],
    [["keys", "usage", "key_x", "--days", "0"], "usage"],
    [["keys", "scope-usage", "key_x", "--days", "91"], "scope-usage"],
    [["keys", "scope-usage"], "scope-usage"],
    [["keys", "delete", "x"], null],
    [["nodes"], null],
  ])("%j exits 2: one error line, then the hint line", async (args, command) => {
    const run = await cli(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^keyward: \S/);
    expect(lines[1]).toBe(command === null ? "Run `keyward --help` for usage." : `Run \`keyward keys ${command} --help\` for usage.`);
  });
});

describe("data on stdout, diagnostics on stderr", () => {
  let id: string;
  beforeAll(async () => {
    const created = await cli(["keys", "create", "--db", db, "--name", "table-me", "--scope", "nodes:read"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^sk_live_[0-9A-Za-z]+\n$/); // the secret alone
    expect(created.stderr).toContain("Created key_");
    const keys = new KeyManager({ store: new SqliteStore(db), cache: false });
    id = (await keys.list()).keys[0]!.id;
    await keys.close();
  });

  it("keys list prints its table on stdout", async () => {
    const run = await cli(["keys", "list", "--db", db]);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+START\s+MODE\s+STATUS/);
    expect(run.stdout).toContain(id);
    const empty = await cli(["keys", "list", "--db", db, "--status", "revoked"]);
    expect(empty).toMatchObject({ code: 0, stdout: "", stderr: "No keys.\n" });
  });

  it("keys show and keys usage print on stdout; keys revoke confirms on stderr", async () => {
    const show = await cli(["keys", "show", id, "--db", db]);
    expect(show).toMatchObject({ code: 0, stderr: "" });
    expect(show.stdout).toContain(`${id}  table-me`);
    const usage = await cli(["keys", "usage", id, "--db", db, "--days", "2"]);
    expect(usage).toMatchObject({ code: 0, stderr: "" });
    expect(usage.stdout).toMatch(/total\s+0\n$/);
    const revoke = await cli(["keys", "revoke", id, "--db", db]);
    expect(revoke).toMatchObject({ code: 0, stdout: "" });
    expect(revoke.stderr).toMatch(/^Revoked key_/);
  });

  it("keys scope-usage prints used scopes and never-used ones on stdout, or JSON", async () => {
    const keys = new KeyManager({ store: new SqliteStore(db), cache: false });
    const { secret, key } = await keys.create({ name: "scoped", scopes: ["nodes:read", "nodes:write"] });
    for (let i = 0; i < 3; i++) expect((await keys.verify(secret, { scope: "nodes:read" })).ok).toBe(true);
    await keys.close();
    const text = await cli(["keys", "scope-usage", key.id, "--db", db]);
    expect(text).toMatchObject({ code: 0, stderr: "" });
    expect(text.stdout).toMatch(/^nodes:read {2}3 {2}last \d{4}-\d\d-\d\dT[\d:.]+Z\nnever used: nodes:write\n$/);
    const json = await cli(["keys", "scope-usage", key.id, "--db", db, "--days", "1", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ used: [{ scope: "nodes:read", count: 3, lastUsedAt: expect.any(String) }], unused: ["nodes:write"] });
    const help = await cli(["--help"]);
    expect(help.stdout).toContain("keys scope-usage The scopes the key's requests were admitted for");
  });

  it("a failure (exit 1) writes only to stderr", async () => {
    const run = await cli(["keys", "show", "key_0000000000000000000000", "--db", db]);
    expect(run).toMatchObject({ code: 1, stdout: "" });
    expect(run.stderr).toBe("keyward: No key with id key_0000000000000000000000.\n");
  });
});
