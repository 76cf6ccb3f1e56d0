/**
 * Documentation guard: README.md stays a front page whose links (and the guides' links) resolve,
 * user docs carry no internal history, and every export of the public entry points (`keyward`, `keyward/sqlite`,
 * `keyward/postgres`, `keyward/redis`, `keyward/fastify`) has JSDoc with an `@example`, and every source file opens
 * with a header comment. Parses the sources with the TypeScript compiler API (no type-checking, no build), following the
 * entry points' `export { … } from` lines to each declaration.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { anchors, codeBlocks, userDocs } from "./markdown";

const root = join(__dirname, "..", "..");
const src = join(root, "src");
const ENTRY_POINTS = ["index.ts", "sqlite.ts", "postgres.ts", "redis.ts", "fastify.ts", "otel.ts"].map((f) => join(src, f));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const parsed = new Map<string, ts.SourceFile>();
function parse(file: string): ts.SourceFile {
  let sf = parsed.get(file);
  if (!sf) parsed.set(file, (sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)));
  return sf;
}

/** The declarations named `name` at the top level of `file`, following `export … from` re-exports. */
function declarationsOf(file: string, name: string): ts.Node[] {
  const found: ts.Node[] = [];
  for (const statement of parse(file).statements) {
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      const spec = statement.exportClause.elements.find((e) => e.name.text === name);
      if (spec && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
        const target = join(file, "..", statement.moduleSpecifier.text.replace(/\.js$/, ".ts"));
        found.push(...declarationsOf(target, (spec.propertyName ?? spec.name).text));
      }
    } else if (ts.isVariableStatement(statement)) {
      if (statement.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name)) found.push(statement);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name?.text === name
    ) {
      found.push(statement);
    }
  }
  return found;
}

/** `name (file)` for each export of the entry points whose declaration has no `@example`. */
function exportsWithoutExample(): string[] {
  const missing = new Set<string>();
  for (const entry of ENTRY_POINTS) {
    for (const statement of parse(entry).statements) {
      if (!ts.isExportDeclaration(statement) || !statement.exportClause || !ts.isNamedExports(statement.exportClause)) continue;
      for (const spec of statement.exportClause.elements) {
        const declarations = declarationsOf(entry, spec.name.text);
        const documented = declarations.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === "example"));
        if (!documented) missing.add(`${spec.name.text} (${relative(root, declarations[0]?.getSourceFile().fileName ?? entry)})`);
      }
    }
  }
  return [...missing].sort();
}

describe("documentation", () => {
  it("gives every public export JSDoc with an @example", () => {
    expect(exportsWithoutExample()).toEqual([]);
  });

  it("opens every source file with a header comment", () => {
    const bare = sourceFiles(src).filter((f) => !/^(#![^\n]*\n)?\s*(\/\*\*|\/\/)/.test(readFileSync(f, "utf8")));
    expect(bare.map((f) => relative(root, f))).toEqual([]);
  });
});

describe("user documentation (README.md, docs/, bench/README.md)", () => {
  const files = [...userDocs(), "bench/README.md"];
  const read = (file: string) => readFileSync(join(root, file), "utf8");

  it("keeps README.md a front page: at most 250 lines, `npm install keyward` in its first screen", () => {
    const lines = read("README.md").split("\n");
    expect(lines.length).toBeLessThanOrEqual(250);
    expect(lines.slice(0, 40).some((l) => l.trim() === "npm install keyward")).toBe(true);
    expect(read("README.md")).toContain("(bench/README.md)");
  });

  it("links every guide in docs/ from docs/README.md, and docs/README.md from README.md", () => {
    const index = read("docs/README.md");
    const guides = userDocs().filter((f) => f.startsWith("docs/") && f !== "docs/README.md");
    expect(guides.filter((g) => !index.includes(`(${g.slice("docs/".length)})`))).toEqual([]);
    expect(read("README.md")).toContain("(docs/README.md)");
  });

  it("has no broken relative links or anchors", () => {
    const broken: string[] = [];
    for (const file of files) {
      const text = read(file).replace(/```[\s\S]*?```/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [path, anchor] = target!.split("#") as [string, string | undefined];
        const resolved = path === "" ? file : join(file, "..", path);
        let exists = true;
        try {
          readFileSync(join(root, resolved));
        } catch {
          exists = false;
        }
        if (!exists) broken.push(`${file}: ${target}`);
        else if (anchor && resolved.endsWith(".md") && !anchors(resolved).has(anchor)) broken.push(`${file}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("says nothing of the project's internal history, and names no product an example rebuilds", () => {
    const internal = /\bseeds?\b|\bissue\s*#?\d+|the issue's|at commit [0-9a-f]{6,}|not explained yet|NearIQ|NANDA|Nodion|NearNode|NodeData|node-data|Stripe/i;
    const hits = [...files, "CHANGELOG.md"].flatMap((file) =>
      read(file)
        .split("\n")
        .flatMap((line, i) => (internal.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });

  it("fences the README's quickstart as ts, so the snippet and quickstart tests run it", () => {
    expect(codeBlocks("README.md").some((b) => b.lang === "ts" && b.code.includes("app.listen("))).toBe(true);
  });
});
