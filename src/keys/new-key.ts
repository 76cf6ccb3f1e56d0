/**
 * Records to write for `create`, `rotate` and `update`: input validated (422 naming every bad
 * field, cross-field rules checked together), then the stored record with its hash, display
 * start, default scopes and expiry; a new secret is returned beside it, once.
 */
import { KeywardError } from "../core/errors.js";
import type { SecretHasher } from "../core/hash.js";
import { newKeyId } from "../core/ids.js";
import type { KeyFormat } from "../core/key-format.js";
import { cloneMetadata } from "../core/metadata.js";
import { normalizeScopes } from "../core/scopes.js";
import type { KeyPatch, RotationChange, StoredKey } from "../core/types.js";
import { validationFailed } from "../core/refusals.js";
import { keyStatus } from "../core/status.js";
import { expiryFor, overlapFor } from "./expiry.js";
import { createSchema, rotateSchema, updateSchema, validateInput, type CreateKeyInput } from "./inputs.js";
import { storedCredits } from "./limit-options.js";
import type { ManagerConfig } from "./options.js";

/**
 * Validates `input` (422 `validation_failed` naming every bad field) and builds the key.
 *
 * @example
 * const { secret, record } = newKey(config, format, hash, { name: "ci", scopes: ["nodes:read"] }, Date.now());
 */
export function newKey(
  config: ManagerConfig,
  format: KeyFormat,
  hash: SecretHasher,
  input: CreateKeyInput,
  now: number,
): { secret: string; record: StoredKey } {
  const v = validateInput(createSchema, input, "create input");
  const kind = v.kind ?? "user";
  const details: Array<{ path: string; message: string }> = [];
  if (kind === "project" && v.project === undefined) details.push({ path: "project", message: "a project key needs the project it is bound to" });
  if (kind === "project" && v.projects !== undefined && v.projects.length > 0)
    details.push({ path: "projects", message: "a project key is bound to one project; use project, not projects" });
  if (kind === "user" && v.project !== undefined)
    details.push({ path: "project", message: "only project keys are bound to a project; use projects for a user key's allow-list" });
  if (kind === "project" && v.scopes !== undefined && v.scopes.length > 0)
    details.push({ path: "scopes", message: "project keys are not scope-gated; leave scopes out" });
  const modeError = v.mode === undefined ? null : format.modeError(v.mode);
  if (modeError !== null) details.push({ path: "mode", message: modeError });
  if (v.tier !== undefined && !config.tiers.has(v.tier))
    details.push({ path: "tier", message: `unknown tier; use one of ${[...config.tiers.keys()].join(", ") || "(no tiers configured)"}` });
  if (details.length) throw new KeywardError("validation_failed", details.map((d) => `${d.path}: ${d.message}`).join("; "), { details });
  const scopes =
    kind === "project"
      ? []
      : v.scopes === undefined
        ? [...config.defaultScopes]
        : normalizeScopes(v.scopes, { catalogue: config.catalogue, implies: config.implies });
  const expiresAt = expiryFor(config, v.expiresIn, v.expiresAt, now);
  const secret = format.generate(v.mode ?? null);
  const id = newKeyId(now);
  const record: StoredKey = {
    id,
    hash: hash(secret),
    start: format.start(secret),
    name: v.name,
    ownerId: v.ownerId ?? null,
    kind,
    projectId: kind === "project" ? v.project! : null,
    projects: kind === "user" ? [...new Set(v.projects ?? [])] : [],
    mode: format.modes.length ? (v.mode ?? format.modes[0]!) : null,
    scopes,
    tier: v.tier ?? null,
    rateLimit: v.rateLimit ?? null,
    metadata: v.metadata ? cloneMetadata(v.metadata) : {},
    createdAt: now,
    expiresAt,
    revokedAt: null,
    lastUsedAt: null,
    requestCount: 0,
    rotatedFrom: null,
    rotatedTo: null,
    disabledAt: null,
    allowedIps: v.allowedIps ?? [],
    credits: v.credits == null ? null : storedCredits(v.credits, id, now),
  };
  return { secret, record };
}

/**
 * The successor of `old` for a rotation at `now`, and the change to `old`: the overlap (bounded by
 * `maxRotationOverlap`), or revocation with `overlap: 0`; a successor's predecessor ends now.
 * Throws 409 `conflict` for a key that is not active or was already rotated.
 *
 * @example
 * const { secret, successor, change } = planRotation(config, format, hash, old, { overlap: "24h" }, Date.now());
 */
export function planRotation(
  config: ManagerConfig,
  format: KeyFormat,
  hash: SecretHasher,
  old: StoredKey,
  options: unknown,
  now: number,
): {
  secret: string;
  successor: StoredKey;
  change: RotationChange;
  revokesNow: boolean;
} {
  const v = validateInput(rotateSchema, options, "rotate options");
  const overlapMs = overlapFor(config.maxRotationOverlapMs, v.overlap);
  const status = keyStatus(old, now);
  if (status !== "active") throw new KeywardError("conflict", `Only an active key can be rotated; this one is ${status}.`);
  if (old.rotatedTo !== null) throw new KeywardError("conflict", "This key has already been rotated.");
  const lifetime = old.expiresAt === null ? null : old.expiresAt - old.createdAt;
  const expiresAt = v.expiresIn !== undefined ? expiryFor(config, v.expiresIn, undefined, now) : lifetime === null ? null : now + lifetime;
  const secret = format.generate(old.mode);
  const successor: StoredKey = {
    ...old,
    id: newKeyId(now),
    hash: hash(secret),
    start: format.start(secret),
    createdAt: now,
    expiresAt,
    revokedAt: null,
    disabledAt: null,
    lastUsedAt: null,
    requestCount: 0,
    rotatedFrom: old.id,
    rotatedTo: null,
    allowedIps: [...old.allowedIps],
  };
  // Rotating a successor ends its predecessor's overlap now: one lineage, at most two usable keys.
  const change = overlapMs === 0 ? { revokedAt: now, endPredecessorAt: now } : { expiresAt: now + overlapMs, endPredecessorAt: now };
  return { secret, successor, change, revokesNow: overlapMs === 0 };
}

/**
 * The store patch for `update` on `existing`: validated input, scopes checked against the
 * catalogue (a project key takes none).
 *
 * @example
 * const patch = keyPatch(config, existing, { scopes: ["nodes:read"] }); // { name: undefined, scopes: [...], metadata: undefined }
 */
export function keyPatch(config: ManagerConfig, existing: StoredKey, input: unknown): KeyPatch {
  const v = validateInput(updateSchema, input, "update");
  const scopes = v.scopes === undefined ? undefined : normalizeScopes(v.scopes, { catalogue: config.catalogue, implies: config.implies });
  if (existing.kind === "project" && scopes !== undefined) throw validationFailed("scopes", "project keys are not scope-gated");
  // New credits keep the counter name of the key's lineage; their later `since` names a new counter, so a new balance.
  const since = Math.max(config.clock(), (existing.credits?.since ?? -1) + 1);
  const credits = v.credits == null ? v.credits : storedCredits(v.credits, existing.credits?.counter ?? existing.id, since);
  return { name: v.name, scopes, metadata: v.metadata && cloneMetadata(v.metadata), allowedIps: v.allowedIps, credits };
}

/**
 * Refuses a `list` mode filter the key format does not have (422), instead of matching nothing.
 *
 * @example
 * checkModeFilter(format, "prod"); // throws validation_failed: "mode: must be one of live, test"
 */
export function checkModeFilter(format: KeyFormat, mode: string | null | undefined): void {
  const error = mode == null ? null : format.modeError(mode);
  if (error !== null) throw validationFailed("mode", error);
}
