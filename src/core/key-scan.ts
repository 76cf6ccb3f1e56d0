/**
 * Finding keys of one format in text fed in chunks (a stream of file contents): one pass of a
 * global regex built from the prefix and modes finds candidates, the CRC-32 checksum confirms
 * them, so look-alikes (another prefix, a changed character, a key glued to word characters) are
 * never reported. Keys spanning two chunks are found; positions are 1-based line and column.
 * Pure: no I/O. Text should be decoded one character per byte (`latin1`), so columns count bytes.
 */
import { CHECKSUM_LENGTH, RANDOM_LENGTH, type KeyFormat } from "./key-format.js";

/** One key found by a {@link KeyScanner}: where it is and its public display form, never the secret. */
export interface KeyFinding {
  /** 1-based line number. */
  line: number;
  /** 1-based column (bytes from the line start, plus one, like ripgrep's `--column`). */
  column: number;
  /** The key's mode, or `null` for a format without modes. */
  mode: string | null;
  /** The public display form (`start`): prefix, mode and the first 4 body characters. */
  start: string;
}

/**
 * Scans text chunk by chunk for keys of a format. Call {@link KeyScanner.push} with each chunk and
 * {@link KeyScanner.end} once at the end; both call `found` for each confirmed key, in order.
 *
 * @example
 * const scanner = new KeyScanner(new KeyFormat({ prefix: "sk", modes: ["live", "test"] }));
 * scanner.push("token = sk_live_…\n", (f) => console.log(f.line, f.column, f.start));
 * scanner.end((f) => console.log(f.line, f.column, f.start));
 */
export class KeyScanner {
  private readonly regex: RegExp;
  /** Longest key of the format plus one character: matches starting this close to a chunk's end wait for the next chunk. */
  private readonly margin: number;
  /** Unprocessed text kept from the previous chunk (its first character is context only when `skip` is 1). */
  private carry = "";
  private skip = 0;
  /** Absolute offset of `carry[0]`. */
  private base = 0;
  /** Newlines are counted up to this absolute offset. */
  private counted = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly format: KeyFormat) {
    this.regex = new RegExp(format.pattern().source, "g");
    const longestHead = Math.max(format.prefix.length + 1, ...format.modes.map((m) => format.prefix.length + m.length + 2));
    this.margin = longestHead + RANDOM_LENGTH + CHECKSUM_LENGTH + 1;
  }

  /** Scans the next chunk of text. */
  push(chunk: string, found: (finding: KeyFinding) => void): void {
    this.process(this.carry.length ? this.carry + chunk : chunk, false, found);
  }

  /** Scans what is left; the scanner is then ready for a new text. */
  end(found: (finding: KeyFinding) => void): void {
    this.process(this.carry, true, found);
    this.carry = "";
    this.skip = 0;
    this.base = this.counted = this.lineStart = 0;
    this.line = 1;
  }

  private process(text: string, final: boolean, found: (finding: KeyFinding) => void): void {
    const limit = final ? text.length : text.length - this.margin;
    const regex = this.regex;
    if (limit > this.skip) {
      regex.lastIndex = this.skip;
      for (let m = regex.exec(text); m !== null && m.index < limit; m = regex.exec(text)) {
        const candidate = m[0];
        const mode = this.format.check(candidate);
        if (mode === undefined) continue;
        this.countLines(text, m.index);
        const at = this.base + m.index;
        found({ line: this.line, column: at - this.lineStart + 1, mode, start: this.format.start(candidate) });
      }
    }
    if (final) return;
    if (limit <= this.skip) {
      this.carry = text;
      return;
    }
    // Keep the text from one character before `limit`: that character is the next pass's word-boundary context.
    this.countLines(text, limit - 1);
    this.carry = text.slice(limit - 1);
    this.base += limit - 1;
    this.skip = 1;
  }

  /** Advances the line count to `index` in `text` (which starts at `this.base`). */
  private countLines(text: string, index: number): void {
    let i = this.counted - this.base;
    if (i >= index) return;
    for (i = text.indexOf("\n", i); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) {
      this.line++;
      this.lineStart = this.base + i + 1;
    }
    this.counted = this.base + index;
  }
}
