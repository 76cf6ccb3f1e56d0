/** CRC-32 (IEEE) over a string's char codes, table-driven and allocation-free for the hot path. */

/** The CRC-32 (IEEE, reflected) byte table, for loops that fold the CRC into other per-char work. */
export const CRC32_TABLE = new Int32Array(256);
const TABLE = CRC32_TABLE;
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** CRC-32 of `text.slice(start, end)`, reading char codes (ASCII input expected). */
export function crc32(text: string, start = 0, end = text.length): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
