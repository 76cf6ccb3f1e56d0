/**
 * Key format: `<prefix>_<mode>_<body>` (or `<prefix>_<body>` without modes). The body is 32 random
 * base62 characters (190 bits) followed by a 6-character base62 CRC-32 of everything before it,
 * so a mistyped or invented key is refused without a store read and scanners can match the shape.
 */
import { BASE62, encodeBase62Fixed, isBase62Code, randomBase62 } from "./base62.js";
import { CRC32_TABLE, crc32 } from "./crc32.js";
import { KeywardConfigError } from "./errors.js";

/** Random characters in a key body (32 × log2(62) ≈ 190 bits). */
export const RANDOM_LENGTH = 32;
/** Checksum characters at the end of a key body. */
export const CHECKSUM_LENGTH = 6;
/** Characters of the body kept in the display form (`start`). */
export const START_BODY_CHARS = 4;
/**
 * Longest credential keyward looks at (far longer than any key format: a 16-character prefix and
 * mode plus the body is under 80); longer input is refused before it is parsed or hashed.
 */
export const MAX_CREDENTIAL_LENGTH = 1024;

/** Prefix and mode names: 1-16 characters from [a-z0-9]. */
export const NAME_PATTERN = /^[a-z0-9]{1,16}$/;

/**
 * A key split into its parts by {@link KeyFormat.parse}.
 *
 * @example
 * new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).parse(secret); // { prefix: "sk", mode: "live", body: "…" } or null
 */
export interface ParsedKey {
  /** The prefix, e.g. `sk`. */
  prefix: string;
  /** The mode, or `null` for a format without modes. */
  mode: string | null;
  /** The 38-character body: 32 random characters and a 6-character checksum. */
  body: string;
}

/**
 * Why `mode` is not one of `modes`, or null when it is (see {@link KeyFormat.modeError}).
 *
 * @example
 * modeError(["live", "test"], "prod"); // "must be one of live, test"
 * modeError([], "live");              // "this key format has no modes"
 */
export function modeError(modes: readonly string[], mode: string): string | null {
  if (modes.includes(mode)) return null;
  return modes.length ? `must be one of ${modes.join(", ")}` : "this key format has no modes";
}

/**
 * Generates and checks keys of one prefix and set of modes.
 *
 * @example
 * const format = new KeyFormat({ prefix: "sk", modes: ["live", "test"] });
 * const secret = format.generate("test");   // "sk_test_…"
 * format.parse(secret);                      // { prefix: "sk", mode: "test", body: "…" }
 * format.parse("sk_test_typo");              // null
 */
export class KeyFormat {
  /** The prefix, e.g. `sk`. */
  readonly prefix: string;
  /** The modes, e.g. `["live", "test"]`; empty for keys without a mode. */
  readonly modes: readonly string[];
  /** Each accepted leading part (`sk_live_`, `sk_test_`, or `acme_`) by mode. */
  private readonly heads: ReadonlyArray<{ head: string; mode: string | null; length: number }>;

  constructor(options: { prefix: string; modes?: readonly string[] }) {
    const { prefix, modes = [] } = options;
    if (!NAME_PATTERN.test(prefix))
      throw new KeywardConfigError("prefix", `"${String(prefix).slice(0, 40)}" is not a valid prefix: use 1-16 characters from [a-z0-9], e.g. "sk"`);
    for (const mode of modes) {
      if (typeof mode !== "string" || !NAME_PATTERN.test(mode))
        throw new KeywardConfigError("modes", `"${String(mode).slice(0, 40)}" is not a valid mode: use 1-16 characters from [a-z0-9], e.g. "live"`);
    }
    if (new Set(modes).size !== modes.length) throw new KeywardConfigError("modes", "modes must not repeat");
    this.prefix = prefix;
    this.modes = Object.freeze([...modes]);
    this.heads =
      modes.length === 0
        ? [{ head: `${prefix}_`, mode: null, length: prefix.length + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH }]
        : modes.map((mode) => {
            const head = `${prefix}_${mode}_`;
            return { head, mode, length: head.length + RANDOM_LENGTH + CHECKSUM_LENGTH };
          });
  }

  /** A new random key in `mode` (the first mode when omitted; no mode for a format without modes). */
  generate(mode?: string | null): string {
    const entry = this.headFor(mode);
    const unsigned = entry.head + randomBase62(RANDOM_LENGTH);
    return unsigned + encodeBase62Fixed(crc32(unsigned), CHECKSUM_LENGTH);
  }

  /**
   * The mode of a well-formed key: a mode string, `null` for a format without modes, or
   * `undefined` when the key is malformed (wrong prefix, length, characters or checksum).
   * Allocation-free: this runs on every request.
   */
  check(secret: string): string | null | undefined {
    if (typeof secret !== "string") return undefined;
    const heads = this.heads;
    for (let h = 0; h < heads.length; h++) {
      const entry = heads[h]!;
      if (secret.length !== entry.length || !secret.startsWith(entry.head)) continue;
      // One pass: CRC-32 over head and random part, checking the random part is base62; then the
      // checksum characters must spell that CRC (which also makes them base62).
      const end = secret.length - CHECKSUM_LENGTH;
      const headLength = entry.head.length;
      let crc = -1;
      for (let i = 0; i < end; i++) {
        const c = secret.charCodeAt(i);
        if (i >= headLength && !isBase62Code(c)) return undefined;
        crc = CRC32_TABLE[(crc ^ c) & 0xff]! ^ (crc >>> 8);
      }
      let v = (crc ^ -1) >>> 0;
      for (let i = secret.length - 1; i >= end; i--) {
        if (secret.charCodeAt(i) !== BASE62.charCodeAt(v % 62)) return undefined;
        v = Math.floor(v / 62);
      }
      return entry.mode;
    }
    return undefined;
  }

  /** The parts of a well-formed key, or `null`. Never throws, whatever the input. */
  parse(secret: unknown): ParsedKey | null {
    if (typeof secret !== "string") return null;
    const mode = this.check(secret);
    if (mode === undefined) return null;
    const headLength = mode === null ? this.prefix.length + 1 : this.prefix.length + mode.length + 2;
    return { prefix: this.prefix, mode, body: secret.slice(headLength) };
  }

  /**
   * Why `mode` is not a mode of this format (`"must be one of live, test"`, or `"this key format has
   * no modes"`), or null when it is: the one check behind every mode a caller names (create, list
   * filters, the CLI, `apiKeyAuth`/`fetchAuth` options).
   *
   * @example
   * new KeyFormat({ prefix: "sk", modes: ["live", "test"] }).modeError("prod"); // "must be one of live, test"
   */
  modeError(mode: string): string | null {
    return modeError(this.modes, mode);
  }

  /** The display form kept for listings: the head plus the first characters of the body. */
  start(secret: string): string {
    const mode = this.check(secret);
    const headLength = mode == null ? this.prefix.length + 1 : this.prefix.length + mode.length + 2;
    return secret.slice(0, headLength + START_BODY_CHARS);
  }

  /** A regular expression matching this format, for secret scanners. */
  pattern(): RegExp {
    const modes = this.modes.length ? `(?:${this.modes.join("|")})_` : "";
    return new RegExp(`\\b${this.prefix}_${modes}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}\\b`);
  }

  private headFor(mode: string | null | undefined) {
    if (this.modes.length === 0) {
      if (mode != null) throw new KeywardConfigError("mode", `this key format has no modes, got "${String(mode).slice(0, 40)}"`);
      return this.heads[0]!;
    }
    const found = mode == null ? this.heads[0] : this.heads.find((entry) => entry.mode === mode);
    if (!found) throw new KeywardConfigError("mode", `unknown mode "${String(mode).slice(0, 40)}": use one of ${this.modes.join(", ")}`);
    return found;
  }
}
