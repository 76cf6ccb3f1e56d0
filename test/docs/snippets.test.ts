/**
 * Every ```ts block in README.md and docs/*.md type-checks as written, under the repository's
 * strict compiler options, against the package's published declarations (`keyward` →
 * dist/esm/index.d.ts, built from the sources by `npm test`; `ensureBuilt()` rebuilds a stale dist/
 * when this file runs alone). All blocks are compiled in ONE TypeScript program (one process, one
 * pass), each as a module of its own in a temp dir.
 *
 * A block may start with `// assumes: app, keys`: a hidden prelude then declares those names (the
 * vocabulary below), so a snippet can show only the lines that matter. Blocks that are not
 * TypeScript use other fences (`sh`, `js`, `json`, `http`, `text`, `toml`); a fence without a language fails.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { ensureBuilt } from "../package/built";
import { codeBlocks, root, userDocs, type CodeBlock } from "./markdown";

/** What `// assumes:` may name, and the declaration each name adds to the hidden prelude. */
const VOCABULARY: Record<string, string> = {
  app: "declare const app: __express.Express;",
  keys: "declare const keys: __keyward.KeyManager;",
  store: "declare const store: __keyward.KeyStore;",
  handler: "declare const handler: __express.RequestHandler;",
  requireLogin: "declare const requireLogin: __express.RequestHandler;",
  server: "declare const server: __http.Server;",
  currentUser: "declare function currentUser(req: __http.IncomingMessage): { id: string; projectIds: string[] } | undefined;",
  db: [
    "declare const db: {",
    "  isMember(ownerId: string | null, project: string): Promise<boolean>;",
    "  defaultProjectOf(ownerId: string | null): string | null;",
    "  plan(ownerId: string | null): Promise<{ tier: string } | undefined>;",
    "  customers(mode: string | null): unknown[];",
    "  listNodes(ownerId: string | null): unknown[];",
    "};",
  ].join(" "),
};
const PRELUDE_IMPORTS = [
  'import type * as __express from "express";',
  'import type * as __keyward from "keyward";',
  'import type * as __http from "node:http";',
];
const TS_FENCES = new Set(["ts", "typescript"]);
const OTHER_FENCES = new Set(["sh", "bash", "js", "json", "http", "text", "toml"]);

const blocks: CodeBlock[] = userDocs().flatMap(codeBlocks);
const tsBlocks = blocks.filter((b) => TS_FENCES.has(b.lang));

/** The hidden prelude of a block (one line per entry), or an error naming an unknown word. */
function preludeOf(block: CodeBlock): string[] {
  const assumes = /^\s*\/\/ assumes: (.+)$/m.exec(block.code.split("\n")[0] ?? "");
  const names = assumes
    ? assumes[1]!
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean)
    : [];
  for (const name of names) {
    if (!(name in VOCABULARY))
      throw new Error(`${block.file}:${block.line - 1}: "// assumes: ${name}" is not in the vocabulary (${Object.keys(VOCABULARY).join(", ")})`);
  }
  return [...PRELUDE_IMPORTS, ...names.map((n) => VOCABULARY[n]!)];
}

describe("code blocks in README.md and docs/", () => {
  it("are all fenced with a language", () => {
    const unknown = blocks.filter((b) => !TS_FENCES.has(b.lang) && !OTHER_FENCES.has(b.lang));
    expect(unknown.map((b) => `${b.file}:${b.line - 1}: \`\`\`${b.lang}`)).toEqual([]);
    expect(tsBlocks.length).toBeGreaterThan(30);
  });

  it("type-check as written under strict TypeScript, in one program", () => {
    const dir = mkdtempSync(join(tmpdir(), "keyward-snippets-"));
    try {
      // Packages resolve from the repository's node_modules; `keyward` maps to the built declarations.
      ensureBuilt();
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
      const files = new Map<string, { block: CodeBlock; offset: number }>();
      tsBlocks.forEach((block, i) => {
        const prelude = preludeOf(block);
        const file = join(dir, `block-${String(i).padStart(3, "0")}.ts`);
        // `export {}` makes every block a module: names never clash between blocks, top-level await works.
        writeFileSync(file, [...prelude, block.code, "export {};", ""].join("\n"));
        files.set(file, { block, offset: prelude.length });
      });
      const options: ts.CompilerOptions = {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ES2022,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ["lib.es2022.d.ts"],
        types: ["node"],
        strict: true,
        noUncheckedIndexedAccess: true,
        esModuleInterop: true,
        skipLibCheck: true,
        isolatedModules: true,
        resolveJsonModule: true,
        noEmit: true,
        baseUrl: root,
        paths: { keyward: ["./dist/esm/index.d.ts"], "keyward/*": ["./dist/esm/*.d.ts"] },
      };
      const program = ts.createProgram([...files.keys()], options);
      const problems = ts.getPreEmitDiagnostics(program).map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        const where = d.file && files.get(d.file.fileName);
        if (!d.file || !where || d.start === undefined) return `${d.file?.fileName ?? "(program)"}: ${message}`;
        const { line } = d.file.getLineAndCharacterOfPosition(d.start);
        return `${where.block.file}:${where.block.line + line - where.offset}: ${message}`;
      });
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
