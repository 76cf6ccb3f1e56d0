/**
 * Markdown helpers for the documentation tests: the user docs (README.md and docs/*.md), their
 * fenced code blocks with the line each starts on, and GitHub's heading anchors.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const root = join(__dirname, "..", "..");

/** README.md and every guide in docs/ (not the generated docs/api/), as paths relative to the root. */
export function userDocs(): string[] {
  const guides = readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`);
  return ["README.md", ...guides];
}

/** One fenced code block: its fence language, its text, and the 1-based line of its first code line. */
export interface CodeBlock {
  file: string;
  lang: string;
  code: string;
  line: number;
}

/** The fenced code blocks of a markdown file (``` fences, optionally indented, e.g. inside a list). */
export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    const code = lines
      .slice(start, end)
      .map((l) => l.slice(Math.min(indent, /^\s*/.exec(l)![0].length)))
      .join("\n");
    blocks.push({ file, lang: open[2]!, code, line: start + 1 });
    i = end;
  }
  return blocks;
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a markdown file's headings (outside code blocks). */
export function anchors(file: string): Set<string> {
  const text = readFileSync(join(root, file), "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchorOf(m[1]!)));
}
