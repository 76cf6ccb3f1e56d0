/**
 * Pause and resume: the store patch that disables or enables a key. Reversible, unlike
 * revocation; a revoked key can be neither (409), and repeating either is a no-op (no write).
 */
import { KeywardError } from "../core/errors.js";
import type { KeyPatch, StoredKey } from "../core/types.js";

/**
 * The patch that pauses (`disable`) or resumes (`enable`) `existing` at `now`, or null when it
 * already is so. Throws 409 `conflict` for a revoked key.
 *
 * @example
 * pausePatch(existing, true, Date.now()); // { disabledAt: 1764590000000 }, or null if already disabled
 */
export function pausePatch(existing: StoredKey, disable: boolean, now: number): KeyPatch | null {
  if (existing.revokedAt !== null) throw new KeywardError("conflict", `A revoked key can be neither disabled nor enabled; revocation is final.`);
  if (disable === (existing.disabledAt != null)) return null;
  return { disabledAt: disable ? now : null };
}
