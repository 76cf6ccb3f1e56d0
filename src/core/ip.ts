/**
 * IP allow-lists: parsing and canonical form of entries (IPv4 / IPv6 addresses and CIDR ranges)
 * and the compiled matcher the verification pipeline runs per request. Every address is handled
 * as 128 bits in four 32-bit words, IPv4 as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so an
 * IPv4 entry matches a client seen as `203.0.113.9` or as `::ffff:203.0.113.9` alike. A request
 * address is parsed character by character into preallocated words: matching allocates nothing.
 */

/** At most this many entries in one key's allow-list. */
export const MAX_ALLOWED_IPS = 64;

/** Longest entry accepted (the longest IPv6 form with a v4 tail and a prefix is 49 characters). */
const MAX_ENTRY_LENGTH = 64;

/** Scratch space for parsing (single-threaded: never held across calls). */
const GROUPS = new Int32Array(8);
const WORDS = new Int32Array(4);

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The IPv4 address in `s[from, to)` as an unsigned 32-bit number, or -1 (no leading zeros, as octal is ambiguous). */
function parseV4(s: string, from: number, to: number): number {
  let value = 0;
  let parts = 0;
  let i = from;
  while (parts < 4) {
    let octet = 0;
    let digits = 0;
    const start = i;
    while (i < to) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      if (++digits > 3) return -1;
      i++;
    }
    if (digits === 0 || octet > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return -1;
    value = value * 256 + octet;
    parts++;
    if (parts < 4) {
      if (i >= to || s.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === to ? value : -1;
}

/** Parses the IPv6 address in `s[0, to)` into GROUPS; false when malformed. */
function parseV6(s: string, to: number): boolean {
  let i = 0;
  let n = 0;
  let gap = -1;
  if (to >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < to) {
    const start = i;
    let value = 0;
    let digits = 0;
    while (i < to) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      digits++;
      i++;
    }
    if (i < to && s.charCodeAt(i) === 46) {
      // An IPv4 tail (`::ffff:1.2.3.4`) takes the last two groups.
      if (n > 6) return false;
      const v4 = parseV4(s, start, to);
      if (v4 < 0) return false;
      GROUPS[n++] = v4 >>> 16;
      GROUPS[n++] = v4 & 0xffff;
      i = to;
      break;
    }
    if (digits === 0 || digits > 4 || n === 8) return false;
    GROUPS[n++] = value;
    if (i === to) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < to && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === to) return false; // a trailing single colon
  }
  if (gap < 0) return n === 8;
  if (n > 7) return false;
  const move = n - gap;
  for (let k = 1; k <= move; k++) GROUPS[8 - k] = GROUPS[n - k]!;
  for (let k = gap; k < 8 - move; k++) GROUPS[k] = 0;
  return true;
}

/**
 * Parses the address in `s[0, to)` (IPv4, IPv6, IPv4-mapped IPv6; a `%zone` suffix is ignored)
 * into WORDS, IPv4 as IPv4-mapped. Answers 4 for IPv4, 6 for IPv6, 0 when malformed. No allocation.
 */
function parseAddress(s: string, to: number): 0 | 4 | 6 {
  let colon = false;
  for (let i = 0; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      to = i;
      break;
    } // %zone
    if (c === 58) colon = true;
  }
  if (!colon) {
    const v4 = parseV4(s, 0, to);
    if (v4 < 0) return 0;
    WORDS[0] = 0;
    WORDS[1] = 0;
    WORDS[2] = 0xffff;
    WORDS[3] = v4 | 0;
    return 4;
  }
  if (!parseV6(s, to)) return 0;
  for (let w = 0; w < 4; w++) WORDS[w] = (GROUPS[2 * w]! << 16) | GROUPS[2 * w + 1]!;
  return 6;
}

/** The mask of `prefix` (0-128) for word `w`, as a signed 32-bit number. */
function maskWord(prefix: number, w: number): number {
  const bits = prefix - 32 * w;
  if (bits >= 32) return -1;
  if (bits <= 0) return 0;
  return (-1 << (32 - bits)) | 0;
}

function isMapped(words: ArrayLike<number>): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
}

function v4Text(word: number): string {
  const v = word >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 5952 text of 128 bits: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as `::`. */
function v6Text(words: ArrayLike<number>): string {
  const groups: number[] = [];
  for (let w = 0; w < 4; w++) groups.push((words[w]! >>> 16) & 0xffff, words[w]! & 0xffff);
  let best = -1,
    bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

/** One parsed allow-list entry: its network words (host bits zero) and prefix length out of 128. */
interface IpRange {
  readonly words: readonly [number, number, number, number];
  readonly prefix: number;
  /** The canonical text stored on the key. */
  readonly text: string;
}

/**
 * Parses one allow-list entry: an address (`198.51.100.7`, `2001:db8::1`, `::ffff:198.51.100.7`)
 * or a CIDR range (`203.0.113.0/24`, `2001:db8::/32`). Host bits set below the prefix are refused
 * (`10.0.0.1/8`: did you mean `10.0.0.0/8`?), as is a zone (`%eth0`). Answers the range, or the
 * message saying what is wrong.
 */
function parseEntry(entry: unknown): IpRange | string {
  if (typeof entry !== "string") return "must be a string: an IP address or a CIDR range";
  const shown = JSON.stringify(entry.length > MAX_ENTRY_LENGTH ? entry.slice(0, MAX_ENTRY_LENGTH) + "…" : entry);
  if (entry.length === 0) return "must not be empty: give an IP address or a CIDR range";
  if (entry.length > MAX_ENTRY_LENGTH) return `${shown} is too long for an IP address or CIDR range`;
  if (entry.includes("%")) return `${shown}: zone indexes (%…) are not allowed`;
  const slash = entry.indexOf("/");
  const addressEnd = slash < 0 ? entry.length : slash;
  const family = parseAddress(entry, addressEnd);
  if (family === 0) return `${shown} is not an IPv4 or IPv6 address${slash < 0 ? "" : " with a prefix length"}`;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = entry.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(digits)) return `${shown}: the prefix length after "/" must be a whole number from 0 to ${max}`;
    prefix = Number(digits);
    if (prefix > max) return `${shown}: the prefix length /${prefix} is out of range for IPv${family} (0-${max})`;
  }
  const full = family === 4 ? prefix + 96 : prefix;
  const words: [number, number, number, number] = [WORDS[0]!, WORDS[1]!, WORDS[2]!, WORDS[3]!];
  for (let w = 0; w < 4; w++) {
    if ((words[w]! & ~maskWord(full, w)) !== 0) {
      const network = words.map((v, k) => v & maskWord(full, k));
      const suggestion = isMapped(network) && full >= 96 ? `${v4Text(network[3]!)}/${full - 96}` : `${v6Text(network)}/${full}`;
      return `${shown} has host bits set below /${prefix}; did you mean ${suggestion}?`;
    }
  }
  const text = isMapped(words) && full >= 96 ? v4Text(words[3]!) + (full === 128 ? "" : `/${full - 96}`) : v6Text(words) + (full === 128 ? "" : `/${full}`);
  return { words, prefix: full, text };
}

/**
 * Validates an allow-list: an array of at most {@link MAX_ALLOWED_IPS} entries, each an IPv4 or
 * IPv6 address or CIDR range. Answers the canonical list (deduplicated, lowercase, IPv4-mapped
 * entries written as IPv4, `/32` and `/128` written as the address), or the problems, each naming
 * the entry by index and value (at most 10).
 *
 * @example
 * checkAllowedIps(["203.0.113.0/24", "2001:DB8::/32"]); // { list: ["203.0.113.0/24", "2001:db8::/32"] }
 * checkAllowedIps(["10.0.0.0/33"]); // { problems: [{ index: 0, message: "\"10.0.0.0/33\": the prefix length /33 is out of range for IPv4 (0-32)" }] }
 */
export function checkAllowedIps(value: unknown): { list: string[] } | { problems: Array<{ index: number | null; message: string }> } {
  if (!Array.isArray(value)) return { problems: [{ index: null, message: "must be an array of IP addresses or CIDR ranges (null or [] for any address)" }] };
  if (value.length > MAX_ALLOWED_IPS)
    return { problems: [{ index: null, message: `at most ${MAX_ALLOWED_IPS} entries (got ${value.length}); use wider CIDR ranges` }] };
  const problems: Array<{ index: number; message: string }> = [];
  const list: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const parsed = parseEntry(value[i]);
    if (typeof parsed === "string") {
      if (problems.length < 10) problems.push({ index: i, message: parsed });
    } else if (!list.includes(parsed.text)) list.push(parsed.text);
  }
  return problems.length ? { problems } : { list };
}

/**
 * A compiled allow-list: the network words and masks of each entry in one flat array, checked in
 * O(entries) with no allocation per address.
 */
export class IpMatcher {
  /** [n0, n1, n2, n3, m0, m1, m2, m3] per entry: network and mask words (signed 32-bit). */
  private readonly table: Int32Array;
  /** The canonical entries, as stored. */
  readonly entries: readonly string[];

  private constructor(table: Int32Array, entries: readonly string[]) {
    this.table = table;
    this.entries = entries;
  }

  /** The matcher for stored entries, or null for an empty list (any address). Entries that do not parse are skipped. */
  static compile(entries: readonly string[] | null | undefined): IpMatcher | null {
    if (entries == null || entries.length === 0) return null;
    const ranges: IpRange[] = [];
    for (const entry of entries) {
      const parsed = parseEntry(entry);
      if (typeof parsed !== "string") ranges.push(parsed);
    }
    const table = new Int32Array(ranges.length * 8);
    ranges.forEach((r, i) => {
      for (let w = 0; w < 4; w++) {
        table[i * 8 + w] = r.words[w]!;
        table[i * 8 + 4 + w] = maskWord(r.prefix, w);
      }
    });
    return new IpMatcher(table, Object.freeze([...entries]));
  }

  /** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6 text) is inside one of the entries; false for anything unparsable. */
  matches(address: string | null | undefined): boolean {
    if (typeof address !== "string" || address.length === 0 || address.length > MAX_ENTRY_LENGTH) return false;
    if (parseAddress(address, address.length) === 0) return false;
    const t = this.table;
    const a0 = WORDS[0]!,
      a1 = WORDS[1]!,
      a2 = WORDS[2]!,
      a3 = WORDS[3]!;
    for (let i = 0; i < t.length; i += 8) {
      if ((a3 & t[i + 7]!) === t[i + 3] && (a2 & t[i + 6]!) === t[i + 2] && (a1 & t[i + 5]!) === t[i + 1] && (a0 & t[i + 4]!) === t[i]) return true;
    }
    return false;
  }
}
