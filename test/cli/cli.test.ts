/**
 * The `keyward` CLI, run in-process through `runCli` against a temp SQLite file (KEYWARD_DB set for
 * each run, as a spawned binary would see it), checking that a key it creates authenticates through
 * the zero-config `apiKeyAuth()` of this process; and two smoke tests of the real built binary
 * (dist/cjs/cli/main.js) as a child process.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import express from "express";
import request from "supertest";
import { apiKeyAuth, defaultKeyFormat, defaultKeyManager, requireScope } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { cli, restoreCliEnv, saveCliEnv, type CliRun } from "./cli-io";

const ROOT = join(__dirname, "..", "..");
const BIN = join(ROOT, "dist", "cjs", "cli", "main.js");
const tmp = tempDir();
const DB = tmp.file("keyward.db");

type Run = CliRun;

/**
 * Runs `keyward …args` in-process with KEYWARD_DB pointing at the temp database and KEYWARD_PREFIX /
 * KEYWARD_MODES unset unless `env` gives them, as the spawned binary's environment was; the
 * variables are put back when the run ends.
 */
async function keyward(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const saved = saveCliEnv();
  process.env.KEYWARD_DB = DB;
  if (!("KEYWARD_PREFIX" in env)) delete process.env.KEYWARD_PREFIX;
  if (!("KEYWARD_MODES" in env)) delete process.env.KEYWARD_MODES;
  Object.assign(process.env, env);
  try {
    return await cli(args);
  } finally {
    restoreCliEnv(saved);
  }
}

/** Runs the built binary `node dist/cjs/cli/main.js …args` as a child process (the smoke tests). */
function spawnKeyward(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.KEYWARD_PREFIX;
    delete childEnv.KEYWARD_MODES;
    execFile(process.execPath, [BIN, ...args], { env: childEnv, cwd: tmp.dir, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const DOCUMENTED_CREATE = [
  "keys",
  "create",
  "--name",
  "ci-deploys",
  "--mode",
  "live",
  "--scope",
  "models:read",
  "--scope",
  "models:upload",
  "--expires",
  "90d",
];
let app: express.Express;

beforeAll(() => {
  if (!existsSync(BIN)) execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "ignore" });
  process.env.KEYWARD_DB = DB; // before the zero-config manager is created
  app = express();
  app.use(apiKeyAuth());
  app.get("/v1/models", requireScope("models:read"), (req, res) => {
    res.json({ key: req.apiKey });
  });
  app.post("/v1/models", requireScope("models:upload"), (_req, res) => {
    res.status(201).json({ ok: true });
  });
  app.post("/v1/deploys", requireScope("deploy:write"), (_req, res) => {
    res.status(201).json({ ok: true });
  });
}, 120_000);

let savedEnv: Record<string, string | undefined>;
beforeEach(() => {
  savedEnv = saveCliEnv();
});
afterEach(() => {
  restoreCliEnv(savedEnv);
}); // a test that sets KEYWARD_* leaves none behind

afterAll(async () => {
  await defaultKeyManager().close();
  delete process.env.KEYWARD_DB;
  tmp.cleanup();
});

it("the documented `keys create --name … --scope … --expires 90d` line prints only the secret, and that key authenticates through apiKeyAuth()", async () => {
  const run = await keyward(DOCUMENTED_CREATE);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^sk_live_[0-9A-Za-z]{38}\n$/);
  expect(run.stderr).toContain("ci-deploys");
  expect(run.stderr).toContain("models:read, models:upload");
  const secret = run.stdout.trim();
  expect(run.stderr).not.toContain(secret);
  const ok = await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
  expect(ok.body.key).toMatchObject({ name: "ci-deploys", mode: "live", scopes: ["models:read", "models:upload"] });
  expect(Date.parse(ok.body.key.expiresAt) - Date.now()).toBeGreaterThan(89 * 86_400_000);
  await request(app).post("/v1/models").set("Authorization", `Bearer ${secret}`).expect(201);
  await request(app).post("/v1/deploys").set("Authorization", `Bearer ${secret}`).expect(403);
});

it("create --json prints { secret, key } on stdout with no hash; list, show and usage read it back", async () => {
  const created = await keyward(["keys", "create", "--name", "edge", "--mode", "test", "--owner", "user_7", "--project", "p1", "--json"]);
  expect(created.code).toBe(0);
  const { secret, key } = JSON.parse(created.stdout);
  expect(secret).toMatch(/^sk_test_/);
  expect(key).toMatchObject({ name: "edge", mode: "test", ownerId: "user_7", projects: ["p1"], scopes: ["*"], status: "active" });
  const store = new SqliteStore(DB);
  const stored = await store.findById(key.id);
  await store.close?.();
  expect(created.stdout).not.toContain(stored!.hash);

  await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
  await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
  await defaultKeyManager().flushUsage();

  const [table, listed, mine, show, shownJson, usage] = await Promise.all([
    keyward(["keys", "list"]),
    keyward(["keys", "list", "--mode", "test", "--json"]),
    keyward(["keys", "list", "--owner", "user_7", "--status", "active", "--json"]),
    keyward(["keys", "show", key.id]),
    keyward(["keys", "show", key.id, "--json"]),
    keyward(["keys", "usage", key.id, "--days", "2", "--json"]),
  ]);
  expect(table.code).toBe(0);
  expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+START\s+MODE\s+STATUS/);
  expect(table.stderr).toBe("");
  expect(table.stdout).toContain(key.id);
  expect(table.stdout).not.toContain(secret);
  expect(JSON.parse(listed.stdout).keys.map((k: { id: string }) => k.id)).toEqual([key.id]);
  expect(JSON.parse(mine.stdout).keys.map((k: { name: string }) => k.name)).toEqual(["edge"]);
  expect(show.stdout).toContain(`${key.id}  edge`);
  expect(show.stdout).toMatch(/requests:\s+2/);
  expect(JSON.parse(shownJson.stdout).key).toMatchObject({ id: key.id, requestCount: 2 });
  const days = JSON.parse(usage.stdout).usage;
  expect(days).toHaveLength(2);
  expect(days[1]).toEqual({ date: new Date().toISOString().slice(0, 10), count: 2 });
});

it("rotate prints only the new secret; revoke prints nothing on stdout and the key is refused", async () => {
  const { key } = JSON.parse((await keyward(["keys", "create", "--name", "rot", "--scope", "models:read", "--json"])).stdout);
  const rotated = await keyward(["keys", "rotate", key.id, "--overlap", "24h"]);
  expect(rotated.code).toBe(0);
  expect(rotated.stdout).toMatch(/^sk_live_[0-9A-Za-z]{38}\n$/);
  expect(rotated.stderr).toContain(`Rotated ${key.id}`);
  await request(app).get("/v1/models").set("Authorization", `Bearer ${rotated.stdout.trim()}`).expect(200);
  const again = await keyward(["keys", "rotate", key.id]);
  expect(again.code).toBe(1);
  expect(again.stdout).toBe("");

  const successor = JSON.parse((await keyward(["keys", "list", "--json", "--limit", "1"])).stdout).keys[0];
  expect(successor.rotatedFrom).toBe(key.id);
  const revoked = await keyward(["keys", "revoke", successor.id]);
  expect(revoked).toMatchObject({ code: 0, stdout: "" });
  expect(revoked.stderr).toContain(`Revoked ${successor.id}`);
  const shown = JSON.parse((await keyward(["keys", "show", successor.id, "--json"])).stdout);
  expect(shown.key.status).toBe("revoked");
  expect((await keyward(["keys", "revoke", successor.id])).code).toBe(0);

  const now = JSON.parse((await keyward(["keys", "create", "--name", "now", "--json"])).stdout).key;
  const zero = await keyward(["keys", "rotate", now.id, "--overlap", "0", "--json"]);
  expect(JSON.parse(zero.stdout).previous.status).toBe("revoked");
});

it("create --credits/--credits-refill gives a key credits that requests spend; update sets a new balance or removes it", async () => {
  const created = await keyward(["keys", "create", "--name", "metered", "--scope", "models:read", "--credits", "2", "--credits-refill", "100/1d", "--json"]);
  expect(created.code).toBe(0);
  const { secret, key } = JSON.parse(created.stdout);
  expect(key.credits).toMatchObject({ remaining: 2, refill: { amount: 100, interval: "1d" } });
  await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
  await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(200);
  const spent = await request(app).get("/v1/models").set("Authorization", `Bearer ${secret}`).expect(429);
  expect(spent.body.error.code).toBe("credits_exhausted");
  const shown = await keyward(["keys", "show", key.id]);
  expect(shown.stdout).toMatch(/credits:\s+0 left, refills to 100 every 1d \(next \d{4}-\d\d-\d\d 00:00Z\)/);

  // The app's manager sees these changes once its cache entry ends; the database holds them at once.
  const topped = await keyward(["keys", "update", key.id, "--credits", "5", "--json"]);
  expect(topped.code).toBe(0);
  expect(JSON.parse(topped.stdout).key.credits).toMatchObject({ remaining: 5, refill: null });
  const renamed = await keyward(["keys", "update", key.id, "--name", "metered-2", "--credits-refill", "50/1mo"]);
  expect(renamed.code).toBe(0);
  expect(renamed.stdout).toMatch(/metered-2\n/);
  expect(renamed.stdout).toMatch(/credits:\s+50 left, refills to 50 every 1mo/);
  const removed = await keyward(["keys", "update", key.id, "--credits", "none", "--json"]);
  expect(JSON.parse(removed.stdout).key).toMatchObject({ name: "metered-2", credits: null });
  const plain = await keyward(["keys", "create", "--name", "unmetered", "--json"]);
  expect(JSON.parse(plain.stdout).key.credits).toBeNull();
});

it("honours --prefix/--modes and KEYWARD_PREFIX/KEYWARD_MODES, like the zero-config manager", async () => {
  const other = tmp.file("xk.db");
  const flags = await keyward(["keys", "create", "--name", "x", "--db", other, "--prefix", "xk", "--modes", "test,live"]);
  expect(flags.stdout).toMatch(/^xk_test_/);
  const env = await keyward(["keys", "create", "--name", "y", "--mode", "live"], { KEYWARD_DB: other, KEYWARD_PREFIX: "xk", KEYWARD_MODES: "test,live" });
  expect(env.stdout).toMatch(/^xk_live_/);
  const modeless = await keyward(["keys", "create", "--name", "z", "--db", tmp.file("orbit.db"), "--prefix", "orbit", "--modes", "none"]);
  expect(modeless.stdout).toMatch(/^orbit_[0-9A-Za-z]{38}\n$/);
  const saved = { ...process.env };
  try {
    process.env.KEYWARD_PREFIX = "xk";
    process.env.KEYWARD_MODES = "test, live";
    expect(defaultKeyFormat()).toEqual({ prefix: "xk", modes: ["test", "live"] });
    process.env.KEYWARD_MODES = "none";
    expect(defaultKeyFormat().modes).toEqual([]);
  } finally {
    process.env.KEYWARD_PREFIX = saved.KEYWARD_PREFIX;
    process.env.KEYWARD_MODES = saved.KEYWARD_MODES;
    if (saved.KEYWARD_PREFIX === undefined) delete process.env.KEYWARD_PREFIX;
    if (saved.KEYWARD_MODES === undefined) delete process.env.KEYWARD_MODES;
  }
});

it.each([
  [["keys", "create", "--nme", "x"], /Unknown option '--nme'/],
  [["keys", "create", "--name"], /--name <value>' argument missing/],
  [["keys", "create", "--mode", "live"], /--name is required/],
  [["keys", "create", "--name", "x", "--mode", "staging"], /--mode: must be one of live, test/],
  [["keys", "create", "--name", "x", "--scope", "Bad Scope"], /--scope: .*not a valid scope/],
  [["keys", "create", "--name", "x", "--expires", "soon"], /--expires: "soon" is not a duration/],
  [["keys", "create", "--name", "x", "--kind", "admin"], /--kind/],
  [["keys", "list", "--status", "gone"], /--status: must be active, expired, revoked or disabled/],
  [["keys", "list", "--limit", "0"], /--limit/],
  [["keys", "usage", "key_0000000000000000000000", "--days", "365"], /--days/],
  [["keys", "show"], /missing ID/],
  [["keys", "show", "a", "b"], /unexpected argument "b"/],
  [["keys", "delete", "x"], /unknown command "keys delete"/],
  [["nodes", "list"], /unknown command "nodes"/],
  [["keys", "list", "--prefix", "NO!"], /--prefix/],
  [["keys", "create", "--name", "x", "--credits=-5"], /--credits: must be a whole number of credits/],
  [["keys", "create", "--name", "x", "--credits", "1.5"], /--credits: must be a whole number of credits/],
  [["keys", "create", "--name", "x", "--credits", "none"], /--credits: must be a whole number of credits, e\.g\. 1000\.$/],
  [["keys", "create", "--name", "x", "--credits", "10000000000000"], /--credits: must be at most 1000000000000/],
  [["keys", "create", "--name", "x", "--credits-refill", "1000"], /--credits-refill: "1000" is not AMOUNT\/INTERVAL/],
  [["keys", "create", "--name", "x", "--credits-refill", "1000/1y"], /--credits-refill: use "1mo"/],
  [["keys", "create", "--name", "x", "--credits-refill", "1000/10s"], /--credits-refill: use "1mo"/],
  [["keys", "update", "key_0000000000000000000000"], /give at least one of --name, --scope, --credits, --credits-refill/],
  [["keys", "update", "key_0000000000000000000000", "--credits", "none", "--credits-refill", "5/1d"], /--credits none removes the credits/],
  [["keys", "update", "key_0000000000000000000000", "--credits-refill", "none"], /--credits-refill none needs --credits N/],
])("exits 2 with a one-line error and the usage hint line for %j", async (args, message) => {
  const run = await keyward(args);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe("");
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toMatch(/^Run `keyward (keys [a-z]+ )?--help` for usage\.$/);
});

it("exits 1 for an unknown key id or a missing database, with the error as JSON under --json", async () => {
  const missing = await keyward(["keys", "show", "key_0000000000000000000000"]);
  expect(missing).toMatchObject({ code: 1, stdout: "" });
  expect(missing.stderr).toMatch(/^keyward: No key with id/);
  const json = await keyward(["keys", "revoke", "key_0000000000000000000000", "--json"]);
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stdout).error.code).toBe("not_found");
  const nodb = await keyward(["keys", "list", "--db", tmp.file("absent.db")]);
  expect(nodb.code).toBe(1);
  expect(nodb.stderr).toMatch(/No key database at/);
  expect(existsSync(tmp.file("absent.db"))).toBe(false);
});

it("prints help for keyward and every keys command, exit 0", async () => {
  const commands = ["create", "update", "list", "show", "rotate", "revoke", "usage"];
  const runs = await Promise.all([keyward(["--help"]), keyward(["keys", "--help"]), ...commands.map((c) => keyward(["keys", c, "--help"]))]);
  for (const run of runs) expect(run.code).toBe(0);
  expect(runs[0]!.stdout).toMatch(/^Usage: keyward keys <command>/);
  for (const c of commands) expect(runs[0]!.stdout).toContain(`keys ${c}`);
  commands.forEach((c, i) => {
    expect(runs[i + 2]!.stdout).toMatch(new RegExp(`^Usage: keyward keys ${c}`));
  });
  expect(runs[2]!.stdout).toContain("--expires");
  expect(runs[2]!.stdout).toContain("--credits-refill AMOUNT/INTERVAL");
  expect(runs[3]!.stdout).toContain("--credits N");
});

describe("the built binary (smoke)", () => {
  it("starts, and `keyward --help` exits 0 with the usage on stdout", async () => {
    const run = await spawnKeyward(["--help"], { KEYWARD_DB: tmp.file("smoke-help.db") });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: keyward keys <command>/);
    expect(run.stderr).toBe("");
  });

  it("`keys create` prints only the secret on stdout", async () => {
    const run = await spawnKeyward(["keys", "create", "--name", "smoke", "--db", tmp.file("smoke.db")], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sk_live_[0-9A-Za-z]{38}\n$/);
    expect(run.stderr).toContain("smoke");
    expect(run.stderr).not.toContain(run.stdout.trim());
  });
});
