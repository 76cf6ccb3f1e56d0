/**
 * `keyward keys sweep`, in-process through `runCli`: it prints each lifecycle notice it sent (one
 * line each on stdout, a summary on stderr, or one JSON document with `--json`), sends none twice
 * (the database records them), expires idle keys with `--idle-expiry`, and refuses bad flags.
 */
import { KeyManager } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { tempDir } from "../helpers";
import { cli, restoreCliEnv, saveCliEnv } from "./cli-io";

const DAY = 86_400_000;
const tmp = tempDir();
const saved = saveCliEnv();
beforeAll(() => {
  delete process.env.KEYWARD_PREFIX;
  delete process.env.KEYWARD_MODES;
  delete process.env.KEYWARD_DB;
});
afterAll(() => {
  restoreCliEnv(saved);
  tmp.cleanup();
});

/** A database with keys made `daysAgo` days ago: one expiring in `expiresInDays` from now, one never used. */
async function database(name: string, daysAgo: number, expiresInDays: number) {
  const db = tmp.file(name);
  const made = Date.now() - daysAgo * DAY;
  const keys = new KeyManager({ store: new SqliteStore(db), clock: () => made });
  const expiring = await keys.create({ name: "deploys", expiresIn: `${daysAgo + expiresInDays}d` });
  const idle = await keys.create({ name: "forgotten" });
  await keys.close();
  return { db, expiring: expiring.key, idle: idle.key };
}

describe("keyward keys sweep", () => {
  it("prints each notice sent once, and nothing on the next run", async () => {
    const { db, expiring, idle } = await database("sweep.db", 40, 10);
    const first = await cli(["keys", "sweep", "--db", db]);
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n").sort();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^key\\.expiring\\s+${expiring.id}  deploys  14d  expires \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ$`));
    for (const [id, name] of [
      [expiring.id, "deploys"],
      [idle.id, "forgotten"],
    ])
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^key\\.idle\\s+${id}  ${name}  30d  unused since \\d{4}-`)));
    expect(first.stderr).toBe("Swept 2 active key(s): 3 notice(s) sent.\n");
    const again = await cli(["keys", "sweep", "--db", db]);
    expect(again).toEqual({ code: 0, stdout: "", stderr: "Swept 2 active key(s): 0 notice(s) sent.\n" });
  });

  it("--json prints the report; --expiring and --idle-after never choose the notices", async () => {
    const { db, expiring } = await database("json.db", 40, 10);
    const run = await cli(["keys", "sweep", "--db", db, "--json", "--expiring", "30d", "--idle-after", "never"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toEqual({
      notices: [
        {
          type: "key.expiring",
          at: expect.any(String),
          keyId: expiring.id,
          ownerId: null,
          name: "deploys",
          mode: "live",
          expiresAt: expiring.expiresAt!.toISOString(),
          threshold: "30d",
          reason: "expiry",
        },
      ],
      expired: [],
      scanned: 2,
    });
  });

  it("--idle-expiry warns first, then expires the idle key on the next sweep", async () => {
    const { db, idle, expiring } = await database("idle.db", 100, 300);
    const warned = await cli(["keys", "sweep", "--db", db, "--idle-after", "never", "--idle-expiry", "90d"]);
    expect(warned.stdout.split("\n")).toContainEqual(expect.stringMatching(new RegExp(`^key\\.expiring\\s+${idle.id}  forgotten  1d  expires unused `)));
    expect(warned.stderr).toBe("Swept 2 active key(s): 2 notice(s) sent.\n");
    const expired = await cli(["keys", "sweep", "--db", db, "--idle-after", "never", "--idle-expiry", "90d", "--json"]);
    expect(JSON.parse(expired.stdout)).toEqual({ notices: [], expired: expect.arrayContaining([idle.id, expiring.id]), scanned: 2 });
    const shown = await cli(["keys", "show", idle.id, "--db", db, "--json"]);
    expect(JSON.parse(shown.stdout).key.status).toBe("expired");
  });

  it.each([
    [["--expiring", "soon"], '--expiring: "soon" is not a duration longer than zero'],
    [["--expiring", "14d,0"], '--expiring: "0" is not a duration longer than zero'],
    [["--idle-after", "0s"], '--idle-after: "0s" is not a duration longer than zero'],
    [["--idle-expiry", "never"], '--idle-expiry: "never" is not a duration longer than zero'],
  ])("refuses %j with exit 2", async (flags, message) => {
    const run = await cli(["keys", "sweep", "--db", tmp.file("none.db"), ...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain("Run `keyward keys sweep --help` for usage.");
  });

  it("is listed in the help", async () => {
    expect((await cli(["--help"])).stdout).toContain("keys sweep");
    expect((await cli(["keys", "sweep", "--help"])).stdout).toContain("--idle-expiry D");
  });
});
