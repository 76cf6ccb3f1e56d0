/**
 * Request shapes the management router accepts, as zod schemas with one message per bad field.
 * Unknown fields (`ownerId`, `userId`, `__proto__`, …) are refused: the owner comes only from the
 * app's session. Parsing throws `validation_failed` (422) with `details: [{ path, message }]`.
 */
import { z } from "zod";
import { durationMs } from "../core/duration.js";
import { isKeyId } from "../core/ids.js";
import { MAX_SCOPES, scopeError } from "../core/scopes.js";
import { KeywardError } from "../core/errors.js";
import { requestError } from "../core/zod-issues.js";
import { allowedIpsField, checked, keyName, metadataField, projectIdField } from "../keys/fields.js";
import { creditsInput } from "../keys/limit-options.js";

const text = (what = "a string") => z.string({ error: `must be ${what}` });

const name = keyName(text());

const scope = checked<string>(scopeError);

const scopes = z.array(scope, { error: "must be an array of scope strings" }).max(MAX_SCOPES, `at most ${MAX_SCOPES} scopes`);

const projectId = projectIdField(text("a project id"));

/** A positive lifetime: `"90d"`, `"12h"`, a number of seconds, or null for none. */
const expiresIn = z.union([text(), z.number(), z.null()], { error: 'must be a duration such as "90d", a number of seconds, or null' }).superRefine((v, ctx) => {
  if (v === null) return;
  const ms = durationMs(v);
  if (ms === null)
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is not a duration; use e.g. "30d", "90d", "12h" or a number of seconds (at most 100 years)`,
    });
  else if (ms <= 0) ctx.addIssue({ code: "custom", message: "must be longer than zero" });
});

/** `POST /` body. */
export const createBody = z.strictObject({
  name,
  mode: text().max(16, "must be at most 16 characters").optional(),
  scopes: scopes.optional(),
  projects: z.array(projectId, { error: "must be an array of project ids" }).max(256, "at most 256 projects").optional(),
  kind: z.enum(["user", "project"], { error: 'must be "user" or "project"' }).optional(),
  project: projectId.optional(),
  expiresIn: expiresIn.optional(),
  metadata: metadataField.optional(),
  tier: text().max(64, "must be at most 64 characters").optional(),
  allowedIps: allowedIpsField.optional(),
  credits: creditsInput.nullable().optional(),
});

/** `PATCH /:id` body: at least one field. */
export const patchBody = z
  .strictObject({
    name: name.optional(),
    metadata: metadataField.optional(),
    scopes: scopes.optional(),
    allowedIps: allowedIpsField.optional(),
    credits: creditsInput.nullable().optional(),
  })
  .refine((v) => v.name !== undefined || v.metadata !== undefined || v.scopes !== undefined || v.allowedIps !== undefined || v.credits !== undefined, {
    message: "give at least one of name, metadata, scopes, allowedIps, credits",
  });

/** `POST /:id/rotate` body. */
export const rotateBody = z.strictObject({
  overlap: z
    .union([text(), z.number()], { error: 'must be a duration such as "24h", or 0 to revoke the old key now' })
    .superRefine((v, ctx) => {
      if (durationMs(v) === null)
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not a duration; use e.g. "24h", "7d", or 0 to revoke the old key now` });
    })
    .optional(),
});

const once = <T>(inner: z.ZodType<T, string>) =>
  z
    .unknown()
    .pipe(z.string({ error: "give this parameter once, as text" }))
    .pipe(inner);
const integer = (min: number, max: () => number, what: string) =>
  once(z.string().regex(/^\d{1,6}$/, `must be a whole number of ${what}`))
    .transform(Number)
    .superRefine((n, ctx) => {
      const top = max();
      if (n < min || n > top) ctx.addIssue({ code: "custom", message: `must be between ${min} and ${top}` });
    });

/** `GET /` query, given the router's page-size limit. */
export function listQuery(maxPageSize: number) {
  return z.strictObject({
    mode: once(z.string().max(16, "must be at most 16 characters")).optional(),
    status: once(z.enum(["active", "expired", "revoked", "disabled"], { error: "must be active, expired, revoked or disabled" })).optional(),
    project: once(projectId).optional(),
    limit: integer(1, () => maxPageSize, "keys").optional(),
    before: once(z.string().refine(isKeyId, "must be a key id (the `next` value of the previous page)")).optional(),
  });
}

/** `GET /:id/usage` query. */
export const usageQuery = z.strictObject({ days: integer(1, () => 90, "days").optional() });

/**
 * Parses a body or query with `schema`; a missing body counts as `{}`.
 * Throws `validation_failed` with one `{ path, message }` per bad field.
 *
 * @example
 * const body = parseRequest(createBody, req.body, "body");
 */
export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const input = value === undefined ? {} : value;
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new KeywardError("validation_failed", `The ${what} must be a JSON object.`, { details: [{ path: "", message: "must be a JSON object" }] });
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw requestError(result.error.issues, `Invalid ${what}: `, unknownField);
}

function unknownField(key: string): string {
  if (key === "ownerId" || key === "userId" || key === "owner") return "unknown field; the owner is always the signed-in user";
  return "unknown field";
}
