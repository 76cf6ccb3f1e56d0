/**
 * `keyward scan` and `keyward keys pattern`, in-process through `runCli`: a fixture tree with real
 * keys (from `KeyFormat.generate`) and look-alikes yields exactly the real keys at the right
 * line:column (exit 1), a clean tree exits 0, stdin is scanned, keys across chunk boundaries are
 * found, and no output ever holds a full secret. The printed regex matches keys, not look-alikes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeyFormat, KeyManager, runCli } from "keyward";
import { SqliteStore } from "keyward/sqlite";
import { KeyScanner, type KeyFinding } from "../../src/core/key-scan";
import { patternRules } from "../../src/cli/scan";
import { tempDir } from "../helpers";
import { capture } from "./cli-io";

const tmp = tempDir();
const saved = { prefix: process.env.KEYWARD_PREFIX, modes: process.env.KEYWARD_MODES, db: process.env.KEYWARD_DB };
beforeAll(() => {
  delete process.env.KEYWARD_PREFIX;
  delete process.env.KEYWARD_MODES;
  process.env.KEYWARD_DB = tmp.file("absent.db");
});
afterAll(() => {
  for (const [name, value] of [
    ["KEYWARD_PREFIX", saved.prefix],
    ["KEYWARD_MODES", saved.modes],
    ["KEYWARD_DB", saved.db],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  tmp.cleanup();
});

const sk = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
const other = new KeyFormat({ prefix: "pk", modes: ["live", "test"] });

/** A one-character change that keeps the shape (so only the checksum can tell). */
function flip(secret: string, at: number): string {
  const c = secret[at]!;
  return secret.slice(0, at) + (c === "a" ? "b" : "a") + secret.slice(at + 1);
}

/** A fixture tree: real keys at known positions, look-alikes around them, and places scan must skip. */
function fixture() {
  const root = join(tmp.dir, `tree-${Math.random().toString(36).slice(2)}`);
  const live = sk.generate("live");
  const test = sk.generate("test");
  const third = sk.generate("live");
  const lookAlikes = [
    other.generate("live"), // another prefix
    flip(live, live.length - 10), // one character changed in the random part
    flip(test, test.length - 1), // wrong checksum
    `x${sk.generate("live")}`, // glued to a word character before
    `${sk.generate("test")}9`, // glued after
    `_${sk.generate("live")}`, // underscore is a word character
    sk.generate("live").replace("sk_live_", "sk_prod_"), // unknown mode
    sk.generate("live").slice(0, -1), // one character short
  ];
  mkdirSync(join(root, "src", "deep"), { recursive: true });
  mkdirSync(join(root, ".git"), { recursive: true });
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(root, "src", "config.ts"), `// config\nconst key = "${live}";\n\texport const other = '${lookAlikes[0]}';\n`);
  writeFileSync(join(root, "src", "deep", "notes.md"), `${lookAlikes.slice(1).join("\n")}\n\nuse ${test} or KEY=${third}\n`);
  writeFileSync(join(root, ".env"), lookAlikes.join(" ") + "\n");
  writeFileSync(join(root, ".git", "config"), `token=${sk.generate("live")}\n`);
  writeFileSync(join(root, "node_modules", "pkg", "index.js"), `module.exports = "${sk.generate("live")}";\n`);
  writeFileSync(join(root, "image.bin"), Buffer.concat([Buffer.from([0x89, 0x50, 0, 0]), Buffer.from(sk.generate("live"))]));
  return { root, live, test, third, lookAlikes };
}

const secretsIn = (text: string, format = sk) => text.match(new RegExp(format.pattern().source, "g")) ?? [];

describe("keyward scan", () => {
  it("finds exactly the real keys, with file:line:column, skipping .git, node_modules and binary files (exit 1)", async () => {
    const { root, live, test, third } = fixture();
    const io = capture();
    expect(await runCli(["scan", root], io)).toBe(1);
    const rel = (p: string) => join(root, p);
    expect(io.stdout.split("\n").filter(Boolean)).toEqual([
      `${rel("src/config.ts")}:2:14: ${sk.start(live)}…`,
      `${rel("src/deep/notes.md")}:9:5: ${sk.start(test)}…`,
      `${rel("src/deep/notes.md")}:9:${5 + test.length + 8}: ${sk.start(third)}…`,
    ]);
    expect(io.stderr).toMatch(/found 3 sk keys in 2 files/);
    expect(io.stderr).toMatch(/1 binary/);
    for (const secret of [live, test, third]) {
      expect(io.stdout + io.stderr).not.toContain(secret);
      expect(io.stdout + io.stderr).not.toContain(secret.slice(0, sk.start(secret).length + 1));
    }
  });

  it("--json prints one JSON object per line, with the public start only", async () => {
    const { root, live } = fixture();
    const io = capture();
    expect(await runCli(["scan", join(root, "src", "config.ts"), "--json"], io)).toBe(1);
    const lines = io.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([{ file: join(root, "src", "config.ts"), line: 2, column: 14, mode: "live", start: sk.start(live) }]);
    expect(io.stdout).not.toContain(live);
  });

  it("a clean tree exits 0", async () => {
    const root = join(tmp.dir, "clean");
    mkdirSync(root);
    writeFileSync(join(root, "a.txt"), `nothing here but ${other.generate("live")} and ${flip(sk.generate("live"), 20)}\n`);
    const io = capture();
    expect(await runCli(["scan", root], io)).toBe(0);
    expect(io.stdout).toBe("");
    expect(io.stderr).toMatch(/no sk keys found \(1 file,/);
  });

  it('scans stdin ("-" or no path with piped input)', async () => {
    const secret = sk.generate("test");
    for (const argv of [["scan", "-"], ["scan"]]) {
      const io = capture(`line one\n  ${secret}\n`);
      expect(await runCli(argv, io)).toBe(1);
      expect(io.stdout).toBe(`<stdin>:2:3: ${sk.start(secret)}…\n`);
    }
  });

  it("uses --prefix/--modes, and the format the database records", async () => {
    const acme = new KeyFormat({ prefix: "acme", modes: [] });
    const secret = acme.generate();
    const file = tmp.file("acme.txt");
    writeFileSync(file, `k=${secret} ${sk.generate("live")}\n`);
    let io = capture();
    expect(await runCli(["scan", file, "--prefix", "acme", "--modes", "none"], io)).toBe(1);
    expect(io.stdout).toBe(`${file}:1:3: ${acme.start(secret)}…\n`);

    const db = tmp.file("acme.db");
    const keys = new KeyManager({ store: new SqliteStore(db), prefix: "acme", modes: [], cache: false });
    await keys.create({ name: "first" });
    await keys.close();
    io = capture();
    expect(await runCli(["scan", file, "--db", db], io)).toBe(1);
    expect(io.stdout).toBe(`${file}:1:3: ${acme.start(secret)}…\n`);
    io = capture();
    expect(await runCli(["scan", file, "--db", db, "--prefix", "sk"], io)).toBe(2);
  });

  it("a missing path is a usage error (exit 2)", async () => {
    const io = capture();
    expect(await runCli(["scan", tmp.file("nope")], io)).toBe(2);
    expect(io.stderr).toMatch(/no such file or directory/);
  });

  it("finds keys split across chunks of any size, with the right positions", () => {
    const keys = Array.from({ length: 20 }, (_, i) => sk.generate(i % 2 ? "live" : "test"));
    const text = keys.map((k, i) => `${"x ".repeat(i)}${k}${i % 3 ? "\n" : " "}${flip(k, 12)}\n`).join("");
    const whole: KeyFinding[] = [];
    const scanner = new KeyScanner(sk);
    scanner.push(text, (f) => whole.push(f));
    scanner.end((f) => whole.push(f));
    expect(whole.map((f) => f.start)).toEqual(keys.map((k) => sk.start(k)));
    for (const size of [1, 7, 45, 46, 47, 64, 100]) {
      const found: KeyFinding[] = [];
      for (let i = 0; i < text.length; i += size) scanner.push(text.slice(i, i + size), (f) => found.push(f));
      scanner.end((f) => found.push(f));
      expect(found).toEqual(whole);
    }
  });
});

describe("keyward keys pattern", () => {
  const keys = [sk.generate("live"), sk.generate("test")];
  const lookAlikes = [other.generate("live"), `x${keys[0]}`, `${keys[1]}9`, keys[0]!.replace("live", "prod"), keys[0]!.slice(0, -1)];

  it("prints a regex that matches keys and not look-alikes, a gitleaks rule and a GitHub custom pattern", async () => {
    const io = capture();
    expect(await runCli(["keys", "pattern"], io)).toBe(0);
    const rules = patternRules(sk);
    expect(io.stdout).toContain(`${rules.regex}\n`);
    const regex = new RegExp(`^${rules.regex}$`);
    for (const key of keys) expect(regex.test(key)).toBe(true);
    for (const key of lookAlikes) expect(regex.test(key)).toBe(false);
    expect(io.stdout).toContain(rules.gitleaks);
    expect(io.stdout).toContain(`Secret format:  sk_(?:live|test)_[0-9A-Za-z]{38}`);
    expect(io.stdout).toContain("Before secret:  \\A|[^0-9A-Za-z_]");
  });

  it("the gitleaks rule is the expected TOML", () => {
    expect(patternRules(sk).gitleaks).toBe(
      [
        "[[rules]]",
        'id = "keyward-sk-api-key"',
        'description = "keyward API key (sk_live_…, sk_test_…)"',
        "regex = '''\\bsk_(?:live|test)_[0-9A-Za-z]{38}\\b'''",
        'keywords = ["sk_live_", "sk_test_"]',
        "",
      ].join("\n"),
    );
  });

  it("--json: the GitHub secret format with its boundaries finds keys in text and not look-alikes", async () => {
    const io = capture();
    expect(await runCli(["keys", "pattern", "--json", "--prefix", "sk"], io)).toBe(0);
    const rules = JSON.parse(io.stdout) as ReturnType<typeof patternRules>;
    expect(rules.keywords).toEqual(["sk_live_", "sk_test_"]);
    // GitHub's \A / \z are JavaScript's ^ / $ here.
    const before = rules.github.beforeSecret.replace("\\A", "^");
    const after = rules.github.afterSecret.replace("\\z", "$");
    const github = new RegExp(`(?:${before})(${rules.github.secretFormat})(?=${after})`, "g");
    const text = [...keys, ...lookAlikes].join(" ");
    expect([...text.matchAll(github)].map((m) => m[1])).toEqual(keys);
    expect(secretsIn(text)).toEqual(keys);
  });
});
