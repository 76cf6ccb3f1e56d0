/**
 * Documentation guard: every export of the public entry points (`keyward`, `keyward/sqlite`,
 * `keyward/postgres`, `keyward/redis`) has JSDoc with an `@example`, and every source file opens
 * with a header comment. Parses the sources with the TypeScript compiler API (no type-checking, no build), following the
 * entry points' `export { … } from` lines to each declaration.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const root = join(__dirname, "..", "..");
const src = join(root, "src");
const ENTRY_POINTS = ["index.ts", "sqlite.ts", "postgres.ts", "redis.ts"].map((f) => join(src, f));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
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
    } else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) && statement.name?.text === name) {
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
