/**
 * Type-checks a consumer project the way `tsc -p` would, in this process: several programs (one
 * per module resolution) share one TypeScript load and their parsed declaration files, instead of
 * one tsc process each re-parsing lib and @types.
 */
import { join } from "node:path";
import ts from "typescript";

/** Parsed declaration files (lib, @types, the package's own), shared by every program below. */
const declarations = new Map<string, ts.SourceFile>();

/**
 * Type-checks `files` in `dir` as tsc would with `compilerOptions` (no tsconfig file), in this
 * process; returns "<label>: exit 0" or "<label>: exit 2" plus the diagnostics. The programs
 * share their parsed `.d.ts` files (keyed by path, language version and module format, as
 * TypeScript's own document registry does; module and moduleResolution change
 * nothing else in a declaration file). With `skipLibCheck: false` every declaration file of
 * the package, and every file it merges into (its augmentations of `node:http` and `Express`), is
 * fully checked; the consumer's own environment (@types/*) is checked only as far as the package
 * and the consumer use it: checking all of @types/node in every program would tell nothing about
 * this package.
 */
export function tsc(dir: string, compilerOptions: object, files: string[], label: string): string {
  const { options, errors } = ts.convertCompilerOptionsFromJson(compilerOptions, dir);
  const host = ts.createCompilerHost(options);
  host.getCurrentDirectory = () => dir;
  const parse = host.getSourceFile;
  host.getSourceFile = (fileName, version, onError, create) => {
    if (!/\.d\.[cm]?ts$/.test(fileName)) return parse(fileName, version, onError, create);
    const format = typeof version === "object" ? `${version.languageVersion}:${version.impliedNodeFormat}` : String(version);
    const key = `${format}:${fileName}`;
    let file = declarations.get(key);
    if (!file) {
      file = parse(fileName, version, onError, create);
      if (file) declarations.set(key, file);
    }
    return file;
  };
  const program = ts.createProgram({ rootNames: files.map((f) => join(dir, f)), options, host });
  const checker = program.getTypeChecker();
  const environment = (file: ts.SourceFile) => /[\\/]node_modules[\\/](@types|undici-types)[\\/]/.test(file.fileName);
  const checked = new Set(program.getSourceFiles().filter((file) => !environment(file) && !program.isSourceFileDefaultLibrary(file)));
  const mergedInto = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node)) {
      for (const declaration of checker.getSymbolAtLocation(node.name)?.declarations ?? []) checked.add(declaration.getSourceFile());
    }
    ts.forEachChild(node, mergedInto);
  };
  for (const file of [...checked]) if (/[\\/]node_modules[\\/]keyward[\\/]/.test(file.fileName)) mergedInto(file);
  const diagnostics = [...errors, ...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const file of checked) diagnostics.push(...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file));
  const out = ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => "\n" });
  return `${label}: exit ${diagnostics.length ? 2 : 0}${out ? `\n${out}` : ""}`;
}
